/**
 * 429s that are no throttle: a quota or balance spent (Z.AI's 1113, OpenAI's `insufficient_quota`) takes
 * its key out as a 402 does, a plan's period limit spent (Z.AI's 1310) rests it until the reset its words
 * name; both carry the upstream's words and tell the client not to send again soon. A throttle's 429
 * stays as it was.
 */
import assert from "node:assert/strict";
import {
  classifyFailure,
  LONG_COOLING_MS,
  PERIOD_LIMIT_GUESS_MS,
  type UpstreamOutcome,
} from "../../src/routing/failure.ts";

const NOW = 1_000_000;
/** 2026-11-30 21:00 UTC: Z.AI's `2026-12-01 08:00:00` (UTC+8) is 3 h ahead. */
const WALL = Date.parse("2026-11-30T21:00:00Z");
const HOUR = 3_600_000;

const limited = (body: unknown, headers: Record<string, string> = {}): UpstreamOutcome => ({
  kind: "http",
  status: 429,
  headers: new Headers(headers),
  text: typeof body === "string" ? body : JSON.stringify(body),
});

const anthropicShaped = (type: string, message: string) => ({ type: "error", error: { type, message } });

/** A quota or balance spent, as each upstream words it, and the words relay keeps. */
const SPENT = [
  {
    upstream: "Z.AI 1113",
    body: anthropicShaped("1113", "Insufficient balance or no resource package. Please recharge."),
    words: "Insufficient balance or no resource package. Please recharge.",
  },
  {
    upstream: "Z.AI 1113 in its documented wording",
    body: { error: { code: "1113", message: "Your account is in arrears, please recharge and try again" } },
    words: "Your account is in arrears, please recharge and try again",
  },
  {
    upstream: "OpenAI's insufficient_quota",
    body: {
      error: {
        message: "You exceeded your current quota, please check your plan and billing details.",
        type: "insufficient_quota",
        param: null,
        code: "insufficient_quota",
      },
    },
    words: "You exceeded your current quota, please check your plan and billing details.",
  },
  {
    upstream: "OpenAI's insufficient_quota as relay's OpenAI adapter rewords it",
    body: anthropicShaped(
      "rate_limit_error",
      "You exceeded your current quota, please check your plan and billing details.",
    ),
    words: "You exceeded your current quota, please check your plan and billing details.",
  },
  {
    upstream: "DeepSeek's Insufficient Balance, as a 429",
    body: {
      error: {
        message: "Insufficient Balance",
        type: "unknown_error",
        param: null,
        code: "invalid_request_error",
      },
    },
    words: "Insufficient Balance",
  },
  {
    upstream: "a plain-text body",
    body: "Insufficient credits: add credits to continue\n",
    words: "Insufficient credits: add credits to continue",
  },
  {
    upstream: "a spent-quota code without a message",
    body: { error: { code: "1113" } },
    words: "1113",
  },
];

for (const { upstream, body, words } of SPENT) {
  Deno.test(`classifyFailure takes out a key whose 429 says its quota or balance is spent: ${upstream}`, () => {
    assert.deepEqual(classifyFailure(limited(body), NOW, WALL), {
      action: "disable_key",
      refusedWith: 402,
      countsForBreaker: false,
      said: words,
      notRetried: true,
      reason: `429 from upstream, quota or balance spent: ${words}`,
    });
  });
}

/** The decision for a key whose `status` said, in `words`, that its period limit is spent until 3 hours on. */
const restsThreeHours = (status: number, words: string) => ({
  action: "retry_next_key",
  coolKeyUntil: NOW + 3 * HOUR,
  countsForBreaker: false,
  said: words,
  notRetried: true,
  reason: `${status} from upstream, period limit spent: ${words}`,
});

Deno.test("classifyFailure rests a key whose 429 says a period limit is spent until the reset its words name", () => {
  const words = "Weekly/Monthly Limit Exhausted. Your limit will reset at 2026-12-01 08:00:00";
  assert.deepEqual(
    classifyFailure(limited(anthropicShaped("1310", words)), NOW, WALL),
    restsThreeHours(429, words),
  );
  // A zone given is read as given.
  const utc = "Usage limit reached for 5 hour. Your limit will reset at 2026-11-30T22:30:00Z";
  assert.equal(
    classifyFailure(limited(anthropicShaped("1308", utc)), NOW, WALL).coolKeyUntil,
    NOW + 1.5 * HOUR,
  );
  // UTC or GMT spelled out is a zone too, not Z.AI's UTC+8.
  const spelled = "Weekly limit exhausted. Your limit will reset at 2026-12-01 03:00:00 UTC";
  assert.equal(
    classifyFailure(limited(anthropicShaped("1310", spelled)), NOW, WALL).coolKeyUntil,
    NOW + 6 * HOUR,
  );
  // The header's retry-after, where there is one, goes first.
  const told = classifyFailure(limited(anthropicShaped("1310", words), { "retry-after": "7200" }), NOW, WALL);
  assert.equal(told.coolKeyUntil, NOW + 2 * HOUR);
});

