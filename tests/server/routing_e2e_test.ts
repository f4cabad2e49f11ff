/**
 * The request lifecycle over real HTTP: choose provider and key, send, hold the client's answer until
 * the upstream commits, then stream. Upstream request counts are read at the fake upstreams, so a
 * duplicate request or an unreported attempt fails here.
 */
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { createAnthropicProvider } from "../../src/providers/anthropic.ts";
import { ClientRegistry } from "../../src/ledger/clients.ts";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { createBedrockProvider } from "../../src/providers/bedrock.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import type { Route } from "../../src/routing/router.ts";
import { maskSecret } from "../../src/util/mask.ts";
import {
  controlledStream,
  type FakeHandler,
  MESSAGE_ANSWER,
  sseChunks,
  startFakeUpstream,
  textAnswerStream,
} from "../_helpers/fake_upstream.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { bedrockError, startFakeBedrock } from "../_helpers/fake_bedrock.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";
import { armedBefore, startTestRelay, TEST_TIMEOUTS } from "../_helpers/relay.ts";
import { assembledResponse } from "../_helpers/anthropic_grammar.ts";

const STREAM =
  '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}';
const RETRY = { maxAttempts: 3, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 }, maxWaitMs: 0 };

function routeTo(name: string, url: string, keys: string[] = [`sk-${name}-key-000000000000`]): Route {
  return {
    provider: createAnthropicProvider({ name, type: "anthropic", baseUrl: url, authHeader: "x-api-key" }),
    keys: keys.map((secret) => ({ secret, label: maskSecret(secret) })),
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
}

function post(url: string, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: STREAM,
    signal,
  });
}

/** An OpenAI-compatible provider, which has no count_tokens and cannot take a document by URL. */
function openaiRoute(url: string): Route {
  return {
    provider: createOpenAIProvider({ name: "oai", baseUrl: `${url}/v1` }),
    keys: [{ secret: "sk-oai-key-0000000000", label: "sk-...0000" }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
}

/** A request only an Anthropic-format upstream can take. */
const DOCUMENT_BY_URL = {
  model: "claude-sonnet-4-5",
  max_tokens: 64,
  messages: [{
    role: "user",
    content: [{ type: "document", source: { type: "url", url: "https://example.com/a.pdf" } }],
  }],
};

const status = (
  code: number,
  type: string,
  headers: Record<string, string> = {},
  message = `${code} from fake`,
): FakeHandler =>
() => Response.json({ type: "error", error: { type, message } }, { status: code, headers });

Deno.test("a 529 before the stream moves to the next provider; the client sees only the success", async () => {
  const down = startFakeUpstream(status(529, "overloaded_error"));
  const up = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("down", down.url), routeTo("up", up.url)],
    retry: RETRY,
  });
  const response = await post(relay.url);
  assert.equal(response.status, 200);
  assert.equal((await assembledResponse(response)).message.stop_reason, "end_turn");
  const log = await relay.nextRequestLog();
  assert.equal(log.attempts, 2);
  assert.equal(log.provider, "up");
  assert.deepEqual([down.requests.length, up.requests.length], [1, 1], "one upstream request per attempt");
  assert.ok(relay.logs.some((line) => line.msg === "attempt failed" && line.provider === "down"));
  await Promise.all([down.close(), up.close()]);
});

Deno.test("the last attempt's failure says nothing follows, the others what does", async () => {
  const down = startFakeUpstream(status(529, "overloaded_error"));
  await using relay = startTestRelay({
    routes: [routeTo("down", down.url), routeTo("down2", down.url)],
    retry: { ...RETRY, maxAttempts: 2 },
  });
  await (await post(relay.url)).arrayBuffer();
  await relay.nextRequestLog();
  const failed = relay.logs.filter((line) => line.msg === "attempt failed");
  assert.deepEqual(failed.map((line) => line.next), ["retry_next_provider", "none (routing.max_attempts)"]);
  await down.close();
});

Deno.test("an error event before message_start is retried like a 529", async () => {
  const flaky = startFakeUpstream(() =>
    sseChunks([
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    ])
  );
  const up = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("flaky", flaky.url), routeTo("up", up.url)],
    retry: RETRY,
  });
  const response = await post(relay.url);
  assert.equal((await assembledResponse(response)).message.stop_reason, "end_turn");
  assert.deepEqual([flaky.requests.length, up.requests.length], [1, 1]);
  await Promise.all([flaky.close(), up.close()]);
});

Deno.test("a stream that ends with nothing but pings is retried elsewhere, or a 502 when nobody else can", async () => {
  const pings = startFakeUpstream(() =>
    new Response('event: ping\ndata: {"type": "ping"}\n\n', {
      headers: { "content-type": "text/event-stream" },
    })
  );
  const up = startFakeUpstream();
  {
    await using relay = startTestRelay({
      routes: [routeTo("pings", pings.url), routeTo("up", up.url)],
      retry: RETRY,
    });
    const response = await post(relay.url);
    assert.equal(response.status, 200);
    assert.equal((await assembledResponse(response)).message.stop_reason, "end_turn");
    assert.deepEqual([(await relay.nextRequestLog()).provider, up.requests.length], ["up", 1]);
  }
  {
    await using relay = startTestRelay({ routes: [routeTo("pings", pings.url)], retry: RETRY });
    const response = await post(relay.url);
    assert.equal(response.status, 502);
    assert.equal(
      (await response.json()).error.message,
      "upstream pings ended its stream before its first event",
    );
    assert.equal((await relay.nextRequestLog()).outcome, "relay_error");
  }
  await Promise.all([pings.close(), up.close()]);
});

Deno.test("a 400 is returned at once, unchanged, without trying anyone else", async () => {
  const bad = startFakeUpstream(status(400, "invalid_request_error"));
  const other = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("bad", bad.url), routeTo("other", other.url)],
    retry: RETRY,
  });
  const response = await post(relay.url);
  assert.equal(response.status, 400);
  assert.equal((await response.json()).error.message, "400 from fake");
  assert.deepEqual([bad.requests.length, other.requests.length], [1, 0]);
  await Promise.all([bad.close(), other.close()]);
});

Deno.test("a 401 takes the key out of rotation, says so in the log, and the next key serves", async () => {
  const keys = ["sk-ant-api03-revoked-0000000x7f2", "sk-ant-api03-working-0000000a1b2"];
  const upstream = startFakeUpstream((request, recorded) =>
    recorded.headers.get("x-api-key") === keys[0]
      ? status(401, "authentication_error")(request, recorded)
      : startFakeUpstreamDefault(request, recorded)
  );
  await using relay = startTestRelay({ routes: [routeTo("a", upstream.url, keys)], retry: RETRY });
  for (let i = 0; i < 3; i++) assert.equal((await post(relay.url)).status, 200);
  assert.equal(
    upstream.requests.filter((r) => r.headers.get("x-api-key") === keys[0]).length,
    1,
    "tried once",
  );
  const disabled = relay.logs.find((line) => line.msg === "key disabled");
  assert.equal(disabled?.key, "sk-ant-...x7f2");
  assert.ok(!JSON.stringify(relay.logs).includes(keys[0]), "the key itself is never logged");
  await upstream.close();
});

Deno.test("once bytes reached the client nothing is retried: a mid-stream failure ends the stream cleanly", async () => {
  const breaks = startFakeUpstream();
  const other = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("breaks", breaks.url), routeTo("other", other.url)],
    retry: RETRY,
  });
  const response = await post(relay.url, { "x-relay-mock": "fault=mid_stream_error, fault_after=3" });
  assert.equal(response.status, 200);
  const { error } = await assembledResponse(response);
  assert.equal(error?.type, "overloaded_error");
  assert.deepEqual([breaks.requests.length, other.requests.length], [1, 0]);
  await Promise.all([breaks.close(), other.close()]);
});

Deno.test("streams an upstream breaks off after message_start open its breaker: the next request goes elsewhere", async () => {
  const breaks = startFakeUpstream();
  const other = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("breaks", breaks.url), routeTo("other", other.url)],
    retry: RETRY,
    routing: { breaker: { failureThreshold: 2, windowMs: 60_000, cooldownMs: 30_000 } },
  });
  for (let i = 0; i < 2; i++) {
    const response = await post(relay.url, { "x-relay-mock": "fault=mid_stream_error, fault_after=3" });
    assert.equal((await assembledResponse(response)).error?.type, "overloaded_error");
    assert.equal((await relay.nextRequestLog()).outcome, "upstream_failed");
  }
  const after = await post(relay.url);
  assert.equal((await assembledResponse(after)).error, undefined);
  assert.equal((await relay.nextRequestLog()).provider, "other", "breaks is open");
  assert.deepEqual([breaks.requests.length, other.requests.length], [2, 1]);
  await Promise.all([breaks.close(), other.close()]);
});

