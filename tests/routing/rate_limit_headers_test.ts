import assert from "node:assert/strict";
import { readRateLimitHeaders } from "../../src/routing/rate_limit_headers.ts";

// api.anthropic.com, 2025-08-21, recorded in the tidyllm test fixtures (protocols.md 1.5 [HDR-CAPTURE]).
const CAPTURE_2025 = new Headers({
  "date": "Thu, 21 Aug 2025 12:41:00 GMT",
  "content-type": "application/json",
  "content-encoding": "gzip",
  "anthropic-ratelimit-input-tokens-limit": "80000",
  "anthropic-ratelimit-input-tokens-remaining": "80000",
  "anthropic-ratelimit-input-tokens-reset": "2025-08-21T12:40:59Z",
  "anthropic-ratelimit-output-tokens-limit": "16000",
  "anthropic-ratelimit-output-tokens-remaining": "16000",
  "anthropic-ratelimit-output-tokens-reset": "2025-08-21T12:41:00Z",
  "anthropic-ratelimit-requests-limit": "1000",
  "anthropic-ratelimit-requests-remaining": "999",
  "anthropic-ratelimit-requests-reset": "2025-08-21T12:40:59Z",
  "anthropic-ratelimit-tokens-limit": "96000",
  "anthropic-ratelimit-tokens-remaining": "96000",
  "anthropic-ratelimit-tokens-reset": "2025-08-21T12:40:59Z",
  "request-id": "req_011CSLsW7mFqvHHnzrKdKjAE",
  "anthropic-organization-id": "36562039-1ae4-48e6-ae28-1e517e3d2d12",
  "x-envoy-upstream-service-time": "690",
  "via": "1.1 google",
  "server": "cloudflare",
});

// The same fixtures, 2024-10-15: before the input/output windows existed.
const CAPTURE_2024 = new Headers({
  "date": "Tue, 15 Oct 2024 09:48:23 GMT",
  "anthropic-ratelimit-requests-limit": "50",
  "anthropic-ratelimit-requests-remaining": "49",
  "anthropic-ratelimit-requests-reset": "2024-10-15T09:49:10Z",
  "anthropic-ratelimit-tokens-limit": "40000",
  "anthropic-ratelimit-tokens-remaining": "40000",
  "anthropic-ratelimit-tokens-reset": "2024-10-15T09:48:23Z",
  "request-id": "req_019wGfiTXuPVGqimAyq4912o",
});

// A Max-plan response as recorded by subscription tools (shapes verified against live traffic).
const SUBSCRIPTION_200 = new Headers({
  "anthropic-ratelimit-unified-status": "allowed",
  "anthropic-ratelimit-unified-reset": "1790814600",
  "anthropic-ratelimit-unified-representative-claim": "five_hour",
  "anthropic-ratelimit-unified-5h-status": "allowed",
  "anthropic-ratelimit-unified-5h-utilization": "0.05",
  "anthropic-ratelimit-unified-5h-reset": "1790814600",
  "anthropic-ratelimit-unified-7d-status": "allowed",
  "anthropic-ratelimit-unified-7d-utilization": "0.68",
  "anthropic-ratelimit-unified-7d-reset": "1790974800",
  "anthropic-ratelimit-unified-7d-sonnet-utilization": "0.02",
  "anthropic-ratelimit-unified-7d_opus-utilization": "0.25",
  "anthropic-ratelimit-unified-overage-status": "rejected",
  "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
  "anthropic-ratelimit-unified-fallback-percentage": "0.5",
});

const NOW_2025 = Date.UTC(2025, 7, 21, 12, 41, 0);

Deno.test("readRateLimitHeaders reads every window of a real api.anthropic.com response", () => {
  assert.deepEqual(readRateLimitHeaders(CAPTURE_2025, NOW_2025, NOW_2025), {
    windows: {
      requests: { limit: 1000, remaining: 999, resetAt: Date.UTC(2025, 7, 21, 12, 40, 59) },
      tokens: { limit: 96000, remaining: 96000, resetAt: Date.UTC(2025, 7, 21, 12, 40, 59) },
      input_tokens: { limit: 80000, remaining: 80000, resetAt: Date.UTC(2025, 7, 21, 12, 40, 59) },
      output_tokens: { limit: 16000, remaining: 16000, resetAt: Date.UTC(2025, 7, 21, 12, 41, 0) },
    },
  });
});

Deno.test("readRateLimitHeaders reads the older two-window response and reports nothing else", () => {
  assert.deepEqual(
    readRateLimitHeaders(CAPTURE_2024, Date.UTC(2024, 9, 15, 9, 48, 23), Date.UTC(2024, 9, 15, 9, 48, 23)),
    {
      windows: {
        requests: { limit: 50, remaining: 49, resetAt: Date.UTC(2024, 9, 15, 9, 49, 10) },
        tokens: { limit: 40000, remaining: 40000, resetAt: Date.UTC(2024, 9, 15, 9, 48, 23) },
      },
    },
  );
});

