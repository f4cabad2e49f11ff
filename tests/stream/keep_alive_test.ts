import assert from "node:assert/strict";
import { ANTHROPIC_PING, OPENAI_PING, withKeepAlive } from "../../src/stream/keep_alive.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

function kept(intervalMs = 1000) {
  const source = controlledStream();
  const clock = new FakeClock();
  const body = withKeepAlive(source.body, {
    intervalMs,
    ping: ANTHROPIC_PING,
    now: clock.now,
    timers: clock,
  });
  return { source, clock, body, reader: body.getReader() };
}

Deno.test("chunks pass through untouched; the clock runs only while the client waits on the source", async () => {
  const { source, clock, reader } = kept();
  assert.deepEqual(clock.armed, [], "nothing is read ahead");
  const first = new TextEncoder().encode('event: message_start\ndata: {"type":"message_start"}\n\n');
  const read = reader.read();
  await source.whenRead();
  assert.deepEqual(clock.armed, [1000]);
  source.push(first);
  assert.equal((await read).value, first, "the very same chunk");
  clock.advance(5000);
  assert.deepEqual(clock.armed, [], "a timer that finds nobody waiting is not armed again");
  const end = reader.read();
  source.end();
  assert.equal((await end).done, true);
  assert.deepEqual(clock.armed, []);
});

Deno.test("a silent source between events gets a ping per interval, then its own bytes", async () => {
  const { source, clock, reader } = kept();
  source.push("event: message_start\ndata: {}\n\n");
  await reader.read();
  const waiting = reader.read();
  await source.whenRead();
  clock.advance(999);
  clock.advance(1);
  assert.equal(text((await waiting).value), 'event: ping\ndata: {"type":"ping"}\n\n');
  const again = reader.read();
  await source.whenRead();
  clock.advance(1000);
  assert.equal((await again).value, ANTHROPIC_PING, "every interval while the silence lasts");
  const next = reader.read();
  source.push("event: message_stop\ndata: {}\n\n");
  assert.equal(text((await next).value), "event: message_stop\ndata: {}\n\n");
});

Deno.test("a source that keeps talking gets no ping, and costs a timer per interval, not per chunk", async () => {
  const { source, clock, reader } = kept();
  for (let chunk = 0; chunk < 100; chunk++) {
    const read = reader.read();
    await source.whenRead();
    clock.advance(10);
    source.push(`event: content_block_delta\ndata: {"n":${chunk}}\n\n`);
    assert.notEqual((await read).value, ANTHROPIC_PING);
  }
  assert.ok(clock.timersSet <= 2, `${clock.timersSet} timers for 100 chunks over one second`);
  await reader.cancel();
});

Deno.test("a client slower than the interval gets no ping: the silence is the source's, not the client's", async () => {
  const { source, clock, reader } = kept();
  source.push("event: message_start\ndata: {}\n\n");
  await reader.read();
  clock.advance(10_000);
  const read = reader.read();
  await source.whenRead();
  clock.advance(999);
  source.push("event: message_stop\ndata: {}\n\n");
  assert.equal(text((await read).value), "event: message_stop\ndata: {}\n\n");
});

Deno.test("the start of a stream is a boundary: a source silent before its first byte is kept alive", async () => {
  const { source, clock, reader } = kept();
  const read = reader.read();
  await source.whenRead();
  clock.advance(1000);
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
    const { source, clock, reader } = kept();
    for (const chunk of chunks) {
      source.push(chunk);
      await reader.read();
    }
    const waiting = reader.read();
    await source.whenRead();
    clock.advance(1000);
    assert.deepEqual(clock.armed, [1000], "the next interval is armed either way");
    source.push("tail\n\n");
    const first = text((await waiting).value);
    assert.equal(first === text(ANTHROPIC_PING), boundary, JSON.stringify(chunks));
  }
});

Deno.test("cancelling stops the clock and cancels the source; 0 turns keep-alives off", async () => {
  const { source, clock, reader } = kept();
  const read = reader.read();
  await source.whenRead();
  assert.deepEqual(clock.armed, [1000]);
  await reader.cancel("client left");
  assert.equal(await source.cancelled, "client left");
  assert.equal((await read).done, true);
  assert.deepEqual(clock.armed, []);

  const body = new ReadableStream<Uint8Array>();
  assert.equal(withKeepAlive(body, { intervalMs: 0, ping: OPENAI_PING }), body);
});

Deno.test("a source's error passes through as it is", async () => {
  const { source, reader } = kept();
  const read = reader.read();
  source.fail(new Error("bus closed"));
  await assert.rejects(read, /bus closed/);
});

Deno.test("a client that stops reading is given up on after clientIdleMs, keep-alives on or off", async () => {
  for (const intervalMs of [1000, 0]) {
    const source = controlledStream();
    const clock = new FakeClock();
    const body = withKeepAlive(source.body, {
      intervalMs,
      ping: OPENAI_PING,
      clientIdleMs: 5000,
      now: clock.now,
      timers: clock,
    });
    const reader = body.getReader();
    const first = reader.read();
    await source.whenRead();
    source.push("event: ready\ndata: {}\n\n");
    await first;
    // The client asks for nothing more: its deadline runs, though nobody waits on the source.
    assert.ok(clock.armed.includes(5000), `armed: ${clock.armed}`);
    clock.advance(5000);
    const reason = await source.cancelled;
    assert.match(String(reason), /client read nothing for 5000 ms/, `keep-alives every ${intervalMs} ms`);
    await assert.rejects(reader.read());
  }
});