Deno.test("with the only provider's breaker open, a request goes to it as the probe, early: back, it serves at once", async () => {
  for (const lastResort of [true, false]) {
    let down = true;
    const changes: string[] = [];
    const clock = new FakeClock();
    const only = startFakeUpstream((request, recorded) =>
      down ? status(500, "api_error")(request, recorded) : startFakeUpstreamDefault(request, recorded)
    );
    await using relay = startTestRelay({
      routes: [routeTo("only", only.url)],
      retry: RETRY,
      clock,
      routing: {
        breaker: { failureThreshold: 2, windowMs: 60_000, cooldownMs: 30_000 },
        lastResort,
        onBreakerChange: ({ key, from, to }) => changes.push(`${key ? "key" : "provider"} ${from}->${to}`),
      },
    });
    for (let i = 0; i < 2; i++) {
      const failed = await post(relay.url);
      assert.equal(failed.status, 500);
      await failed.body?.cancel();
      await relay.nextRequestLog();
    }
    assert.deepEqual(changes, ["key closed->open", "provider closed->open"]);
    const asked = only.requests.length;
    const refused = await post(relay.url);
    if (!lastResort) {
      assert.equal(refused.status, 503, "lastResort off: refused for the cooldown");
      assert.ok(Number(refused.headers.get("retry-after")) >= 30);
      await refused.body?.cancel();
      assert.equal(only.requests.length, asked, "not asked");
      await only.close();
      continue;
    }
    assert.equal(refused.status, 500, "the upstream's own answer, as a direct client would get it");
    await refused.body?.cancel();
    const line = await relay.nextRequestLog();
    assert.deepEqual(
      [line.provider, line.attempts, only.requests.length - asked],
      ["only", 1, 1],
      "sent once",
    );
    down = false;
    clock.advance(1_000); // early probes go a second apart
    const back = await post(relay.url);
    assert.equal(back.status, 200);
    assert.equal((await assembledResponse(back)).error, undefined);
    assert.equal((await relay.nextRequestLog()).provider, "only");
    assert.deepEqual(changes.slice(2), [
      "provider open->closed",
      "key open->closed",
    ], "the last resort's first event closed the breakers, with no cooldown waited");
    await only.close();
  }
});

Deno.test("with the only provider down, a request is held and asks again every second; one that finds the probe out waits for it", async () => {
  const clock = new FakeClock();
  let down = true;
  const probe = controlledStream();
  const probed = Promise.withResolvers<void>();
  let answered = 0;
  const only = startFakeUpstream((request, recorded) => {
    if (down) return status(500, "api_error")(request, recorded);
    if (++answered > 1) return startFakeUpstreamDefault(request, recorded);
    probed.resolve();
    return probe.response();
  });
  await using relay = startTestRelay({
    routes: [routeTo("only", only.url)],
    retry: { ...RETRY, maxWaitMs: 30_000 },
    clock,
    routing: { breaker: { failureThreshold: 2, windowMs: 60_000, cooldownMs: 30_000 } },
  });
  const failed = await post(relay.url);
  assert.equal(failed.status, 500, "the breaker still closed: the upstream's answer, as before");
  await failed.body?.cancel();
  // The second request's failure opens the breaker: with nowhere else to go, it is held.
  const held = post(relay.url);
  await armedBefore(clock, 1_000, held);
  const asked = only.requests.length;
  clock.advance(1_000);
  await clock.whenArmed(1_000);
  assert.equal(only.requests.length, asked + 1, "asked again a second later, as the breaker's probe");
  down = false;
  clock.advance(1_000);
  await probed.promise;
  const waiting = post(relay.url);
  await armedBefore(clock, 1_000, waiting);
  assert.equal(answered, 1, "the other waits: the probe is out");
  probe.push(textAnswerStream({
    id: "msg_probe",
    text: "back",
    startUsage: { input_tokens: 1, output_tokens: 1 },
    endUsage: { output_tokens: 1 },
  }));
  probe.end();
  assert.equal((await held).status, 200, "the held request, served once the provider is back");
  clock.advance(1_000);
  const served = await waiting;
  assert.equal(served.status, 200, "served a second later, not after the cooldown");
  assert.equal((await assembledResponse(served)).error, undefined);
  await only.close();
});

/** A relay before `routes`, whose breakers open at their first failure, on `clock`. */
function relayBefore(routes: Route[], clock: FakeClock, retry: Partial<typeof RETRY>) {
  return startTestRelay({
    routes,
    retry: { ...RETRY, ...retry },
    clock,
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 } },
  });
}

/** {@linkcode relayBefore} the provider at `url` alone. */
function relayBeforeOnly(url: string, clock: FakeClock, retry: Partial<typeof RETRY>) {
  return relayBefore([routeTo("only", url)], clock, retry);
}

/**
 * Advances `clock` past each wait of a request held by the last resort, its 1 s looks again unless
 * `waits` says more, until it is answered.
 */
async function answeredWhileHeld(
  clock: FakeClock,
  pending: Promise<Response>,
  waits = [1_000],
): Promise<Response> {
  const answered = pending.then(() => undefined);
  for (;;) {
    const due = await Promise.race([...waits.map((ms) => clock.whenArmed(ms).then(() => ms)), answered]);
    if (due === undefined) return await pending;
    clock.advance(due);
  }
}

Deno.test("a request held by the last resort spends routing.max_wait on its tries too, not only on its waits", async () => {
  const clock = new FakeClock();
  const never = Promise.withResolvers<Response>();
  const only = startFakeUpstream(() => never.promise);
  await using relay = relayBeforeOnly(only.url, clock, { maxWaitMs: 5_000 });
  const pending = post(relay.url);
  const answered = pending.then(() => "answered" as const);
  for (;;) {
    if (await Promise.race([only.nextRequest().then(() => "sent" as const), answered]) === "answered") break;
    await clock.whenArmed(TEST_TIMEOUTS.connect);
    clock.advance(TEST_TIMEOUTS.connect); // no answer's head in time: a 504, which opens the breaker
    if (await Promise.race([clock.whenArmed(1_000).then(() => "wait" as const), answered]) === "answered") {
      break;
    }
    clock.advance(1_000);
  }
  const response = await pending;
  await response.body?.cancel();
  never.resolve(new Response(null, { status: 500 }));
  assert.equal(response.status, 504);
  assert.equal(only.requests.length, 2, "its first try, then one last resort: 11 s of the 5 spent");
  await only.close();
});

Deno.test("a last resort the upstream's retry-after would send past routing.max_wait is not sent: its failure is the answer", async () => {
  const clock = new FakeClock();
  const only = startFakeUpstream(status(500, "api_error", { "retry-after": "10" }));
  await using relay = relayBeforeOnly(only.url, clock, {
    maxAttempts: 2,
    maxWaitMs: 5_000,
    backoff: { ...RETRY.backoff, maxRetryAfterMs: 60_000 },
  });
  const response = await answeredWhileHeld(clock, post(relay.url));
  assert.equal(response.status, 500, "the upstream's own answer");
  await response.body?.cancel();
  assert.equal(only.requests.length, 1, "the retry-after's 10 s are past what is left of max_wait");
  const lines = relay.logs.filter((line) => line.msg === "attempt failed").map((line) => line.next);
  assert.deepEqual(lines, ["retry_next_provider"], "the log says what follows, as max_attempts counts it");
  await only.close();
});

Deno.test("last resorts within routing.max_wait count toward no max_attempts, and the log says so", async () => {
  const clock = new FakeClock();
  const only = startFakeUpstream(status(500, "api_error"));
  await using relay = relayBeforeOnly(only.url, clock, { maxAttempts: 2, maxWaitMs: 4_000 });
  const response = await answeredWhileHeld(clock, post(relay.url));
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.equal(only.requests.length, 5, "its first try, then one a second for 4 s");
  const lines = relay.logs.filter((line) => line.msg === "attempt failed").map((line) => line.next);
  assert.deepEqual(lines, Array(5).fill("retry_next_provider"));
  await only.close();
});

Deno.test("beside a key cooling past routing.max_wait, a request whose failure opened the other provider is held, not told of the rate limit", async () => {
  const clock = new FakeClock();
  const limited = startFakeUpstream(status(429, "rate_limit_error", { "retry-after": "3600" }));
  let flakyAnswers = 0;
  const flaky = startFakeUpstream((request, recorded) =>
    ++flakyAnswers === 1
      ? status(500, "api_error")(request, recorded)
      : startFakeUpstreamDefault(request, recorded)
  );
  await using relay = relayBefore([routeTo("limited", limited.url), routeTo("flaky", flaky.url)], clock, {
    maxWaitMs: 30_000,
  });
  const response = await answeredWhileHeld(clock, post(relay.url));
  assert.deepEqual([response.status, flaky.requests.length], [200, 2], await response.text());
  await Promise.all([limited.close(), flaky.close()]);
});

