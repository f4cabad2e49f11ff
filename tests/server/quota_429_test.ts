/**
 * 429s that say a quota is spent, over real HTTP: Z.AI answers a spent balance (1113) and a spent plan
 * period (1310) with 429s, OpenAI a spent quota (`insufficient_quota`). relay takes a spent key out as it
 * does a 402's and fails over; with nothing else to serve, the client gets the upstream's own words,
 * told not to send again soon (`x-should-retry: false`), where before relay guessed a minute's throttle
 * and answered its own summary, and Claude Code retried for minutes in silence; later requests get relay's
 * own 402 `billing_error` quoting them. A throttle's 429 is
 * answered as it was.
 */
import assert from "node:assert/strict";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import type { Route } from "../../src/routing/router.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { anthropicRoute, startTestRelay, TEST_TIMEOUTS, type TestRelay } from "../_helpers/relay.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

const RETRY = { maxAttempts: 3, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 }, maxWaitMs: 0 };
const FIRST = "zai-secret-first-0123456789abcdef";
const SECOND = "zai-secret-second-0123456789abcdef";
/** 2026-11-30 21:00 UTC, on relay's clocks: Z.AI's `2026-12-01 08:00:00` (UTC+8) is 3 h ahead. */
const START = Date.parse("2026-11-30T21:00:00Z");
const HOUR = 3_600_000;

const BALANCE = "Insufficient balance or no resource package. Please recharge.";
const PERIOD = "Weekly/Monthly Limit Exhausted. Your limit will reset at 2026-12-01 08:00:00";
const THROTTLE = "Number of request tokens has exceeded your per-minute rate limit";

const zaiError = (code: string, message: string) =>
  Response.json({ type: "error", error: { type: code, message }, request_id: "20251009174412abcdef" }, {
    status: 429,
  });

const MESSAGE = {
  id: "msg_1",
  type: "message",
  role: "assistant",
  model: "glm-4.7",
  content: [{ type: "text", text: "hi" }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 5, output_tokens: 1 },
};

function ask(relay: TestRelay): Promise<Response> {
  return fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model: "glm-4.7", max_tokens: 64, messages: [{ role: "user", content: "hi" }] }),
  });
}

/** Each quota spent, as its upstream answers it, on a route of its own. */
const SPENT: { upstream: string; route: (url: string) => Route; answer: () => Response; words: string }[] = [
  {
    upstream: "Z.AI's 1113",
    route: (url) => anthropicRoute("zai", url, [FIRST]),
    answer: () => zaiError("1113", BALANCE),
    words: BALANCE,
  },
  {
    upstream: "OpenAI's insufficient_quota",
    route: (url) => ({
      provider: createOpenAIProvider({ name: "oai", baseUrl: `${url}/v1` }),
      keys: [{ secret: "sk-oai-key-0000000000000001", label: "sk-...0001" }],
      timeouts: TEST_TIMEOUTS,
      models: new ModelMap(undefined),
    }),
    answer: () =>
      Response.json({
        error: {
          message: "You exceeded your current quota, please check your plan and billing details.",
          type: "insufficient_quota",
          param: null,
          code: "insufficient_quota",
        },
      }, { status: 429 }),
    words: "You exceeded your current quota, please check your plan and billing details.",
  },
  {
    upstream: "a balance wording without a code",
    route: (url) => anthropicRoute("zai", url, [FIRST]),
    answer: () =>
      Response.json({ error: { message: "Insufficient Balance", type: "unknown_error" } }, { status: 429 }),
    words: "Insufficient Balance",
  },
];

