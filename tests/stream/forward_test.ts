import assert from "node:assert/strict";
import { BodyCutError } from "../../src/stream/body_cut.ts";
import { forwardBody, type ForwardOutcome } from "../../src/stream/forward.ts";
import { ANTHROPIC_PING } from "../../src/stream/keep_alive.ts";
import { SecretMask } from "../../src/stream/secret_mask.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { maskSecret } from "../../src/util/mask.ts";
import { WatchedReader } from "../../src/stream/watched_reader.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function forwarded(sse = true, unfinished?: () => Error | undefined) {
  const source = controlledStream();
  const outcome = Promise.withResolvers<ForwardOutcome>();
  const first = bytes("event: ping\ndata: {}\n\n");
  /** What the body did, in order, as its callbacks saw it. */
  const calls: string[] = [];
  const body = forwardBody(new WatchedReader(source.body.getReader()), {
    first,
    sse,
    describeFailure: (error) => ({
      errorType: "api_error",
      message: `upstream failed: ${(error as Error).message}`,
    }),
    observe: (chunk) => calls.push(`observe ${chunk.byteLength}`),
    unfinished,
    afterHead: () => calls.push("afterHead"),
    onDone: (done) => {
      calls.push(`done ${done.kind}`);
      outcome.resolve(done);
    },
  });
  return { source, first, reader: body.getReader(), outcome: outcome.promise, calls };
}

Deno.test("forwardBody hands on the first chunk and the rest as they come, then reports the byte count", async () => {
  const { source, first, reader, outcome } = forwarded();
  assert.equal((await reader.read()).value, first);
  const next = bytes("event: message_stop\n");
  source.push(next);
  assert.equal((await reader.read()).value, next);
  source.end();
  assert.equal((await reader.read()).done, true);
  assert.deepEqual(await outcome, { kind: "complete", bytes: first.byteLength + next.byteLength });
});

Deno.test("forwardBody masks the key across chunks; what may begin it goes out with the next chunk or at the end", async () => {
  const key = "sk-ant-api03-AAAAbbbbCCCCdddd1111x7f2";
  const source = controlledStream();
  const outcome = Promise.withResolvers<ForwardOutcome>();
  const reader = forwardBody(new WatchedReader(source.body.getReader()), {
    sse: true,
    mask: SecretMask.for(key),
    onDone: outcome.resolve,
  }).getReader();
  const read = async () => new TextDecoder().decode((await reader.read()).value);
  source.push(bytes("data: bad key sk-ant-api03-AAAA"));
  assert.equal(await read(), "data: bad key ");
  source.push(bytes("bbbbCCCCdddd1111x7f2, see sk-ant-"));
  assert.equal(await read(), `${maskSecret(key)}, see `);
  source.end();
  assert.equal(await read(), "sk-ant-", "an answer that ends on what only began like the key ends whole");
  assert.equal((await reader.read()).done, true);
  assert.deepEqual(await outcome.promise, {
    kind: "complete",
    bytes: `data: bad key ${maskSecret(key)}, see sk-ant-`.length,
  });
});

Deno.test("forwardBody reads on when the mask holds a whole chunk that may begin the key, instead of stalling", async () => {
  const key = "sk-ant-api03-AAAAbbbbCCCCdddd1111x7f2";
  const source = controlledStream();
  const reader = forwardBody(new WatchedReader(source.body.getReader()), {
    sse: true,
    mask: SecretMask.for(key),
  }).getReader();
  const read = async () => new TextDecoder().decode((await reader.read()).value);
  source.push(bytes("event: ping\ndata: {}\n\n"));
  assert.equal(await read(), "event: ping\ndata: {}\n\n");
  const next = read();
  // Only the key's first letter: held, nothing handed on, so the client's read waits for what follows.
  source.push(bytes("s"));
  assert.ok(await settlesWithin(source.whenRead(), 5_000), "the source is read again");
  source.push(bytes("ome text"));
  assert.ok(await settlesWithin(next, 5_000), "a pull that handed nothing on is not the last");
  assert.equal(await next, "some text");
});

