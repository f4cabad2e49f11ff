import assert from "node:assert/strict";
import { relayUrl } from "../../src/config/client_url.ts";

Deno.test("relayUrl points at loopback for wildcard binds and brackets IPv6", () => {
  assert.equal(relayUrl({ host: "127.0.0.1", port: 8787 }), "http://127.0.0.1:8787");
  assert.equal(relayUrl({ host: "0.0.0.0", port: 1 }), "http://127.0.0.1:1");
  assert.equal(relayUrl({ host: "::", port: 2 }), "http://[::1]:2");
  assert.equal(relayUrl({ host: "[::1]", port: 3 }), "http://[::1]:3");
  assert.equal(relayUrl({ host: "relay.lan", port: 4 }), "http://relay.lan:4");
});
