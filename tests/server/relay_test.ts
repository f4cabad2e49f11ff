import assert from "node:assert/strict";
import { rawHttp } from "../_helpers/raw_http.ts";
import { ClientRegistry } from "../../src/ledger/clients.ts";
import { gzip } from "node:zlib";
import { promisify } from "node:util";
import { Hono } from "hono";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";
import { controlledStream, sseChunks, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import {
  armedBefore,
  PROVIDER_KEY,
  startTestRelay,
  TEST_ROUTING,
  TEST_TIMEOUTS,
  type TestRelay,
  type TestRelayOptions,
} from "../_helpers/relay.ts";
import type { Provider, ProviderRequest } from "../../src/providers/types.ts";
import { GOLDEN_NAMES, loadGolden, splitAwkwardly } from "../_helpers/golden.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { ConcurrencyLimiter } from "../../src/routing/concurrency.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { Router } from "../../src/routing/router.ts";
import { InFlight } from "../../src/server/in_flight.ts";
import { relay, type RelayOptions } from "../../src/server/relay.ts";
import { type RelayEnv, requestId } from "../../src/server/request_id.ts";
import { createLogger, type LogFields } from "../../src/util/logger.ts";
import { maskSecret } from "../../src/util/mask.ts";

const MESSAGES =
  '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}';

function post(url: string, body: BodyInit, headers: HeadersInit = {}, signal?: AbortSignal) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
    body,
    signal,
  });
}

async function bytesOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * A provider named `upstream` that answers each request in process, with what `answer` gives: unlike an
 * upstream over HTTP, its body is read only as relay reads it, so `controlledStream().whenRead()` tells
 * when relay waits on it.
 */
function inProcess(answer: (request: ProviderRequest) => Response | Promise<Response>): Provider {
  return { name: "upstream", type: "test", send: (request) => Promise.resolve(answer(request)) };
}

/**
 * relay on a fake clock over an in-process provider answering with `answer()`; `upstream()` is the signal
 * relay sent the provider, once it was asked, so a test sees when relay gives up on it.
 */
function startWatchedRelay(
  answer: () => Response,
  timeouts: TestRelayOptions["timeouts"],
): TestRelay & { clock: FakeClock; upstream: () => AbortSignal } {
  let signal: AbortSignal | undefined;
  const provider = inProcess((request) => {
    signal = request.signal;
    return answer();
  });
  const clock = new FakeClock();
  return Object.assign(startTestRelay({ provider, timeouts, clock }), { clock, upstream: () => signal! });
}

/** Moves `relay`'s clock on by `ms`, checking relay gives up on the upstream then and not before. */
function assertGivesUpAfter(
  relay: { clock: FakeClock; upstream: () => AbortSignal },
  ms: number,
  why: string,
) {
  relay.clock.advance(ms - 1);
  assert.equal(relay.upstream().aborted, false);
  relay.clock.advance(1);
  assert.equal(relay.upstream().aborted, true, why);
}

/** Checks `pending` is a 504 whose error message is `message`. */
async function assertTimedOut(pending: Promise<Response>, message: string, why?: string) {
  const response = await pending;
  assert.equal(response.status, 504);
  assert.equal((await response.json()).error.message, message, why);
}

/** An upstream over HTTP answering with one stream, which the test writes as it goes. */
function controlledUpstream() {
  const stream = controlledStream();
  return { stream, upstream: startFakeUpstream(() => stream.response()) };
}

const PING = 'event: ping\ndata: {"type": "ping"}\n\n';

Deno.test("golden SSE streams arrive byte for byte whatever the upstream's chunk boundaries", async () => {
  for (const name of GOLDEN_NAMES) {
    const golden = await loadGolden(name);
    // Every chunking but the two-way splits at each offset, which the stream unit tests cover.
    const chunkings = splitAwkwardly(golden).filter((chunks) => chunks.length !== 2);
    let chunking: Uint8Array[] = [];
    const upstream = startFakeUpstream(() => sseChunks(chunking));
    await using relay = startTestRelay({ upstreamUrl: upstream.url });
    for (chunking of chunkings) {
      const response = await post(`${relay.url}/v1/messages`, MESSAGES);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/event-stream");
      assert.deepEqual(await bytesOf(response), golden, `${name} split into ${chunking.length} chunks`);
      assert.deepEqual(concatBytes(chunking), golden);
    }
    await upstream.close();
  }
});

Deno.test("a stream ends at its message_stop, complete, though the upstream keeps the connection open", async () => {
  const golden = await loadGolden("text");
  const { stream, upstream } = controlledUpstream();
  // The clock moves only once the client has it all: only the answer's own end can end it.
  const clock = new FakeClock();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, clock });
  stream.push(golden);
  const response = await post(`${relay.url}/v1/messages`, MESSAGES);
  const body = bytesOf(response);
  assert.ok(await settlesWithin(body, 5_000), "the client's stream ended at message_stop");
  assert.deepEqual(await body, golden);
  // The upstream is let go within a second (forward_test checks it is read on meanwhile).
  clock.advance(1_000);
  await stream.cancelled;
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.output_tokens], ["complete", 12]);
  await upstream.close();
});

Deno.test("the upstream receives the client's body bytes unchanged, query kept, provider key in place of the client's", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: ["rly_client_token_0001"] });
  // Odd spacing, key order, escapes, an unknown field and a thinking signature: re-serialising would change them.
  const body = new TextEncoder().encode(
    '{ "stream":true,"model" : "claude-sonnet-4-5", "max_tokens":64,\n "x_unknown":{"a":[1,2.50]},' +
      '"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"h\\u00e9","signature":"EqQBCkYIB+/=="}]},' +
      '{"role":"user","content":"caf\u00e9 \ud83c\udf89"}]}',
  );
  const response = await post(`${relay.url}/v1/messages?beta=true`, body, {
    "x-api-key": "rly_client_token_0001",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
    "origin": "http://localhost:3000",
    "anthropic-dangerous-direct-browser-access": "true",
    "cookie": "a=b",
    "x-claude-code-session-id": "s-1",
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const seen = await upstream.nextRequest();
  assert.deepEqual(seen.body, body);
  assert.equal(seen.path, "/v1/messages?beta=true");
  assert.equal(seen.headers.get("x-api-key"), PROVIDER_KEY);
  assert.equal(seen.headers.get("authorization"), null);
  assert.equal(seen.headers.get("anthropic-beta"), "claude-code-20250219,interleaved-thinking-2025-05-14");
  assert.equal(seen.headers.get("anthropic-version"), "2023-06-01");
  assert.equal(seen.headers.get("x-claude-code-session-id"), "s-1");
  assert.equal(seen.headers.get("origin"), null);
  assert.equal(seen.headers.get("cookie"), null);
  await upstream.close();
});

Deno.test("upstream 4xx and 5xx reach the client unchanged: status, body, retry-after, request-id", async () => {
  const cases = [
    {
      status: 400,
      type: "invalid_request_error",
      message: "prompt is too long: 210000 tokens > 200000 maximum",
    },
    {
      status: 429,
      type: "rate_limit_error",
      message: "Number of request tokens has exceeded your rate limit",
    },
    { status: 529, type: "overloaded_error", message: "Overloaded" },
    { status: 500, type: "api_error", message: "Internal server error" },
  ];
  let current = cases[0];
  const upstream = startFakeUpstream(() =>
    new Response(
      JSON.stringify({
        type: "error",
        error: { type: current.type, message: current.message },
        request_id: "req_up_1",
      }),
      {
        status: current.status,
        headers: {
          "content-type": "application/json",
          "retry-after": "7",
          "request-id": "req_up_1",
          "x-should-retry": "true",
          "anthropic-ratelimit-unified-status": "rejected",
        },
      },
    )
  );
  for (current of cases) {
    // A fresh relay each time: the 429 cools its key, and the next request would wait for it.
    await using relay = startTestRelay({ upstreamUrl: upstream.url });
    const response = await post(`${relay.url}/v1/messages`, MESSAGES);
    assert.equal(response.status, current.status);
    assert.equal(response.headers.get("retry-after"), "7");
    assert.equal(response.headers.get("request-id"), "req_up_1");
    assert.equal(response.headers.get("x-should-retry"), "true");
    assert.equal(response.headers.get("anthropic-ratelimit-unified-status"), "rejected");
    assert.deepEqual(await response.json(), {
      type: "error",
      error: { type: current.type, message: current.message },
      request_id: "req_up_1",
    });
    const log = await relay.nextRequestLog();
    assert.equal(log.status, current.status);
    assert.equal(log.upstream_request_id, "req_up_1");
  }
  await upstream.close();
});