Deno.test("readRateLimitHeaders reads unified windows by prefix, whatever their names", () => {
  // A few days before its five-hour window resets.
  assert.deepEqual(readRateLimitHeaders(SUBSCRIPTION_200, Date.UTC(2026, 8, 28), Date.UTC(2026, 8, 28)), {
    windows: {},
    unified: {
      status: "allowed",
      resetAt: 1790814600_000,
      representativeClaim: "five_hour",
      windows: {
        "5h": { status: "allowed", utilization: 0.05, resetAt: 1790814600_000 },
        "7d": { status: "allowed", utilization: 0.68, resetAt: 1790974800_000 },
        "7d-sonnet": { utilization: 0.02 },
        "7d_opus": { utilization: 0.25 },
        "overage": { status: "rejected" },
      },
    },
  });
});

Deno.test("readRateLimitHeaders reads a plan-limit 429: rejected, its reset and retry-after", () => {
  const now = Date.UTC(2026, 7, 7, 13, 30, 0);
  const snapshot = readRateLimitHeaders(
    new Headers({
      "retry-after": "37800",
      "x-should-retry": "false",
      "anthropic-ratelimit-unified-status": "rejected",
      "anthropic-ratelimit-unified-reset": "2026-08-08T00:00:00Z",
      "anthropic-ratelimit-unified-overage-reset": "1786147200",
      "anthropic-ratelimit-unified-overage-utilization": "1",
      "anthropic-ratelimit-unified-overage-surpassed-threshold": "1",
      "anthropic-ratelimit-unified-overage-period": "daily",
    }),
    now,
    now,
  );
  assert.deepEqual(snapshot, {
    windows: {},
    retryAfterMs: 37_800_000,
    unified: {
      status: "rejected",
      resetAt: Date.UTC(2026, 7, 8),
      windows: { overage: { resetAt: 1786147200_000, utilization: 1 } },
    },
  });
});

Deno.test("readRateLimitHeaders reads OpenAI-style windows with Go duration resets", () => {
  const now = 1_000_000;
  // The example OpenAI documents, plus forms seen from compatible upstreams.
  const snapshot = readRateLimitHeaders(
    new Headers({
      "x-ratelimit-limit-requests": "60",
      "x-ratelimit-limit-tokens": "150000",
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-remaining-tokens": "149984",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-reset-tokens": "6m0s",
    }),
    now,
    now,
  );
  assert.deepEqual(snapshot.windows, {
    requests: { limit: 60, remaining: 59, resetAt: now + 1000 },
    tokens: { limit: 150000, remaining: 149984, resetAt: now + 360_000 },
  });
  const reset = (value: string) =>
    readRateLimitHeaders(new Headers({ "x-ratelimit-reset-tokens": value }), now, now).windows.tokens
      ?.resetAt;
  assert.deepEqual(
    ["20ms", "0.5s", "1h2m3.5s", "2m59.56s", "0s", "1500us"].map(reset),
    [now + 20, now + 500, now + 3_723_500, now + 179_560, now, now + 1.5],
  );
});

Deno.test("readRateLimitHeaders prefers anthropic-ratelimit-* over x-ratelimit-* field by field", () => {
  const snapshot = readRateLimitHeaders(
    new Headers({
      "anthropic-ratelimit-requests-remaining": "5",
      "x-ratelimit-remaining-requests": "7",
      "x-ratelimit-limit-requests": "10",
    }),
    0,
    0,
  );
  assert.deepEqual(snapshot.windows, { requests: { limit: 10, remaining: 5 } });
});

Deno.test("readRateLimitHeaders reads retry-after as seconds or an HTTP date (one already past as none), retry-after-ms first", () => {
  const now = Date.UTC(1994, 10, 6, 8, 49, 7);
  const retryAfter = (headers: Record<string, string>) =>
    readRateLimitHeaders(new Headers(headers), now, now).retryAfterMs;
  assert.deepEqual(
    [
      retryAfter({ "retry-after": "30" }),
      retryAfter({ "retry-after": "1.5" }),
      retryAfter({ "retry-after": "Sun, 06 Nov 1994 08:49:37 GMT" }),
      retryAfter({ "retry-after": "Sunday, 06-Nov-94 08:49:37 GMT" }),
      retryAfter({ "retry-after": "Sun Nov  6 08:49:37 1994" }),
      retryAfter({ "retry-after": "Sun, 06 Nov 1994 08:00:00 GMT" }),
      retryAfter({ "retry-after": "30", "retry-after-ms": "1250" }),
      retryAfter({ "retry-after": "30", "retry-after-ms": "soon" }),
    ],
    [30_000, 1500, 30_000, 30_000, 30_000, undefined, 1250, 30_000],
  );
});

