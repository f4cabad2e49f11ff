import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { ledgerPath, type OpenLedger, openLedger } from "../../src/ledger/open.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { createLogger } from "../../src/util/logger.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { ledgerRecord } from "./_records.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

const logger = createLogger({ write: () => {} });

Deno.test("ledgerPath: ledger.path (~/ is home), else $XDG_DATA_HOME/relay, else ~/.local/share/relay", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(ledgerPath(undefined, env({ HOME: "/home/me" })), "/home/me/.local/share/relay/ledger.db");
  assert.equal(
    ledgerPath(undefined, env({ HOME: "/home/me", XDG_DATA_HOME: "/data" })),
    "/data/relay/ledger.db",
  );
  assert.equal(
    ledgerPath(undefined, env({ HOME: "/home/me", XDG_DATA_HOME: "data" })),
    "/home/me/.local/share/relay/ledger.db",
    "a relative XDG_DATA_HOME is ignored, as the spec says",
  );
  assert.equal(ledgerPath("~/usage/relay.db", env({ HOME: "/home/me" })), "/home/me/usage/relay.db");
  assert.equal(ledgerPath("/var/lib/relay/ledger.db", env({ HOME: "/home/me" })), "/var/lib/relay/ledger.db");
});

Deno.test("openLedger reads each client's month-to-date spend, records through the writer and prunes", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const now = Date.UTC(2026, 10, 17, 9);
  const store = LedgerStore.open(path);
  store.insert([
    ledgerRecord({ requestId: "october", time: Date.UTC(2026, 9, 31), costUsd: 40 }),
    ledgerRecord({ requestId: "november", time: Date.UTC(2026, 10, 2), costUsd: 12.5 }),
    ledgerRecord({ requestId: "ancient", time: now - 400 * 86_400_000, costUsd: 1 }),
  ]);
  store.close();
  const config = configSchema.parse({
    server: { auth: { tokens: [{ name: "ci", token: "rly_ci_token_0002", monthly_budget_usd: 50 }] } },
    ledger: { path },
    providers: [{ name: "mock", type: "mock" }],
  });
  const timers = new FakeClock();
  const ledger = await openLedger(config, { logger, now: () => now, timers });
  assert.equal(ledger.path, path);
  assert.equal(ledger.clients.spentThisMonth("ci"), 12.5);
  const { costUsd: _, ...entry } = ledgerRecord({ requestId: "new", time: now });
  await ledger.recorder.record(entry);
  assert.equal(ledger.clients.spentThisMonth("ci"), 12.5 + 0.0136611, "priced by the recorder and charged");
  // The first prune comes five minutes after start, once the clock is surely set.
  timers.advance(5 * 60_000);
  await ledger.close();
  assert.deepEqual(timers.armed, [], "pruning stopped");
  const reader = LedgerStore.open(path, { readOnly: true });
  const ids = reader.database.prepare("SELECT request_id FROM requests ORDER BY time").all().map((row) =>
    row.request_id
  );
  reader.close();
  assert.deepEqual(ids, ["october", "november", "new"]);
});

/** A config whose client `ci` has a $1.00 budget and whose every `ledgerRecord` request costs $0.10. */
function budgetConfig(path: string) {
  return configSchema.parse({
    server: { auth: { tokens: [{ name: "ci", token: "rly_ci_token_0002", monthly_budget_usd: 1 }] } },
    ledger: { path },
    // 4 input tokens at $25,000 per million.
    pricing: {
      "claude-sonnet-4-5": { input: 25_000, output: 0, cache_read: 0, cache_write: 0, cache_write_1h: 0 },
    },
    providers: [{ name: "mock", type: "mock" }],
  });
}

/**
 * Admits one request of `ci` by `ledger`'s budget and records it, then ends it as relay does (its hold
 * on the budget goes once it is charged); whether it was admitted.
 */
async function spendTenCents(ledger: OpenLedger, now: number): Promise<boolean> {
  const admission = ledger.clients.admit("ci", {
    model: "claude-sonnet-4-5",
    estimate: { input: 4, output: 0 },
  });
  if (!admission.ok) return false;
  const { costUsd: _, ...entry } = ledgerRecord({ time: now });
  const recorded = ledger.recorder.record(entry);
  admission.settle(undefined);
  await recorded;
  return true;
}

Deno.test("ten $0.10 requests spend a $1.00 budget, counted as they end and read back after a restart alike", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const now = Date.UTC(2026, 10, 17, 9);
  const admitted: boolean[] = [];
  const ledger = await openLedger(budgetConfig(path), { logger, now: () => now, timers: new FakeClock() });
  for (let request = 0; request < 11; request++) admitted.push(await spendTenCents(ledger, now));
  await ledger.close();
  assert.deepEqual(admitted, [...Array(10).fill(true), false]);
  const restarted = await openLedger(budgetConfig(path), { logger, now: () => now, timers: new FakeClock() });
  assert.equal(restarted.clients.spentThisMonth("ci"), 1);
  assert.equal(await spendTenCents(restarted, now), false);
  await restarted.close();
});

