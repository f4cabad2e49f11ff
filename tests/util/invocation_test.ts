import assert from "node:assert/strict";
import { relayInvocation } from "../../src/util/invocation.ts";

Deno.test("relayInvocation is the project's relay task from source, relay as the bundle or a compiled binary", () => {
  assert.equal(
    relayInvocation("file:///home/me/relay/main.ts", false),
    "deno task --config /home/me/relay/deno.json relay",
  );
  assert.equal(
    relayInvocation("file:///home/me/my%20relay/main.ts", false),
    "deno task --config '/home/me/my relay/deno.json' relay",
    "quoted for the shell",
  );
  assert.equal(relayInvocation("file:///usr/local/bin/relay", false), "relay", "the bundle, installed");
  assert.equal(relayInvocation("file:///home/me/relay/dist/relay.js", false), "relay");
  assert.equal(relayInvocation("file:///tmp/deno-compile-relay/main.ts", true), "relay", "a compiled binary");
});

Deno.test("the relay task relayInvocation names runs from another folder", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const main = new URL("../../main.ts", import.meta.url).href;
    const [deno, task, ...rest] = relayInvocation(main, false).split(" ");
    const { code, stdout } = await new Deno.Command(deno, { args: [task, ...rest, "--version"], cwd: folder })
      .output();
    assert.equal(code, 0);
    assert.match(new TextDecoder().decode(stdout), /^\d+\.\d+\.\d+/);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