Deno.test("a last resort answered with an hour's rest is held no longer, and later requests hear of the rest at once", async () => {
  const clock = new FakeClock();
  let answers = 0;
  const only = startFakeUpstream((request, recorded) =>
    (++answers === 1 ? status(500, "api_error") : status(429, "rate_limit_error", { "retry-after": "3600" }))(
      request,
      recorded,
    )
  );
  await using relay = relayBeforeOnly(only.url, clock, { maxWaitMs: 30_000 });
  const first = await answeredWhileHeld(clock, post(relay.url));
  assert.deepEqual(
    [first.status, clock.now(), only.requests.length],
    [429, 2_000, 2],
    "its try, a last resort a second on, and a second's look again: the upstream's own 429",
  );
  await first.body?.cancel();
  const second = await answeredWhileHeld(clock, post(relay.url));
  assert.deepEqual([second.status, clock.now(), only.requests.length], [429, 2_000, 2], "relay's, at once");
  assert.match((await second.json()).error.message, /frees up in 60 min/);
  await only.close();
});

Deno.test("held for a provider that keeps failing beside a key spent for days, a request gets the provider's failure, to be sent again", async () => {
  const clock = new FakeClock();
  const spent = "You have reached your weekly usage limit. It resets in 3 days.";
  const limited = startFakeUpstream(status(429, "rate_limit_error", { "retry-after": "259200" }, spent));
  const down = startFakeUpstream(status(500, "api_error"));
  await using relay = relayBefore([routeTo("limited", limited.url), routeTo("down", down.url)], clock, {
    maxWaitMs: 30_000,
  });
  const response = await answeredWhileHeld(clock, post(relay.url));
  assert.deepEqual(
    [response.status, response.headers.get("x-should-retry"), await response.text()],
    [500, null, JSON.stringify({ type: "error", error: { type: "api_error", message: "500 from fake" } })],
    "the upstream's own failure, not relay's 429 telling the client to stop for 3 days",
  );
  assert.equal(clock.now(), 30_000, "held for routing.max_wait");
  await Promise.all([limited.close(), down.close()]);
});

/** The 429 of a key whose plan's limit is spent for days, in its upstream's words. */
const SPENT_FOR_DAYS = status(
  429,
  "rate_limit_error",
  { "retry-after": "259200" },
  "You have reached your weekly usage limit. It resets in 3 days.",
);

Deno.test("a key spent for days, met on the last attempt, is not the client's answer where an earlier failure it would retry is", async () => {
  const [passing, spentKey] = ["sk-a-passing-000000000000", "sk-a-spent-00000000000000"];
  const a = startFakeUpstream((request, recorded) =>
    (request.headers.get("x-api-key") === passing ? status(529, "overloaded_error") : SPENT_FOR_DAYS)(
      request,
      recorded,
    )
  );
  const b = startFakeUpstream(status(500, "api_error"));
  const gone = startFakeUpstream();
  await gone.close(); // its port refuses connections
  // b answers 500, or its connection is refused: relay's 502, which clients send again too.
  for (const [bUrl, answered] of [[b.url, 500], [gone.url, 502]] as const) {
    await using relay = startTestRelay({
      routes: [routeTo("a", a.url, [passing, spentKey]), routeTo("b", bUrl)],
      retry: RETRY,
    });
    const response = await post(relay.url);
    assert.deepEqual(
      [response.status, response.headers.get("x-should-retry")],
      [answered, null],
      "a's 529, b's failure, then a's spent key: b's failure, which Claude Code sends again, to a key not resting",
    );
    await response.body?.cancel();
  }
  assert.deepEqual([a.requests.length, b.requests.length], [4, 1]);
  await Promise.all([a.close(), b.close()]);
});

Deno.test("with routing.breaker.last_resort off, a provider failing for now before a key spent for days: its failure is the answer", async () => {
  const down = startFakeUpstream(status(500, "api_error"));
  const limited = startFakeUpstream(SPENT_FOR_DAYS);
  await using relay = startTestRelay({
    routes: [routeTo("down", down.url), routeTo("limited", limited.url)],
    retry: RETRY,
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 }, lastResort: false },
  });
  const response = await post(relay.url);
  assert.deepEqual(
    [response.status, response.headers.get("x-should-retry")],
    [500, null],
    "not relay's 429 saying the next key frees up in 3 days, do not send again",
  );
  await response.body?.cancel();
  await Promise.all([down.close(), limited.close()]);
});

Deno.test("a request that met a key spent for days, then held for a provider's probe, hears to send again, not to stop", async () => {
  const clock = new FakeClock();
  let spent = false;
  const limited = startFakeUpstream((request, recorded) =>
    (spent ? SPENT_FOR_DAYS : startFakeUpstreamDefault)(request, recorded)
  );
  const never = Promise.withResolvers<Response>();
  let downAnswers = 0;
  const down = startFakeUpstream((request, recorded) =>
    ++downAnswers === 1 ? status(500, "api_error")(request, recorded) : never.promise
  );
  const slowToAnswer = { ...TEST_TIMEOUTS, connect: 100_000 };
  await using relay = relayBefore(
    [{ ...routeTo("down", down.url), timeouts: slowToAnswer }, routeTo("limited", limited.url)],
    clock,
    { maxWaitMs: 30_000 },
  );
  // Three sessions: a conversation sticks to the provider that served it.
  const session = (id: string) => ({ "x-claude-code-session-id": id });
  await (await post(relay.url, session("s0"))).body?.cancel(); // down's failure opens it; limited serves
  clock.advance(40_000); // down's cooldown over
  await down.nextRequest();
  const probed = down.nextRequest();
  const leave = new AbortController();
  const probe = post(relay.url, session("s1"), leave.signal).catch(() => undefined);
  await probed; // down's half-open probe, out for good
  spent = true;
  const response = await answeredWhileHeld(clock, post(relay.url, session("s2")));
  assert.deepEqual(
    [response.status, response.headers.get("retry-after"), response.headers.get("x-should-retry")],
    [503, "1", null],
    "down may be back by the client's next try: not the spent key's 'do not send again'",
  );
  await response.body?.cancel();
  leave.abort();
  await probe;
  never.resolve(new Response(null, { status: 500 }));
  await Promise.all([limited.close(), down.close()]);
});

Deno.test("a last resort's wait for the upstream's retry-after, up to routing.max_retry_after, is spent of routing.max_wait once", async () => {
  // A provider without keys cools none: each last resort waits out the rest of the retry-after (5 s, or
  // max_retry_after's 2 s, from the failure) after its look again (1 s). Sent at 0 and 1 s, then every 5 s
  // (2 s) while within 30 s.
  const cases = [
    { code: 429, type: "rate_limit_error", maxRetryAfterMs: 60_000, heldMs: 27_000, sent: 7 },
    { code: 503, type: "overloaded_error", maxRetryAfterMs: 60_000, heldMs: 27_000, sent: 7 },
    { code: 503, type: "overloaded_error", maxRetryAfterMs: 2_000, heldMs: 30_000, sent: 16 },
  ];
  for (const { code, type, maxRetryAfterMs, heldMs, sent } of cases) {
    const clock = new FakeClock();
    let answers = 0;
    const only = startFakeUpstream((request, recorded) =>
      (++answers === 1 ? status(500, "api_error") : status(code, type, { "retry-after": "5" }))(
        request,
        recorded,
      )
    );
    await using relay = startTestRelay({
      routes: [routeTo("only", only.url, [])],
      retry: { ...RETRY, backoff: { ...RETRY.backoff, maxRetryAfterMs }, maxWaitMs: 30_000 },
      clock,
      routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 120_000 } },
    });
    const response = await answeredWhileHeld(clock, post(relay.url), [1_000, 2_000, 4_000]);
    await response.body?.cancel();
    assert.deepEqual(
      [response.status, clock.now(), only.requests.length],
      [code, heldMs, sent],
      `${code}, max_retry_after ${maxRetryAfterMs} ms`,
    );
    await only.close();
  }
});

