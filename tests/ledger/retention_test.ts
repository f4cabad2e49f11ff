import assert from "node:assert/strict";
import { Retention } from "../../src/ledger/retention.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { createLogger } from "../../src/util/logger.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { ledgerRecord, requestIds } from "./_records.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

const DAY = 86_400_000;

/** A Retention of `store` on the clock `now`: 30 days, pruned hourly, logging nowhere, unless `options` say. */
function retentionOf(
  store: LedgerStore,
  now: () => number,
  options: Partial<ConstructorParameters<typeof Retention>[0]> = {},
): Retention {
  return new Retention({
    store,
    retentionDays: 30,
    intervalMs: 3_600_000,
    now,
    logger: createLogger({ write: () => {} }),
    ...options,
  });
}

Deno.test("records older than retention_days are pruned five minutes after start, then on schedule, as the clock moves", async () => {
  await using folder = await tempFolder();
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  const lines: Record<string, unknown>[] = [];
  let now = Date.UTC(2026, 10, 17);
  const timers = new FakeClock();
  const retention = retentionOf(store, () => now, {
    timers,
    logger: createLogger({ write: (line) => lines.push(JSON.parse(line)) }),
  });
  try {
    store.insert([
      ledgerRecord({ requestId: "old", time: now - 31 * DAY }),
      ledgerRecord({ requestId: "edge", time: now - 30 * DAY }),
      ledgerRecord({ requestId: "recent", time: now - DAY }),
    ]);
    const ids = () =>
      store.database.prepare("SELECT request_id FROM requests ORDER BY time").all().map((r) => r.request_id);
    retention.start();
    assert.deepEqual(ids(), ["old", "edge", "recent"], "nothing at start: the clock may not be set yet");
    assert.deepEqual(timers.armed, [300_000]);
    timers.advance(300_000);
    assert.deepEqual(ids(), ["edge", "recent"]);
    assert.deepEqual(lines.map((line) => [line.msg, line.records]), [["ledger pruned", 1]]);
    assert.deepEqual(timers.armed, [3_600_000]);

    now += DAY / 2;
    timers.advance(3_600_000);
    assert.deepEqual(ids(), ["recent"], "the edge record aged out by the next round");
    assert.deepEqual(timers.armed, [3_600_000], "and the next round is armed");

    timers.advance(3_600_000);
    assert.equal(lines.length, 2, "a round that deletes nothing says nothing");
  } finally {
    retention.stop();
    store.close();
  }
  assert.deepEqual(timers.armed, []);
});

Deno.test("a prune larger than one chunk deletes it all", async () => {
  await using folder = await tempFolder();
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  try {
    const now = Date.UTC(2026, 10, 17);
    store.insert(
      Array.from({ length: 25_000 }, (_, i) => ledgerRecord({ requestId: `r${i}`, time: now - 100 * DAY })),
    );
    const retention = retentionOf(store, () => now, { retentionDays: 90 });
    assert.equal(retention.prune(), 25_000);
    assert.equal(store.database.prepare("SELECT count(*) AS n FROM requests").get()?.n, 0);
  } finally {
    store.close();
  }
});

Deno.test("records of the current month (UTC) stay, whatever retention_days says: budgets are read back from them", async () => {
  await using folder = await tempFolder();
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  try {
    const now = Date.UTC(2026, 10, 17);
    store.insert([
      ledgerRecord({ requestId: "last month", time: Date.UTC(2026, 10, 1) - 1 }),
      ledgerRecord({ requestId: "this month", time: Date.UTC(2026, 10, 1) }),
    ]);
    const retention = retentionOf(store, () => now, { retentionDays: 7 });
    assert.equal(retention.prune(), 1);
    assert.deepEqual(
      store.database.prepare("SELECT request_id FROM requests").all().map((row) => row.request_id),
      ["this month"],
    );
  } finally {
    store.close();
  }
});

