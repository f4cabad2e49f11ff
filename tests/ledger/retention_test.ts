import assert from "node:assert/strict";
import { Retention } from "../../src/ledger/retention.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { createLogger } from "../../src/util/logger.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { ledgerRecord, tempFolder } from "./_records.ts";

const DAY = 86_400_000;

Deno.test("records older than retention_days are pruned at start and on schedule, as the clock moves", async () => {
  await using folder = await tempFolder();
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  const lines: Record<string, unknown>[] = [];
  let now = Date.UTC(2026, 10, 17);
  const timers = new FakeClock();
  const retention = new Retention({
    store,
    retentionDays: 30,
    intervalMs: 3_600_000,
    now: () => now,
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
    const retention = new Retention({
      store,
      retentionDays: 90,
      now: () => now,
      logger: createLogger({ write: () => {} }),
    });
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
    const retention = new Retention({
      store,
      retentionDays: 7,
      now: () => now,
      logger: createLogger({ write: () => {} }),
    });
    assert.equal(retention.prune(), 1);
    assert.deepEqual(
      store.database.prepare("SELECT request_id FROM requests").all().map((row) => row.request_id),
      ["this month"],
    );
  } finally {
    store.close();
  }
});