Deno.test("a request that found the probe out all along hears, once routing.max_wait is spent, to send again in a second", async () => {
  const clock = new FakeClock();
  const never = Promise.withResolvers<Response>();
  let answers = 0;
  const only = startFakeUpstream((request, recorded) =>
    ++answers === 1 ? status(500, "api_error")(request, recorded) : never.promise
  );
  await using relay = relayBeforeOnly(only.url, clock, { maxWaitMs: 3_000 });
  const first = post(relay.url);
  await armedBefore(clock, 1_000, first);
  const probed = only.nextRequest();
  clock.advance(1_000);
  await probed;
  const waiting = await answeredWhileHeld(clock, post(relay.url));
  assert.deepEqual(
    [waiting.status, waiting.headers.get("retry-after"), clock.now()],
    [503, "1", 4_000],
    "relay asks the provider every second: not told to wait out its cooldown (30 s)",
  );
  await waiting.body?.cancel();
  never.resolve(new Response(null, { status: 500 }));
  await (await first).body?.cancel();
  await only.close();
});

Deno.test("relay's own 503 for providers failing says retry-after 60 at most: Claude Code gives up at once on a longer one", async () => {
  const only = startFakeUpstream(status(500, "api_error"));
  await using relay = startTestRelay({
    routes: [routeTo("only", only.url)],
    retry: RETRY,
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 600_000 }, lastResort: false },
  });
  await (await post(relay.url)).body?.cancel();
  const refused = await post(relay.url);
  assert.deepEqual(
    [refused.status, refused.headers.get("retry-after")],
    [503, "60"],
    "the cooldown is 10 min",
  );
  await refused.body?.cancel();
  await only.close();
});

Deno.test("a provider that cannot serve a request is passed over at once: the next one serves it", async () => {
  const down = startFakeUpstream(status(500, "api_error"));
  const openai = startFakeUpstream();
  const up = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("down", down.url), openaiRoute(openai.url), routeTo("up", up.url)],
    // Two attempts: the provider passed over takes none of them.
    retry: { ...RETRY, maxAttempts: 2 },
  });
  const answered = await fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(DOCUMENT_BY_URL),
  });
  assert.equal(answered.status, 200);
  await answered.body?.cancel();
  const line = await relay.nextRequestLog();
  assert.deepEqual(
    [line.provider, line.status, line.attempts, line.failovers],
    ["up", 200, 2, 1],
    "oai was never asked",
  );
  const passedOver = relay.logs.find((logged) => logged.msg === "provider passed over");
  assert.equal(passedOver?.provider, "oai");
  assert.match(String(passedOver?.reason), /a document of source type "url"/);
  assert.equal(relay.logs.filter((logged) => logged.msg === "attempt failed").length, 1, "down's alone");
  assert.deepEqual([down.requests.length, openai.requests.length, up.requests.length], [1, 0, 1]);

  // count_tokens, which OpenAI-compatible upstreams do not have, with the Anthropic ones down.
  const counted = await fetch(`${relay.url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(counted.status, 200);
  assert.equal((await counted.json()).input_tokens > 0, true);
  assert.equal(openai.requests.length, 0, "nothing ever reached the OpenAI upstream");
  await Promise.all([down.close(), openai.close(), up.close()]);
});

Deno.test("a request only providers that are down could serve (no last resort) is a 503, not the 400 of one that never could", async () => {
  const down = startFakeUpstream(status(500, "api_error"));
  const openai = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("down", down.url), openaiRoute(openai.url)],
    retry: RETRY,
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 }, lastResort: false },
  });
  const body = JSON.stringify(DOCUMENT_BY_URL);
  const send = () =>
    fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
  const first = await send();
  assert.equal(first.status, 500, "down's own answer, passed on: it opened down's breaker");
  await first.body?.cancel();
  const line = await relay.nextRequestLog();
  assert.deepEqual(
    [line.provider, line.status, line.attempts],
    ["down", 500, 1],
    "oai passed over left no trace",
  );
  const second = await send();
  assert.equal(second.status, 503);
  assert.equal((await second.json()).error.type, "overloaded_error");
  assert.ok(Number(second.headers.get("retry-after")) > 0);
  assert.equal(openai.requests.length, 0);
  await Promise.all([down.close(), openai.close()]);
});

Deno.test("count_tokens only a provider without it could take is a 404 at once, whatever that provider's breaker says", async () => {
  const failing = startFakeUpstream(() => new Response("down", { status: 500 }));
  await using relay = startTestRelay({
    routes: [openaiRoute(failing.url)],
    retry: RETRY,
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 } },
  });
  const failed = await post(relay.url);
  assert.equal(failed.status, 500);
  await failed.body?.cancel();
  const counted = await fetch(`${relay.url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(counted.status, 404, "not a 503 to retry: no provider will ever count it");
  assert.match(
    (await counted.json()).error.message,
    /count_tokens is not available from any provider that serves/,
  );
  assert.equal(failing.requests.length, 1);
  await failing.close();
});

Deno.test("a request no provider could serve counts against no client rate", async () => {
  const openai = startFakeUpstream();
  const token = "rly_client_token_rpm_one_0001";
  await using relay = startTestRelay({
    routes: [openaiRoute(openai.url)],
    clients: new ClientRegistry([{ name: "ci", token, rpm: 1 }]),
  });
  // Claude Code counts tokens often: with an rpm of 1, a charged count would make the next one a 429.
  for (let i = 0; i < 3; i++) {
    const counted = await fetch(`${relay.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": token },
      body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(counted.status, 404);
    await counted.body?.cancel();
    const line = await relay.nextRequestLog();
    assert.deepEqual([line.attempts, line.failovers], [0, 0]);
  }
  assert.equal(openai.requests.length, 0);
  await openai.close();
});

Deno.test("an answer in an encoding fetch does not decode is a failure, not bytes passed on as plain", async () => {
  const deflated = startFakeUpstream(() =>
    new Response(new Uint8Array(deflateSync("event: message_start\ndata: {}\n\n")), {
      headers: { "content-type": "text/event-stream", "content-encoding": "deflate" },
    })
  );
  const up = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("deflated", deflated.url), routeTo("up", up.url)],
    retry: RETRY,
  });
  const response = await post(relay.url);
  assert.equal((await assembledResponse(response)).error, undefined);
  assert.equal((await relay.nextRequestLog()).provider, "up");
  const failed = relay.logs.find((line) => line.msg === "attempt failed");
  assert.match(String(failed?.reason), /content-encoding deflate, which relay cannot read/);

  await using alone = startTestRelay({ routes: [routeTo("deflated", deflated.url)], retry: RETRY });
  const refused = await post(alone.url);
  assert.equal(refused.status, 502);
  assert.match((await refused.json()).error.message, /answered in content-encoding deflate/);

  // An error answer so encoded keeps its status and headers: a 429 still cools its key, not a failure.
  const limited = startFakeUpstream(() =>
    new Response(new Uint8Array([40, 181, 47, 253]), {
      status: 429,
      headers: { "content-encoding": "zstd", "retry-after": "7", "content-type": "application/json" },
    })
  );
  await using limitedRelay = startTestRelay({ routes: [routeTo("limited", limited.url)], retry: RETRY });
  const answer = await post(limitedRelay.url);
  assert.deepEqual([answer.status, answer.headers.get("retry-after"), await answer.text()], [429, "7", ""]);
  assert.equal(answer.headers.get("content-encoding"), null);
  await Promise.all([deflated.close(), up.close(), limited.close()]);
});

Deno.test("an upstream's error event quoting the key it was sent is masked in the log and the stream, whatever the key looks like", async () => {
  const key = "my-local-vllm-secret-passphrase";
  const quoting = startFakeUpstream(() =>
    sseChunks([
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":1}}}\n\nevent: error\ndata: {"type":"error","error":{"type":"authentication_error","message":"Incorrect API key provided: my-local-',
      `vllm-secret-passphrase."}}\n\n`,
    ])
  );
  await using relay = startTestRelay({ routes: [routeTo("local", quoting.url, [key])], retry: RETRY });
  const stream = await (await post(relay.url)).text();
  assert.ok(stream.includes(`Incorrect API key provided: ${maskSecret(key)}.`), stream);
  assert.ok(!stream.includes(key), "not in the stream, though it came split across two chunks");
  const line = await relay.nextRequestLog();
  assert.equal(line.message, `Incorrect API key provided: ${maskSecret(key)}.`);
  assert.ok(!JSON.stringify(relay.logs).includes(key), "nowhere in the log");
  await quoting.close();
});

