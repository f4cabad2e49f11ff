import assert from "node:assert/strict";
import { CredentialError } from "../../src/providers/types.ts";
import {
  asStandInRefusal,
  classifyFailure,
  MODEL_REFUSAL_MS,
  type UpstreamOutcome,
} from "../../src/routing/failure.ts";

const NOW = 1_000_000;
const http = (status: number, headers: Record<string, string> = {}): UpstreamOutcome => ({
  kind: "http",
  status,
  headers: new Headers(headers),
});

Deno.test("classifyFailure sends network failures and timeouts to the next provider, counting them", () => {
  assert.deepEqual(
    classifyFailure({ kind: "network", error: new TypeError("connection refused") }, NOW, NOW),
    {
      action: "retry_next_provider",
      countsForBreaker: true,
      reason: "network error: connection refused",
    },
  );
  assert.deepEqual(classifyFailure({ kind: "timeout" }, NOW, NOW), {
    action: "retry_next_provider",
    countsForBreaker: true,
    reason: "no first byte in time",
  });
  const why = "upstream bedrock did not answer within 10000 ms (timeouts.connect)";
  assert.equal(
    classifyFailure({ kind: "timeout", why }, NOW, NOW).reason,
    `timeout: ${why}`,
    "names the deadline",
  );
});

Deno.test("classifyFailure names a credential relay could not get as such, failing over and counting it, refused for good or not", () => {
  const error = new CredentialError(
    "Vertex auth failed: token endpoint https://oauth2.googleapis.com/token answered 400: invalid_grant: " +
      "Invalid JWT Signature.",
    true,
  );
  assert.deepEqual(classifyFailure({ kind: "credentials", error }, NOW, NOW), {
    action: "retry_next_provider",
    countsForBreaker: true,
    reason: `credentials: ${error.message}`,
    credentialRefused: true,
    askedNoMore: true,
  });
  const emfile = new CredentialError(
    "Vertex auth failed: token endpoint https://oauth2.googleapis.com/token failed: fetch failed: " +
      "tcp open error: Too many open files (os error 24)",
    false,
  );
  const passing = classifyFailure({ kind: "credentials", error: emfile }, NOW, NOW);
  assert.deepEqual([passing.countsForBreaker, passing.credentialRefused, passing.askedNoMore], [
    false,
    undefined,
    undefined,
  ]);
  const redirected = classifyFailure(
    { kind: "network", error: new Error("redirected"), misrouted: true },
    NOW,
    NOW,
  );
  assert.deepEqual([redirected.action, redirected.askedNoMore, redirected.credentialRefused], [
    "retry_next_provider",
    true,
    undefined,
  ], "a wrong base_url: not asked again in the request, but no credential refused for good");
});

Deno.test("classifyFailure fails an attempt relay could not make for want of file descriptors, counting it against no one", () => {
  // As Deno's fetch fails when relay is at its `ulimit -n`: the provider and its key are not to blame.
  for (const os of ["Too many open files (os error 24)", "Too many open files in system (os error 23)"]) {
    const cause = new Error(
      `error sending request for url (http://127.0.0.1:9/v1/messages): client error (Connect): tcp open error: ${os}`,
    );
    assert.deepEqual(
      classifyFailure({ kind: "network", error: new TypeError("fetch failed", { cause }) }, NOW, NOW),
      {
        action: "retry_next_provider",
        countsForBreaker: false,
        reason: `network error: fetch failed: client error (Connect): tcp open error: ${os}`,
      },
    );
  }
});

Deno.test("classifyFailure sends 408, 5xx and 529 to the next provider, counting them", () => {
  for (const status of [408, 500, 502, 503, 504, 529]) {
    assert.deepEqual(classifyFailure(http(status), NOW, NOW), {
      action: "retry_next_provider",
      countsForBreaker: true,
      answered: true,
      reason: `${status} from upstream`,
    });
  }
  assert.equal(classifyFailure(http(529, { "retry-after": "7" }), NOW, NOW).retryAfterMs, 7000);
});