for (const { upstream: name, route, answer, words } of SPENT) {
  Deno.test(`a 429 saying the quota is spent (${name}) takes the key out; the client gets the upstream's words, not to retry`, async () => {
    const upstream = startFakeUpstream(answer);
    const clock = new FakeClock(START);
    await using relay = startTestRelay({ routes: [route(upstream.url)], retry: RETRY, clock });
    try {
      const first = await ask(relay);
      assert.equal(first.status, 429, "the upstream's own answer");
      assert.equal(first.headers.get("x-should-retry"), "false", "retrying cannot help");
      assert.equal(first.headers.get("retry-after"), null);
      assert.equal((await first.json()).error.message, words);
      assert.equal(upstream.requests.length, 1, "asked once: the key is out, nothing else serves");
      const disabled = await relay.logged("key disabled");
      assert.equal(disabled.reason, `429 from upstream, quota or balance spent: ${words}`);

      // A minute later (a throttle's guess would be over), the key is still out: the upstream is not asked.
      clock.advance(61_000);
      const again = await ask(relay);
      assert.equal(again.status, 402, "as an account that cannot pay: no client retries it");
      assert.equal(again.headers.get("x-should-retry"), "false");
      assert.equal(again.headers.get("retry-after"), null);
      assert.deepEqual((await again.json()).error, {
        type: "billing_error",
        message:
          "no upstream can take the request: no provider or key that serves this model is in rotation: " +
          `relay took out the keys their upstream said cannot pay (upstream said: ${words}); a fixed key and a ` +
          "reload, or the admin API, put them back",
      }, "still the upstream's words");
      assert.equal(upstream.requests.length, 1);
    } finally {
      await upstream.close();
    }
  });
}

/**
 * relay on a Z.AI route with two keys, on a fake clock: the first key gets `first`'s answer, the second
 * a message. Not pinned to the key that answered: the first would be asked first again, were it in
 * rotation.
 */
function twoKeys(first: () => Response) {
  const upstream = startFakeUpstream((_request, recorded) =>
    recorded.headers.get("x-api-key") === FIRST ? first() : Response.json(MESSAGE)
  );
  const clock = new FakeClock(START);
  const relay = startTestRelay({
    routes: [anthropicRoute("zai", upstream.url, [FIRST, SECOND])],
    retry: RETRY,
    routing: { affinity: false },
    clock,
  });
  return { upstream, relay, clock };
}

const CREDIT =
  "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to " +
  "upgrade or purchase credits.";

for (
  const { spent, answer, reason } of [
    {
      spent: "Z.AI's 429",
      answer: () => zaiError("1113", BALANCE),
      reason: `429 from upstream, quota or balance spent: ${BALANCE}`,
    },
    {
      spent: "Anthropic's 400",
      answer: () =>
        Response.json({ type: "error", error: { type: "invalid_request_error", message: CREDIT } }, {
          status: 400,
        }),
      reason: `400 from upstream, quota or balance spent: ${CREDIT}`,
    },
  ]
) {
  Deno.test(`a key whose answer says its balance is spent (${spent}) is taken out and its request goes to the next key`, async () => {
    const { upstream, relay, clock } = twoKeys(answer);
    await using _relay = relay;
    try {
      const first = await ask(relay);
      assert.equal(first.status, 200, "failed over to the second key");
      await first.body?.cancel();
      assert.equal((await relay.logged("key disabled")).reason, reason);
      clock.advance(61_000);
      const second = await ask(relay);
      assert.equal(second.status, 200);
      await second.body?.cancel();
      assert.deepEqual(
        upstream.requests.map((request) => request.headers.get("x-api-key")),
        [FIRST, SECOND, SECOND],
        "the spent key is not asked again once a throttle's minute is over",
      );
    } finally {
      await upstream.close();
    }
  });
}

Deno.test("Anthropic's 400 for an account past its spend limit rests its key until access comes back", async () => {
  const limit =
    "You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.";
  const { upstream, relay, clock } = twoKeys(() =>
    Response.json({ type: "error", error: { type: "invalid_request_error", message: limit } }, {
      status: 400,
    })
  );
  await using _relay = relay;
  try {
    const keysAsked = async () => {
      const answer = await ask(relay);
      assert.equal(answer.status, 200);
      await answer.body?.cancel();
      return upstream.requests.map((request) => request.headers.get("x-api-key"));
    };
    assert.deepEqual(await keysAsked(), [FIRST, SECOND]);
    clock.advance(2 * HOUR);
    assert.deepEqual(await keysAsked(), [FIRST, SECOND, SECOND], "still resting an hour before midnight UTC");
    clock.advance(HOUR);
    assert.deepEqual(
      await keysAsked(),
      [FIRST, SECOND, SECOND, FIRST, SECOND],
      "asked again once access is back (and refused again, here)",
    );
  } finally {
    await upstream.close();
  }
});