Deno.test("an error answer quoting the key it was sent reaches the client with the key masked, on both front doors", async () => {
  const key = "sk-ant-api03-AAAAbbbbCCCCdddd1111x7f2";
  const quoting = startFakeUpstream(
    status(400, "invalid_request_error", { "x-debug-key": key }, `invalid x-api-key: ${key}`),
  );
  await using relay = startTestRelay({ routes: [routeTo("a", quoting.url, [key])], retry: RETRY });
  const anthropic = await post(relay.url);
  assert.equal(anthropic.status, 400);
  assert.equal(anthropic.headers.get("x-debug-key"), maskSecret(key), "in its headers too");
  assert.equal((await anthropic.json()).error.message, `invalid x-api-key: ${maskSecret(key)}`);
  const openai = await fetch(`${relay.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(openai.status, 400);
  assert.equal((await openai.json()).error.message, `invalid x-api-key: ${maskSecret(key)}`);
  await quoting.close();
});

Deno.test("when every key is cooling, the request waits up to routing.max_wait, then gets a 429 with retry-after", async () => {
  const limited = startFakeUpstream(status(429, "rate_limit_error", { "retry-after": "30" }));
  await using relay = startTestRelay({
    routes: [routeTo("a", limited.url)],
    retry: { ...RETRY, maxWaitMs: 5 },
  });
  const first = await post(relay.url);
  assert.equal(first.status, 429);
  assert.equal(
    (await first.json()).error.message,
    "429 from fake",
    "the upstream's own 429, its headers and body, when it is the last answer",
  );
  const second = await post(relay.url);
  assert.equal(second.status, 429);
  assert.equal(second.headers.get("retry-after"), "30");
  const body = await second.json();
  assert.equal(body.error.type, "rate_limit_error");
  assert.match(body.error.message, /rate limit.*30 s/);
  assert.equal(limited.requests.length, 1, "the cooled key was not asked again");
  await limited.close();
});

/** An upstream that answers with a stream it holds open after `message_start`, until `holding` ends. */
function holdingUpstream() {
  const holding = controlledStream();
  const busy = startFakeUpstream(() => {
    holding.push(
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",' +
        '"role":"assistant","model":"m","content":[],"stop_reason":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n',
    );
    return holding.response();
  });
  return { holding, busy };
}

Deno.test("past routing.max_wait, a wait that was also for a provider at max_in_flight ends in the busy 503", async () => {
  const limited = startFakeUpstream(status(429, "rate_limit_error", { "retry-after": "30" }));
  const { holding, busy } = holdingUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("a", limited.url), { ...routeTo("b", busy.url), maxInFlight: 1 }],
    retry: { ...RETRY, maxWaitMs: 5 },
  });
  // a's key answers 429 and cools for 30 s; b takes the request and holds it.
  const held = await post(relay.url);
  const reader = held.body!.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /message_start/);
  const refused = await post(relay.url);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "1", "b may free up any moment: not a's 30 s");
  const { error } = await refused.json();
  assert.equal(error.type, "overloaded_error");
  assert.match(error.message, /max_in_flight or has its keys at their rate limits/);
  assert.equal(limited.requests.length, 1, "the cooling key was not asked again");
  holding.end();
  await reader.cancel();
  await Promise.all([limited.close(), busy.close()]);
});

Deno.test("a key out for good in its upstream's words, beside a provider at max_in_flight, is not the answer: relay's busy 503 is", async () => {
  const { holding, busy } = holdingUpstream();
  const broke = startFakeUpstream(status(429, "rate_limit_error", {}, "Insufficient balance"));
  await using relay = startTestRelay({
    routes: [{ ...routeTo("b", busy.url), maxInFlight: 1 }, routeTo("a", broke.url)],
    retry: RETRY,
  });
  const held = await post(relay.url); // b takes it and holds it
  const reader = held.body!.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /message_start/);
  const refused = await post(relay.url);
  assert.deepEqual(
    [refused.status, refused.headers.get("retry-after"), refused.headers.get("x-should-retry")],
    [503, "1", null],
    "b frees up any moment: not a's 'do not send again'",
  );
  await refused.body?.cancel();
  assert.equal(broke.requests.length, 1);
  holding.end();
  await reader.cancel();
  await Promise.all([broke.close(), busy.close()]);
});

Deno.test("a request whose only key is cooling waits for its reset, then succeeds", async () => {
  let answered = 0;
  const upstream = startFakeUpstream((request, recorded) =>
    answered++ === 0
      ? status(429, "rate_limit_error", { "retry-after-ms": "50" })(request, recorded)
      : startFakeUpstreamDefault(request, recorded)
  );
  const clock = new FakeClock();
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    retry: { ...RETRY, maxWaitMs: 5_000 },
    clock,
  });
  const pending = post(relay.url);
  await armedBefore(clock, 50, pending);
  clock.advance(50);
  const response = await pending;
  assert.equal(response.status, 200);
  assert.equal((await assembledResponse(response)).message.stop_reason, "end_turn");
  assert.equal((await relay.nextRequestLog()).attempts, 2);
  assert.equal(upstream.requests.length, 2);
  await upstream.close();
});

Deno.test("beyond server.max_concurrent and its queue, requests get 503 overloaded_error with retry-after", async () => {
  const held = Promise.withResolvers<void>();
  const slow = startFakeUpstream(async (request, recorded) => {
    await held.promise;
    return startFakeUpstreamDefault(request, recorded);
  });
  await using relay = startTestRelay({ upstreamUrl: slow.url, maxConcurrent: 1, maxQueue: 0 });
  const first = post(relay.url);
  await slow.nextRequest();
  const second = await post(relay.url);
  assert.equal(second.status, 503);
  assert.equal(second.headers.get("retry-after"), "1");
  assert.equal((await second.json()).error.type, "overloaded_error");
  held.resolve();
  assert.equal((await first).status, 200);
  await (await first).body?.cancel();
  await slow.close();
});

Deno.test("200 concurrent streams over a faulty upstream: each is complete and correct, or cleanly ended", async () => {
  // Upstream a fails in every way in turn; b is healthy. Faults before the first event must be
  // invisible to clients (they fail over to b); faults after it must end the stream cleanly.
  const faults = [
    "overloaded",
    "server_error",
    "mid_stream_error",
    "none",
    "disconnect",
    "rate_limit",
    "hang",
  ];
  let served = 0;
  const a = startFakeUpstream((request, recorded) => {
    const headers = new Headers(request.headers);
    headers.set("x-relay-mock", `fault=${faults[served++ % faults.length]}, events=12, fault_after=4`);
    return startFakeUpstreamDefault(new Request(request, { headers }), recorded);
  });
  const b = startFakeUpstream();
  const routes = [{ ...routeTo("a", a.url), timeouts: { ...TEST_TIMEOUTS, idle: 200 } }, routeTo("b", b.url)];
  await using relay = startTestRelay({ routes, retry: RETRY });
  const results = await Promise.all(
    Array.from({ length: 200 }, async () => {
      const response = await post(relay.url);
      assert.equal(response.status, 200, "no failure before the first event reaches a client");
      const { message, error } = await assembledResponse(response);
      if (error) return `ended with ${error.type}`;
      assert.equal(message.stop_reason, "end_turn");
      assert.equal(message.content[0].type, "text");
      return "complete";
    }).map((result) => result.catch((error) => `broken: ${error}`)),
  );
  const counts: Record<string, number> = {};
  for (const result of results) counts[result] = (counts[result] ?? 0) + 1;
  assert.deepEqual(
    Object.keys(counts).filter((kind) => kind.startsWith("broken")),
    [],
    JSON.stringify(counts),
  );
  assert.ok(counts.complete >= 100, JSON.stringify(counts));
  const attempts = relay.logs.filter((line) => line.msg === "request").reduce(
    (n, line) => n + Number(line.attempts),
    0,
  );
  assert.equal(a.requests.length + b.requests.length, attempts, "upstream requests == reported attempts");
  await Promise.all([a.close(), b.close()]);
});

/** `STREAM` about another conversation, so affinity does not tie two requests together. */
const streamAbout = (text: string) => STREAM.replace('"content":"hi"', `"content":${JSON.stringify(text)}`);

const SPENT_KEYS = ["sk-first-key-0000000000001", "sk-second-key-000000000002"];

/** An answer's headers saying its key has no request left for a minute. */
const spentHeaders = () => ({
  "anthropic-ratelimit-requests-limit": "50",
  "anthropic-ratelimit-requests-remaining": "0",
  "anthropic-ratelimit-requests-reset": new Date(Date.now() + 60_000).toISOString(),
});

/** Sends a request about each of `texts` in turn, each answered in full. */
async function askInTurn(url: string, texts: string[]): Promise<void> {
  for (const text of texts) {
    const response = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: streamAbout(text),
    });
    assert.equal((await assembledResponse(response)).message.stop_reason, "end_turn");
  }
}

Deno.test("a streamed answer's rate-limit headers reach the key pool: a key it says is spent is skipped", async () => {
  const keys = SPENT_KEYS;
  const spent = spentHeaders();
  const upstream = startFakeUpstream(async (request, recorded) => {
    const answer = await startFakeUpstreamDefault(request, recorded);
    const headers = new Headers(answer.headers);
    if (recorded.headers.get("x-api-key") === keys[0]) {
      for (const [name, value] of Object.entries(spent)) headers.set(name, value);
    }
    return new Response(answer.body, { status: answer.status, headers });
  });
  await using relay = startTestRelay({ routes: [routeTo("a", upstream.url, keys)], retry: RETRY });
  await askInTurn(relay.url, ["one", "two"]);
  assert.deepEqual(
    upstream.requests.map((request) => request.headers.get("x-api-key")),
    keys,
    "the failover strategy's first key, then, told it is spent, the second",
  );
  await upstream.close();
});

Deno.test("a 200 whose stream ends before its first event still tells the key pool its rate limits", async () => {
  const keys = SPENT_KEYS;
  const upstream = startFakeUpstream((request, recorded) =>
    recorded.headers.get("x-api-key") === keys[0]
      ? new Response("", { headers: { "content-type": "text/event-stream", ...spentHeaders() } })
      : startFakeUpstreamDefault(request, recorded)
  );
  await using relay = startTestRelay({ routes: [routeTo("a", upstream.url, keys)], retry: RETRY });
  await askInTurn(relay.url, ["one", "two"]);
  assert.deepEqual(
    upstream.requests.map((request) => request.headers.get("x-api-key")),
    [keys[0], keys[1], keys[1]],
    "the empty answer said the first key is spent, so the second request starts on the second",
  );
  await upstream.close();
});

Deno.test("an answer's rate limits reach the key pool while its stream is still silent after message_start", async () => {
  const keys = SPENT_KEYS;
  const thinking = controlledStream();
  const upstream = startFakeUpstream((request, recorded) => {
    if (recorded.headers.get("x-api-key") !== keys[0]) return startFakeUpstreamDefault(request, recorded);
    // A long think: message_start, then nothing until the test ends it.
    thinking.push(
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",' +
        '"role":"assistant","model":"m","content":[],"stop_reason":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n',
    );
    return thinking.response({ headers: spentHeaders() });
  });
  await using relay = startTestRelay({ routes: [routeTo("a", upstream.url, keys)], retry: RETRY });
  const send = (text: string) =>
    fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: streamAbout(text),
    });
  const first = await send("one");
  const reader = first.body!.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /message_start/);
  // The first answer's head is out and its upstream is silent: its headers said its key is spent.
  const second = await send("two");
  assert.equal((await assembledResponse(second)).message.stop_reason, "end_turn");
  assert.deepEqual(upstream.requests.map((request) => request.headers.get("x-api-key")), keys);
  thinking.end();
  await reader.cancel();
  await upstream.close();
});

Deno.test("a conversation stays with the key that served it, even where the strategy would pick another", async () => {
  let first = true;
  const flaky = startFakeUpstream((request, recorded) => {
    if (!first) return startFakeUpstreamDefault(request, recorded);
    first = false;
    return status(529, "overloaded_error")(request, recorded);
  });
  const up = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("flaky", flaky.url), routeTo("up", up.url)],
    retry: RETRY,
  });
  for (let turn = 0; turn < 2; turn++) {
    const response = await post(relay.url);
    assert.equal((await assembledResponse(response)).message.stop_reason, "end_turn");
    assert.equal((await relay.nextRequestLog()).provider, "up");
  }
  assert.deepEqual(
    [flaky.requests.length, up.requests.length],
    [1, 2],
    "the second turn went where the first ended",
  );
  await Promise.all([flaky.close(), up.close()]);
});

/** The fake upstream's default answer (the mock), for handlers that only sometimes misbehave. */
const startFakeUpstreamDefault: FakeHandler = (() => {
  let handler: FakeHandler | undefined;
  return async (request, recorded) => {
    handler ??= (await import("../../src/providers/mock.ts")).mockHandler(
      (await import("../../src/providers/mock_options.ts")).mockOptionsSchema.parse({}),
    );
    return handler(request, recorded);
  };
})();

Deno.test("a request still waiting when shutdown's grace runs out gets a 503 at once, and no upstream request starts after the cut", async () => {
  const limited = startFakeUpstream(status(429, "rate_limit_error", { "retry-after": "30" }));
  const relay = startTestRelay({
    routes: [routeTo("a", limited.url)],
    retry: { ...RETRY, maxWaitMs: 60_000, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 60_000 } },
  });
  const answer = post(relay.url);
  await limited.nextRequest();
  // Relay now waits 30 s for the key to cool; a grace of 0 cuts at once.
  const shutdown = relay.server.shutdown(0);
  const response = await answer;
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.match((await response.json()).error.message, /^relay is shutting down/);
  assert.deepEqual(await shutdown, { cut: true });
  assert.equal(limited.requests.length, 1);
  await limited.close();
});

Deno.test("a 429's retry-after is waited once: the key's cooling counts toward it", async () => {
  let answered = 0;
  const upstream = startFakeUpstream((request, recorded) =>
    answered++ === 0
      ? status(429, "rate_limit_error", { "retry-after": "1" })(request, recorded)
      : startFakeUpstreamDefault(request, recorded)
  );
  const clock = new FakeClock();
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    retry: { ...RETRY, maxWaitMs: 5_000, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 5_000 } },
    clock,
  });
  // Bounded: a relay that waited twice (cooling, then retry-after again) would not answer here.
  const pending = post(relay.url, {}, AbortSignal.timeout(5_000));
  await armedBefore(clock, 1_000, pending);
  clock.advance(1_000);
  const response = await pending;
  assert.equal(response.status, 200, "asked again once the key's second of cooling was over");
  await response.body?.cancel();
  assert.equal(upstream.requests.length, 2);
  await upstream.close();
});

/**
 * How long, on relay's fake clock, after the first key's failure (`firstKeyAnswer`) relay asked the
 * provider's second key, the only other one, which answers in full. The clock moves on by `backoffMs`
 * once relay backs off for as long, and otherwise not at all.
 */
async function secondKeyAskedAfter(firstKeyAnswer: FakeHandler, backoffMs = 0): Promise<number> {
  const keys = SPENT_KEYS;
  const clock = new FakeClock();
  const arrivals: number[] = [];
  const upstream = startFakeUpstream((request, recorded) => {
    arrivals.push(clock.now());
    return recorded.headers.get("x-api-key") === keys[0]
      ? firstKeyAnswer(request, recorded)
      : startFakeUpstreamDefault(request, recorded);
  });
  await using relay = startTestRelay({
    routes: [routeTo("a", upstream.url, keys)],
    retry: { ...RETRY, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 5_000 } },
    clock,
  });
  // Bounded: a relay that waited longer than `backoffMs` would not answer here.
  const pending = post(relay.url, {}, AbortSignal.timeout(5_000));
  if (backoffMs > 0) {
    await armedBefore(clock, backoffMs, pending);
    clock.advance(backoffMs);
  }
  const response = await pending;
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.deepEqual(upstream.requests.map((request) => request.headers.get("x-api-key")), keys);
  await upstream.close();
  return arrivals[1] - arrivals[0];
}

Deno.test("a 529's retry-after holds a retry on another key of the same provider: it spoke for the provider", async () => {
  const waited = await secondKeyAskedAfter(status(529, "overloaded_error", { "retry-after-ms": "300" }), 300);
  assert.equal(waited, 300, "the second key was asked once the 529's retry-after was over");
});

Deno.test("a 529's retry-after still holds its provider's other key after a failure elsewhere", async () => {
  const clock = new FakeClock();
  const arrivals: string[] = [];
  const [first, second] = SPENT_KEYS;
  const a = startFakeUpstream((request, recorded) => {
    const key = recorded.headers.get("x-api-key");
    arrivals.push(`a/${key === first ? 1 : 2} at ${clock.now()}`);
    return key === first
      ? status(529, "overloaded_error", { "retry-after": "3" })(request, recorded)
      : startFakeUpstreamDefault(request, recorded);
  });
  const b = startFakeUpstream((request, recorded) => {
    arrivals.push(`b at ${clock.now()}`);
    return status(500, "api_error")(request, recorded);
  });
  await using relay = startTestRelay({
    routes: [routeTo("a", a.url, [first, second]), routeTo("b", b.url)],
    retry: { ...RETRY, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 10_000 } },
    clock,
  });
  // a's first key 529s, b fails at once, then a's second key once a's 3 s are over: a spoke for itself.
  const pending = post(relay.url, {}, AbortSignal.timeout(5_000));
  await armedBefore(clock, 3_000, pending);
  clock.advance(3_000);
  const response = await pending;
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.deepEqual(arrivals, ["a/1 at 0", "b at 0", "a/2 at 3000"]);
  await Promise.all([a.close(), b.close()]);
});

/**
 * When relay, on its fake clock, asked a provider with one key that answers `answers` in turn, then in
 * full, advancing the clock through each wait in `waits`; and the status the client got.
 */
async function askedAt(answers: FakeHandler[], waits: number[], retry: Partial<typeof RETRY>) {
  const clock = new FakeClock();
  const arrivals: number[] = [];
  const upstream = startFakeUpstream((request, recorded) => {
    arrivals.push(clock.now());
    return (answers[arrivals.length - 1] ?? startFakeUpstreamDefault)(request, recorded);
  });
  await using relay = startTestRelay({
    routes: [routeTo("a", upstream.url)],
    retry: { ...RETRY, ...retry },
    clock,
  });
  const pending = post(relay.url, {}, AbortSignal.timeout(5_000));
  for (const wait of waits) {
    await armedBefore(clock, wait, pending);
    clock.advance(wait);
  }
  const response = await pending;
  await response.body?.cancel();
  await upstream.close();
  return { status: response.status, arrivals };
}

Deno.test("only a key's running 429 is a rate limit that routing.max_wait bounds: a 529's retry-after beside it is waited", async () => {
  const [limited, overloaded] = [
    status(429, "rate_limit_error", { "retry-after": "1" }),
    status(529, "overloaded_error", { "retry-after": "7" }),
  ];
  const cases = [
    // The key's second of cooling, then the 529's 7 s: the 429 over, nothing limits the wait.
    {
      answers: [limited, overloaded],
      maxRetryAfterMs: 20_000,
      waits: [1_000, 7_000],
      arrivals: [0, 1_000, 8_000],
    },
    // The 529's 7 s capped at 2, then the key's second of cooling.
    {
      answers: [overloaded, limited],
      maxRetryAfterMs: 2_000,
      waits: [2_000, 1_000],
      arrivals: [0, 2_000, 3_000],
    },
  ];
  for (const { answers, maxRetryAfterMs, waits, arrivals } of cases) {
    const backoff = { baseMs: 0, maxMs: 0, maxRetryAfterMs };
    assert.deepEqual(
      await askedAt(answers, waits, { maxAttempts: 3, backoff, maxWaitMs: 5_000 }),
      { status: 200, arrivals },
    );
  }
});

Deno.test("a token count's 429 past routing.max_wait is answered at once, though max_retry_after would cap the wait", async () => {
  // A count cools no key: relay's own check of the 429's whole retry-after (30 s) against max_wait (5 s).
  const limited = startFakeUpstream(status(429, "rate_limit_error", { "retry-after": "30" }));
  const clock = new FakeClock();
  await using relay = startTestRelay({
    routes: [routeTo("a", limited.url)],
    retry: { maxAttempts: 3, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 2_000 }, maxWaitMs: 5_000 },
    clock,
  });
  const answer = fetch(`${relay.url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }),
    signal: AbortSignal.timeout(5_000),
  });
  const response = await answer;
  await response.body?.cancel();
  assert.deepEqual([response.status, limited.requests.length], [429, 1], "not asked again 2 s on");
  await limited.close();
});