Deno.test("forwardBody keeps the LF of a last event whose CRLF came split after its CR, and waits at most a second for it", async () => {
  for (const lf of [true, false]) {
    const source = controlledStream();
    const clock = new FakeClock();
    const stop = "event: message_stop\r\ndata: {}\r\n\r";
    let ended = false;
    const outcome = Promise.withResolvers<ForwardOutcome>();
    const reader = forwardBody(new WatchedReader(source.body.getReader()), {
      sse: true,
      // As the usage tap does: a CR ends a line, so the event ends at it.
      observe: (chunk) => ended ||= new TextDecoder().decode(chunk).endsWith("\r\n\r"),
      ended: () => ended,
      onDone: outcome.resolve,
      timers: clock,
    }).getReader();
    const body = (async () => {
      let text = "";
      for (let read = await reader.read(); !read.done; read = await reader.read()) {
        text += new TextDecoder().decode(read.value);
      }
      return text;
    })();
    source.push(bytes(stop));
    assert.ok(await settlesWithin(source.whenRead(), 5_000), "the LF is waited for");
    if (lf) source.push(bytes("\n"));
    else clock.advance(1_000);
    assert.equal(await body, lf ? `${stop}\n` : stop);
    assert.deepEqual(await outcome.promise, { kind: "complete", bytes: stop.length + (lf ? 1 : 0) });
  }
});

Deno.test("forwardBody ends a failed SSE body on an event boundary with event: error", async () => {
  const { source, reader, outcome } = forwarded();
  await reader.read();
  source.fail(new Error("reset"));
  const { value } = await reader.read();
  const [event] = new SseDecoder().feed(value!);
  assert.equal(event.event, "error");
  assert.deepEqual(JSON.parse(event.data).error, { type: "api_error", message: "upstream failed: reset" });
  assert.equal((await reader.read()).done, true);
  assert.equal((await outcome).kind, "upstream_failed");
});

Deno.test("forwardBody appends nothing to half an event, nor to a body that is not SSE: their transfer fails", async () => {
  for (
    const [sse, partial] of [[true, "event: content_block_delta\nda"], [false, '{"id":"msg_1","con']] as const
  ) {
    const { source, reader, outcome } = forwarded(sse);
    await reader.read();
    source.push(partial);
    await reader.read();
    const reset = new Error("reset");
    source.fail(reset);
    // A clean end would pass the cut body off as whole.
    await assert.rejects(reader.read(), (error) => error instanceof BodyCutError && error.cause === reset);
    assert.equal((await outcome).kind, "upstream_failed");
  }
});

Deno.test("forwardBody ends a body its source ended unfinished as a failed one: event: error on a boundary, else a broken transfer", async () => {
  const cut = new Error("no message_stop");
  const { source, reader, outcome } = forwarded(true, () => cut);
  await reader.read();
  source.end();
  const [event] = new SseDecoder().feed((await reader.read()).value!);
  assert.equal(event.event, "error");
  assert.deepEqual(JSON.parse(event.data).error, {
    type: "api_error",
    message: "upstream failed: no message_stop",
  });
  assert.equal((await reader.read()).done, true);
  assert.deepEqual(await outcome, {
    kind: "upstream_failed",
    bytes: 22,
    errorType: "api_error",
    message: "upstream failed: no message_stop",
  });

  const halfway = forwarded(true, () => cut);
  await halfway.reader.read();
  halfway.source.push("event: content_block_delta\nda");
  await halfway.reader.read();
  halfway.source.end();
  await assert.rejects(
    halfway.reader.read(),
    (error) => error instanceof BodyCutError && error.cause === cut,
  );
  assert.equal((await halfway.outcome).kind, "upstream_failed");

  const ended = forwarded(true, () => undefined);
  await ended.reader.read();
  ended.source.end();
  assert.equal((await ended.reader.read()).done, true);
  assert.equal((await ended.outcome).kind, "complete");
});

Deno.test("forwardBody ends the body at the source's last event, complete, though the source stays open", async () => {
  for (const inFirst of [false, true]) {
    const source = controlledStream();
    const outcome = Promise.withResolvers<ForwardOutcome>();
    const stop = bytes("event: message_stop\ndata: {}\n\n");
    let ended = false;
    const clock = new FakeClock();
    const reader = forwardBody(new WatchedReader(source.body.getReader()), {
      first: inFirst ? stop : bytes("event: ping\ndata: {}\n\n"),
      sse: true,
      observe: (chunk) => ended ||= new TextDecoder().decode(chunk).includes("message_stop"),
      ended: () => ended || inFirst,
      onDone: outcome.resolve,
      timers: clock,
    }).getReader();
    await reader.read();
    if (!inFirst) {
      source.push(stop);
      assert.deepEqual((await reader.read()).value, stop);
    }
    const last = reader.read();
    assert.ok(await settlesWithin(last, 5_000), "no wait for a source that never ends");
    assert.equal((await last).done, true);
    assert.equal((await outcome.promise).kind, "complete");
    // What the source sends after its last event is still read for a second, then it is let go.
    clock.advance(999);
    source.push(bytes(": trailing comment\n\n"));
    assert.ok(await settlesWithin(source.whenRead(), 5_000), "read on after its last event");
    clock.advance(1);
    await source.cancelled;
  }
});

