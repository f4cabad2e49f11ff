import assert from "node:assert/strict";
import { StreamTimeoutError, type TimeoutKind } from "../../src/stream/timeouts.ts";
import { WatchedReader } from "../../src/stream/watched_reader.ts";
import { MAX_STALL_GRACES } from "../../src/util/deadline.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";

function watched(options: { firstByteMs?: number; idleMs?: number } = { firstByteMs: 100, idleMs: 50 }) {
  const source = controlledStream();
  const clock = new FakeClock();
  const timeouts: TimeoutKind[] = [];
  const reader = new WatchedReader(source.body.getReader(), {
    ...options,
    onTimeout: (kind) => timeouts.push(kind),
    now: clock.now,
    timers: clock,
  });
  return { source, clock, reader, timeouts };
}

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("WatchedReader passes chunks through untouched and stops its clock at the end", async () => {
  const { source, clock, reader, timeouts } = watched();
  const first = bytes("event: ping\n");
  const pending = reader.read();
  assert.deepEqual(clock.armed, [100], "the first-byte deadline runs while the first read waits");
  clock.advance(99);
  source.push(first);
  assert.equal((await pending).value, first, "the very same chunk");
  const second = reader.read();
  assert.deepEqual(clock.armed, [1], "the idle deadline of the next read is later: the timer is left");
  clock.advance(1);
  assert.deepEqual(clock.armed, [49], "fired early, it re-arms for what is left of the idle deadline");
  source.push("data: {}\n\n");
  assert.equal(new TextDecoder().decode((await second).value), "data: {}\n\n");
  const end = reader.read();
  source.end();
  assert.equal((await end).done, true);
  assert.deepEqual(clock.armed, []);
  assert.deepEqual(timeouts, []);
});

Deno.test("WatchedReader fails a read whose first byte is late and cancels the source", async () => {
  const { source, clock, reader, timeouts } = watched();
  const pending = reader.read();
  clock.advance(99);
  assert.deepEqual(timeouts, []);
  clock.advance(1);
  await assert.rejects(
    pending,
    (error) => error instanceof StreamTimeoutError && error.kind === "first_byte" && error.ms === 100,
  );
  assert.deepEqual(timeouts, ["first_byte"]);
  assert.ok(await source.cancelled instanceof StreamTimeoutError);
  assert.deepEqual(clock.armed, []);
});

Deno.test("WatchedReader fails a source that goes silent between chunks, counted from the last read", async () => {
  const { source, clock, reader, timeouts } = watched();
  source.push("event: ping\n");
  await reader.read();
  clock.advance(30);
  source.push("data: {}\n");
  await reader.read();
  const pending = reader.read();
  clock.advance(49);
  assert.deepEqual(timeouts, [], "the deadline counts from the start of the last read");
  clock.advance(1);
  await assert.rejects(pending, (error) => error instanceof StreamTimeoutError && error.kind === "idle");
  assert.deepEqual(timeouts, ["idle"]);
  await source.cancelled;
  await assert.rejects(reader.read(), StreamTimeoutError, "the reader stays failed");
});

Deno.test("WatchedReader moves its timer earlier when the idle deadline falls before the first-byte one", async () => {
  const { source, clock, reader, timeouts } = watched({ firstByteMs: 1000, idleMs: 50 });
  source.push("event: ping\n");
  await reader.read();
  const pending = reader.read();
  assert.deepEqual(clock.armed, [50]);
  clock.advance(50);
  await assert.rejects(pending, StreamTimeoutError);
  assert.deepEqual(timeouts, ["idle"]);
});

Deno.test("WatchedReader counts no time while nobody reads: a slow consumer is not a silent source", async () => {
  const { source, clock, reader, timeouts } = watched();
  source.push("event: ping\n");
  await reader.read();
  clock.advance(10_000);
  assert.deepEqual(clock.armed, [], "a timer that finds nobody reading is not armed again");
  const pending = reader.read();
  clock.advance(49);
  source.push("data: {}\n\n");
  assert.equal((await pending).done, false);
  assert.deepEqual(timeouts, []);
});

Deno.test("WatchedReader costs one timer, not one per chunk", async () => {
  const { source, clock, reader } = watched({ idleMs: 1000 });
  for (let chunk = 0; chunk < 100; chunk++) {
    const pending = reader.read();
    clock.advance(5);
    source.push(`data: ${chunk}\n\n`);
    await pending;
  }
  assert.equal(clock.timersSet, 1);
});

Deno.test("WatchedReader hands a source error on and stops its clock", async () => {
  const { source, clock, reader, timeouts } = watched();
  const pending = reader.read();
  source.fail(new Error("connection reset"));
  await assert.rejects(pending, /connection reset/);
  assert.deepEqual(clock.armed, []);
  assert.deepEqual(timeouts, []);
});

Deno.test("WatchedReader passes a cancel to the source and stops its clock", async () => {
  const { source, clock, reader, timeouts } = watched();
  const pending = reader.read();
  assert.deepEqual(clock.armed, [100]);
  await reader.cancel("client left");
  assert.equal(await source.cancelled, "client left");
  assert.equal((await pending).done, true);
  assert.deepEqual(clock.armed, []);
  assert.deepEqual(timeouts, []);
});

