import assert from "node:assert/strict";
import { emptySamples, runBatch, type Target, timedStream, urlTarget } from "../../src/bench/load.ts";
import { scenarioRequest } from "../../src/bench/scenarios.ts";
import { mockHandler } from "../../src/providers/mock.ts";
import { mockOptionsSchema } from "../../src/providers/mock_options.ts";

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

Deno.test("timedStream fails on an error answer, naming the target and what it said", async () => {
  const target = urlTarget("nowhere", "http://127.0.0.1:1");
  await assert.rejects(timedStream(target, request, signal));
  const { target: refusing } = counted(() => Promise.resolve(new Response("overloaded", { status: 529 })));
  await assert.rejects(timedStream(refusing, request, signal), /counted answered 529: overloaded/);
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

Deno.test("runBatch stops on a stream with another number of events than expected", async () => {
  const { target } = counted(mock);
  const batch = runBatch(
    target,
    { request, count: 5, concurrency: 1, expectedEvents: 10 },
    emptySamples(),
    signal,
  );
  await assert.rejects(batch, /counted sent 9 events, not the 10 expected/);
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