Deno.test("forwardBody reads a source to its end after its last event, so its connection can be used again", async () => {
  const source = controlledStream();
  // The drain's deadline is the only timer here: dropping it is what ends the drain.
  const deadlineDropped = Promise.withResolvers<void>();
  const clock = new class extends FakeClock {
    override clearTimeout(handle: unknown): void {
      super.clearTimeout(handle);
      deadlineDropped.resolve();
    }
  }();
  const stop = bytes("event: message_stop\ndata: {}\n\n");
  const reader = forwardBody(new WatchedReader(source.body.getReader()), {
    first: stop,
    sse: true,
    ended: () => true,
    timers: clock,
  }).getReader();
  await reader.read();
  assert.equal((await reader.read()).done, true);
  const next = await Promise.race([
    source.cancelled.then(() => "cancelled"),
    source.whenRead().then(() => "read on"),
  ]);
  assert.equal(next, "read on", "a cancelled body would close the upstream's connection");
  assert.deepEqual(clock.armed, [1_000], "cancelled only if it keeps sending for a second");
  source.end();
  assert.ok(await settlesWithin(deadlineDropped.promise, 5_000), "the drain ends with the source");
  assert.deepEqual(clock.armed, [], "a source that ended is never cancelled");
});

Deno.test("forwardBody passes a client's cancel to the upstream", async () => {
  const { source, reader, outcome } = forwarded();
  await reader.read();
  await reader.cancel("client left");
  assert.equal(await source.cancelled, "client left");
  assert.equal((await outcome).kind, "client_closed");
});

Deno.test("forwardBody reads the upstream only when its client asks, so a slow client never fills memory", async () => {
  let reads = 0;
  const upstream = new ReadableStream<Uint8Array>({
    pull(controller) {
      reads++;
      controller.enqueue(bytes("x"));
    },
  }, { highWaterMark: 0 });
  const body = forwardBody(new WatchedReader(upstream.getReader()), {
    first: bytes("a"),
    sse: false,
    describeFailure: () => ({ errorType: "api_error", message: "" }),
    onDone: () => {},
  }).getReader();
  assert.deepEqual((await body.read()).value, bytes("a"));
  // A macrotask turn lets any eager pull run before the count is read.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(reads, 0);
  await body.read();
  await body.read();
  assert.equal(reads, 2);
  await body.cancel();
});

Deno.test("forwardBody shows observe each chunk read from the source, not the first one its caller read", async () => {
  const source = controlledStream();
  const seen: string[] = [];
  const observed = forwardBody(new WatchedReader(source.body.getReader()), {
    first: bytes("a"),
    sse: true,
    observe: (chunk) => seen.push(new TextDecoder().decode(chunk)),
  }).getReader();
  await observed.read();
  source.push("b");
  await observed.read();
  assert.deepEqual(seen, ["b"]);
});

Deno.test("forwardBody runs afterHead once, when more than the head is asked for, without waiting for the source", async () => {
  const { source, reader, calls } = forwarded();
  await reader.read();
  assert.deepEqual(calls, [], "nothing while the head alone has gone out");
  const next = reader.read();
  await source.whenRead();
  assert.deepEqual(calls, ["afterHead"], "asked for more: the source has sent nothing yet");
  source.push("event: message_stop\n\n");
  await next;
  source.end();
  await reader.read();
  assert.deepEqual(calls, ["afterHead", "observe 21", "done complete"]);
});

Deno.test("forwardBody runs afterHead before the end when the head was all, or the source failed, or the client left", async () => {
  const ended = forwarded();
  await ended.reader.read();
  ended.source.end();
  await ended.reader.read();
  assert.deepEqual(ended.calls, ["afterHead", "done complete"]);

  const failed = forwarded();
  await failed.reader.read();
  failed.source.fail(new Error("reset"));
  await failed.reader.read();
  assert.deepEqual(failed.calls, ["afterHead", "done upstream_failed"]);

  const left = forwarded();
  await left.reader.read();
  await left.reader.cancel();
  assert.deepEqual(left.calls, ["afterHead", "done client_closed"]);
});

/** An SSE body whose client must ask for more within 100 ms, with 30 ms keep-alives, on a fake clock. */
function watchedClient() {
  const source = controlledStream();
  const clock = new FakeClock();
  /** How the body ended, once it has. */
  const outcomes: ForwardOutcome[] = [];
  const head = bytes("event: message_start\ndata: {}\n\n");
  const body = forwardBody(
    new WatchedReader(source.body.getReader(), { idleMs: 1000, now: clock.now, timers: clock }),
    {
      first: head,
      sse: true,
      keepAlive: { intervalMs: 30, ping: ANTHROPIC_PING },
      clientIdleMs: 100,
      now: clock.now,
      timers: clock,
      describeFailure: (error) => ({ errorType: "api_error", message: String(error) }),
      onDone: (outcome) => outcomes.push(outcome),
    },
  );
  return { source, clock, head, reader: body.getReader(), outcomes };
}