Deno.test("classifyFailure rests a period limit with no reset it can read for a long guess, not a throttle's minute", () => {
  for (
    const words of [
      "Weekly/Monthly Limit Exhausted. Your limit will reset at next Monday",
      // A reset already past (the upstream's clock behind) says nothing of when the key is back.
      "Weekly/Monthly Limit Exhausted. Your limit will reset at 2026-11-30 08:00:00",
    ]
  ) {
    const decision = classifyFailure(limited(anthropicShaped("1310", words)), NOW, WALL);
    assert.equal(decision.action, "retry_next_key");
    assert.equal(decision.coolKeyUntil, NOW + PERIOD_LIMIT_GUESS_MS, words);
    assert.equal(decision.coolGuessed, undefined, "the words said it lasts: no model rests only a moment");
    assert.equal(decision.said, words);
  }
  const guessed = classifyFailure(limited(anthropicShaped("1310", "Limit Exhausted")), NOW, WALL, {
    periodLimitGuessMs: 2 * HOUR,
  });
  assert.equal(guessed.coolKeyUntil, NOW + 2 * HOUR);
});

Deno.test("classifyFailure tells of a 429 whose retry-after is hours in the upstream's words, not to retry soon", () => {
  const body = anthropicShaped("rate_limit_error", "Daily request limit reached for this model.");
  assert.deepEqual(classifyFailure(limited(body, { "retry-after": "10800" }), NOW, WALL), {
    action: "retry_next_key",
    coolKeyUntil: NOW + 3 * HOUR,
    countsForBreaker: false,
    retryAfterMs: 3 * HOUR,
    said: "Daily request limit reached for this model.",
    notRetried: true,
    reason: "429 from upstream",
  });
  // Just short of a long rest: a throttle's.
  const short = classifyFailure(
    limited(body, { "retry-after": String(LONG_COOLING_MS / 1000 - 1) }),
    NOW,
    WALL,
  );
  assert.equal(short.said, undefined);
  assert.equal(short.notRetried, undefined);
});

Deno.test("classifyFailure keeps a throttle's 429 as it was, whatever its words", () => {
  const throttles = [
    anthropicShaped("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    anthropicShaped(
      "1302",
      "High concurrency usage of this API, please reduce concurrency or contact customer service",
    ),
    {
      error: {
        message: "Rate limit reached for gpt-4o on requests per min (RPM)",
        code: "rate_limit_exceeded",
      },
    },
    // Gemini opens every 429 with OpenAI's words for a quota spent, its per-minute throttle too.
    {
      error: {
        code: 429,
        message: "You exceeded your current quota, please check your plan and billing details. For more " +
          "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota " +
          "exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: " +
          "10\nPlease retry in 20.5s.",
        status: "RESOURCE_EXHAUSTED",
      },
    },
    // The same through Gemini's OpenAI-compatible endpoint, as relay's OpenAI adapter words it.
    anthropicShaped(
      "rate_limit_error",
      "You exceeded your current quota, please check your plan and billing details. For more information on " +
        "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. Please retry in 26s.",
    ),
    "",
  ];
  for (const body of throttles) {
    assert.deepEqual(classifyFailure(limited(body), NOW, WALL), {
      action: "retry_next_key",
      coolKeyUntil: NOW + 60_000,
      coolGuessed: true,
      countsForBreaker: false,
      reason: "429 from upstream",
    }, JSON.stringify(body));
  }
  // Quota words on another status are that status's business (a 404 is returned as it is).
  const other: UpstreamOutcome = { ...limited(SPENT[0].body), status: 404 } as UpstreamOutcome;
  assert.equal(classifyFailure(other, NOW, WALL).action, "return");
});

Deno.test("classifyFailure reads Anthropic's 400s for an account out of credit or past its spend limit as quotas spent", () => {
  const refused = (message: string): UpstreamOutcome => ({
    ...limited(anthropicShaped("invalid_request_error", message)),
    status: 400,
  } as UpstreamOutcome);
  const credit =
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to " +
    "upgrade or purchase credits.";
  assert.deepEqual(classifyFailure(refused(credit), NOW, WALL), {
    action: "disable_key",
    refusedWith: 402,
    countsForBreaker: false,
    said: credit,
    notRetried: true,
    reason: `400 from upstream, quota or balance spent: ${credit}`,
  });
  const limit =
    "You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.";
  assert.deepEqual(classifyFailure(refused(limit), NOW, WALL), restsThreeHours(400, limit));
  // Any other 400 is the request's own fault, returned as it is, whatever words it quotes of the request.
  for (
    const message of [
      "max_tokens: Field required",
      "Input should be a valid string: input_value='out of credits, please recharge: daily limit reached'",
      `messages.0.content: ${credit}`,
    ]
  ) {
    assert.deepEqual(classifyFailure(refused(message), NOW, WALL), {
      action: "return",
      countsForBreaker: false,
      reason: "400 from upstream",
    }, message);
  }
});

Deno.test("classifyFailure keeps the upstream's words short, on one line, and masks what looks like a key", () => {
  const key = "sk-proj-abcdefghijklmnopqrstuvwx1234";
  const message = `Insufficient balance\n for key ${key} ; ${"Please recharge. ".repeat(40)}`;
  const { said } = classifyFailure(limited(anthropicShaped("1113", message)), NOW, WALL);
  assert.ok(said !== undefined && !said.includes(key) && !said.includes("\n"), said);
  assert.ok(said.length <= 301, `${said.length} characters`);
  assert.match(said, /^Insufficient balance for key sk-proj-\.\.\.1234 ; Please recharge\./);
});