Deno.test("a 429 saying a period limit is spent rests the key until the reset it names, and relay's answer quotes it", async () => {
  let spent = true;
  const upstream = startFakeUpstream(() => spent ? zaiError("1310", PERIOD) : Response.json(MESSAGE));
  const clock = new FakeClock(START);
  await using relay = startTestRelay({
    routes: [anthropicRoute("zai", upstream.url, [FIRST])],
    retry: RETRY,
    clock,
  });
  try {
    const first = await ask(relay);
    assert.equal(first.status, 429);
    assert.equal(first.headers.get("x-should-retry"), "false");
    assert.equal((await first.json()).error.message, PERIOD, "the upstream's own answer");

    // An hour later, the key still rests: relay answers for it, in the upstream's words.
    clock.advance(HOUR);
    const later = await ask(relay);
    assert.equal(later.status, 429);
    assert.equal(later.headers.get("x-should-retry"), "false");
    assert.equal(later.headers.get("retry-after"), String(2 * 3600));
    assert.deepEqual((await later.json()).error, {
      type: "rate_limit_error",
      message:
        `every key that serves glm-4.7 is at its rate limit; the next frees up in 2 h (upstream said: ${PERIOD}) ` +
        "(routing.max_wait is 0 ms)",
    });
    assert.equal(upstream.requests.length, 1, "the upstream is not asked while the key rests");

    // At the reset, the key is back.
    spent = false;
    clock.advance(2 * HOUR);
    const back = await ask(relay);
    assert.equal(back.status, 200);
    await back.body?.cancel();
    assert.equal(upstream.requests.length, 2);
  } finally {
    await upstream.close();
  }
});

Deno.test("a throttle's 429 is answered as before: passed on, then relay's summary of a minute, retried", async () => {
  const upstream = startFakeUpstream(() => zaiError("rate_limit_error", THROTTLE));
  const clock = new FakeClock(START);
  await using relay = startTestRelay({
    routes: [anthropicRoute("zai", upstream.url, [FIRST])],
    retry: RETRY,
    clock,
  });
  try {
    const first = await ask(relay);
    assert.equal(first.status, 429);
    assert.equal(first.headers.get("x-should-retry"), null);
    assert.equal((await first.json()).error.message, THROTTLE);
    const later = await ask(relay);
    assert.equal(later.status, 429);
    assert.equal(later.headers.get("x-should-retry"), null);
    assert.equal(later.headers.get("retry-after"), "60");
    assert.equal(
      (await later.json()).error.message,
      "every key that serves glm-4.7 is at its rate limit; the next frees up in 60 s (routing.max_wait is 0 ms)",
    );
    clock.advance(60_000);
    const again = await ask(relay);
    assert.equal(again.status, 429);
    await again.body?.cancel();
    assert.equal(upstream.requests.length, 2, "asked again once its minute was over");
  } finally {
    await upstream.close();
  }
});

Deno.test("a 429 whose body stalls fails over once its words have had 2.5 s, not the stream's deadlines", async () => {
  const stalled = controlledStream();
  stalled.push('{"type":"error","error":{"type":"rate_limit_error","mess');
  const { upstream, relay, clock } = twoKeys(() =>
    new Response(stalled.body, { status: 429, headers: { "content-type": "application/json" } })
  );
  await using _relay = relay;
  try {
    const answer = ask(relay);
    // relay reads the 429's words for 2.5 s, not for the route's first_byte and idle (60 s here).
    assert.ok(await settlesWithin(clock.whenArmed(2_500), 5_000), "the words' 2.5 s timer armed");
    clock.advance(2_500);
    const response = await answer;
    assert.equal(response.status, 200);
    await response.body?.cancel();
    assert.deepEqual(upstream.requests.map((request) => request.headers.get("x-api-key")), [FIRST, SECOND]);
    assert.ok(await settlesWithin(stalled.cancelled, 5_000), "the stalled 429's body is let go");
  } finally {
    // A run that failed leaves relay reading the body: end it, or the relay's shutdown waits on it.
    stalled.fail(new Error("the test is over"));
    await upstream.close();
  }
});
