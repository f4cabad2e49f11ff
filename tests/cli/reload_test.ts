import assert from "node:assert/strict";
import { formatReload } from "../../src/cli/reload.ts";
import { billionLaughs } from "../_helpers/billion_laughs.ts";
import { runRelay, sandbox, spawnRelay, writeConfig } from "../_helpers/cli.ts";

const ADMIN = "adm_cli_reload_0123456789";
const CONFIG = `server:\n  admin:\n    token: ${ADMIN}\nproviders:\n  - name: m\n    type: mock\n`;

Deno.test("relay reload prints the new version and what changed (after the watcher took the edit: nothing but kept); a refused file exits 1", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG, 0o600, "a.yaml");
  await using relay = await spawnRelay(["-c", path], { cwd: folder });
  const edit = `${CONFIG}  - name: m2\n    type: mock\n`;
  await writeConfig(folder, edit, 0o600, "b.yaml");
  await Deno.rename(`${folder}/b.yaml`, path);
  // The folder watcher reloads the edit first; relay reload then finds nothing new.
  const watched = JSON.parse(await relay.waitForLine(/"msg":"config reloaded".*"reason":"file changed"/));
  assert.deepEqual([watched.added, watched.kept], ["m2", "m"]);
  const reloaded = await runRelay(["reload", "-c", path, "--url", relay.url]);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  assert.equal(reloaded.stdout, `reloaded: config version ${watched.config_version + 1}\n  kept: m, m2\n`);

  await Deno.writeTextFile(path, `${edit}  - name: m3\n    type: nope\n`);
  const refused = await runRelay(["reload", "-c", path, "--url", relay.url]);
  assert.equal(refused.code, 1, "relay refuses a file that does not load");
  assert.match(refused.stderr, /^reload refused; config version \d+ keeps serving:\n.*providers\[2\]\.type/);
});

Deno.test("relay reload -c another file than relay runs on says so, and reports relay's own refusal of its file", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG, 0o600, "a.yaml");
  await using relay = await spawnRelay(["-c", path], { cwd: folder });
  // The command reads its token from a copy; relay reads the broken original.
  const copy = await writeConfig(folder, CONFIG, 0o600, "copy.yaml");
  await Deno.writeTextFile(path, "providers: [\n");
  const refused = await runRelay(["reload", "-c", copy, "--url", relay.url]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /^note: relay runs on .*\/a\.yaml, not .*\/copy\.yaml: it read that again\nreload refused; config version \d+ keeps serving:\n.*a\.yaml:\d+:\d+/,
  );
});

Deno.test("relay reload of a billion laughs asks relay, which refuses it at its first alias", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG, 0o600, "a.yaml");
  await using relay = await spawnRelay(["-c", path], { cwd: folder });
  await Deno.writeTextFile(path, `${CONFIG}bomb:\n${billionLaughs("  ")}`);
  const refused = await runRelay(["reload", "-c", path, "--url", relay.url]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^reload refused; config version \d+ keeps serving:\n.*a\.yaml:9:10: aliases/);
});

Deno.test("formatReload lists only what changed, and what needs a restart", () => {
  assert.equal(
    formatReload({
      version: 4,
      added: ["zai"],
      removed: [],
      changed: ["b"],
      kept: ["a"],
      needs_restart: ["server.port"],
    }),
    "reloaded: config version 4\n  added: zai\n  changed: b\n  kept: a\n  needs a restart to apply: server.port",
  );
});

Deno.test("relay reload asks relay even when the file does not load in this shell: relay reads it with its own environment", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG, 0o600, "a.yaml");
  await using relay = await spawnRelay(["-c", path], { cwd: folder, env: { SECOND: "m2" } });
  // Renamed in, and relay's own reload of it awaited, so the command's reload finds nothing new.
  await writeConfig(folder, `${CONFIG}  - name: \${SECOND}\n    type: mock\n`, 0o600, "b.yaml");
  await Deno.rename(`${folder}/b.yaml`, path);
  const watched = JSON.parse(await relay.waitForLine(/"msg":"config reloaded".*"reason":"file changed"/));
  assert.equal(watched.added, "m2");
  const reloaded = await runRelay(["reload", "-c", path, "--url", relay.url], { cwd: folder });
  assert.equal(reloaded.code, 0, reloaded.stderr);
  assert.equal(reloaded.stdout, `reloaded: config version ${watched.config_version + 1}\n  kept: m, m2\n`);
  assert.match(reloaded.stderr, /^note: .*a\.yaml does not load here, but relay took it:\n.*SECOND/);
});

Deno.test("relay reload names what answered when it is not relay, and exits 1", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG);
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("<h1>502 Bad Gateway</h1>", { status: 502, headers: { "content-type": "text/html" } }),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const { code, stdout, stderr } = await runRelay(["reload", "-c", path, "--url", url]);
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.equal(
    stderr,
    `${url}/admin/reload answered 502 Bad Gateway (text/html), not with relay's admin API: ` +
      "is relay running there, or behind a proxy that cannot reach it?\n",
  );
});