Deno.test("a client disconnect mid-stream aborts the upstream request", async () => {
  const { stream, upstream } = controlledUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const client = new AbortController();
  const response = await (async () => {
    const pending = post(`${relay.url}/v1/messages`, MESSAGES, {}, client.signal);
    stream.push('event: message_start\ndata: {"type":"message_start"}\n\n');
    return await pending;
  })();
  const reader = response.body!.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /message_start/);
  client.abort();
  await stream.cancelled;
  const log = await relay.nextRequestLog();
  assert.equal(log.outcome, "client_closed");
  await upstream.close();
});

Deno.test("a client that leaves before the first byte aborts the upstream request", async () => {
  const { stream, upstream } = controlledUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const client = new AbortController();
  const pending = post(`${relay.url}/v1/messages`, MESSAGES, {}, client.signal).catch((error) => error);
  const seen = await upstream.nextRequest();
  client.abort();
  assert.equal((await pending).name, "AbortError");
  await Promise.race([stream.cancelled, seen.disconnected]);
  assert.equal((await relay.nextRequestLog()).outcome, "client_closed");
  assert.equal(relay.server.inFlight.size, 0, "the exchange is over: shutdown and status no longer count it");
  await upstream.close();
});

/**
 * An error answer read off a raw connection up to its JSON body's end: relay answers before the upload
 * is complete, and Deno keeps such a connection open, so its end cannot be awaited.
 */
async function answerOnConnection(connection: Deno.Conn): Promise<string> {
  let answer = "";
  const buffer = new Uint8Array(4096);
  while (!answer.endsWith("}}")) {
    const read = await connection.read(buffer);
    if (read === null) break;
    answer += new TextDecoder().decode(buffer.subarray(0, read));
  }
  return answer;
}

/**
 * Sends `head` and `body` to a fresh relay on a raw connection, closing its sending side: all it got back,
 * relay's access line for it, and how many requests its upstream got.
 */
async function rawExchange(head: string, body: string) {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const answer = await rawHttp(relay.url, `${head}\r\n\r\n${body}`, { closeWrite: true });
  const log = await relay.nextRequestLog();
  await upstream.close();
  return { answer, log, upstreamRequests: upstream.requests.length };
}

Deno.test("a body that ends early is a 400 with its access line, not relay's failure", async () => {
  const { answer, log, upstreamRequests } = await rawExchange(
    "POST /v1/messages HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100",
    '{"model":',
  );
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(
    answer,
    /"type":"invalid_request_error","message":"request body ended before it was complete: /,
  );
  assert.deepEqual([log.status, log.outcome], [400, "relay_error"]);
  assert.equal(upstreamRequests, 0);
});

Deno.test("a CONNECT, from a client that took relay for its HTTPS proxy, is told relay is none", async () => {
  const { answer, log, upstreamRequests } = await rawExchange(
    "CONNECT api.anthropic.com:443 HTTP/1.1\r\nhost: api.anthropic.com:443",
    "",
  );
  assert.match(answer, /^HTTP\/1\.1 405 /);
  assert.match(answer, /\r\nallow: GET, HEAD, POST\r\n/);
  assert.match(
    answer,
    /"message":"relay is not an HTTP proxy \(CONNECT api\.anthropic\.com:443\): a client reaches relay at its own URL \(ANTHROPIC_BASE_URL\), not through HTTPS_PROXY"/,
  );
  assert.deepEqual([log.method, log.path, log.status], ["CONNECT", "api.anthropic.com:443", 405]);
  assert.equal(upstreamRequests, 0);
});

Deno.test("relay's own errors use Anthropic's envelope and status", async (t) => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, maxBodyBytes: 1024 });
  const expectError = async (response: Response, status: number, type: string, pattern: RegExp) => {
    assert.equal(response.status, status);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.ok(response.headers.get("x-request-id"));
    const body = await response.json();
    assert.equal(body.type, "error");
    assert.equal(body.error.type, type);
    assert.match(body.error.message, pattern);
  };
  await t.step("malformed JSON: 400", async () => {
    await expectError(
      await post(`${relay.url}/v1/messages`, '{"model": '),
      400,
      "invalid_request_error",
      /not valid JSON/,
    );
    // V8 quotes a short text whole in its message; the answer and the log must not carry the body.
    await expectError(
      await post(`${relay.url}/v1/messages`, "hunter2"),
      400,
      "invalid_request_error",
      /^request body is not valid JSON: Unexpected token 'h'$/,
    );
  });
  await t.step("wrong type: 400", async () => {
    await expectError(
      await post(`${relay.url}/v1/messages`, '{"model": 7}'),
      400,
      "invalid_request_error",
      /model/,
    );
  });
  await t.step("too large: 413", async () => {
    const big = JSON.stringify({ model: "m", pad: "x".repeat(2048) });
    await expectError(await post(`${relay.url}/v1/messages`, big), 413, "request_too_large", /max_body_size/);
  });
  await t.step("unknown route: 404", async () => {
    await expectError(await fetch(`${relay.url}/v1/complete`), 404, "not_found_error", /GET \/v1\/complete/);
    await expectError(await post(`${relay.url}/v2/messages`, MESSAGES), 404, "not_found_error", /no route/);
  });
  assert.equal(upstream.requests.length, 0, "nothing bad reached the upstream");
  await upstream.close();
});

Deno.test("an unreachable upstream is a 502 naming the provider", async () => {
  const closed = startFakeUpstream();
  await closed.close();
  await using relay = startTestRelay({ upstreamUrl: closed.url });
  const response = await post(`${relay.url}/v1/messages`, MESSAGES);
  assert.equal(response.status, 502);
  const body = await response.json();
  assert.equal(body.error.type, "api_error");
  assert.match(body.error.message, /upstream upstream failed/);
});

Deno.test("an upstream that never answers is a 504 once timeouts.connect passes, and the upstream is aborted", async () => {
  const never = Promise.withResolvers<Response>();
  const upstream = startFakeUpstream(() => never.promise);
  const clock = new FakeClock();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, timeouts: { connect: 50 }, clock });
  const pending = post(`${relay.url}/v1/messages`, MESSAGES);
  await upstream.nextRequest();
  assert.deepEqual(clock.armed, [50], "armed as the request went out");
  clock.advance(50);
  const response = await pending;
  assert.equal(response.status, 504);
  const body = await response.json();
  assert.equal(body.error.type, "timeout_error");
  assert.match(body.error.message, /timeouts\.connect/);
  await upstream.requests[0].disconnected;
  never.resolve(new Response(null));
  await upstream.close();
});