Deno.test("classifyFailure cools a 429's key and tries the next key, without counting it", () => {
  assert.deepEqual(classifyFailure(http(429, { "retry-after": "12" }), NOW, NOW), {
    action: "retry_next_key",
    coolKeyUntil: NOW + 12_000,
    countsForBreaker: false,
    retryAfterMs: 12_000,
    reason: "429 from upstream",
  });
});

Deno.test("classifyFailure cools a 429 without retry-after until the reset its headers name", () => {
  const cool = (headers: Record<string, string>) =>
    classifyFailure(http(429, headers), NOW, NOW).coolKeyUntil;
  assert.equal(
    cool({
      "anthropic-ratelimit-unified-status": "rejected",
      "anthropic-ratelimit-unified-reset": "1970-01-01T00:30:00Z",
    }),
    1_800_000,
  );
  assert.equal(
    cool({
      "anthropic-ratelimit-unified-status": "allowed",
      "anthropic-ratelimit-unified-reset": "1970-01-01T00:30:00Z",
    }),
    NOW + 60_000,
    "an allowed quota is not why the key was refused",
  );
  assert.equal(
    cool({
      "anthropic-ratelimit-input-tokens-remaining": "0",
      "anthropic-ratelimit-input-tokens-reset": "1970-01-01T00:17:00Z",
      "anthropic-ratelimit-output-tokens-remaining": "0",
      "anthropic-ratelimit-output-tokens-reset": "1970-01-01T00:17:30Z",
      "anthropic-ratelimit-requests-remaining": "40",
      "anthropic-ratelimit-requests-reset": "1970-01-01T00:20:00Z",
    }),
    1_050_000,
    "the latest reset among the windows it reports empty",
  );
  assert.equal(cool({}), NOW + 60_000);
  assert.equal(classifyFailure(http(429), NOW, NOW, { defaultCoolMs: 5000 }).coolKeyUntil, NOW + 5000);
});

Deno.test("classifyFailure cools a 429 whose reset is already past as one without a reset", () => {
  const now = Date.UTC(2026, 10, 26);
  const cool = (headers: Record<string, string>) =>
    classifyFailure(http(429, headers), now, now).coolKeyUntil;
  assert.equal(
    cool({
      "anthropic-ratelimit-unified-status": "rejected",
      "anthropic-ratelimit-unified-reset": "1700000000",
    }),
    now + 60_000,
    "the upstream's clock is behind: the key still rests",
  );
  assert.equal(
    cool({
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": "2023-11-14T22:13:20Z",
    }),
    now + 60_000,
  );
});

Deno.test("classifyFailure cools a 429 whose retry-after date is already past as one without retry-after", () => {
  const now = Date.UTC(2026, 10, 26);
  const past = { "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" };
  assert.deepEqual(classifyFailure(http(429, past), now, now), {
    action: "retry_next_key",
    coolKeyUntil: now + 60_000,
    coolGuessed: true,
    countsForBreaker: false,
    reason: "429 from upstream",
  }, "no retry-after of 0: the key rests as after a 429 that names no time");
  assert.equal(
    classifyFailure(
      http(429, {
        ...past,
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2026-11-26T00:00:20Z",
      }),
      now,
      now,
    ).coolKeyUntil,
    now + 20_000,
    "the reset its headers name, as without retry-after",
  );
});

Deno.test("classifyFailure cools a 429's key on the monotonic clock, an upstream's date read against the wall clock", () => {
  const now = 5_000;
  const wallNow = Date.UTC(2026, 10, 26, 12);
  const cool = (headers: Record<string, string>) =>
    classifyFailure(http(429, headers), now, wallNow).coolKeyUntil;
  assert.deepEqual(
    [
      cool({ "retry-after": "10" }),
      cool({ "retry-after": "Thu, 26 Nov 2026 12:00:10 GMT" }),
      cool({
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2026-11-26T12:00:30Z",
      }),
      cool({
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": `${wallNow / 1000 + 3_600}`,
      }),
      cool({}),
    ],
    [now + 10_000, now + 10_000, now + 30_000, now + 3_600_000, now + 60_000],
  );
});

