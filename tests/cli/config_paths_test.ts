/** The paths relay's commands use are the same from every folder, and never made up. */
import assert from "node:assert/strict";
import { runRelay, sandbox, spawnRelay, writeConfig } from "../_helpers/cli.ts";
import { makeServiceAccount } from "../_helpers/fake_oauth.ts";

const MOCK = "providers:\n  - name: mock\n    type: mock\n";

async function folders(...names: string[]): Promise<string[]> {
  const root = await sandbox();
  for (const name of names) await Deno.mkdir(`${root}/${name}`);
  return [root, ...names.map((name) => `${root}/${name}`)];
}

Deno.test("a relative ledger.path is beside the config: relay serve and relay usage from other folders share it", async () => {
  const [, etc, started, asked] = await folders("etc", "started", "asked");
  const config = await writeConfig(etc, `ledger:\n  path: ledger.db\n${MOCK}`);
  {
    await using relay = await spawnRelay(["--config", config], { cwd: started });
    const response = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}',
    });
    await response.arrayBuffer();
    assert.equal(JSON.parse(await relay.waitForLine(/"msg":"ledger"/)).path, `${etc}/ledger.db`);
    relay.process.kill("SIGTERM");
    assert.equal((await relay.process.status).code, 0);
  }
  const { code, stdout, stderr } = await runRelay(["usage", "--json", "--config", config], { cwd: asked });
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.ledger, `${etc}/ledger.db`);
  assert.equal(report.total.requests, 1);
  assert.deepEqual([...Deno.readDirSync(started)], [], "no second ledger where relay was started");
});

Deno.test("a relative credentials_file is read from the config's folder, whatever folder relay check runs in", async () => {
  const [, etc, elsewhere] = await folders("etc", "elsewhere");
  await using account = await makeServiceAccount();
  await Deno.copyFile(account.file, `${etc}/sa.json`);
  const config = await writeConfig(
    etc,
    "providers:\n  - { name: vx, type: vertex, project: p, region: global, credentials_file: sa.json }\n",
  );
  const { code, stdout, stderr } = await runRelay(["check", "--config", config], { cwd: elsewhere });
  assert.equal(code, 0, stderr);
  assert.match(stdout, new RegExp(`credentials ${etc}/sa\\.json`));
});

Deno.test("relay serve --config with a relative path names the file by its absolute path", async () => {
  const [, etc, work] = await folders("etc", "work");
  await writeConfig(etc, `ledger:\n  enabled: false\n${MOCK}`);
  await using relay = await spawnRelay(["--config", "../etc/relay.yaml"], { cwd: work });
  assert.equal(JSON.parse(await relay.waitForLine(/"msg":"config"/)).path, `${etc}/relay.yaml`);
});

Deno.test("relay env --claude-settings with HOME unset refuses rather than writing /.claude/settings.json", async () => {
  const [, work] = await folders("work");
  const { code, stdout, stderr } = await runRelay(["env", "--claude-settings", "--yes"], {
    cwd: work,
    env: { HOME: "" },
  });
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.match(
    stderr,
    /\$HOME is not set, so relay has no home folder for Claude Code's settings \(~\/\.claude\/settings\.json\): set HOME, or set \$CLAUDE_CONFIG_DIR, or name the file: --claude-settings PATH\n$/,
  );
});

Deno.test("relay serve with its ledger under /dev says Deno refuses it there, not to run with --allow-all", async () => {
  const [folder] = await folders();
  await writeConfig(folder, `ledger:\n  path: /dev/relay-test-nowhere/ledger.db\n${MOCK}`);
  const { code, stderr } = await runRelay(["serve", "--port", "0"], { cwd: folder });
  assert.equal(code, 1);
  assert.ok(
    stderr.includes(
      "relay cannot open its usage ledger /dev/relay-test-nowhere/ledger.db: Deno, which runs relay, opens " +
        "files under /dev, /proc and /sys only with --allow-all, which relay does not take: put the file elsewhere",
    ),
    stderr,
  );
  assert.doesNotMatch(stderr, /run again with the --allow-all flag/);
});

Deno.test("relay bench with $TMPDIR pointing at a missing folder names the variable and the folder", async () => {
  const [folder] = await folders();
  const { code, stderr } = await runRelay(["bench", "--quick"], {
    cwd: folder,
    env: { TMPDIR: `${folder}/missing` },
  });
  assert.equal(code, 1);
  assert.ok(
    stderr.endsWith(
      `relay bench: cannot make its temporary folder in ${folder}/missing ($TMPDIR): No such file or ` +
        "directory: set TMPDIR to a folder that exists and you can write, or unset it\n",
    ),
    stderr,
  );
});