Deno.test("an upstream silent before its first byte is a 504 (timeouts.first_byte)", async () => {
  const stream = controlledStream();
  const sent = Promise.withResolvers<void>();
  const headers = Promise.withResolvers<Response>();
  const clock = new FakeClock();
  await using relay = startTestRelay({
    provider: inProcess(() => {
      sent.resolve();
      return headers.promise;
    }),
    timeouts: { firstByte: 50 },
    clock,
  });
  const pending = post(`${relay.url}/v1/messages`, MESSAGES);
  await sent.promise;
  clock.advance(20);
  headers.resolve(stream.response());
  await stream.whenRead();
  assert.deepEqual(clock.armed, [30], "first_byte counts from the send");
  clock.advance(30);
  await assertTimedOut(
    pending,
    "upstream upstream sent nothing for 50 ms (timeouts.first_byte)",
    "the configured deadline, not what was left of it once the headers came",
  );
  await stream.cancelled;
});

Deno.test("an upstream that sends only pings is a 504 once timeouts.first_byte is over: pings are no answer", async () => {
  const stream = controlledStream();
  // Seconds, as all of this test's times: longer than it runs, so only the fake clock can fire them.
  await using relay = startWatchedRelay(() => stream.response(), { firstByte: 30_000 });
  const pending = post(`${relay.url}/v1/messages`, MESSAGES, {}, AbortSignal.timeout(5_000));
  // A ping every 5 s, as a keep-alive would, each read before the next.
  await stream.whenRead();
  for (let at = 5_000; at < 30_000; at += 5_000) {
    relay.clock.advance(5_000);
    stream.push(PING);
    await stream.whenRead();
  }
  assertGivesUpAfter(relay, 5_000, "given up on at 30 s, pings or not");
  await assertTimedOut(
    pending,
    "upstream upstream sent no event but pings or comments for 30000 ms (timeouts.first_byte)",
  );
  await stream.cancelled;
});

Deno.test("an upstream that sends one ping, then nothing, is a 504 at timeouts.first_byte, not at timeouts.idle", async () => {
  const stream = controlledStream();
  // Longer than the test runs, so only the fake clock can fire them.
  await using relay = startWatchedRelay(() => stream.response(), { firstByte: 10_000, idle: 60_000 });
  const pending = post(`${relay.url}/v1/messages`, MESSAGES);
  await stream.whenRead();
  relay.clock.advance(4_000);
  stream.push(PING);
  // Relay waits for the next chunk under idle now; the first event is still due 10 s after the send.
  await stream.whenRead();
  assertGivesUpAfter(relay, 6_000, "given up on at 10 s");
  await assertTimedOut(
    pending,
    "upstream upstream sent no event but pings or comments for 10000 ms (timeouts.first_byte)",
  );
  await stream.cancelled;
});

Deno.test("an upstream that sends no whole event by timeouts.first_byte is a 504 that says what it sent", async (t) => {
  const notWhole =
    "upstream upstream had not sent its first event whole after 10000 ms (timeouts.first_byte)";
  const cases = [
    { name: "an event begun", sent: 'event: message_start\ndata: {"type":"message_start",', said: notWhole },
    {
      name: "comments, each a block of its own",
      sent: ": keepalive\n\n: keepalive\r\n\r\n",
      said: "upstream upstream sent no event but pings or comments for 10000 ms (timeouts.first_byte)",
    },
    {
      name: "a comment, then an event begun",
      sent: ': keepalive\n\nevent: message_start\ndata: {"type":"message_start",',
      said: notWhole,
    },
  ];
  for (const { name, sent, said } of cases) {
    await t.step(name, async () => {
      const stream = controlledStream();
      await using relay = startWatchedRelay(
        () => stream.response({ headers: { "request-id": "req_stalled" } }),
        // Longer than the test runs, so only the fake clock can fire them.
        { firstByte: 10_000, idle: 60_000 },
      );
      const pending = post(`${relay.url}/v1/messages`, MESSAGES);
      await stream.whenRead();
      stream.push(sent);
      await stream.whenRead();
      relay.clock.advance(10_000);
      assert.equal(relay.upstream().aborted, true, "given up on at 10 s");
      await assertTimedOut(pending, said);
      const line = await relay.nextRequestLog();
      assert.equal(line.upstream_request_id, "req_stalled", "the answer that stalled told its id");
      await stream.cancelled;
    });
  }
});

/**
 * A flood of pings as fast as relay reads, in chunks that cut pings anywhere. `past` resolves once more
 * than `bytes` of it were read, `cancelled` once its reader gave up. It ends after 4 MiB: read in process,
 * it never lets the event loop run, so a relay that never gave up on it would hang the test.
 */
function pingFlood(bytes: number) {
  const pings = new TextEncoder().encode(PING.repeat(1000));
  let at = 0;
  let read = 0;
  const past = Promise.withResolvers<void>();
  const cancelled = Promise.withResolvers<void>();
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (read > 4 * 1024 * 1024) return controller.close();
      const chunk = pings.slice(at, at + 1000);
      controller.enqueue(chunk);
      at = (at + 1000) % pings.byteLength;
      read += chunk.byteLength;
      if (read > bytes) past.resolve();
    },
    cancel: () => cancelled.resolve(),
  }, { highWaterMark: 0 });
  return { body, past: past.promise, cancelled: cancelled.promise };
}

Deno.test("an upstream that floods pings past relay's 64 KiB peek is still a 504 once timeouts.first_byte is over", async () => {
  const flood = pingFlood(128 * 1024);
  await using relay = startWatchedRelay(
    () => new Response(flood.body, { headers: { "content-type": "text/event-stream" } }),
    { firstByte: 200 },
  );
  const pending = post(`${relay.url}/v1/messages`, MESSAGES);
  await flood.past;
  assertGivesUpAfter(relay, 200, "given up on at 200 ms");
  await assertTimedOut(
    pending,
    "upstream upstream sent no event but pings or comments for 200 ms (timeouts.first_byte)",
  );
  await flood.cancelled;
});

Deno.test("pings before the first event are held up to relay's 64 KiB peek, whole; a first event past it commits unfinished", async () => {
  const start = `event: message_start\ndata: {"type":"message_start","pad":"${"x".repeat(70 * 1024)}`;
  const rest = '"}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n';
  for (const [pings, eol] of [[0, "\n"], [3000, "\n"], [3000, "\r\n"], [3000, "\r"]] as const) {
    const ping = `event: ping${eol}data: {"type": "ping"}${eol}${eol}`;
    const { stream, upstream } = controlledUpstream();
    await using relay = startTestRelay({ upstreamUrl: upstream.url });
    // In chunks that cut pings and the event anywhere.
    const before = ping.repeat(pings) + start;
    for (let at = 0; at < before.length; at += 1000) stream.push(before.slice(at, at + 1000));
    const response = await post(`${relay.url}/v1/messages`, MESSAGES);
    assert.equal(response.status, 200, "committed with the event still unfinished");
    stream.push(rest);
    stream.end();
    const text = await response.text();
    assert.ok(text.endsWith(start + rest));
    const held = text.slice(0, -(start + rest).length);
    assert.equal(
      held,
      ping.repeat(held.length / ping.length),
      `whole pings, ${JSON.stringify(eol)} line ends`,
    );
    assert.ok(held.length <= 64 * 1024, `${held.length} bytes of pings`);
    await upstream.close();
  }
});

Deno.test("an upstream that goes silent mid-stream ends the client's stream with an error event", async () => {
  const stream = controlledStream();
  const clock = new FakeClock();
  // Longer than the test runs, so only the fake clock can fire it, and shorter than the keep-alive.
  const idle = 10_000;
  await using relay = startTestRelay({
    provider: inProcess(() => stream.response()),
    timeouts: { idle },
    clock,
  });
  const pending = post(`${relay.url}/v1/messages`, MESSAGES, {}, AbortSignal.timeout(5_000));
  stream.push('event: message_start\ndata: {"type":"message_start"}\n\n');
  const text = (await pending).text();
  // Relay passed the event on and its client asked for more: both wait on the upstream.
  await stream.whenRead();
  clock.advance(idle);
  assert.equal(
    await text,
    'event: message_start\ndata: {"type":"message_start"}\n\n' +
      'event: error\ndata: {"type":"error","error":{"type":"timeout_error","message":"upstream upstream sent nothing for 10000 ms (timeouts.idle)"}}\n\n',
  );
  await stream.cancelled;
  assert.equal((await relay.nextRequestLog()).outcome, "upstream_failed");
});

