/** `relay serve` and its usage ledger: opened at start, written on shutdown. */
import assert from "node:assert/strict";
import { SAME_KEYPRESS_MS } from "../../src/cli/serve.ts";
import { DatabaseSync } from "node:sqlite";
import { type RunningRelay, runRelay, sandbox, spawnRelay, writeConfig } from "../_helpers/cli.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";

const MOCK = "providers:\n  - name: mock\n    type: mock\n";

Deno.test("relay serve writes held records on SIGTERM, and a restart adds to them", async () => {
  // An upstream answering as the mock does, but priced: the mock's own answers cost nothing.
  const upstream = startFakeUpstream();
  // An hour between batches: whatever is on disk after the signal was written by the shutdown.
  const folder = await sandbox();
  await writeConfig(
    folder,
    `ledger:\n  path: ${folder}/ledger.db\n  flush_interval: 1h\n` +
      `providers:\n  - name: fake\n    type: anthropic-compatible\n    base_url: "${upstream.url}"\n` +
      "    keys:\n      - key: sk-ant-api03-serve-ledger-key-0000x7f2\n",
  );
  for (const requests of [2, 1]) {
    await using relay = await spawnRelay([], { cwd: folder });
    for (let i = 0; i < requests; i++) {
      const response = await fetch(`${relay.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body:
          '{"model":"claude-haiku-4-5","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}',
      });
      await response.arrayBuffer();
    }
    relay.process.kill("SIGTERM");
    assert.equal((await relay.process.status).code, 0);
  }
  await upstream.close();
  const { code, stdout } = await runRelay(["usage", "--json"], { cwd: folder });
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.equal(report.total.requests, 3);
  assert.ok(report.total.output_tokens > 0);
  assert.ok(report.total.cost_usd > 0);
  assert.equal(upstream.requests.length, 3);
});

Deno.test("relay serve says so and exits 1 when it cannot open its ledger", async () => {
  const folder = await sandbox();
  await Deno.writeTextFile(`${folder}/not-a-folder`, "");
  await writeConfig(folder, `ledger:\n  path: ${folder}/not-a-folder/ledger.db\n${MOCK}`);
  const { code, stderr } = await runRelay(["serve", "--port", "0"], { cwd: folder });
  assert.equal(code, 1);
  assert.ok(stderr.includes(`relay cannot open its usage ledger ${folder}/not-a-folder/ledger.db: `), stderr);
  assert.match(stderr, /set ledger\.path to a writable file, or ledger\.enabled: false/);
});

Deno.test("relay serve on a ledger that is no database names it and says to move it aside, not to make it writable", async () => {
  const folder = await sandbox();
  await Deno.writeTextFile(`${folder}/ledger.db`, "notes, not a database\n".repeat(100));
  await writeConfig(folder, `ledger:\n  path: ${folder}/ledger.db\n${MOCK}`);
  const { code, stderr } = await runRelay(["serve", "--port", "0"], { cwd: folder });
  assert.equal(code, 1);
  assert.ok(
    stderr.includes(`relay cannot open its usage ledger ${folder}/ledger.db: file is not a database`),
    stderr,
  );
  assert.match(stderr, /damaged or is not a database: move it aside/);
  assert.doesNotMatch(stderr, /writable/);
});

/** `relay` answers a request, then exits 0 on SIGTERM. */
async function answersThenStops(relay: RunningRelay): Promise<void> {
  const response = await fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}',
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  relay.process.kill("SIGTERM");
  assert.equal((await relay.process.status).code, 0);
}

Deno.test("relay serve on the built-in defaults serves without a ledger it cannot open, and says so", async () => {
  const folder = await sandbox();
  await Deno.writeTextFile(`${folder}/not-a-folder`, "");
  await using relay = await spawnRelay([], { cwd: folder, env: { XDG_DATA_HOME: `${folder}/not-a-folder` } });
  const warning = JSON.parse(await relay.waitForLine(/"msg":"relay cannot open its usage ledger/));
  assert.equal(warning.level, "warn");
  assert.equal(warning.msg, "relay cannot open its usage ledger, so usage is not recorded");
  assert.equal(warning.path, `${folder}/not-a-folder/relay/ledger.db`);
  assert.match(warning.error, /not-a-folder/);
  assert.match(warning.hint, /ledger\.path/);
  await answersThenStops(relay);
});

Deno.test("relay serve with ledger.enabled false writes no database", async () => {
  const folder = await sandbox();
  await writeConfig(folder, `ledger:\n  enabled: false\n${MOCK}`);
  await using relay = await spawnRelay([], { cwd: folder });
  const line = JSON.parse(await relay.waitForLine(/"msg":"ledger"/));
  assert.equal(line.path, "off (ledger.enabled: false)");
  await answersThenStops(relay);
  assert.equal(await Deno.stat(`${folder}/.local`).catch(() => undefined), undefined);
});

const ASK =
  '{"model":"claude-haiku-4-5","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}';

async function ask(url: string, mock?: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (mock) headers["x-relay-mock"] = mock;
  return await fetch(`${url}/v1/messages`, { method: "POST", headers, body: ASK });
}

/** The requests `relay usage` finds in the folder's ledger. */
async function recorded(folder: string): Promise<number> {
  const { code, stdout, stderr } = await runRelay(["usage", "--json"], { cwd: folder });
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout).total.requests;
}

Deno.test("relay serve's mock answers are in relay usage with their tokens, at no cost", async () => {
  const folder = await sandbox();
  await writeConfig(folder, `ledger:\n  path: ${folder}/ledger.db\n${MOCK}`);
  {
    await using relay = await spawnRelay([], { cwd: folder });
    for (let i = 0; i < 2; i++) await (await ask(relay.url)).arrayBuffer();
    relay.process.kill("SIGTERM");
    assert.equal((await relay.process.status).code, 0);
  }
  const { code, stdout, stderr } = await runRelay(["usage", "--json"], { cwd: folder });
  assert.equal(code, 0, stderr);
  const { total } = JSON.parse(stdout);
  assert.equal(total.requests, 2);
  assert.ok(total.input_tokens > 0 && total.output_tokens > 0, "tokens counted");
  assert.equal(total.cost_usd, 0, "claude-haiku-4-5's canned answers, never billed");
  assert.equal(total.unpriced, 0, "free, not unpriced");
});

Deno.test("kill -9 loses only the records still held: the database stays whole and a restart goes on", async () => {
  // Batches of two, and an hour between timed flushes: a full batch is written at once, a lone record waits.
  const folder = await sandbox();
  await writeConfig(
    folder,
    `log:\n  level: debug\nledger:\n  path: ${folder}/ledger.db\n  flush_interval: 1h\n  queue_size: 2\n${MOCK}`,
  );
  {
    await using relay = await spawnRelay([], { cwd: folder });
    for (let i = 0; i < 2; i++) await (await ask(relay.url)).arrayBuffer();
    // The full batch reaches the disk on the writer's next turn.
    const written = JSON.parse(await relay.waitForLine(/"msg":"ledger batch written"/));
    assert.equal(written.records, 2);
    assert.equal(await recorded(folder), 2);
    // Then one record held for the next batch, and one stream still open.
    await (await ask(relay.url)).arrayBuffer();
    const open = await ask(relay.url, "events=50, chunk_delay=50ms");
    await open.body!.getReader().read();
    relay.process.kill("SIGKILL");
    assert.equal((await relay.process.status).signal, "SIGKILL");
  }
  const database = new DatabaseSync(`${folder}/ledger.db`);
  assert.equal(database.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
  database.close();
  assert.equal(await recorded(folder), 2, "the held record and the open stream's are lost, nothing else");

  await using again = await spawnRelay([], { cwd: folder });
  await (await ask(again.url)).arrayBuffer();
  again.process.kill("SIGTERM");
  assert.equal((await again.process.status).code, 0);
  assert.equal(await recorded(folder), 3);
});

Deno.test("a second signal writes the records of requests that ended, then exits 1 without waiting for streams", async () => {
  const folder = await sandbox();
  await writeConfig(folder, `ledger:\n  path: ${folder}/ledger.db\n  flush_interval: 1h\n${MOCK}`);
  await using relay = await spawnRelay([], { cwd: folder });
  for (let i = 0; i < 2; i++) await (await ask(relay.url)).arrayBuffer();
  const open = await ask(relay.url, "events=1000, chunk_delay=50ms");
  const reader = open.body!.getReader();
  await reader.read();
  relay.process.kill("SIGINT");
  const pressed = performance.now();
  await relay.waitForLine(/"msg":"shutting down"/);
  // A person's second Ctrl-C, later than the echo of the first that `deno task` makes.
  await new Promise((resolve) => setTimeout(resolve, pressed + 2 * SAME_KEYPRESS_MS - performance.now()));
  relay.process.kill("SIGINT");
  assert.equal((await relay.process.status).code, 1);
  await reader.cancel().catch(() => {});
  assert.equal(await recorded(folder), 2, "the open stream's record is lost, nothing else");
});

Deno.test("relay serve keeps its ledger's locks with the ledger beside its config file, and reloads edits", async () => {
  const folder = await sandbox();
  const config =
    `log:\n  level: debug\nledger:\n  path: ${folder}/ledger.db\n  flush_interval: 10ms\n${MOCK}`;
  const path = await writeConfig(folder, config);
  await using relay = await spawnRelay([], { cwd: folder });
  const request = async () => {
    const response = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}',
    });
    await response.arrayBuffer();
  };
  // Another process reads the ledger. When it closes its connection, SQLite deletes the WAL unless
  // another connection's lock on the file says it is in use: relay's next batches would go into the
  // deleted file, lost to every reader.
  const read = () => {
    const reader = new DatabaseSync(`${folder}/ledger.db`);
    const { count } = reader.prepare("SELECT count(*) AS count FROM requests").get()!;
    reader.close();
    return count;
  };
  await request();
  await relay.waitForLine(/"msg":"ledger batch written".*"written_total":1\b/);
  read();
  // Taken after the read: a watch of the folder would have dealt with the read's events by then.
  await Deno.writeTextFile(`${path}.swp`, `${config}  - name: mock2\n    type: mock\n`, { mode: 0o600 });
  await Deno.rename(`${path}.swp`, path);
  assert.equal(JSON.parse(await relay.waitForLine(/"msg":"config reloaded"/)).added, "mock2");
  read();
  await request();
  await relay.waitForLine(/"msg":"ledger batch written".*"written_total":2\b/);
  assert.equal(read(), 2);
});
