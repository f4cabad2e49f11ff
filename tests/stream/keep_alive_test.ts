import assert from "node:assert/strict";
import { ANTHROPIC_PING, OPENAI_PING, withKeepAlive } from "../../src/stream/keep_alive.ts";
import type { Timers } from "../../src/stream/timeouts.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";

/** Timers that fire only when the test says so. */
class ManualTimers implements Timers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  #nextId = 1;
  #onArm: (() => void)[] = [];

  setTimeout(callback: () => void, ms: number): number {
    this.pending.set(this.#nextId, { callback, ms });
    this.#onArm.splice(0).forEach((wake) => wake());
    return this.#nextId++;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Resolves once a timer is armed, with its delay. */
  async armed(): Promise<number> {
    if (this.pending.size === 0) await new Promise<void>((wake) => this.#onArm.push(wake));
    assert.equal(this.pending.size, 1, "exactly one timer should be armed");
    return [...this.pending.values()][0].ms;
  }

  async fire(): Promise<void> {
    await this.armed();
    const [[id, timer]] = this.pending;
    this.pending.delete(id);
    timer.callback();
  }
}

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

function kept(intervalMs = 1000) {
  const source = controlledStream();
  const timers = new ManualTimers();
  const body = withKeepAlive(source.body, { intervalMs, ping: ANTHROPIC_PING, timers });
  return { source, timers, body, reader: body.getReader() };
}

Deno.test("chunks pass through untouched; the clock runs only while the client waits on the source", async () => {
  const { source, timers, reader } = kept();
  assert.equal(timers.pending.size, 0, "nothing is read ahead");
  const first = new TextEncoder().encode('event: message_start\ndata: {"type":"message_start"}\n\n');
  const read = reader.read();
  assert.equal(await timers.armed(), 1000);
  source.push(first);
  assert.equal((await read).value, first, "the very same chunk");
  assert.equal(timers.pending.size, 0, "no timer while nobody reads");
  const end = reader.read();
  source.end();
  assert.equal((await end).done, true);
  assert.equal(timers.pending.size, 0);
});

Deno.test("a silent source between events gets a ping per interval, then its own bytes", async () => {
  const { source, timers, reader } = kept();
  source.push("event: message_start\ndata: {}\n\n");
  await reader.read();
  const waiting = reader.read();
  await timers.fire();
  assert.equal(text((await waiting).value), 'event: ping\ndata: {"type":"ping"}\n\n');
  const again = reader.read();
  await timers.fire();
  assert.equal((await again).value, ANTHROPIC_PING, "every interval while the silence lasts");
  const next = reader.read();
  source.push("event: message_stop\ndata: {}\n\n");
  assert.equal(text((await next).value), "event: message_stop\ndata: {}\n\n");
});

Deno.test("the start of a stream is a boundary: a source silent before its first byte is kept alive", async () => {
  const { timers, reader } = kept();
  const read = reader.read();
  await timers.fire();
  assert.equal((await read).value, ANTHROPIC_PING);
});

Deno.test("no ping inside a half-sent event, however its line ends are cut", async () => {
  const cases: [string[], boolean][] = [
    [["event: content_block_delta\ndata: {"], false],
    [["event: a\ndata: {}\n"], false],
    [["data: x\r"], false],
    [["data: x\r", "\n"], false],
    [["data: x\r\n", "\r\n"], true],
    [["data: x\n", "\n"], true],
    [["data: x\r\r"], true],
    [["data: x\r\n\r"], true],
  ];
  for (const [chunks, boundary] of cases) {
    const { source, timers, reader } = kept();
    for (const chunk of chunks) {
      source.push(chunk);
      await reader.read();
    }
    const waiting = reader.read();
    await timers.fire();
    assert.equal(timers.pending.size, 1, "the next interval is armed either way");
    source.push("tail\n\n");
    const first = text((await waiting).value);
    assert.equal(first === text(ANTHROPIC_PING), boundary, JSON.stringify(chunks));
  }
});

Deno.test("cancelling stops the clock and cancels the source; 0 turns keep-alives off", async () => {
  const { source, timers, reader } = kept();
  const read = reader.read();
  await timers.armed();
  await reader.cancel("client left");
  assert.equal(await source.cancelled, "client left");
  assert.equal((await read).done, true);
  assert.equal(timers.pending.size, 0);

  const body = new ReadableStream<Uint8Array>();
  assert.equal(withKeepAlive(body, { intervalMs: 0, ping: OPENAI_PING }), body);
});