Deno.test("a stream that ends on the upstream's own error event is relayed as it came and logged as failed", async () => {
  const events = [
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5}}}\n\n',
    'event: content_block_start\ndata: {"type":"content_block_start","index":0}\n\n',
    'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
  ];
  const upstream = startFakeUpstream(() => sseChunks(events));
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const response = await post(`${relay.url}/v1/messages`, MESSAGES);
  assert.equal(await response.text(), events.join(""));
  const log = await relay.nextRequestLog();
  assert.deepEqual(
    [log.outcome, log.errorType, log.message, log.input_tokens],
    ["upstream_failed", "overloaded_error", "Overloaded", 5],
  );
  await upstream.close();
});

/** The last chunk of a streamed chat completion asked of `relay`'s front door, parsed. */
async function lastChatChunk(relay: TestRelay): Promise<unknown> {
  const response = await post(
    `${relay.url}/v1/chat/completions`,
    JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "hi" }] }),
  );
  const chunks = (await response.text()).split("\n\n").filter(Boolean);
  return JSON.parse(chunks.at(-1)!.slice("data: ".length));
}

Deno.test("a stream that ends before message_stop is an upstream failure: the client is told with an error event, at both doors", async (t) => {
  const events = [
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","role":"assistant","model":"m",' +
    '"content":[],"usage":{"input_tokens":5,"output_tokens":1}}}\n\n',
    'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n',
  ];
  const upstream = startFakeUpstream(() => sseChunks(events));
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const message = "upstream upstream ended the stream before message_stop";
  await t.step("/v1/messages", async () => {
    const response = await post(`${relay.url}/v1/messages`, MESSAGES);
    assert.equal(
      await response.text(),
      events.join("") +
        `event: error\ndata: {"type":"error","error":{"type":"api_error","message":"${message}"}}\n\n`,
    );
    const log = await relay.nextRequestLog();
    assert.deepEqual(
      [log.status, log.outcome, log.errorType, log.message, log.input_tokens],
      [200, "upstream_failed", "api_error", message, 5],
    );
  });
  await t.step("/v1/chat/completions", async () => {
    assert.deepEqual(await lastChatChunk(relay), {
      error: { message, type: "api_error", param: null, code: null },
    });
    const log = await relay.nextRequestLog();
    assert.deepEqual([log.path, log.outcome, log.message], ["/v1/messages", "upstream_failed", message]);
    assert.equal(relay.logs.filter((line) => line.msg === "request").length, 2, "one line per request");
  });
  await upstream.close();
});

Deno.test("a stream cut inside an event, then ended, breaks the client's transfer, or ends the front door's with an error chunk", async () => {
  const head =
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5}}}\n\n';
  const upstream = startFakeUpstream(() => sseChunks([head, 'event: content_block_start\ndata: {"ty']));
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const message = "upstream upstream ended the stream before message_stop";
  const response = await post(`${relay.url}/v1/messages`, MESSAGES);
  await assert.rejects(response.text());
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.message], ["upstream_failed", message]);
  // The front door's client gets whole chunks only, so it can be told, in OpenAI's shape.
  assert.deepEqual(await lastChatChunk(relay), {
    error: { message, type: "api_error", param: null, code: null },
  });
  assert.equal((await relay.nextRequestLog()).outcome, "upstream_failed");
  await upstream.close();
});

Deno.test("an upstream's error answer is passed on under the route's deadlines, holding its exchange until it ends", async () => {
  const stream = controlledStream();
  const clock = new FakeClock();
  await using relay = startTestRelay({
    provider: inProcess(() =>
      stream.response({ status: 500, headers: { "content-type": "application/json" } })
    ),
    // Longer than the test runs, so only the fake clock can fire it.
    timeouts: { idle: 10_000 },
    clock,
  });
  stream.push('{"type":"error",');
  const response = await post(`${relay.url}/v1/messages`, MESSAGES, {}, AbortSignal.timeout(5_000));
  assert.equal(response.status, 500);
  const reader = response.body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), '{"type":"error",');
  assert.equal(relay.server.inFlight.size, 1, "the exchange lasts as long as its body");
  await stream.whenRead();
  clock.advance(10_000);
  await assert.rejects(() => reader.read(), "a cut JSON body breaks the client's transfer");
  await stream.cancelled;
  const log = await relay.nextRequestLog();
  assert.deepEqual(
    [log.status, log.outcome, log.errorType, log.message],
    [500, "upstream_failed", "timeout_error", "upstream upstream sent nothing for 10000 ms (timeouts.idle)"],
  );
  assert.equal(relay.server.inFlight.size, 0);
});

Deno.test("an upstream's error answer passed on whole is logged as upstream_error once its body is out", async () => {
  const body = '{"type":"error","error":{"type":"api_error","message":"Internal server error"}}';
  const upstream = startFakeUpstream(() =>
    new Response(body, {
      status: 500,
      headers: { "content-type": "application/json", "request-id": "req_1" },
    })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const response = await post(`${relay.url}/v1/messages`, MESSAGES);
  assert.deepEqual([response.status, response.headers.get("request-id"), await response.text()], [
    500,
    "req_1",
    body,
  ]);
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.error, log.bytes], [
    "upstream_error",
    "upstream upstream answered 500",
    body.length,
  ]);
  await upstream.close();
});

Deno.test("an error event before the answer, passed on, is the HTTP error it stands for, logged with its message", async () => {
  const event =
    'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},' +
    '"request_id":"req_event_1"}\n\n';
  const upstream = startFakeUpstream(() =>
    sseChunks([event], { headers: { "request-id": "req_upstream_1" } })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const response = await post(`${relay.url}/v1/messages`, MESSAGES);
  assert.equal(response.status, 529, "a client retries by status, as it would Anthropic's own 529");
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(response.headers.get("request-id"), "req_upstream_1", "the upstream's headers go with it");
  assert.deepEqual(await response.json(), {
    type: "error",
    error: { type: "overloaded_error", message: "Overloaded" },
    request_id: "req_event_1",
  }, "the event's own fields go with it");
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.error], ["upstream_error", "upstream upstream failed: Overloaded"]);
  await upstream.close();
});

Deno.test("an error event before the answer keeps none of its 200's x-should-retry, and a type not a string is api_error", async () => {
  const events = [
    'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    'event: error\ndata: {"type":"error","error":{"type":{"code":7},"message":"odd"}}\n\n',
  ];
  let next = 0;
  const upstream = startFakeUpstream(() =>
    sseChunks([events[next++]], { headers: { "x-should-retry": "false" } })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const overloaded = await post(`${relay.url}/v1/messages`, MESSAGES);
  assert.equal(overloaded.status, 529);
  // A 2xx's x-should-retry says nothing of the error it carried: the client may retry a 529.
  assert.equal(overloaded.headers.get("x-should-retry"), null);
  await overloaded.body?.cancel();
  const odd = await post(`${relay.url}/v1/messages`, MESSAGES);
  assert.equal(odd.status, 500);
  assert.deepEqual(await odd.json(), { type: "error", error: { type: "api_error", message: "odd" } });
  await upstream.close();
});

Deno.test("a key an upstream's error event quotes is masked in the log and in what the client gets", async () => {
  const events = [
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5}}}\n\n',
    `event: error\ndata: {"type":"error","error":{"type":"authentication_error","message":"key ${PROVIDER_KEY} was revoked"}}\n\n`,
  ];
  const upstream = startFakeUpstream(() => sseChunks(events));
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const response = await post(`${relay.url}/v1/messages`, MESSAGES);
  assert.equal(
    await response.text(),
    events.join("").replace(PROVIDER_KEY, "sk-ant-...x7f2"),
    "the client gets the upstream's bytes as they came, but for the key",
  );
  const log = await relay.nextRequestLog();
  assert.equal(log.message, "key sk-ant-...x7f2 was revoked");
  assert.ok(!JSON.stringify(relay.logs).includes(PROVIDER_KEY));
  await upstream.close();
});