Deno.test("a relay started while its clock was a month behind counts the real month from the file once the clock is corrected", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const november = Date.UTC(2026, 10, 17, 9);
  const store = LedgerStore.open(path);
  store.insert([
    ...Array.from({ length: 10 }, () => ledgerRecord({ time: november, costUsd: 0.1 })),
    // Stamped by a clock running a month ahead: not November's.
    ledgerRecord({ time: Date.UTC(2026, 11, 2), costUsd: 5 }),
  ]);
  store.close();
  let now = Date.UTC(2026, 9, 18);
  const ledger = await openLedger(budgetConfig(path), { logger, now: () => now, timers: new FakeClock() });
  assert.equal(ledger.clients.spentThisMonth("ci"), 0, "October holds nothing");
  now = november;
  assert.equal(ledger.clients.spentThisMonth("ci"), 1, "November's ten, read back");
  assert.equal(await spendTenCents(ledger, now), false, "the budget is spent");
  await ledger.close();
  const restarted = await openLedger(budgetConfig(path), { logger, now: () => now, timers: new FakeClock() });
  assert.equal(restarted.clients.spentThisMonth("ci"), 1, "at start too, December's row left out");
  await restarted.close();
});

Deno.test("relays sharing one ledger file share budgets: each reads the month back after every batch it writes", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const now = Date.UTC(2026, 10, 17, 9);
  const [a, b] = await Promise.all([new FakeClock(), new FakeClock()].map(async (timers) => ({
    timers,
    ledger: await openLedger(budgetConfig(path), { logger, now: () => now, timers }),
  })));
  for (let request = 0; request < 6; request++) assert.ok(await spendTenCents(a.ledger, now));
  a.timers.advance(1_000);
  for (let request = 0; request < 4; request++) assert.ok(await spendTenCents(b.ledger, now));
  b.timers.advance(1_000);
  assert.equal(b.ledger.clients.spentThisMonth("ci"), 1, "a's six and its own four");
  assert.equal(await spendTenCents(b.ledger, now), false);
  // a learns of b's spend with its next batch: one flush interval late.
  assert.ok(await spendTenCents(a.ledger, now));
  a.timers.advance(1_000);
  assert.equal(a.ledger.clients.spentThisMonth("ci"), 1.1);
  assert.equal(await spendTenCents(a.ledger, now), false);
  await a.ledger.close();
  await b.ledger.close();
});

Deno.test("with ledger.enabled false nothing touches the disk, and budgets still count in memory", async () => {
  await using folder = await tempFolder();
  const config = configSchema.parse({
    server: { auth: { tokens: ["rly_plain_token_0001"] } },
    ledger: { enabled: false, path: `${folder.path}/ledger.db` },
    providers: [{ name: "mock", type: "mock" }],
  });
  const ledger = await openLedger(config, { logger });
  assert.equal(ledger.path, undefined);
  await ledger.recorder.record(ledgerRecord({ client: "client-1", time: Date.now() }));
  assert.equal(ledger.clients.spentThisMonth("client-1"), 0.0136611);
  await ledger.close();
  assert.deepEqual([...Deno.readDirSync(folder.path)], []);
});

Deno.test("reconfigure takes a reloaded config's clients and prices, keeping what each client spent", async () => {
  const base = {
    ledger: { enabled: false },
    providers: [{ name: "mock", type: "mock" }],
  };
  const ledger = await openLedger(
    configSchema.parse({ ...base, server: { auth: { tokens: ["rly_plain_token_0001"] } } }),
    {
      logger,
    },
  );
  const now = Date.now();
  await ledger.recorder.record(ledgerRecord({ client: "client-1", time: now }));
  ledger.reconfigure(configSchema.parse({
    ...base,
    server: { auth: { tokens: ["rly_plain_token_0001", "rly_plain_token_0002"] } },
    pricing: { "claude-sonnet-4-5": { input: 0, output: 1_000_000, cache_read: 0, cache_write: 0 } },
  }));
  assert.equal(ledger.clients.identify("rly_plain_token_0002"), "client-2");
  await ledger.recorder.record(ledgerRecord({ client: "client-1", time: now }));
  assert.equal(
    ledger.clients.spentThisMonth("client-1"),
    0.0136611 + 73,
    "the new price, on top of the old spend",
  );
  await ledger.close();
});

const GATEWAY = {
  name: "gw",
  type: "anthropic-compatible",
  base_url: "http://127.0.0.1:8999",
  keys: [{ key: "gw-key-000000" }],
};