Deno.test("a provider passed over leaves the wait as the last real failure set it: its retry-after holds", async () => {
  const clock = new FakeClock();
  const overloaded = status(529, "overloaded_error", { "retry-after": "3" });
  const flaky = startFakeUpstream((request, recorded) =>
    flaky.requests.length === 1 ? overloaded(request, recorded) : Response.json({ input_tokens: 5 })
  );
  const openai = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("flaky", flaky.url), openaiRoute(openai.url)],
    retry: { ...RETRY, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 10_000 } },
    clock,
  });
  const answer = fetch(`${relay.url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }),
  });
  // flaky's 529, then oai passed over (it counts no tokens), then flaky again once its 3 s are over.
  await armedBefore(clock, 3_000, answer);
  assert.equal(flaky.requests.length, 1);
  clock.advance(3_000);
  assert.equal((await answer).status, 200);
  assert.deepEqual([flaky.requests.length, openai.requests.length], [2, 0]);
  await Promise.all([flaky.close(), openai.close()]);
});

/** An upstream on raw TCP that answers every request with `statusLine`, a JSON type and `{}`. */
function rawUpstream(statusLine: string): { url: string; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answer = new TextEncoder().encode(
    `${statusLine}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`,
  );
  const serve = async (connection: Deno.Conn) => {
    await connection.read(new Uint8Array(65_536));
    await connection.write(answer);
  };
  (async () => {
    // One connection's failure leaves the others served.
    for await (const connection of listener) {
      serve(connection).catch(() => {}).finally(() => connection.close());
    }
  })().catch(() => {});
  return { url: `http://127.0.0.1:${listener.addr.port}`, close: () => listener.close() };
}