Deno.test("a client that leaves once it read the upstream's error event leaves a request logged as failed", async () => {
  const { stream, upstream } = controlledUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  stream.push(
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5}}}\n\n',
  );
  const response = await post(`${relay.url}/v1/messages`, MESSAGES);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  stream.push(
    'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
  );
  let text = "";
  while (!text.includes("event: error")) text += (await reader.read()).value;
  await reader.cancel();
  await stream.cancelled;
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.errorType, log.message], [
    "upstream_failed",
    "overloaded_error",
    "Overloaded",
  ]);
  await upstream.close();
});

Deno.test("a text/event-stream answer is SSE whatever the case of its content type", async () => {
  const events = [
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5}}}\n\n',
    'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
  ];
  const upstream = startFakeUpstream(() =>
    sseChunks(events, { headers: { "content-type": "Text/Event-Stream; charset=utf-8" } })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const response = await post(`${relay.url}/v1/messages`, MESSAGES);
  assert.equal(await response.text(), events.join(""));
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.errorType, log.input_tokens], [
    "upstream_failed",
    "overloaded_error",
    5,
  ]);
  await upstream.close();
});

Deno.test("the access line's tokens are the upstream's own, as in the ledger: cache reads and writes apart", async () => {
  const events = [
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":7,' +
    '"cache_read_input_tokens":1000,"cache_creation_input_tokens":300}}}\n\n',
    'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":11}}\n\n',
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
  ];
  const upstream = startFakeUpstream(() => sseChunks(events));
  const usages: unknown[] = [];
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    onRequest: (_line, usage) => usages.push(usage),
  });
  await (await post(`${relay.url}/v1/messages`, MESSAGES)).text();
  const log = await relay.nextRequestLog();
  assert.deepEqual(
    [log.input_tokens, log.output_tokens, log.cache_read_tokens, log.cache_write_tokens],
    [7, 11, 1000, 300],
  );
  assert.deepEqual(usages, [{ input: 7, output: 11, cacheRead: 1000, cacheWrite: 300, cacheWrite1h: 0 }]);
  await upstream.close();
});

Deno.test("an upstream that breaks mid-event breaks the client's transfer, appending nothing to the half event", async () => {
  const { stream, upstream } = controlledUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const pending = post(`${relay.url}/v1/messages`, MESSAGES);
  stream.push(
    'event: message_start\ndata: {"type":"message_start"}\n\nevent: content_block_delta\ndata: {"ty',
  );
  const response = await pending;
  const reader = response.body!.getReader();
  const first = await reader.read();
  stream.fail(new Error("connection reset"));
  const chunks = [first.value!];
  const broken = await (async () => {
    try {
      for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
      return false;
    } catch {
      return true;
    }
  })();
  assert.equal(broken, true, "the chunked answer is left unfinished, as the upstream's was");
  assert.equal(new TextDecoder().decode(concatBytes(chunks)).includes("event: error"), false);
  assert.equal((await relay.nextRequestLog()).outcome, "upstream_failed");
  await upstream.close();
});

Deno.test("a JSON answer the upstream cuts off reaches the client as a broken transfer, not a whole 200", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() =>
    stream.response({ headers: { "content-type": "application/json" } })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const pending = post(`${relay.url}/v1/messages`, '{"model":"m","max_tokens":8,"messages":[]}');
  stream.push('{"id":"msg_1","type":"message","content":[{"type":"text","text":"hello wor');
  const response = await pending;
  assert.equal(response.status, 200);
  stream.fail(new Error("connection reset"));
  await assert.rejects(response.text());
  assert.equal((await relay.nextRequestLog()).outcome, "upstream_failed");
  await upstream.close();
});

Deno.test("a gzip-encoded upstream answer reaches the client decoded, without a stale content-encoding", async () => {
  const json = JSON.stringify({ id: "msg_1", type: "message", content: [{ type: "text", text: "café" }] });
  const compressed = await promisify(gzip)(json);
  const upstream = startFakeUpstream(() =>
    new Response(new Uint8Array(compressed), {
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const response = await post(`${relay.url}/v1/messages`, '{"model":"m"}', { "accept-encoding": "gzip" });
  assert.equal(response.headers.get("content-encoding"), null);
  assert.equal(await response.text(), json);
  await upstream.close();
});

Deno.test("client auth: tokens are required as x-api-key or Bearer when configured", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: ["rly_client_token_0001"] });
  const missing = await post(`${relay.url}/v1/messages`, MESSAGES);
  assert.equal(missing.status, 401);
  assert.equal((await missing.json()).error.type, "authentication_error");
  const wrong = await post(`${relay.url}/v1/messages`, MESSAGES, { "x-api-key": "rly_client_token_0002" });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const bearer = await post(`${relay.url}/v1/messages`, MESSAGES, {
    authorization: "Bearer rly_client_token_0001",
  });
  assert.equal(bearer.status, 200);
  await bearer.body?.cancel();
  // Claude Code sends both when the shell keeps the user's own ANTHROPIC_API_KEY beside relay env's token.
  for (
    const both of [
      { "x-api-key": "sk-ant-api03-users-own-key-0000000000", authorization: "Bearer rly_client_token_0001" },
      { "x-api-key": "rly_client_token_0001", authorization: "Bearer sk-ant-api03-users-own-key-0000000000" },
    ]
  ) {
    const answer = await post(`${relay.url}/v1/messages`, MESSAGES, both);
    assert.equal(answer.status, 200);
    await answer.body?.cancel();
  }
  const neither = await post(`${relay.url}/v1/messages`, MESSAGES, {
    "x-api-key": "rly_client_token_0002",
    authorization: "Bearer rly_client_token_0003",
  });
  assert.equal(neither.status, 401);
  await neither.body?.cancel();
  const health = await fetch(`${relay.url}/health`);
  assert.equal(health.status, 200, "health needs no token");
  await health.body?.cancel();
  assert.equal(upstream.requests.length, 3);
  for (const { headers } of upstream.requests) {
    assert.ok(
      ![...headers.values()].some((value) => value.includes("users-own-key")),
      "no client credential",
    );
  }
  await upstream.close();
});

Deno.test("request ids: the client's x-request-id is kept, else one is made; both ids are logged", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const given = await post(`${relay.url}/v1/messages`, MESSAGES, { "x-request-id": "trace-123" });
  assert.equal(given.headers.get("x-request-id"), "trace-123");
  await given.text();
  const log = await relay.nextRequestLog();
  assert.equal(log.request_id, "trace-123");
  assert.match(String(log.upstream_request_id), /^req_mock_/);
  assert.equal(log.outcome, "complete");
  assert.equal(log.key, "sk-ant-...x7f2");
  assert.equal(typeof log.ttfb_ms, "number");

  const forged = await post(`${relay.url}/v1/messages`, MESSAGES, { "x-request-id": 'a" b\n' });
  assert.match(forged.headers.get("x-request-id")!, /^relay_[0-9a-f]{32}$/);
  await forged.text();
  assert.ok(!JSON.stringify(relay.logs).includes(PROVIDER_KEY), "the provider key is never logged");
  await upstream.close();
});