Deno.test("a reload that leaves the prices as they were warns of an unpriced model no more; one that changes them does", async () => {
  const warned: string[] = [];
  const warnings = createLogger({ level: "warn", write: (line) => warned.push(JSON.parse(line).msg) });
  const config = (pricing = {}) =>
    configSchema.parse({ ledger: { enabled: false }, providers: [GATEWAY], pricing });
  const ledger = await openLedger(config(), { logger: warnings });
  const unpriced = ledgerRecord({ model: "local-llama", upstreamModel: "local-llama", provider: "gw" });
  await ledger.recorder.record(unpriced);
  ledger.reconfigure(config());
  await ledger.recorder.record(unpriced);
  assert.deepEqual(warned, ["no price for model"], "the same prices: warned once");
  ledger.reconfigure(config({ "local-lama": { input: 1, output: 1 } }));
  await ledger.recorder.record(unpriced);
  assert.deepEqual(warned, ["no price for model", "no price for model"], "a price added under another name");
  await ledger.close();
});

Deno.test("openLedger recreates a ledger removed while it runs, and says so in relay's log", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const lines: Record<string, unknown>[] = [];
  const config = configSchema.parse({ ledger: { path }, providers: [{ name: "mock", type: "mock" }] });
  const ledger = await openLedger(config, {
    logger: createLogger({ level: "warn", write: (line) => lines.push(JSON.parse(line)) }),
    timers: new FakeClock(),
  });
  for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(`${path}${suffix}`);
  const { costUsd: _, ...entry } = ledgerRecord({ requestId: "after" });
  await ledger.recorder.record(entry);
  await ledger.close();
  assert.deepEqual(lines.map(({ msg, path }) => ({ msg, path })), [
    { msg: "ledger file was removed or replaced; reopening it", path },
  ]);
  const reader = LedgerStore.open(path, { readOnly: true });
  const ids = reader.database.prepare("SELECT request_id FROM requests").all().map((row) => row.request_id);
  reader.close();
  assert.deepEqual(ids, ["after"]);
});

Deno.test("reconfigure prices what budgeted requests hold by the reloaded prices, as it charges them", async () => {
  const config = (input: number) =>
    configSchema.parse({
      server: { auth: { tokens: [{ name: "ci", token: "rly_ci_token_0002", monthly_budget_usd: 1 }] } },
      ledger: { enabled: false },
      pricing: { "claude-sonnet-4-5": { input, output: 0 } },
      providers: [{ name: "mock", type: "mock" }],
    });
  const ledger = await openLedger(config(25_000), { logger });
  const request = { model: "claude-sonnet-4-5", estimate: { input: 4, output: 0 } };
  const before = ledger.clients.admit("ci", request);
  assert.ok(before.ok, "holds $0.10");
  assert.notEqual(before.unpriced("acme-large-1"), undefined, "a model no price names");
  ledger.reconfigure({
    ...config(250_000),
    pricing: { ...config(250_000).pricing, "acme-large-1": { input: 1, output: 1 } },
  });
  const after = ledger.clients.admit("ci", request);
  assert.ok(after.ok, "$0.10 held: admitted, holding $1.00");
  assert.equal(ledger.clients.admit("ci", request).ok, false, "$1.10 held");
  assert.equal(after.unpriced("acme-large-1"), undefined, "a model the reload priced");
});

Deno.test("openLedger prices by where a request ran: a Vertex region other than global adds its 10%, at start and after a reload", async () => {
  const vertex = (region: string) =>
    configSchema.parse({
      server: { auth: { tokens: [{ name: "ci", token: "rly_ci_token_0002", monthly_budget_usd: 50 }] } },
      ledger: { enabled: false },
      providers: [{ name: "vertex", type: "vertex", project: "p", region, credentials_file: "/dev/null" }],
    });
  const now = Date.UTC(2026, 10, 17, 9);
  const ledger = await openLedger(vertex("us-east5"), { logger, now: () => now, timers: new FakeClock() });
  // 100,000 input tokens of Sonnet 4.5 at $3 per million, and 10% more; then the global price; then
  // a region again.
  const entry = ledgerRecord({
    time: now,
    provider: "vertex",
    upstreamModel: "claude-sonnet-4-5@20250929",
    usage: { input: 100_000, output: 0, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 },
  });
  await ledger.recorder.record(entry);
  assert.equal(ledger.clients.spentThisMonth("ci"), 0.33);
  ledger.reconfigure(vertex("global"));
  await ledger.recorder.record(entry);
  assert.equal(ledger.clients.spentThisMonth("ci"), 0.63);
  ledger.reconfigure(vertex("europe-west1"));
  await ledger.recorder.record(entry);
  assert.equal(ledger.clients.spentThisMonth("ci"), 0.96);
  await ledger.close();
});