Deno.test("an upstream status HTTP does not define (600 to 999) is a failed attempt and a 502, its slot freed", async () => {
  const weird = rawUpstream("HTTP/1.1 600 Weird");
  const up = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("weird", weird.url), routeTo("up", up.url)],
    retry: RETRY,
    maxConcurrent: 1,
  });
  const failedOver = await post(relay.url);
  assert.equal(failedOver.status, 200, "the next provider answered");
  await failedOver.body?.cancel();
  await using alone = startTestRelay({
    routes: [routeTo("weird", weird.url)],
    retry: RETRY,
    maxConcurrent: 1,
  });
  for (let i = 0; i < 2; i++) {
    const answer = post(alone.url);
    assert.ok(await settlesWithin(answer, 5_000), "the one slot was given back");
    const response = await answer;
    assert.equal(response.status, 502);
    assert.match((await response.json()).error.message, /answered status 600, which HTTP does not define/);
  }
  weird.close();
  await up.close();
});

Deno.test("a provider passed over after a failure does not double the backoff: the next one is asked once it is over", async () => {
  const clock = new FakeClock();
  const down = startFakeUpstream(status(500, "api_error"));
  const openai = startFakeUpstream();
  const up = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("down", down.url), openaiRoute(openai.url), routeTo("up", up.url)],
    retry: { ...RETRY, backoff: { baseMs: 1_000, maxMs: 1_000, maxRetryAfterMs: 0 } },
    clock,
    random: () => 0.5,
  });
  const answer = fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(DOCUMENT_BY_URL),
  });
  // down's 500, a 500 ms backoff, oai passed over (it cannot fetch a document by URL), then up.
  await armedBefore(clock, 500, answer);
  clock.advance(500);
  assert.ok(await settlesWithin(answer, 5_000), "up was asked as soon as the one backoff was over");
  const response = await answer;
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.deepEqual([down.requests.length, openai.requests.length, up.requests.length], [1, 0, 1]);
  await Promise.all([down.close(), openai.close(), up.close()]);
});

Deno.test("a request waiting out a retry-after holds no place of its provider's max_in_flight meanwhile", async () => {
  const clock = new FakeClock();
  const overloaded = status(529, "overloaded_error", { "retry-after": "3" });
  // The one provider answers its first request 529 with retry-after 3: that request waits 3 s to go back.
  const upstream = startFakeUpstream((request, recorded) =>
    upstream.requests.length === 1 ? overloaded(request, recorded) : Response.json(MESSAGE_ANSWER)
  );
  await using relay = startTestRelay({
    routes: [{ ...routeTo("only", upstream.url), maxInFlight: 1 }],
    retry: { ...RETRY, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 10_000 } },
    clock,
  });
  const waiting = post(relay.url);
  await armedBefore(clock, 3_000, waiting);
  const other = await post(relay.url);
  assert.equal(other.status, 200, "served while the first waits, not refused at max_in_flight");
  await other.body?.cancel();
  clock.advance(3_000);
  const waited = await waiting;
  assert.equal(waited.status, 200);
  await waited.body?.cancel();
  assert.equal(upstream.requests.length, 3);
  await upstream.close();
});