Deno.test("count_tokens and models are relayed; unstreamed messages come back as JSON", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const messages = '"messages":[{"role":"user","content":"hi"}]';
  const count = await post(`${relay.url}/v1/messages/count_tokens`, `{"model":"m",${messages}}`);
  assert.equal(typeof (await count.json()).input_tokens, "number");
  const models = await fetch(`${relay.url}/v1/models?limit=1000`);
  assert.ok(Array.isArray((await models.json()).data));
  assert.equal(upstream.requests.at(-1)!.path, "/v1/models?limit=1000");
  const message = await post(`${relay.url}/v1/messages`, `{"model":"m","max_tokens":5,${messages}}`);
  assert.equal((await message.json()).type, "message");
  await upstream.close();
});

Deno.test("shutdown lets an in-flight stream finish, then stops", async () => {
  const { stream, upstream } = controlledUpstream();
  const relay = startTestRelay({ upstreamUrl: upstream.url });
  const pending = post(`${relay.url}/v1/messages`, MESSAGES);
  stream.push("event: message_start\ndata: {}\n\n");
  const response = await pending;
  const stopping = relay.server.shutdown(60_000);
  stream.push("event: message_stop\ndata: {}\n\n");
  stream.end();
  assert.equal(await response.text(), "event: message_start\ndata: {}\n\nevent: message_stop\ndata: {}\n\n");
  assert.deepEqual(await stopping, { cut: false });
  await upstream.close();
});

Deno.test("shutdown ends streams still open when the grace period ends, telling their clients it did, tokens logged", async () => {
  const { stream, upstream } = controlledUpstream();
  const relay = startTestRelay({ upstreamUrl: upstream.url });
  const pending = post(`${relay.url}/v1/messages`, MESSAGES);
  const start = 'event: message_start\ndata: {"message":{"usage":{"input_tokens":10,"output_tokens":1}}}\n\n';
  stream.push(start);
  const response = await pending;
  assert.equal(relay.server.inFlight.size, 1);
  const [stopped, text] = await Promise.all([relay.server.shutdown(20), response.text()]);
  assert.deepEqual(stopped, { cut: true });
  const cut = "relay shut down before the upstream finished (server.shutdown_grace)";
  assert.equal(
    text,
    `${start}event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"${cut}"}}\n\n`,
    "relay's doing, not the upstream's",
  );
  assert.equal(relay.server.inFlight.size, 0);
  const line = await relay.nextRequestLog();
  assert.deepEqual(
    [line.status, line.outcome, line.error, line.input_tokens, line.output_tokens, line.message],
    [200, "relay_error", cut, 10, 1, undefined],
    "relay cut it, not the upstream; what the upstream used stands",
  );
  await stream.cancelled;
  await upstream.close();
});