Deno.test("classifyFailure disables the key on 401 and 402, to be answered so while it is out", () => {
  for (const status of [401, 402]) {
    assert.deepEqual(classifyFailure(http(status), NOW, NOW), {
      action: "disable_key",
      refusedWith: status,
      countsForBreaker: false,
      reason: `${status} from upstream`,
    });
  }
});

Deno.test("classifyFailure keeps a refused key's words, masked and on one line, for relay's answers while it is out", () => {
  const key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
  const text = JSON.stringify({
    error: { message: `Incorrect API key provided:\n ${key}`, type: "invalid_request_error" },
  });
  const answered = (status: number) =>
    classifyFailure({ kind: "http", status, headers: new Headers(), text }, NOW, NOW);
  const decision = answered(401);
  assert.equal(decision.refusedWith, 401);
  assert.equal(decision.said, "Incorrect API key provided: sk-proj-...6789");
  assert.equal(decision.notRetried, undefined, "the upstream's 401 goes on as it came");
  assert.equal(answered(400).said, undefined, "a request's own fault");
  const refused = answered(403);
  assert.deepEqual([refused.action, refused.said], [
    "refuse_model",
    "Incorrect API key provided: sk-proj-...6789",
  ]);
});

Deno.test("classifyFailure refuses the key the model on a 403, for its retry-after, else five minutes", () => {
  assert.deepEqual(classifyFailure(http(403), NOW, NOW), {
    action: "refuse_model",
    refuseModelUntil: NOW + MODEL_REFUSAL_MS,
    countsForBreaker: false,
    reason: "403 from upstream",
  });
  assert.equal(MODEL_REFUSAL_MS, 300_000);
  assert.deepEqual(
    [
      classifyFailure(http(403, { "retry-after": "30" }), NOW, NOW).refuseModelUntil,
      classifyFailure(http(403), NOW, NOW, { modelRefusalMs: 1_000 }).refuseModelUntil,
    ],
    [NOW + 30_000, NOW + 1_000],
  );
});

Deno.test("classifyFailure returns other 4xx to the client at once", () => {
  for (const status of [400, 404, 405, 409, 413, 422]) {
    assert.deepEqual(classifyFailure(http(status, { "retry-after": "1" }), NOW, NOW), {
      action: "return",
      countsForBreaker: false,
      reason: `${status} from upstream`,
    });
  }
});

Deno.test("classifyFailure treats an error event before message_start as its error type's status", () => {
  const event = (errorType: string, headers: Record<string, string> = {}) =>
    classifyFailure({ kind: "stream_error", errorType, headers: new Headers(headers) }, NOW, NOW);
  assert.deepEqual(event("overloaded_error"), {
    action: "retry_next_provider",
    countsForBreaker: true,
    answered: true,
    reason: "overloaded_error event before message_start",
  });
  assert.deepEqual(
    [
      event("rate_limit_error", { "retry-after": "3" }).coolKeyUntil,
      event("authentication_error").action,
      event("permission_error").action,
      event("billing_error").action,
      event("invalid_request_error").action,
      event("request_too_large").action,
      event("api_error").action,
      event("something_new").action,
    ],
    [
      NOW + 3000,
      "disable_key",
      "refuse_model",
      "disable_key",
      "return",
      "return",
      "retry_next_provider",
      "retry_next_provider",
    ],
  );
});

