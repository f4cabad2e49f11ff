import assert from "node:assert/strict";
import type { LedgerRecord } from "../../src/ledger/entry.ts";
import { LedgerBusyError } from "../../src/ledger/busy.ts";
import { LedgerWriter, MIN_RETRY_MS } from "../../src/ledger/writer.ts";
import { createLogger, type LogLevel } from "../../src/util/logger.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { ledgerRecord } from "./_records.ts";

function writerWith(
  options: {
    queueSize: number;
    fail?: () => boolean;
    locked?: () => boolean;
    level?: LogLevel;
    flushIntervalMs?: number;
  },
) {
  const batches: string[][] = [];
  // Whether each batch written was told it is the last, which waits for another writer's lock.
  const lasts: boolean[] = [];
  const warnings: Record<string, unknown>[] = [];
  const timers = new FakeClock();
  const writer = new LedgerWriter({
    write: (records, last) => {
      if (options.fail?.()) throw new Error("disk I/O error");
      if (options.locked?.()) throw new LedgerBusyError("ledger.db");
      batches.push(records.map((record) => record.requestId));
      lasts.push(last);
    },
    queueSize: options.queueSize,
    flushIntervalMs: options.flushIntervalMs ?? 1_000,
    timers,
    now: timers.now,
    logger: createLogger({
      level: options.level ?? "warn",
      write: (line) => warnings.push(JSON.parse(line)),
    }),
  });
  return { writer, batches, lasts, warnings, timers };
}

const record = (id: number): LedgerRecord => ledgerRecord({ requestId: `r${id}` });