for (const path of ["/v1/messages", "/v1/chat/completions"]) {
  Deno.test(`an upload to ${path} still under way when shutdown's grace runs out gets a 503, logged as cut by the shutdown`, async () => {
    const upstream = startFakeUpstream();
    const relay = startTestRelay({ upstreamUrl: upstream.url });
    const { hostname, port } = new URL(relay.url);
    const connection = await Deno.connect({ hostname, port: Number(port) });
    await connection.write(new TextEncoder().encode(
      `POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n` +
        "expect: 100-continue\r\n\r\n",
    ));
    // The server says "continue" once relay starts reading the body.
    const head = new Uint8Array(64);
    const read = await connection.read(head);
    assert.match(new TextDecoder().decode(head.subarray(0, read ?? 0)), /^HTTP\/1\.1 100 /);
    await connection.write(new TextEncoder().encode("{"));
    const [stopped, answer] = await Promise.all([relay.server.shutdown(0), answerOnConnection(connection)]);
    assert.deepEqual(stopped, { cut: true });
    assert.match(answer, /^HTTP\/1\.1 503 /, "the client is told, not left with a dropped connection");
    assert.match(answer, /\r\nretry-after: 1\r\n/i);
    assert.match(answer, /"type":"overloaded_error"/);
    assert.match(answer, /"message":"relay is shutting down \(server.shutdown_grace is over\)/);
    const line = await relay.nextRequestLog();
    assert.deepEqual([line.path, line.status, line.outcome], [path, 503, "relay_error"]);
    assert.match(String(line.error), /^relay is shutting down/);
    assert.equal(upstream.requests.length, 0);
    connection.close();
    await upstream.close();
  });
}

/**
 * A provider named `name` that answers once the test resolves `answer`; `sent` is the request relay sent
 * it. With `headersFirst` it says its headers came as soon as it is sent, as Bedrock's adapter does.
 */
function answersWhenTold(name: string, headersFirst = false) {
  const sent = Promise.withResolvers<ProviderRequest>();
  const answer = Promise.withResolvers<Response>();
  const provider: Provider = {
    name,
    type: "test",
    send: (request) => {
      sent.resolve(request);
      if (headersFirst) request.onHeaders?.();
      return answer.promise;
    },
  };
  return { provider, sent: sent.promise, answer };
}

Deno.test("a provider that answers only after its first event gets timeouts.first_byte once its headers came", async () => {
  for (const [headersFirst, status] of [[true, 200], [false, 504]] as const) {
    const { provider, sent, answer } = answersWhenTold("slow", headersFirst);
    const clock = new FakeClock();
    await using relay = startTestRelay({ provider, timeouts: { connect: 1, firstByte: 100 }, clock });
    const pending = post(`${relay.url}/v1/messages`, MESSAGES);
    const { signal } = await sent;
    assert.deepEqual(clock.armed, [1], "connect, from the send");
    // Its headers in, the wait is first_byte's.
    if (headersFirst) await armedBefore(clock, 100, pending);
    // Answers well after the 1 ms connect deadline, as Bedrock does while it waits for its first frame.
    clock.advance(30);
    assert.equal(signal.aborted, !headersFirst);
    answer.resolve(sseChunks(['event: message_start\ndata: {"type":"message_start"}\n\n']));
    const response = await pending;
    assert.equal(response.status, status);
    await response.body?.cancel();
  }
});

Deno.test("an unstreamed answer gets one first_byte in all, however late its adapter says its headers came", async () => {
  const { provider, sent, answer } = answersWhenTold("late");
  const clock = new FakeClock();
  await using relay = startTestRelay({ provider, timeouts: { firstByte: 90 }, clock });
  const pending = post(`${relay.url}/v1/messages`, '{"model":"m","max_tokens":5,"messages":[]}');
  const request = await sent;
  assert.deepEqual(clock.armed, [90], "first_byte, from the send; no connect");
  clock.advance(60);
  // Bedrock's adapter says when its headers came whether or not the request streams.
  request.onHeaders?.();
  clock.advance(60);
  assert.equal(request.signal.aborted, true);
  answer.resolve(Response.json({ type: "message", content: [] }));
  const response = await pending;
  assert.equal(response.status, 504, "120 ms is over first_byte's 90, counted from the send");
  await response.body?.cancel();
});

Deno.test("a provider that answers after its first event has timeouts.connect for headers, then first_byte", async () => {
  const sent: ProviderRequest[] = [];
  const silent = (headersFirst: boolean): Provider => ({
    name: "silent",
    type: "test",
    send: (request) => {
      sent.push(request);
      if (headersFirst) request.onHeaders?.();
      return new Promise((_, reject) =>
        request.signal.addEventListener("abort", () => reject(request.signal.reason))
      );
    },
  });
  for (const [headersFirst, field] of [[false, "connect"], [true, "first_byte"]] as const) {
    const clock = new FakeClock();
    await using relay = startTestRelay({
      provider: silent(headersFirst),
      timeouts: { connect: 20, firstByte: 40 },
      clock,
    });
    const pending = post(`${relay.url}/v1/messages`, MESSAGES);
    const ms = field === "connect" ? 20 : 40;
    await armedBefore(clock, ms, pending);
    const { signal } = sent.at(-1)!;
    clock.advance(ms - 1);
    assert.equal(signal.aborted, false, `not before ${ms} ms`);
    clock.advance(1);
    assert.equal(signal.aborted, true, `at ${ms} ms`);
    await assertTimedOut(pending, `upstream silent did not answer within ${ms} ms (timeouts.${field})`);
  }
});

Deno.test("a body handed over with the request is used in place of its bytes, checked the same way", async (t) => {
  const sent: ProviderRequest[] = [];
  const provider: Provider = {
    name: "up",
    type: "test",
    send: (request) => {
      sent.push(request);
      return Promise.resolve(Response.json({ type: "message", content: [] }));
    },
  };
  const handedOver = new WeakMap<Request, Record<string, unknown>>();
  const app = new Hono<RelayEnv>();
  app.use(requestId());
  app.post("/v1/messages", relay(optionsOver(provider, (request) => handedOver.get(request))));
  const call = async (bytes: string, parsed?: Record<string, unknown>) => {
    const request = new Request("http://relay/v1/messages", { method: "POST", body: bytes });
    if (parsed) handedOver.set(request, parsed);
    const response = await app.fetch(request);
    return { status: response.status, body: await response.json() };
  };
  const refused = (message: string) => ({
    status: 400,
    body: { type: "error", error: { type: "invalid_request_error", message } },
  });

  await t.step("routed by the object; its bytes go upstream untouched", async () => {
    const bytes = '{"model":"claude-in-bytes", "stream":true}';
    assert.equal((await call(bytes, { model: "claude-handed-over", stream: false })).status, 200);
    const request = sent.pop()!;
    assert.equal(request.model, "claude-handed-over");
    assert.equal(request.stream, false);
    assert.deepEqual(request.body, new TextEncoder().encode(bytes));
  });
  await t.step("the object is checked as bytes are, with the same messages", async () => {
    const valid = '{"model":"claude-in-bytes"}';
    assert.deepEqual(
      await call(valid, { model: 42 }),
      refused("model: field required (a non-empty string), got a number"),
    );
    assert.deepEqual(
      await call(valid, { model: "m", stream: "yes" }),
      refused("stream: expected a boolean, got a string"),
    );
  });
  await t.step(
    "a size limit still holds: twice the client's, which a translation may pass by a little",
    async () => {
      const over = JSON.stringify({ model: "m", pad: "x".repeat(1100) });
      assert.equal((await call(over, { model: "m" })).status, 200);
      sent.pop();
      const big = JSON.stringify({ model: "m", pad: "x".repeat(4096) });
      assert.equal((await call(big, { model: "m" })).status, 413);
    },
  );
  await t.step("a request without one is parsed from its bytes, as before", async () => {
    assert.deepEqual(
      await call('{"model": '),
      refused("request body is not valid JSON: Unexpected end of JSON input"),
    );
    assert.deepEqual(
      await call('{"model": ""}'),
      refused("model: field required (a non-empty string), got an empty string"),
    );
    assert.deepEqual(
      await call('{"model": "m", "stream": 1}'),
      refused("stream: expected a boolean, got a number"),
    );
    assert.equal((await call('{"model":"claude-in-bytes","stream":true}')).status, 200);
    assert.equal(sent.pop()!.model, "claude-in-bytes");
  });
  assert.equal(sent.length, 0, "nothing refused reached the provider");
});

/** relay over one provider, without a server: what `createApp` would give it, quiet and quick. */
Deno.test("an upload stalled mid-body gets 408 naming server.body_timeout, without the client sending more", async () => {
  const provider: Provider = {
    name: "up",
    type: "test",
    send: () => Promise.reject(new Error("not reached")),
  };
  const app = new Hono<RelayEnv>();
  app.use(requestId());
  const clock = new FakeClock();
  app.post(
    "/v1/messages",
    relay({ ...optionsOver(provider, undefined), bodyTimeoutMs: 50, now: clock.now, timers: clock }),
  );
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  using connection = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await connection.write(new TextEncoder().encode(
    "POST /v1/messages HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n" +
      '{"model":"claude-sonnet-4-5",',
  ));
  // The client sends nothing more; the answer comes anyway.
  const answer = answerOnConnection(connection);
  await armedBefore(clock, 50, answer);
  clock.advance(50);
  const text = await answer;
  assert.match(text, /^HTTP\/1\.1 408 /);
  assert.match(text, /\r\nconnection: close\r\n/i);
  assert.match(
    text,
    /"type":"invalid_request_error","message":"request body did not arrive within 50 ms \(server.body_timeout\)"/,
  );
});

function optionsOver(provider: Provider, parsedBody: RelayOptions["parsedBody"]): RelayOptions {
  const route = {
    provider,
    keys: [{ secret: PROVIDER_KEY, label: "sk-...x7f2" }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
  return {
    router: new Router([route], TEST_ROUTING),
    logger: createLogger({ write: () => {} }),
    maxBodyBytes: 1024,
    inFlight: new InFlight(),
    limiter: new ConcurrencyLimiter({ max: 4, maxQueue: 4 }),
    queueTimeoutMs: 1000,
    retry: { maxAttempts: 1, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 }, maxWaitMs: 0 },
    parsedBody,
  };
}

Deno.test("a request listener that throws is logged, and the request still gives back its slot", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    maxConcurrent: 1,
    maxQueue: 0,
    onRequest: () => {
      throw new Error("listener broke");
    },
  });
  for (let turn = 0; turn < 2; turn++) {
    const response = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body:
        '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}',
    });
    assert.equal(response.status, 200, `turn ${turn}: the one slot is free again`);
    await response.arrayBuffer();
    await relay.nextRequestLog();
  }
  assert.ok(
    relay.logs.some((line) =>
      line.msg === "request listener failed" && line.error === "Error: listener broke"
    ),
  );
  await upstream.close();
});

Deno.test("a request relay refuses before any upstream sees it spends none of its client's rpm", async () => {
  const token = "rly_ci_token_0002";
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    models: { "claude-sonnet-4-5": "claude-sonnet-4-5" },
    clients: new ClientRegistry([{ name: "ci", token, rpm: 1 }]),
  });
  const unserved = await post(`${relay.url}/v1/messages`, MESSAGES.replace("claude-sonnet-4-5", "gpt-9"), {
    "x-api-key": token,
  });
  assert.equal(unserved.status, 404);
  await unserved.body?.cancel();
  const served = await post(`${relay.url}/v1/messages`, MESSAGES, { "x-api-key": token });
  assert.equal(served.status, 200, "the 404 did not use up the one request a minute");
  await served.text();
  const over = await post(`${relay.url}/v1/messages`, MESSAGES, { "x-api-key": token });
  assert.equal(over.status, 429);
  await over.body?.cancel();
  await upstream.close();
});

Deno.test("an upstream's redirect is a 502 naming it, never passed on for the client to follow", async () => {
  const upstream = startFakeUpstream(() =>
    new Response(null, { status: 301, headers: { location: "https://api.example/v1/messages" } })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const response = await post(`${relay.url}/v1/messages`, MESSAGES);
  assert.equal(response.status, 502);
  assert.equal(response.headers.get("location"), null);
  assert.equal(
    (await response.json()).error.message,
    "upstream upstream redirected (301) to https://api.example/v1/messages; relay does not follow redirects: " +
      "check the provider's base_url",
  );
  assert.equal((await relay.nextRequestLog()).outcome, "relay_error");
  await upstream.close();
});

Deno.test("a redirecting provider is asked once a request: no retry, nor a held request's last resort every second", async () => {
  const upstream = startFakeUpstream(() =>
    new Response(null, { status: 302, headers: { location: "https://api.example/v1/messages" } })
  );
  // A held request would look again every second of max_wait on this clock, which never moves.
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    clock: new FakeClock(),
    retry: { maxAttempts: 3, maxWaitMs: 30_000 },
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 } },
  });
  for (const request of [1, 2]) {
    const leave = new AbortController();
    const answer = post(`${relay.url}/v1/messages`, MESSAGES, {}, leave.signal);
    const settled = await settlesWithin(answer, 5_000);
    if (!settled) leave.abort();
    assert.ok(settled, `request ${request} answered at once, its breaker open or not`);
    const response = await answer;
    await response.body?.cancel();
    assert.equal(response.status, 502);
    assert.equal(upstream.requests.length, request, "one try a request");
  }
  await upstream.close();
});