Deno.test("classifyFailure returns a 408, 429 or 5xx marked x-should-retry: false, keeping the status's bookkeeping", () => {
  for (const status of [408, 500, 503, 529]) {
    assert.deepEqual(
      classifyFailure(http(status, { "x-should-retry": "false", "retry-after": "5" }), NOW, NOW),
      {
        action: "return",
        countsForBreaker: true,
        answered: true,
        reason: `${status} from upstream, x-should-retry: false`,
      },
    );
  }
  assert.deepEqual(classifyFailure(http(429, { "x-should-retry": "false", "retry-after": "12" }), NOW, NOW), {
    action: "return",
    coolKeyUntil: NOW + 12_000,
    countsForBreaker: false,
    reason: "429 from upstream, x-should-retry: false",
  });
});

Deno.test("classifyFailure retries a 4xx marked x-should-retry: true, without counting it", () => {
  for (const status of [400, 404, 409, 413, 422]) {
    assert.deepEqual(
      classifyFailure(http(status, { "x-should-retry": "true", "retry-after": "2" }), NOW, NOW),
      {
        action: "retry_next_provider",
        countsForBreaker: false,
        retryAfterMs: 2_000,
        reason: `${status} from upstream, x-should-retry: true`,
      },
    );
  }
});

Deno.test("classifyFailure keeps the status's verdict when x-should-retry agrees or is no true or false", () => {
  const cases: [number, string][] = [
    [500, "true"],
    [529, "TRUE"],
    [503, "0"],
    [429, "true"],
    [400, "false"],
    [409, "1"],
    [404, ""],
  ];
  for (const [status, value] of cases) {
    assert.deepEqual(
      classifyFailure(http(status, { "x-should-retry": value }), NOW, NOW),
      classifyFailure(http(status), NOW, NOW),
      `${status} with x-should-retry: ${JSON.stringify(value)}`,
    );
  }
});

Deno.test("classifyFailure disables a refused key, or refuses it the model, whatever x-should-retry says", () => {
  for (const status of [401, 402, 403]) {
    for (const value of ["true", "false"]) {
      assert.equal(
        classifyFailure(http(status, { "x-should-retry": value }), NOW, NOW).action,
        status === 403 ? "refuse_model" : "disable_key",
      );
    }
  }
});

Deno.test("classifyFailure lets x-should-retry decide for HTTP answers only, not error events of a 2xx", () => {
  const event = (errorType: string, shouldRetry: string) =>
    classifyFailure(
      { kind: "stream_error", errorType, headers: new Headers({ "x-should-retry": shouldRetry }) },
      NOW,
      NOW,
    ).action;
  assert.deepEqual(
    [event("overloaded_error", "false"), event("invalid_request_error", "true")],
    ["retry_next_provider", "return"],
  );
});

Deno.test("asStandInRefusal passes over a stand-in that refuses the request as invalid or its model as unknown, and nothing else", () => {
  // A backup without the model yet (its 404) is no verdict on the request, which the provider it was meant for may take.
  for (const status of [400, 404, 413, 422]) {
    assert.deepEqual(asStandInRefusal(classifyFailure(http(status), NOW, NOW), http(status)), {
      action: "skip_provider",
      countsForBreaker: false,
      sent: true,
      reason: `${status} from upstream, standing in for a provider that cannot take the request now`,
    });
  }
  // What a stand-in says of itself or of the client stands: a refused key, trouble.
  for (const status of [401, 403, 429, 529]) {
    const decision = classifyFailure(http(status), NOW, NOW);
    assert.equal(asStandInRefusal(decision, http(status)), decision, String(status));
  }
  // A 400 the stand-in marks for a retry is retried as it says; a 429 it says not to retry is its own.
  for (const [status, retry] of [[400, "true"], [429, "false"]] as const) {
    const outcome = http(status, { "x-should-retry": retry });
    const decision = classifyFailure(outcome, NOW, NOW);
    assert.equal(asStandInRefusal(decision, outcome), decision, `${status}, x-should-retry: ${retry}`);
  }
});
