import assert from "node:assert/strict";
import { emptySamples, runBatch, type Target, timedStream, urlTarget } from "../../src/bench/load.ts";
import { scenarioRequest } from "../../src/bench/scenarios.ts";
import { mockHandler } from "../../src/providers/mock.ts";
import { mockOptionsSchema } from "../../src/providers/mock_options.ts";
import { sseChunks, sseEvent } from "../_helpers/fake_upstream.ts";

const request = scenarioRequest("text", { model: "mock-1", maxTokens: 64, mockEvents: 3 });
const signal = new AbortController().signal;
const mock = mockHandler(mockOptionsSchema.parse({}));

/** A target answered in process by `handler`, counting requests and the most in flight at once. */
function counted(handler: (request: Request) => Promise<Response>) {
  const seen = { requests: 0, inFlight: 0, most: 0 };
  const target: Target = {
    name: "counted",
    send: async ({ body, headers }) => {
      seen.requests++;
      seen.most = Math.max(seen.most, ++seen.inFlight);
      try {
        return await handler(new Request("http://bench/v1/messages", { method: "POST", headers, body }));
      } finally {
        seen.inFlight--;
      }
    },
  };
  return { target, seen };
}

Deno.test("timedStream reads the whole stream: its events, a gap between each two, ttfb before ttlb", async () => {
  const { target } = counted(mock);
  const { ttfb, ttlb, gaps, events } = await timedStream(target, request, signal);
  assert.equal(
    events.length,
    9,
    "message_start, ping, block start, 3 deltas, block stop, message_delta, stop",
  );
  assert.equal(events.at(-1)!.event, "message_stop");
  assert.equal(gaps.length, events.length - 1);
  assert.ok(gaps.every((gap) => gap >= 0));
  assert.ok(0 <= ttfb && ttfb <= ttlb);
});

Deno.test("timedStream leaves nothing on the run's signal once a request is over", async () => {
  // A run's signal outlives 100,000 requests: whatever a request leaves on it, the run keeps.
  const run = new AbortController();
  const listening = new Set<unknown>();
  const { signal: runSignal } = run;
  const add = runSignal.addEventListener.bind(runSignal);
  const remove = runSignal.removeEventListener.bind(runSignal);
  runSignal.addEventListener = (
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: unknown,
  ) => {
    listening.add(listener);
    add(type, listener, options as AddEventListenerOptions);
  };
  runSignal.removeEventListener = (type: string, listener: EventListenerOrEventListenerObject) => {
    listening.delete(listener);
    remove(type, listener);
  };
  // Nor a dependent signal, which the run's signal would hold with all that waits on it.
  const any = AbortSignal.any;
  let dependents = 0;
  AbortSignal.any = (signals: AbortSignal[]) => {
    if (signals.includes(runSignal)) dependents++;
    return any(signals);
  };
  try {
    const { target } = counted(mock);
    for (let i = 0; i < 3; i++) await timedStream(target, request, runSignal);
  } finally {
    AbortSignal.any = any;
  }
  assert.equal(listening.size, 0);
  assert.equal(dependents, 0);
});

Deno.test("timedStream fails on an error answer, naming the target and what it said", async () => {
  const { target: refusing } = counted(() => Promise.resolve(new Response("overloaded", { status: 529 })));
  await assert.rejects(timedStream(refusing, request, signal), /counted answered 529: overloaded/);
});