Deno.test("forwardBody gives up on a client that asks for nothing more for clientIdleMs: the upstream is cancelled, the transfer broken off", async () => {
  const { source, clock, head, reader, outcomes } = watchedClient();
  await reader.read();
  clock.advance(99);
  const next = reader.read();
  await source.whenRead();
  const delta = bytes("event: content_block_delta\ndata: {}\n\n");
  source.push(delta);
  await next;
  clock.advance(99);
  assert.deepEqual(outcomes, [], "99 ms since it was handed the delta");
  clock.advance(1);
  const message = "client read nothing for 100 ms (timeouts.idle)";
  assert.deepEqual(outcomes, [{ kind: "client_closed", bytes: head.byteLength + delta.byteLength, message }]);
  const cancelled = await source.cancelled;
  assert.ok(cancelled instanceof BodyCutError && cancelled.message === message);
  await assert.rejects(reader.read(), (error) => error instanceof BodyCutError && error.message === message);
  assert.deepEqual(clock.armed, [], "no timer outlives the body");
});

/**
 * {@linkcode watchedClient} whose client-side clock can jump ahead of its timers: `stall(ms)` is relay
 * standing still (SIGSTOP, a paused VM) for `ms`, its timers firing only at the next `advance`, that late.
 */
function stallableClient() {
  const source = controlledStream();
  const clock = new FakeClock();
  let stood = 0;
  const outcomes: ForwardOutcome[] = [];
  const body = forwardBody(new WatchedReader(source.body.getReader(), { now: clock.now, timers: clock }), {
    first: bytes("event: message_start\ndata: {}\n\n"),
    sse: true,
    clientIdleMs: 100,
    now: () => clock.now() + stood,
    timers: clock,
    onDone: (outcome) => outcomes.push(outcome),
  });
  return { source, clock, outcomes, reader: body.getReader(), stall: (ms: number) => stood += ms };
}

Deno.test("forwardBody gives a client whose wait ran out while relay stood still a grace to ask for more", async () => {
  const { source, clock, outcomes, reader, stall } = stallableClient();
  await reader.read();
  stall(5_000);
  clock.advance(100);
  assert.deepEqual(outcomes, [], "the timer fired 5 s late: relay stood still, not the client");
  assert.deepEqual(clock.armed, [1_000]);
  const next = reader.read();
  source.push("event: message_stop\ndata: {}\n\n");
  await next;
  const end = reader.read();
  source.end();
  assert.equal((await end).done, true);
  assert.deepEqual(outcomes.map(({ kind }) => kind), ["complete"]);
});

Deno.test("forwardBody gives up on a client that the grace after relay stood still brings no ask from", () => {
  const { clock, outcomes, stall } = stallableClient();
  stall(5_000);
  clock.advance(100);
  clock.advance(999);
  assert.deepEqual(outcomes, []);
  clock.advance(1);
  assert.deepEqual(outcomes, [{
    kind: "client_closed",
    bytes: "event: message_start\ndata: {}\n\n".length,
    message: "client read nothing for 100 ms (timeouts.idle)",
  }]);
});

Deno.test("forwardBody gives up on no client that keeps asking, however long the source is silent and its keep-alives last", async () => {
  const { source, clock, reader, outcomes } = watchedClient();
  await reader.read();
  const waiting = reader.read();
  await source.whenRead();
  clock.advance(30);
  assert.equal((await waiting).value, ANTHROPIC_PING);
  // The client reads only keep-alives for 900 ms: it asked for more, and relay waits on the source.
  for (let ping = 0; ping < 29; ping++) {
    const read = reader.read();
    clock.advance(30);
    assert.equal((await read).value, ANTHROPIC_PING);
  }
  // A client that asks just within the deadline each time, chunk after chunk.
  for (let chunk = 0; chunk < 5; chunk++) {
    const read = reader.read();
    source.push("event: content_block_delta\ndata: {}\n\n");
    await read;
    clock.advance(99);
  }
  const end = reader.read();
  source.end();
  assert.equal((await end).done, true);
  assert.deepEqual(outcomes.map(({ kind }) => kind), ["complete"]);
  assert.deepEqual(clock.armed, [], "no timer outlives the body");
});
