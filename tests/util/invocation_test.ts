import assert from "node:assert/strict";
import { relayInvocation } from "../../src/util/invocation.ts";

Deno.test("relayInvocation is deno task relay from source, relay as the bundle or a compiled binary", () => {
  assert.equal(relayInvocation("file:///home/me/relay/main.ts", false), "deno task relay");
  assert.equal(relayInvocation("file:///usr/local/bin/relay", false), "relay", "the bundle, installed");
  assert.equal(relayInvocation("file:///home/me/relay/dist/relay.js", false), "relay");
  assert.equal(relayInvocation("file:///tmp/deno-compile-relay/main.ts", true), "relay", "a compiled binary");
});