/** A port nothing listens on: one the system just gave out, and freed. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

Deno.test("timedStream names the target, its URL and the cause when it cannot be reached", async () => {
  const port = closedPort();
  await assert.rejects(
    timedStream(urlTarget("direct", `http://127.0.0.1:${port}/`), request, signal),
    new RegExp(`^Error: direct \\(http://127\\.0\\.0\\.1:${port}\\): the request failed: .*refused`),
  );
});

Deno.test("timedStream names the target when its answer breaks off mid-body", async () => {
  const broken: Target = {
    name: "relay",
    url: "http://relay.test",
    send: () =>
      Promise.resolve(
        new Response(
          ReadableStream.from((function* () {
            yield new TextEncoder().encode(sseEvent("message_start", { type: "message_start" }));
            throw new Error("connection reset");
          })()),
          { headers: { "content-type": "text/event-stream" } },
        ),
      ),
  };
  await assert.rejects(
    timedStream(broken, request, signal),
    /^Error: relay \(http:\/\/relay\.test\): its answer broke off after 1 event: connection reset$/,
  );
});

Deno.test("timedStream refuses a 200 that is not an event stream, or one without events", async () => {
  const answering = (response: Response): Target => ({
    name: "relay",
    url: "http://relay.test",
    send: () => Promise.resolve(response),
  });
  const html = new Response("<html>Welcome to nginx</html>", { headers: { "content-type": "text/html" } });
  await assert.rejects(
    timedStream(answering(html), request, signal),
    /relay \(http:\/\/relay\.test\) answered 200 with content-type text\/html, not an event stream: <html>/,
  );
  await assert.rejects(
    timedStream(answering(Response.json({ content: [] })), request, signal),
    /answered 200 with content-type application\/json, not an event stream/,
  );
  const empty = new Response("", { headers: { "content-type": "text/event-stream" } });
  await assert.rejects(timedStream(answering(empty), request, signal), /an event stream of no events/);
});

const PING = new TextEncoder().encode('event: ping\ndata: {"type":"ping"}\n\n');

/** A target named relay whose answer is an event stream from `source`. */
function streaming(source: UnderlyingDefaultSource<Uint8Array>): Target {
  return {
    name: "relay",
    url: "http://relay.test",
    send: () =>
      Promise.resolve(
        new Response(new ReadableStream(source), { headers: { "content-type": "text/event-stream" } }),
      ),
  };
}

/** A target whose answer sends `events` pings, then nothing, and never ends. */
function stalling(events: number): Target {
  return streaming({
    start(controller) {
      for (let i = 0; i < events; i++) controller.enqueue(PING);
    },
  });
}

Deno.test("timedStream gives up on a target that stalls, before its first byte or mid-stream, naming it", async () => {
  const deadlines = { firstByteMs: 20, idleMs: 30 };
  const silent: Target = { name: "direct", url: "http://up.test", send: () => new Promise(() => {}) };
  await assert.rejects(
    timedStream(silent, request, signal, { deadlines }),
    /^Error: direct \(http:\/\/up\.test\) sent no answer within 0\.02 s$/,
  );
  await assert.rejects(
    timedStream(stalling(0), request, signal, { deadlines }),
    /^Error: relay \(http:\/\/relay\.test\) sent no answer within 0\.02 s$/,
  );
  await assert.rejects(
    timedStream(stalling(3), request, signal, { deadlines }),
    /^Error: relay \(http:\/\/relay\.test\) stalled mid-stream: no event but pings for 0\.03 s, after 0 events$/,
  );
});

Deno.test("timedStream: pings are no progress, so relay's keep-alive does not hide a stalled upstream", async () => {
  let interval: ReturnType<typeof setInterval> | undefined;
  const keptAlive = streaming({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(sseEvent("message_start", { type: "message_start" })));
      interval = setInterval(() => controller.enqueue(PING), 2);
    },
    cancel: () => clearInterval(interval),
  });
  await assert.rejects(
    timedStream(keptAlive, request, signal, { deadlines: { firstByteMs: 1_000, idleMs: 40 } }),
    /^Error: relay \(http:\/\/relay\.test\) stalled mid-stream: no event but pings for 0\.04 s, after 1 event$/,
  );
  clearInterval(interval);
});

Deno.test("timedStream fails a stream that ends in an error event, or without message_stop, naming the target", async () => {
  const answering = (...events: [string, unknown][]): Target => ({
    name: "relay",
    url: "http://relay.test",
    send: () => Promise.resolve(sseChunks(events.map(([name, data]) => sseEvent(name, data)))),
  });
  const started: [string, unknown] = ["message_start", { type: "message_start" }];
  const overloaded = { type: "error", error: { type: "overloaded_error", message: "Overloaded" } };
  await assert.rejects(
    timedStream(answering(started, ["error", overloaded]), request, signal),
    /^Error: relay \(http:\/\/relay\.test\) ended its stream with an error event \(overloaded_error: Overloaded\)$/,
  );
  await assert.rejects(
    timedStream(answering(started, ["ping", { type: "ping" }]), request, signal),
    /^Error: relay \(http:\/\/relay\.test\) ended its stream without message_stop, after 1 event$/,
  );
  const whole = await timedStream(
    answering(started, ["message_stop", { type: "message_stop" }], ["ping", { type: "ping" }]),
    request,
    signal,
  );
  assert.equal(whole.events.length, 3, "a ping after message_stop ends nothing early");
});