/** Whether `promise` has settled once pending callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("records wait for the flush interval and go in one batch; an idle writer arms no timer", async () => {
  const { writer, batches, timers } = writerWith({ queueSize: 10 });
  assert.deepEqual(timers.armed, []);
  await writer.record(record(1));
  await writer.record(record(2));
  assert.deepEqual(timers.armed, [1_000], "one timer for the batch");
  assert.deepEqual(batches, []);
  timers.advance(1_000);
  assert.deepEqual(batches, [["r1", "r2"]]);
  assert.deepEqual(timers.armed, []);
  assert.equal(writer.written, 2);
  assert.equal(writer.pending, 0);
});

Deno.test("each batch written is a debug line, for operators and tests that wait on the disk", async () => {
  const { writer, timers, warnings: lines } = writerWith({ queueSize: 10, level: "debug" });
  await writer.record(record(1));
  await writer.record(record(2));
  timers.advance(1_000);
  await writer.record(record(3));
  timers.advance(1_000);
  assert.deepEqual(
    lines.map(({ level, msg, records, written_total }) => ({ level, msg, records, written_total })),
    [
      { level: "debug", msg: "ledger batch written", records: 2, written_total: 2 },
      { level: "debug", msg: "ledger batch written", records: 1, written_total: 3 },
    ],
  );
});

Deno.test("a full queue makes record wait, flushes at once, and drops nothing", async () => {
  const { writer, batches, timers, warnings } = writerWith({ queueSize: 2 });
  assert.equal(await settled(writer.record(record(1))), true);
  assert.equal(await settled(writer.record(record(2))), true);
  assert.deepEqual(timers.armed, [0], "a full queue is written at the next turn, not after the interval");
  const third = writer.record(record(3));
  const fourth = writer.record(record(4));
  const fifth = writer.record(record(5));
  assert.equal(await settled(third), false, "no room: the caller waits");
  assert.equal(writer.pending, 5);
  timers.advance(0);
  // The full batch, then the waiting ones as they fit.
  assert.deepEqual(batches, [["r1", "r2"], ["r3", "r4"], ["r5"]]);
  assert.equal(await settled(third), true);
  assert.equal(await settled(fourth), true);
  assert.equal(await settled(fifth), true);
  assert.equal(writer.written, 5);
  assert.equal(writer.dropped, 0);
  assert.deepEqual(warnings, []);
});

Deno.test("a failed batch is kept and tried again at the next interval", async () => {
  let failing = true;
  const { writer, batches, timers, warnings } = writerWith({ queueSize: 10, fail: () => failing });
  await writer.record(record(1));
  timers.advance(1_000);
  assert.deepEqual(batches, []);
  assert.equal(writer.pending, 1);
  assert.deepEqual(timers.armed, [1_000]);
  assert.equal(warnings[0].msg, "ledger write failed; retrying");
  failing = false;
  timers.advance(1_000);
  assert.deepEqual(batches, [["r1"]]);
  assert.equal(writer.dropped, 0);
});

Deno.test("with flush_interval 0, a record is written at once, but a failed batch waits to be tried again", async () => {
  let locked = true;
  const { writer, batches, timers } = writerWith({ queueSize: 10, locked: () => locked, flushIntervalMs: 0 });
  await writer.record(record(1));
  assert.deepEqual(timers.armed, [0]);
  // Flushed by hand: the fake clock, advanced by 0, would itself loop on a timer re-armed at 0.
  writer.flush();
  assert.deepEqual(timers.armed, [MIN_RETRY_MS], "not tried again in a loop while the lock is held");
  await writer.record(record(2));
  assert.deepEqual(timers.armed, [MIN_RETRY_MS], "nor sooner for a record that arrives meanwhile");
  locked = false;
  timers.advance(MIN_RETRY_MS);
  assert.deepEqual(batches, [["r1", "r2"]]);
});

Deno.test("a spell of failed writes is warned about once, and its end said", async () => {
  let failing = true;
  const { writer, batches, timers, warnings } = writerWith({
    queueSize: 10,
    fail: () => failing,
    level: "info",
  });
  await writer.record(record(1));
  for (let i = 0; i < 5; i++) timers.advance(1_000);
  assert.deepEqual(
    warnings.map((w) => w.msg),
    ["ledger write failed; retrying"],
    "one warning for five tries",
  );
  failing = false;
  timers.advance(1_000);
  assert.deepEqual(batches, [["r1"]]);
  assert.deepEqual(warnings.map((w) => [w.msg, w.records]), [
    ["ledger write failed; retrying", 1],
    ["ledger written again", 1],
  ]);
});

Deno.test("a broken database with callers waiting drops a batch, counted and warned, so relay goes on", async () => {
  let failing = true;
  const { writer, batches, timers, warnings } = writerWith({ queueSize: 2, fail: () => failing });
  await writer.record(record(1));
  await writer.record(record(2));
  const waiting = writer.record(record(3));
  timers.advance(0);
  assert.equal(await settled(waiting), true, "the waiting caller is let through");
  assert.equal(writer.dropped, 2);
  assert.deepEqual(warnings.map((w) => [w.msg, w.records, w.dropped_total]), [
    ["ledger dropped records", 2, 2],
    ["ledger write failed; retrying", 1, undefined],
  ]);
  failing = false;
  timers.advance(1_000);
  assert.deepEqual(batches, [["r3"]]);
});

Deno.test("a ledger locked by another writer is waited out, callers waiting for room included: nothing dropped", async () => {
  let locked = true;
  const { writer, batches, timers, warnings } = writerWith({ queueSize: 2, locked: () => locked });
  await writer.record(record(1));
  await writer.record(record(2));
  const waiting = writer.record(record(3));
  timers.advance(0);
  timers.advance(1_000);
  assert.equal(await settled(waiting), false, "room comes only once the held batch is in");
  assert.equal(writer.dropped, 0);
  assert.deepEqual(
    warnings.map((w) => w.msg),
    ["ledger locked by another writer; batches wait"],
    "said once",
  );
  locked = false;
  timers.advance(1_000);
  assert.equal(await settled(waiting), true);
  timers.advance(1_000);
  assert.deepEqual(batches, [["r1", "r2"], ["r3"]]);
});

Deno.test("close writes everything held, waiting records included, and counts records after it as dropped", async () => {
  const { writer, batches, timers, warnings } = writerWith({ queueSize: 2 });
  await writer.record(record(1));
  await writer.record(record(2));
  const waiting = writer.record(record(3));
  await writer.close();
  assert.deepEqual(batches, [["r1", "r2"], ["r3"]]);
  assert.equal(await settled(waiting), true);
  assert.deepEqual(timers.armed, [], "no timer left behind");
  await writer.record(record(4));
  assert.equal(writer.dropped, 1);
  assert.equal(warnings.at(-1)?.reason, "the ledger is closed");
});

Deno.test("only the batches close writes are the last, which wait for another writer's lock", async () => {
  const { writer, batches, lasts, timers } = writerWith({ queueSize: 2 });
  await writer.record(record(1));
  timers.advance(1_000);
  await writer.record(record(2));
  await writer.record(record(3));
  const waiting = writer.record(record(4));
  await writer.close();
  assert.equal(await settled(waiting), true);
  assert.deepEqual(batches, [["r1"], ["r2", "r3"], ["r4"]]);
  assert.deepEqual(lasts, [false, true, true]);
});

Deno.test("a record no one waits for never waits: a full queue is written first, and while it cannot be, the record is dropped, warned about once a spell", async () => {
  let locked = false;
  const { writer, batches, timers, warnings } = writerWith({
    queueSize: 2,
    locked: () => locked,
    level: "debug",
  });
  await writer.record(record(1));
  await writer.record(record(2));
  assert.equal(await settled(writer.record(record(3), { waitForRoom: false })), true);
  assert.deepEqual(batches, [["r1", "r2"]], "the full queue went in at once, before its timer");
  assert.equal(writer.dropped, 0, "a healthy ledger drops nothing");

  locked = true;
  await writer.record(record(4));
  for (const id of [5, 6, 7]) {
    assert.equal(
      await settled(writer.record(record(id), { waitForRoom: false })),
      true,
      `r${id} does not wait`,
    );
  }
  assert.equal(writer.dropped, 3);
  assert.equal(writer.pending, 2, "nothing waits: only the queue is held");
  assert.deepEqual(
    warnings.filter(({ level }) => level !== "debug").map(({ msg }) => msg),
    ["ledger locked by another writer; batches wait", "ledger dropped records"],
    "one warning for three dropped",
  );
  locked = false;
  timers.advance(1_000);
  assert.deepEqual(batches, [["r1", "r2"], ["r3", "r4"]]);
  assert.deepEqual(
    warnings.filter(({ msg }) => msg === "ledger written again").map(({ dropped }) => dropped),
    [3],
    "the spell's end says how many went",
  );
  locked = true;
  await writer.record(record(8));
  await writer.record(record(9));
  writer.record(record(10), { waitForRoom: false });
  assert.equal(
    warnings.filter(({ level, msg }) => level === "warn" && msg === "ledger dropped records").length,
    2,
    "a new spell warns again",
  );
});

Deno.test("health tells the state of the writing, why the last try failed, since when, and the counts", async () => {
  let failing = false;
  let locked = false;
  const { writer, timers } = writerWith({ queueSize: 2, fail: () => failing, locked: () => locked });
  const health = () => {
    const { state, error, since, pending, written, dropped } = writer.health;
    return { state, error, since, pending, written, dropped };
  };
  timers.advance(500);
  assert.deepEqual(health(), { state: "ok", error: undefined, since: 0, pending: 0, written: 0, dropped: 0 });

  await writer.record(record(1));
  failing = true;
  timers.advance(1_000);
  const disk = { error: "disk I/O error", since: 1_500, written: 0, dropped: 0 };
  assert.deepEqual(health(), { state: "failing", ...disk, pending: 1 });
  await writer.record(record(2));
  timers.advance(5_000);
  assert.deepEqual(health(), { state: "failing", ...disk, pending: 2 }, "the spell began at its first try");

  failing = false;
  locked = true;
  timers.advance(1_000);
  const lock =
    "ledger.db is locked: another process holds its lock (another relay sharing the ledger? lslocks lists the holders)";
  assert.deepEqual(health(), {
    state: "locked",
    error: lock,
    since: 7_500,
    pending: 2,
    written: 0,
    dropped: 0,
  });
  locked = false;
  timers.advance(1_000);
  assert.deepEqual(health(), {
    state: "ok",
    error: undefined,
    since: 8_500,
    pending: 0,
    written: 2,
    dropped: 0,
  });

  // A batch dropped because callers wait for room is a failure too, though no spell of retries began.
  timers.advance(250);
  failing = true;
  await writer.record(record(3));
  await writer.record(record(4));
  const waiting = writer.record(record(5));
  timers.advance(0);
  await waiting;
  assert.deepEqual(health(), { state: "failing", ...disk, since: 8_750, pending: 1, written: 2, dropped: 2 });
});