Deno.test("count_tokens and the model list take a key whose rpm is spent, and spend none of it", async () => {
  const upstream = startFakeUpstream();
  const route = routeTo("a", upstream.url);
  await using relay = startTestRelay({
    routes: [{ ...route, limits: new Map([[route.keys[0], { rpm: 1 }]]) }],
    retry: RETRY,
  });
  for (let i = 0; i < 3; i++) {
    const count = await fetch(`${relay.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: STREAM,
    });
    assert.equal(count.status, 200);
    await count.body?.cancel();
  }
  const models = await fetch(`${relay.url}/v1/models`);
  assert.equal(models.status, 200);
  await models.body?.cancel();
  const message = await post(relay.url);
  assert.equal(message.status, 200, "the one message a minute is still there");
  await message.body?.cancel();
  await upstream.close();
});

Deno.test("count_tokens after its key's 429 waits for the key no longer than routing.max_wait: the 429 goes to the client", async () => {
  const limited = startFakeUpstream(status(429, "rate_limit_error", { "retry-after": "30" }));
  await using relay = startTestRelay({
    routes: [routeTo("a", limited.url)],
    retry: { ...RETRY, maxWaitMs: 2_000, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 60_000 } },
  });
  // Bounded, so a relay that sleeps out the 30 s fails here rather than hanging the suite.
  const count = await fetch(`${relay.url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: STREAM,
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(count.status, 429);
  assert.equal(count.headers.get("retry-after"), "30");
  assert.equal((await count.json()).error.type, "rate_limit_error");
  assert.equal(limited.requests.length, 1);
  await limited.close();
});

Deno.test("a rate_limit_error event's retry-after is its key's: another key of the provider is asked at once", async () => {
  const waited = await secondKeyAskedAfter(() =>
    sseChunks(
      ['event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}\n\n'],
      { headers: { "retry-after-ms": "2000" } },
    )
  );
  assert.equal(waited, 0, "the second key was asked at once");
});

Deno.test("a 403 for one model refuses the key that model only: the key's other models go on, the refused one is answered at once", async () => {
  const apiKey = "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl";
  const opus = "us.anthropic.claude-opus-4-1-20250805-v1:0";
  const bedrock = startFakeBedrock({
    region: "us-east-1",
    apiKey,
    answer: (call) =>
      call.modelId === opus
        ? bedrockError(
          403,
          "AccessDeniedException",
          "You don't have access to the model with the specified model ID.",
        )
        : Response.json(MESSAGE_ANSWER),
  });
  const clock = new FakeClock(1_000_000);
  await using relay = startTestRelay({
    provider: createBedrockProvider({
      name: "bedkey",
      region: "us-east-1",
      baseUrl: bedrock.url,
      credentials: "api_key",
    }),
    keys: [apiKey],
    models: { "bk-sonnet": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bk-opus": opus },
    retry: RETRY,
    clock,
  });
  const ask = (model: string) =>
    fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, max_tokens: 64, messages: [{ role: "user", content: "hi" }] }),
    });
  const refused = await ask("bk-opus");
  assert.equal(refused.status, 403, "the upstream's own answer, the first time");
  assert.match((await refused.json()).error.message, /don't have access to the model/);
  const sonnet = await ask("bk-sonnet");
  assert.equal(sonnet.status, 200, "the key still serves the models it may use");
  await sonnet.body?.cancel();
  const again = await ask("bk-opus");
  assert.equal(again.status, 403);
  assert.equal(again.headers.get("x-should-retry"), "false");
  assert.deepEqual((await again.json()).error, {
    type: "permission_error",
    message: "no upstream can take the request: every provider and key in rotation that serves this model " +
      "was refused it by its upstream (403, upstream said: You don't have access to the model with the " +
      "specified model ID.); relay asks again in 300 s",
  });
  assert.deepEqual(bedrock.calls.map((call) => call.modelId), [
    opus,
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
  ]);
  const logged = relay.logs.find((line) => line.msg === "model refused");
  assert.deepEqual(
    logged && [logged.provider, logged.key, logged.model, logged.reason, logged.said, logged.retry_in_ms],
    [
      "bedkey",
      maskSecret(apiKey),
      opus,
      "403 from upstream",
      "You don't have access to the model with the specified model ID.",
      300_000,
    ],
  );
  assert.equal(relay.logs.find((line) => line.msg === "key disabled"), undefined);
  clock.advance(300_000);
  const later = await ask("bk-opus");
  assert.equal(later.status, 403);
  await later.body?.cancel();
  assert.equal(bedrock.calls.length, 3, "asked again once the refusal ended");
  await bedrock.close();
});

Deno.test("a model asked for with the 1M-context mark goes upstream without it, its beta added, the body otherwise as sent", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    models: { "claude-sonnet-4-5": "claude-sonnet-4-5", "anth-*": "claude-*" },
  });
  const cases = [
    { path: "/v1/messages", model: "claude-sonnet-4-5[1m]", betas: "claude-code-20250219" },
    { path: "/v1/messages/count_tokens", model: "anth-opus-4-8[1m]", betas: undefined },
    { path: "/v1/messages", model: "anth-opus-4-8[1m]", betas: "context-1m-2025-08-07,claude-code-20250219" },
  ];
  const seen = [];
  for (const { path, model, betas } of cases) {
    const body = `{"model": "${model}","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`;
    const response = await fetch(`${relay.url}${path}?beta=true`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...betas === undefined ? {} : { "anthropic-beta": betas },
      },
      body,
    });
    assert.equal(response.status, 200, `${path} ${model}`);
    await response.body?.cancel();
    const recorded = await upstream.nextRequest();
    const sent = new TextDecoder().decode(recorded.body);
    seen.push([
      recorded.path,
      sent.replace(/"model":\s?"[^"]*"/, '"model":…'),
      JSON.parse(sent).model,
      recorded.headers.get("anthropic-beta"),
    ]);
  }
  const rest = `{"model":…,"max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`;
  assert.deepEqual(seen, [
    ["/v1/messages?beta=true", rest, "claude-sonnet-4-5", "claude-code-20250219,context-1m-2025-08-07"],
    ["/v1/messages/count_tokens?beta=true", rest, "claude-opus-4-8", "context-1m-2025-08-07"],
    ["/v1/messages?beta=true", rest, "claude-opus-4-8", "context-1m-2025-08-07,claude-code-20250219"],
  ]);
  await upstream.close();
});

Deno.test("Bedrock gets a 1M-context request as its model's id, with the beta among its anthropic_beta", async () => {
  const credentials = {
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  };
  const bedrock = startFakeBedrock({
    region: "us-east-1",
    credentials,
    answer: () => Response.json(MESSAGE_ANSWER),
  });
  await using relay = startTestRelay({
    provider: createBedrockProvider({ name: "bed", region: "us-east-1", baseUrl: bedrock.url, credentials }),
    keys: [],
    models: { "bed-sonnet": "us.anthropic.claude-sonnet-4-5-20250929-v1:0" },
  });
  const response = await fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-beta": "claude-code-20250219" },
    body: JSON.stringify({
      model: "bed-sonnet[1m]",
      max_tokens: 64,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const [call] = bedrock.calls;
  assert.deepEqual(
    [call.modelId, JSON.parse(new TextDecoder().decode(call.invokeBody)).anthropic_beta],
    ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", ["claude-code-20250219", "context-1m-2025-08-07"]],
  );
  await bedrock.close();
});

const SIGV4 = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const BEDROCK_SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

/** A relay on one Bedrock provider reached with `credentials`, serving `bed-sonnet`; and how to post to it. */
function bedrockRelay(bedrock: { url: string }, credentials: typeof SIGV4) {
  const relay = startTestRelay({
    provider: createBedrockProvider({ name: "bed", region: "us-east-1", baseUrl: bedrock.url, credentials }),
    keys: [],
    models: { "bed-sonnet": BEDROCK_SONNET },
  });
  const post = (path = "/v1/messages") =>
    fetch(`${relay.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "bed-sonnet",
        max_tokens: 64,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
  return { relay, post };
}

Deno.test("a 403 on counting tokens (no bedrock:CountTokens) refuses the count, never the model's answers", async () => {
  const bedrock = startFakeBedrock({
    region: "us-east-1",
    credentials: SIGV4,
    answer: (call) =>
      call.operation === "count-tokens"
        ? bedrockError(403, "AccessDeniedException", "User is not authorized to perform: bedrock:CountTokens")
        : Response.json(MESSAGE_ANSWER),
  });
  const { relay, post } = bedrockRelay(bedrock, SIGV4);
  await using _ = relay;
  const count = await post("/v1/messages/count_tokens");
  assert.equal(count.status, 403);
  await count.body?.cancel();
  const answer = await post();
  assert.equal(answer.status, 200, await answer.clone().text());
  await answer.body?.cancel();
  assert.deepEqual(relay.logs.filter((line) => line.msg === "model refused"), []);
  await bedrock.close();
});

Deno.test("a credential AWS cannot take (a bad signature, a 403) is a 401 to the client, not a model refused", async () => {
  const bedrock = startFakeBedrock({
    region: "us-east-1",
    credentials: SIGV4,
    answer: () => Response.json(MESSAGE_ANSWER),
  });
  const { relay, post } = bedrockRelay(bedrock, { ...SIGV4, secretAccessKey: "wrong" });
  await using _ = relay;
  for (const attempt of ["first", "second"]) {
    const answer = await post();
    assert.equal(answer.status, 401, attempt);
    assert.equal((await answer.json()).error.type, "authentication_error", attempt);
  }
  assert.deepEqual(relay.logs.filter((line) => line.msg === "model refused"), []);
  await bedrock.close();
});