Deno.test("a relay started with its clock 100 days ahead, set right within five minutes, prunes nothing", async () => {
  await using folder = await tempFolder();
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  const right = Date.UTC(2026, 10, 17);
  let now = right + 100 * DAY;
  const timers = new FakeClock();
  const retention = retentionOf(store, () => now, { retentionDays: 90, timers });
  try {
    store.insert([ledgerRecord({ requestId: "yesterday", time: right - DAY })]);
    retention.start();
    // NTP steps the clock back to the right time.
    now = right + 60_000;
    timers.advance(300_000);
    assert.equal(store.database.prepare("SELECT count(*) AS n FROM requests").get()?.n, 1);
  } finally {
    retention.stop();
    store.close();
  }
});

Deno.test("a clock behind the ledger's newest record prunes nothing, saying so once, until it has passed that record", async () => {
  await using folder = await tempFolder();
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  const lines: Record<string, unknown>[] = [];
  let now = Date.UTC(2026, 10, 17);
  const retention = retentionOf(store, () => now, {
    logger: createLogger({ write: (line) => lines.push(JSON.parse(line)) }),
  });
  try {
    // Written while the clock was an hour ahead, before NTP stepped it back.
    store.insert([
      ledgerRecord({ requestId: "old", time: now - 100 * DAY }),
      ledgerRecord({ requestId: "ahead", time: now + 3_600_000 }),
    ]);
    assert.equal(retention.prune(), 0);
    assert.equal(retention.prune(), 0);
    assert.deepEqual(lines.map((line) => [line.msg, line.newest_record, line.now]), [
      ["ledger pruning skipped", "2026-11-17T01:00:00.000Z", "2026-11-17T00:00:00.000Z"],
    ], "once for the whole run");

    now += 3_600_000 - 5 * 60_000;
    assert.equal(retention.prune(), 1, "within five minutes of the newest record: another relay's clock");
    store.insert([ledgerRecord({ requestId: "old again", time: now - 100 * DAY })]);
    now += 2 * 3_600_000;
    assert.equal(retention.prune(), 1, "the clock has passed the newest record");
    store.insert([ledgerRecord({ requestId: "ahead again", time: now + 3_600_000 })]);
    assert.equal(retention.prune(), 0);
    assert.deepEqual(
      lines.map((line) => line.msg),
      ["ledger pruning skipped", "ledger pruned", "ledger pruned", "ledger pruning skipped"],
      "a new run is said again",
    );
  } finally {
    store.close();
  }
});

Deno.test("a round while the store cannot reopen its removed file skips quietly; the next prunes the file opened since", async () => {
  await using folder = await tempFolder();
  // As `ledger.path` in the hunt that found it: a link to the file, whose folder then goes with it.
  await Deno.mkdir(`${folder.path}/data`);
  await Deno.symlink(`${folder.path}/data/ledger.db`, `${folder.path}/ledger.db`);
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line)) });
  const store = LedgerStore.open(`${folder.path}/ledger.db`, { logger });
  const now = Date.UTC(2026, 10, 17);
  const timers = new FakeClock();
  const retention = retentionOf(store, () => now, { timers, logger });
  try {
    store.insert([ledgerRecord({ requestId: "before", time: now - DAY })]);
    retention.start();
    await Deno.remove(`${folder.path}/data`, { recursive: true });
    assert.throws(() => store.insert([ledgerRecord({ requestId: "refused" })]), /^Error: cannot reopen /);

    timers.advance(300_000);
    const warnings = () => lines.filter((line) => line.level === "warn").map((line) => line.msg);
    assert.deepEqual(warnings(), ["ledger file was removed or replaced; reopening it"], "no pruning failure");
    assert.equal(lines.at(-1)?.msg, "ledger pruning waits for the file to be reopened");

    await Deno.mkdir(`${folder.path}/data`);
    store.insert([
      ledgerRecord({ requestId: "old", time: now - 31 * DAY }),
      ledgerRecord({ requestId: "recent", time: now - DAY }),
    ]);
    timers.advance(3_600_000);
    assert.deepEqual(requestIds(store.database), ["recent"], "the reopened file is pruned");
    assert.deepEqual(warnings(), ["ledger file was removed or replaced; reopening it"]);
  } finally {
    retention.stop();
    store.close();
  }
});
