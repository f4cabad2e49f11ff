import assert from "node:assert/strict";
import {
  StreamTimeoutError,
  type TimeoutKind,
  type Timers,
  withIdleTimeout,
} from "../../src/stream/timeouts.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";

/** Timers that fire only when the test says so. */
class ManualTimers implements Timers {
  readonly #pending = new Map<number, { callback: () => void; ms: number }>();
  #nextId = 1;
  #onArm: (() => void)[] = [];

  setTimeout(callback: () => void, ms: number): number {
    this.#pending.set(this.#nextId, { callback, ms });
    this.#onArm.splice(0).forEach((wake) => wake());
    return this.#nextId++;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  /** The delays of the timers still armed. */
  get armed(): number[] {
    return [...this.#pending.values()].map((timer) => timer.ms);
  }

  /** The armed delays, once at least one timer is armed. */
  async whenArmed(): Promise<number[]> {
    if (this.#pending.size === 0) await new Promise<void>((wake) => this.#onArm.push(wake));
    return this.armed;
  }

  fireOnly(): void {
    assert.equal(this.#pending.size, 1, "exactly one timer should be armed");
    const [[id, timer]] = this.#pending;
    this.#pending.delete(id);
    timer.callback();
  }
}

function guarded(source: ReadableStream<Uint8Array>, timers = new ManualTimers()) {
  const timeouts: TimeoutKind[] = [];
  const body = withIdleTimeout(source, {
    firstByteMs: 100,
    idleMs: 50,
    onTimeout: (kind) => timeouts.push(kind),
    timers,
  });
  return { body, reader: body.getReader(), timers, timeouts };
}

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("withIdleTimeout passes chunks through untouched and clears its timer at the end", async () => {
  const source = controlledStream();
  const { reader, timers, timeouts } = guarded(source.body);
  const first = bytes("event: ping\n");
  const pending = reader.read();
  assert.deepEqual(
    await timers.whenArmed(),
    [100],
    "the first-byte deadline runs while the first read waits",
  );
  source.push(first);
  assert.equal((await pending).value, first, "the very same chunk");
  assert.deepEqual(timers.armed, [], "no timer while nobody reads");
  const second = reader.read();
  assert.deepEqual(await timers.whenArmed(), [50], "the idle deadline runs for the next chunk");
  source.push("data: {}\n\n");
  assert.equal(new TextDecoder().decode((await second).value), "data: {}\n\n");
  const end = reader.read();
  source.end();
  assert.equal((await end).done, true);
  assert.deepEqual(timers.armed, []);
  assert.deepEqual(timeouts, []);
});

Deno.test("withIdleTimeout fails a body whose first byte is late and cancels the source", async () => {
  const source = controlledStream();
  const { reader, timers, timeouts } = guarded(source.body);
  const pending = reader.read();
  await timers.whenArmed();
  timers.fireOnly();
  await assert.rejects(
    pending,
    (error) => error instanceof StreamTimeoutError && error.kind === "first_byte",
  );
  assert.deepEqual(timeouts, ["first_byte"]);
  assert.ok(await source.cancelled instanceof StreamTimeoutError);
  assert.deepEqual(timers.armed, []);
});

Deno.test("withIdleTimeout fails a body that goes silent between chunks", async () => {
  const source = controlledStream();
  const { reader, timers, timeouts } = guarded(source.body);
  source.push("event: ping\n");
  await reader.read();
  const pending = reader.read();
  await timers.whenArmed();
  timers.fireOnly();
  await assert.rejects(pending, (error) => error instanceof StreamTimeoutError && error.kind === "idle");
  assert.deepEqual(timeouts, ["idle"]);
  await source.cancelled;
  source.push("late chunk");
  await assert.rejects(reader.read(), StreamTimeoutError, "the body stays failed");
});

Deno.test("withIdleTimeout hands a source error on and disarms", async () => {
  const source = controlledStream();
  const { reader, timers, timeouts } = guarded(source.body);
  const pending = reader.read();
  await timers.whenArmed();
  source.fail(new Error("connection reset"));
  await assert.rejects(pending, /connection reset/);
  assert.deepEqual(timers.armed, []);
  assert.deepEqual(timeouts, []);
});

Deno.test("withIdleTimeout passes a consumer's cancel to the source and disarms", async () => {
  const source = controlledStream();
  const { reader, timers, timeouts } = guarded(source.body);
  const pending = reader.read();
  assert.deepEqual(await timers.whenArmed(), [100]);
  await reader.cancel("client left");
  assert.equal(await source.cancelled, "client left");
  assert.equal((await pending).done, true);
  assert.deepEqual(timers.armed, []);
  assert.deepEqual(timeouts, []);
});

Deno.test("withIdleTimeout reads the source only when its consumer reads", async () => {
  let pulls = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(bytes(`chunk ${pulls++}`));
    },
  }, { highWaterMark: 0 });
  const { reader } = guarded(source);
  await flushMicrotasks();
  assert.equal(pulls, 0, "nothing read before the consumer asks");
  await reader.read();
  await reader.read();
  await flushMicrotasks();
  assert.equal(pulls, 2, "one source read per consumer read, none ahead");
  await reader.cancel();
});

/** Lets any promise chain already started run out; no timer involved. */
async function flushMicrotasks() {
  for (let turn = 0; turn < 50; turn++) await Promise.resolve();
}

Deno.test("withIdleTimeout works on the real timers", async () => {
  const source = controlledStream();
  const timedOut = Promise.withResolvers<TimeoutKind>();
  const body = withIdleTimeout(source.body, { firstByteMs: 1, idleMs: 1, onTimeout: timedOut.resolve });
  const pending = body.getReader().read();
  assert.equal(await timedOut.promise, "first_byte");
  await assert.rejects(pending, StreamTimeoutError);
  await source.cancelled;
});