Deno.test("readRateLimitHeaders gives every instant on the monotonic clock: a date by how far it is from the wall clock", () => {
  const now = 5_000;
  const wallNow = Date.UTC(2026, 10, 26, 12);
  const month = 31 * 24 * 3_600_000;
  const snapshot = readRateLimitHeaders(
    new Headers({
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": "2026-11-26T12:00:12Z",
      "anthropic-ratelimit-tokens-reset": `${wallNow / 1000 + 20}`,
      "anthropic-ratelimit-input-tokens-reset": `${wallNow + 30_000}`,
      "anthropic-ratelimit-output-tokens-reset": "42",
      "anthropic-ratelimit-unified-reset": "2026-11-26T11:59:00Z",
      "anthropic-ratelimit-unified-7d-reset": "9999-12-31T00:00:00Z",
      "retry-after": "Thu, 26 Nov 2026 12:00:30 GMT",
    }),
    now,
    wallNow,
  );
  assert.deepEqual(
    [
      snapshot.windows.requests?.resetAt,
      snapshot.windows.tokens?.resetAt,
      snapshot.windows.input_tokens?.resetAt,
      snapshot.windows.output_tokens?.resetAt,
      snapshot.unified?.resetAt,
      snapshot.unified?.windows["7d"].resetAt,
      snapshot.retryAfterMs,
    ],
    [now + 12_000, now + 20_000, now + 30_000, now + 42_000, now - 60_000, now + month, 30_000],
  );
  const openai = readRateLimitHeaders(new Headers({ "x-ratelimit-reset-requests": "6m0s" }), now, wallNow);
  assert.equal(openai.windows.requests?.resetAt, now + 360_000);
});

Deno.test("readRateLimitHeaders reads a bare reset number as epoch seconds, epoch ms or seconds from now", () => {
  const now = Date.UTC(2026, 8, 27);
  const reset = (value: string) =>
    readRateLimitHeaders(new Headers({ "anthropic-ratelimit-tokens-reset": value }), now, now).windows.tokens
      ?.resetAt;
  assert.deepEqual(
    [reset("1790814600"), reset("1790814600123"), reset("42"), reset("2026-09-27T07:08:00-05:00")],
    [1790814600_000, 1790814600123, now + 42_000, Date.UTC(2026, 8, 27, 12, 8, 0)],
  );
});

Deno.test("readRateLimitHeaders takes nothing as further ahead than a month: a bogus reset cannot cool a key for good", () => {
  const now = Date.UTC(2026, 10, 26);
  const month = 31 * 24 * 3_600_000;
  const read = (headers: Record<string, string>) => readRateLimitHeaders(new Headers(headers), now, now);
  for (const reset of ["99999999999999999", "9999999999h", "9999-12-31T00:00:00Z", "31622400"]) {
    assert.equal(
      read({ "anthropic-ratelimit-requests-reset": reset }).windows.requests?.resetAt,
      now + month,
      reset,
    );
    assert.equal(read({ "anthropic-ratelimit-unified-reset": reset }).unified?.resetAt, now + month, reset);
  }
  const huge: Record<string, string>[] = [{ "retry-after": "9999999999999" }, {
    "retry-after-ms": "9".repeat(400),
  }];
  for (const headers of huge) assert.equal(read(headers).retryAfterMs, month, JSON.stringify(headers));
  assert.equal(read({ "retry-after": "Fri, 31 Dec 9999 23:59:59 GMT" }).retryAfterMs, month);
});

Deno.test("readRateLimitHeaders leaves garbled values out and never throws", () => {
  const garbled = [
    "",
    "abc",
    "-5",
    "1e3",
    "0x10",
    "Infinity",
    "2025-13-45T99:00:00Z",
    "tomorrow 5",
    "5 minutes",
  ];
  for (const value of garbled) {
    const snapshot = readRateLimitHeaders(
      new Headers({
        "anthropic-ratelimit-requests-limit": value,
        "anthropic-ratelimit-requests-remaining": value,
        "anthropic-ratelimit-requests-reset": value,
        "x-ratelimit-reset-tokens": value,
        "anthropic-ratelimit-unified-5h-utilization": value,
        "anthropic-ratelimit-unified-reset": value,
        "retry-after": value,
        "retry-after-ms": value,
      }),
      0,
      0,
    );
    assert.deepEqual(snapshot, { windows: {} }, `value ${JSON.stringify(value)}`);
  }
  assert.deepEqual(
    readRateLimitHeaders(new Headers({ "anthropic-ratelimit-unified-status": "not a word!" }), 0, 0),
    { windows: {} },
  );
});

Deno.test("readRateLimitHeaders ignores headers outside the families it knows", () => {
  assert.deepEqual(
    readRateLimitHeaders(
      new Headers({
        "anthropic-ratelimit-requests-remaining": " 12 ",
        "x-ratelimit-remaining": "3",
        "cf-ray": "1",
      }),
      0,
      0,
    ),
    { windows: { requests: { remaining: 12 } } },
  );
});

Deno.test("readRateLimitHeaders keeps a unified window named __proto__ to itself", () => {
  const snapshot = readRateLimitHeaders(
    new Headers({ "anthropic-ratelimit-unified-__proto__-status": "rejected" }),
    0,
    0,
  );
  assert.equal(({} as Record<string, unknown>).status, undefined, "Object.prototype untouched");
  assert.deepEqual(Object.entries(snapshot.unified!.windows), [["__proto__", { status: "rejected" }]]);
});
