import assert from "node:assert/strict";
import { StderrSink } from "../../src/util/stderr_sink.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

const decoder = new TextDecoder();

/** A stderr whose writes the test lets through one at a time, as a reader would take them. */
function heldStderr() {
  const writes: { text: string; take: (count?: number) => void }[] = [];
  const waiting: ((write: { text: string; take: (count?: number) => void }) => void)[] = [];
  const write = (bytes: Uint8Array) =>
    new Promise<number>((resolve) => {
      const pending = { text: decoder.decode(bytes), take: (count = bytes.byteLength) => resolve(count) };
      const waiter = waiting.shift();
      if (waiter) waiter(pending);
      else writes.push(pending);
    });
  /** The next write relay makes, once it makes it. */
  const next = () =>
    writes.length > 0
      ? Promise.resolve(writes.shift()!)
      : new Promise<{ text: string; take: (count?: number) => void }>((resolve) => waiting.push(resolve));
  return { write, next };
}

Deno.test("StderrSink returns at once while stderr is not read, then writes the waiting lines together, in order", async () => {
  const stderr = heldStderr();
  const sink = new StderrSink({ write: stderr.write });
  sink.writeLine("one");
  const first = await stderr.next();
  assert.equal(first.text, "one\n");
  sink.writeLine("two");
  sink.writeLine("three");
  first.take();
  const second = await stderr.next();
  assert.equal(second.text, "two\nthree\n", "one write for the lines that waited");
  second.take();
  assert.equal(await sink.flush(), true);
});

Deno.test("StderrSink writes the rest of a line stderr took only part of", async () => {
  const stderr = heldStderr();
  const sink = new StderrSink({ write: stderr.write });
  sink.writeLine("abcdef");
  const first = await stderr.next();
  first.take(3);
  const rest = await stderr.next();
  assert.equal(rest.text, "def\n");
  rest.take();
  assert.equal(await sink.flush(), true);
});

Deno.test("StderrSink drops lines past its bound, and says how many with the next write", async () => {
  const stderr = heldStderr();
  const dropped: number[] = [];
  const sink = new StderrSink({
    write: stderr.write,
    maxQueuedBytes: 10,
    onDropped: (count) => {
      dropped.push(count);
      sink.writeLine(`dropped ${count}`);
    },
  });
  sink.writeLine("held");
  const held = await stderr.next();
  for (const line of ["a", "b", "c", "d", "e", "f", "g"]) sink.writeLine(line);
  held.take();
  const kept = await stderr.next();
  assert.equal(kept.text, "a\nb\nc\nd\ne\n", "10 bytes waited; the rest were dropped");
  assert.deepEqual(dropped, [2], "told as the waiting lines went out, into the room they left");
  kept.take();
  const notice = await stderr.next();
  assert.equal(notice.text, "dropped 2\n");
  notice.take();
  assert.equal(await sink.flush(), true);
});

Deno.test("StderrSink.flush gives up after its deadline, on the injected timers, when stderr is never read", async () => {
  const stderr = heldStderr();
  const clock = new FakeClock();
  const sink = new StderrSink({ write: stderr.write, timers: clock });
  sink.writeLine("stuck");
  await stderr.next();
  const flushed = sink.flush(1_000);
  assert.deepEqual(clock.armed, [1_000]);
  clock.advance(1_000);
  assert.equal(await flushed, false);
});

Deno.test("StderrSink stops writing once stderr is gone, without failing its callers", async () => {
  let writes = 0;
  const sink = new StderrSink({
    write: () => {
      writes++;
      return Promise.reject(new Deno.errors.BrokenPipe("closed"));
    },
  });
  sink.writeLine("one");
  assert.equal(await sink.flush(), true);
  sink.writeLine("two");
  assert.equal(await sink.flush(), true);
  assert.equal(writes, 1);
});

Deno.test("StderrSink writes a line over its whole bound when nothing waits before it, dropping what waits behind", async () => {
  const stderr = heldStderr();
  const dropped: number[] = [];
  const sink = new StderrSink({
    write: stderr.write,
    maxQueuedBytes: 12,
    onDropped: (count) => dropped.push(count),
  });
  sink.writeLine("x".repeat(100));
  sink.writeLine("behind");
  const long = await stderr.next();
  assert.equal(long.text, "x".repeat(100) + "\n");
  assert.deepEqual(dropped, [1], "the line behind it did not fit");
  long.take();
  assert.equal(await sink.flush(), true);
});

Deno.test("StderrSink tries again a write stderr was not ready for, and loses nothing", async () => {
  const written: string[] = [];
  const waits: number[] = [];
  let refusals = 2;
  const sink = new StderrSink({
    write: (bytes) => {
      if (refusals-- > 0) return Promise.reject(new Deno.errors.WouldBlock("not ready"));
      written.push(decoder.decode(bytes));
      return Promise.resolve(bytes.byteLength);
    },
    timers: {
      setTimeout: (callback, ms) => {
        waits.push(ms);
        callback();
      },
      clearTimeout: () => {},
    },
  });
  sink.writeLine("kept");
  assert.equal(await sink.flush(), true);
  assert.deepEqual(written, ["kept\n"]);
  assert.deepEqual(waits, [50, 50]);
});

Deno.test("StderrSink with gapMs writes the lines that come within the gap after a write together, once it is over", async () => {
  const stderr = heldStderr();
  const clock = new FakeClock();
  const sink = new StderrSink({ write: stderr.write, gapMs: 20, timers: clock, now: clock.now });
  sink.writeLine("one");
  const first = await stderr.next();
  assert.equal(first.text, "one\n", "the first line goes at once");
  first.take();
  assert.ok(await settlesWithin(sink.flush(), 5_000), "no wait once nothing is left to write");
  sink.writeLine("two");
  sink.writeLine("three");
  assert.ok(await settlesWithin(clock.whenArmed(20), 5_000), "within the gap, the lines wait for its end");
  clock.advance(19);
  let written = false;
  const second = stderr.next().then((write) => (written = true, write));
  // One turn of the event loop: every step the sink could take without its timer has been taken.
  await new Promise((turned) => setTimeout(turned, 0));
  assert.equal(written, false, "19 ms after the write, nothing more is written");
  clock.advance(1);
  const next = await second;
  assert.equal(next.text, "two\nthree\n");
  next.take();
  assert.equal(await sink.flush(), true);
  clock.advance(25);
  sink.writeLine("four");
  const third = await stderr.next();
  assert.equal(third.text, "four\n", "after a quiet spell longer than the gap, at once");
  assert.deepEqual(clock.armed, [], "and no timer");
  third.take();
  assert.equal(await sink.flush(), true);
});