Deno.test("timedStream says how to pass relay a client token when relay refuses the bench's", async () => {
  const refusing = (message: string): Target => ({
    name: "relay",
    url: "http://relay.test",
    send: () =>
      Promise.resolve(
        Response.json({ type: "error", error: { type: "authentication_error", message } }, { status: 401 }),
      ),
  });
  await assert.rejects(
    timedStream(refusing("invalid client token"), request, signal),
    /answered 401: .*invalid client token.*\(set ANTHROPIC_AUTH_TOKEN to one of its server\.auth\.tokens\)$/,
  );
  // An upstream's refusal of its key, passed on, is no matter of relay's tokens.
  await assert.rejects(
    timedStream(refusing("invalid x-api-key"), request, signal),
    /answered 401: .*invalid x-api-key"}}$/,
  );
});

Deno.test("runBatch sends exactly count requests, never more than concurrency at once, keeping every n-th", async () => {
  const { target, seen } = counted(mock);
  const samples = emptySamples();
  let done = 0;
  const options = { request, count: 25, concurrency: 4, keepEvery: 10, onDone: () => done++ };
  await runBatch(target, options, samples, signal);
  assert.equal(seen.requests, 25);
  assert.equal(seen.most, 4);
  assert.equal(done, 25);
  assert.equal(samples.ttfb.length, 25);
  assert.equal(samples.ttlb.length, 25);
  assert.equal(samples.gaps.length, 25 * 8);
  assert.equal(samples.kept.length, 2);
  assert.ok(samples.wallMs > 0);

  await runBatch(target, { request, count: 3, concurrency: 16 }, samples, signal);
  assert.equal(samples.ttfb.length, 28, "a second batch adds to the same samples");
});

Deno.test("runBatch hands every answer's events to check, and stops at what it throws", async () => {
  const { target, seen } = counted(mock);
  const lengths: number[] = [];
  const check = (events: unknown[]) => {
    lengths.push(events.length);
    if (lengths.length === 3) throw new Error("the third is refused");
  };
  const samples = emptySamples();
  const batch = runBatch(target, { request, count: 5, concurrency: 1, check }, samples, signal);
  await assert.rejects(batch, /the third is refused/);
  assert.deepEqual(lengths, [9, 9, 9]);
  assert.equal(seen.requests, 3);
  assert.equal(samples.ttfb.length, 2, "a refused answer's timings are not kept");
});

Deno.test("runBatch: the first request that fails ends the ones in flight", async () => {
  const signals: AbortSignal[] = [];
  const target: Target = {
    name: "flaky",
    send: (_, signal) => {
      signals.push(signal);
      return signals.length === 1 ? new Promise(() => {}) : Promise.reject(new Error("refused"));
    },
  };
  const batch = runBatch(target, { request, count: 4, concurrency: 2 }, emptySamples(), signal);
  await assert.rejects(batch, /flaky: the request failed: refused/);
  assert.equal(signals.length, 2);
  assert.ok(signals[0].aborted, "the hanging request is given up");
});

Deno.test("urlTarget posts to /v1/messages with its own headers over the request's", async () => {
  const seen: Request[] = [];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (incoming) => {
    seen.push(incoming);
    return mock(incoming);
  });
  const target = urlTarget("relay", `http://127.0.0.1:${server.addr.port}/`, {
    authorization: "Bearer rly_0",
  });
  await timedStream(target, request, signal);
  assert.equal(new URL(seen[0].url).pathname, "/v1/messages");
  assert.equal(seen[0].method, "POST");
  assert.equal(seen[0].headers.get("authorization"), "Bearer rly_0");
  assert.equal(seen[0].headers.get("x-relay-mock"), "events=3");
});
