import assert from "node:assert/strict";
import { sandbox, spawnRelay, writeConfig } from "../_helpers/cli.ts";

const MOCK = "providers:\n  - name: m\n    type: mock\n";
const MESSAGE =
  '{"model":"claude-sonnet-4-5","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}';

async function served(url: string): Promise<number> {
  const response = await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: MESSAGE,
  });
  await response.arrayBuffer();
  return response.status;
}

/** Saves `text` over `path` the way editors do: a new file, renamed over the old. */
async function renameSave(path: string, text: string): Promise<void> {
  const temporary = `${path}.swp`;
  await Deno.writeTextFile(temporary, text, { mode: 0o600 });
  await Deno.chmod(temporary, 0o600);
  await Deno.rename(temporary, path);
}

Deno.test("SIGHUP makes relay serve read its config again", async () => {
  const folder = await sandbox();
  await writeConfig(folder, MOCK);
  await using relay = await spawnRelay([], { cwd: folder });
  relay.process.kill("SIGHUP");
  const line = JSON.parse(await relay.waitForLine(/"msg":"config reloaded".*"reason":"SIGHUP"/));
  assert.equal(line.config_version, 2);
  assert.equal(line.kept, "m");
  assert.equal(await served(relay.url), 200);
  assert.equal(JSON.parse(await relay.waitForLine(/"msg":"request"/)).config_version, 2);
});

Deno.test("SIGHUP on the built-in defaults logs that there is nothing to reload, and no failed reload", async () => {
  await using relay = await spawnRelay([]);
  relay.process.kill("SIGHUP");
  const line = JSON.parse(await relay.waitForLine(/"reason":"SIGHUP"/));
  assert.deepEqual([line.msg, line.level], ["nothing to reload", "info"]);
  const metrics = await (await fetch(`${relay.url}/metrics`)).text();
  assert.doesNotMatch(metrics, /relay_config_reloads_total\{result="failure"\} [1-9]/);
  assert.equal(await served(relay.url), 200);
});

Deno.test("a rename-save of the config file reloads it; an invalid one is logged and changes nothing", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, MOCK);
  await using relay = await spawnRelay([], { cwd: folder });
  await renameSave(path, `${MOCK}  - name: m2\n    type: mock\n`);
  const reloaded = JSON.parse(await relay.waitForLine(/"msg":"config reloaded".*"reason":"file changed"/));
  assert.equal(reloaded.added, "m2");
  assert.equal(reloaded.config_version, 2);

  await renameSave(path, "providers: [\n");
  const failed = JSON.parse(await relay.waitForLine(/"msg":"config reload failed"/));
  assert.equal(failed.config_version, 2);
  assert.match(failed.error, /relay\.yaml:\d+:\d+/);
  assert.equal(await served(relay.url), 200, "the previous config keeps serving");
  const request = JSON.parse(await relay.waitForLine(/"msg":"request"/));
  assert.equal(request.provider, "m");
  assert.equal(request.config_version, 2);

  // After a rename-save the watch still holds: it is on the folder, not the old file.
  await renameSave(path, `${MOCK.replace("name: m", "name: m3")}`);
  const again = JSON.parse(await relay.waitForLine(/"msg":"config reloaded".*"added":"m3"/));
  assert.equal(again.config_version, 3);
});

Deno.test("a reload swaps client tokens at once: a removed one gets 401, a new one is served", async () => {
  const folder = await sandbox();
  const config = (token: string) => `server:\n  auth:\n    tokens: [${token}]\n${MOCK}`;
  const path = await writeConfig(folder, config("rly_first_token_000000000000"));
  await using relay = await spawnRelay([], { cwd: folder });
  const status = async (token: string) => {
    const response = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": token },
      body: MESSAGE,
    });
    await response.arrayBuffer();
    return response.status;
  };
  assert.equal(await status("rly_first_token_000000000000"), 200);
  await renameSave(path, config("rly_second_token_00000000000"));
  const reloaded = JSON.parse(await relay.waitForLine(/"msg":"config reloaded"/));
  assert.equal(reloaded.config_version, 2);
  assert.equal(await status("rly_first_token_000000000000"), 401, "revoked without a restart");
  assert.equal(await status("rly_second_token_00000000000"), 200);
  await relay.waitForLine(/"msg":"request","config_version":2,.*"status":200/);
  assert.ok(!relay.stderr.some((line) => line.includes("needs a restart")), "tokens need no restart");
});