Deno.test("WatchedReader calls onQuiet per interval of a read's silence, on the same timer", async () => {
  const { source, clock, reader, timeouts } = watched({ idleMs: 250 });
  let quiet = 0;
  reader.onQuiet(100, () => quiet++);
  source.push("event: ping\n\n");
  await reader.read();
  const pending = reader.read();
  clock.advance(99);
  assert.equal(quiet, 0);
  clock.advance(1);
  assert.equal(quiet, 1);
  clock.advance(100);
  assert.equal(quiet, 2);
  assert.deepEqual(clock.armed, [50], "the idle deadline comes before the next keep-alive");
  clock.advance(50);
  await assert.rejects(pending, StreamTimeoutError);
  assert.deepEqual(timeouts, ["idle"]);
});

Deno.test("WatchedReader works on the real timers", async () => {
  const source = controlledStream();
  const timedOut = Promise.withResolvers<TimeoutKind>();
  const reader = new WatchedReader(source.body.getReader(), { firstByteMs: 1, onTimeout: timedOut.resolve });
  const pending = reader.read();
  assert.equal(await timedOut.promise, "first_byte");
  await assert.rejects(pending, StreamTimeoutError);
  await source.cancelled;
});

Deno.test("WatchedReader ends when its signal aborts, even over a source that does not heed it", async () => {
  const source = controlledStream();
  const controller = new AbortController();
  const reader = new WatchedReader(source.body.getReader(), { idleMs: 1000, signal: controller.signal });
  source.push("event: message_start\ndata: {}\n\n");
  await reader.read();
  const pending = reader.read();
  const reason = new Error("relay shut down (server.shutdown_grace)");
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  await assert.rejects(reader.read(), (error) => error === reason, "and every later read");
  assert.equal(await source.cancelled, reason);
});

Deno.test("WatchedReader takes empty chunks as the source's activity, never hands them on, and keeps counting silence for keep-alives", async () => {
  const { source, clock, reader, timeouts } = watched({ firstByteMs: 100, idleMs: 50 });
  let pings = 0;
  reader.onQuiet(30, () => pings++);
  const pending = reader.read();
  for (let i = 0; i < 3; i++) {
    await source.whenRead();
    clock.advance(40);
    source.push(new Uint8Array(0));
  }
  await source.whenRead();
  source.push("x");
  assert.equal(new TextDecoder().decode((await pending).value), "x");
  assert.deepEqual(
    timeouts,
    [],
    "120 ms without a byte for the client, but never 50 without one from the source",
  );
  assert.equal(pings, 4, "a keep-alive every 30 ms of the reader's silence, empty chunks or not");
});

/**
 * {@linkcode watched} whose reader's clock can jump ahead of its timers: `stall(ms)` is relay standing
 * still (SIGSTOP, a paused VM) for `ms`, its timers firing only at the next `advance`, that late.
 */
function stallable(options: { firstByteMs?: number; idleMs?: number }) {
  const source = controlledStream();
  const clock = new FakeClock();
  let stood = 0;
  const timeouts: TimeoutKind[] = [];
  const reader = new WatchedReader(source.body.getReader(), {
    ...options,
    onTimeout: (kind) => timeouts.push(kind),
    now: () => clock.now() + stood,
    timers: clock,
  });
  return { source, clock, reader, timeouts, stall: (ms: number) => stood += ms };
}

Deno.test("WatchedReader gives a read whose deadline passed while relay stood still a grace for what came meanwhile", async () => {
  const { source, clock, reader, timeouts, stall } = stallable({ idleMs: 10_000 });
  source.push("event: ping\n");
  await reader.read();
  const pending = reader.read();
  clock.advance(2_000);
  stall(15_000);
  clock.advance(8_000);
  assert.deepEqual(timeouts, [], "the timer fired 15 s late: relay stood still, not the source");
  assert.deepEqual(clock.armed, [1_000]);
  source.push("data: {}\n\n");
  assert.equal(new TextDecoder().decode((await pending).value), "data: {}\n\n");
  assert.deepEqual(timeouts, []);
});

Deno.test("WatchedReader fails a read that the grace after relay stood still brings nothing", async () => {
  const { clock, reader, timeouts, stall } = stallable({ firstByteMs: 100 });
  const pending = reader.read();
  stall(1_001);
  clock.advance(100);
  assert.deepEqual(timeouts, []);
  clock.advance(999);
  assert.deepEqual(timeouts, []);
  clock.advance(1);
  await assert.rejects(
    pending,
    (error) => error instanceof StreamTimeoutError && error.kind === "first_byte" && error.ms === 100,
    "the error names the deadline, not the grace",
  );
  assert.deepEqual(timeouts, ["first_byte"]);
});

Deno.test("WatchedReader takes a timer a second late as a running loop's, not a stall", async () => {
  const { clock, reader, timeouts, stall } = stallable({ idleMs: 50, firstByteMs: 50 });
  const pending = reader.read();
  stall(1_000);
  clock.advance(50);
  await assert.rejects(pending, StreamTimeoutError);
  assert.deepEqual(timeouts, ["first_byte"]);
});

Deno.test("WatchedReader fails a read on a loop that fires every timer over a second late, after three graces", async () => {
  const { clock, reader, timeouts, stall } = stallable({ firstByteMs: 100 });
  const pending = reader.read();
  for (let grace = 1; grace <= MAX_STALL_GRACES; grace++) {
    stall(1_500);
    clock.advance(clock.armed[0]);
    assert.deepEqual(timeouts, [], `grace ${grace}`);
  }
  stall(1_500);
  clock.advance(clock.armed[0]);
  assert.deepEqual(timeouts, ["first_byte"]);
  await assert.rejects(pending, StreamTimeoutError);
});