Deno.test("a redirect is named by the origin and path it really points to, never its query, where a key would sit", async () => {
  const key = "base64/key+with=signs0123";
  const everyByte = [...new TextEncoder().encode(key)].map((byte) => `%${byte.toString(16)}`).join("");
  const cases: [string, string][] = [
    // The key as written, percent-encoded, every byte escaped after a malformed `%`.
    [
      `http://other.example/v1/messages?api_key=${key}`,
      "http://other.example/v1/messages (its query left out)",
    ],
    [`http://other.example/v1?k=${encodeURIComponent(key)}`, "http://other.example/v1 (its query left out)"],
    [`http://other.example/x?p=100%&api_key=${everyByte}`, "http://other.example/x (its query left out)"],
    // A host that only looks like the upstream's is named as the one it is; escapes stay escaped.
    ["http://127.0.0.1:1%2F@evil.example/v1", "http://evil.example/v1"],
    ["http://h.example/a%0Ab%E2%80%AEcba", "http://h.example/a%0Ab%E2%80%AEcba"],
    [`/v1/${key}/messages`, `/v1/${maskSecret(key)}/messages`],
  ];
  for (const [location, shown] of cases) {
    const upstream = startFakeUpstream(() => new Response(null, { status: 307, headers: { location } }));
    await using relay = startTestRelay({ upstreamUrl: upstream.url, keys: [key] });
    const response = await post(`${relay.url}/v1/messages`, MESSAGES);
    assert.equal(response.status, 502);
    const { message } = (await response.json()).error;
    const expected = shown.startsWith("/") ? `${upstream.url}${shown}` : shown;
    assert.ok(
      message.includes(` to ${expected}; relay does not follow redirects`),
      `${location}: ${message}`,
    );
    await relay.nextRequestLog();
    const logged = JSON.stringify(relay.logs);
    assert.ok(!logged.includes(key) && !logged.includes(everyByte), "nowhere in the log");
    await upstream.close();
  }
});

Deno.test("a client that leaves during the backoff after an upstream error leaves no exchange open", async () => {
  const upstream = startFakeUpstream(() =>
    Response.json({ type: "error", error: { type: "api_error", message: "boom" } }, {
      status: 500,
      headers: { "retry-after": "30" },
    })
  );
  const clock = new FakeClock();
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    retry: { maxAttempts: 2, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 60_000 } },
    clock,
  });
  const client = new AbortController();
  // Bounded: a backoff on another clock would never end here.
  const bounded = AbortSignal.any([client.signal, AbortSignal.timeout(5_000)]);
  const pending = post(`${relay.url}/v1/messages`, MESSAGES, {}, bounded);
  // Relay now backs off for the 500's retry-after before asking again.
  await armedBefore(clock, 30_000, pending);
  client.abort();
  await assert.rejects(pending);
  assert.equal((await relay.nextRequestLog()).outcome, "client_closed");
  assert.equal(relay.server.inFlight.size, 0, "the kept 500's exchange ended with the request");
  assert.deepEqual(clock.armed, [], "so did its backoff");
  assert.equal(upstream.requests.length, 1);
  await upstream.close();
});

Deno.test("a request queued for a slot gets a 503 naming server.queue_timeout once it waited that long", async () => {
  const stream = controlledStream();
  const clock = new FakeClock();
  await using relay = startTestRelay({
    provider: inProcess(() => stream.response()),
    maxConcurrent: 1,
    maxQueue: 1,
    clock,
  });
  // The one slot goes to a stream under way, which keeps it.
  stream.push('event: message_start\ndata: {"type":"message_start"}\n\n');
  const streaming = await post(`${relay.url}/v1/messages`, MESSAGES);
  // Bounded: a queue_timeout on another clock would not end in the test's time.
  const queued = post(`${relay.url}/v1/messages`, MESSAGES, {}, AbortSignal.timeout(5_000));
  await armedBefore(clock, 30_000, queued);
  clock.advance(30_000);
  const response = await queued;
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.deepEqual((await response.json()).error, {
    type: "overloaded_error",
    message: "relay is at capacity: no slot freed within 30000 ms (server.queue_timeout)",
  });
  const line = await relay.nextRequestLog();
  assert.deepEqual([line.status, line.outcome, line.attempts], [503, "relay_error", 0]);
  await streaming.body?.cancel();
});

Deno.test("a client that stops reading is given up on once timeouts.idle is over on relay's clock", async () => {
  const stream = controlledStream();
  const clock = new FakeClock();
  const ended: LogFields[] = [];
  const app = new Hono<RelayEnv>();
  app.use(requestId());
  app.post(
    "/v1/messages",
    relay({
      ...optionsOver(inProcess(() => stream.response()), undefined),
      now: clock.now,
      timers: clock,
      onRequest: (line) => ended.push(line),
    }),
  );
  stream.push('event: message_start\ndata: {"type":"message_start"}\n\n');
  const response = await app.fetch(
    new Request("http://relay/v1/messages", { method: "POST", body: MESSAGES }),
  );
  // In process, nothing reads ahead for the client: once it has the head, it asks for nothing more.
  await response.body!.getReader().read();
  clock.advance(TEST_TIMEOUTS.idle - 1);
  assert.equal(ended.length, 0, "not given up on yet");
  clock.advance(1);
  assert.deepEqual(
    [ended[0]?.outcome, ended[0]?.message],
    ["client_closed", `client read nothing for ${TEST_TIMEOUTS.idle} ms (timeouts.idle)`],
  );
  await stream.cancelled;
});

Deno.test("a client that stops reading is given up on after timeouts.idle, freeing its slot and upstream, at the front door too", async (t) => {
  const event = (type: string, data: Record<string, unknown>) =>
    new TextEncoder().encode(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const delta = event("content_block_delta", {
    index: 0,
    delta: { type: "text_delta", text: "x".repeat(64 * 1024) },
  });
  // An answer that never ends, as fast as relay reads it.
  const upstream = startFakeUpstream(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(event("message_start", {
            message: { id: "msg_1", role: "assistant", model: "m", content: [], usage: { input_tokens: 1 } },
          }));
          controller.enqueue(
            event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
          );
        },
        pull(controller) {
          controller.enqueue(delta);
        },
      }, { highWaterMark: 0 }),
      { headers: { "content-type": "text/event-stream" } },
    )
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url, timeouts: { idle: 250 } });
  const { port } = new URL(relay.url);
  for (const path of ["/v1/messages", "/v1/chat/completions"]) {
    await t.step(path, async () => {
      using connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
      await connection.write(new TextEncoder().encode(
        `POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n` +
          `content-length: ${MESSAGES.length}\r\n\r\n${MESSAGES}`,
      ));
      const head = new Uint8Array(64);
      await connection.read(head);
      assert.match(new TextDecoder().decode(head), /^HTTP\/1\.1 200 /);
      // The client reads no more: relay fills the connection's buffers, then waits on it.
      const line = await relay.nextRequestLog();
      assert.deepEqual(
        [line.status, line.outcome, line.message],
        [200, "client_closed", "client read nothing for 250 ms (timeouts.idle)"],
      );
      await (await upstream.nextRequest()).disconnected;
      assert.equal(relay.server.inFlight.size, 0);
    });
  }
  await upstream.close();
});
