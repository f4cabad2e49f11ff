import assert from "node:assert/strict";
import { RetryAfters, type Upstream } from "../../src/routing/retry_afters.ts";

// Routes and keys are told apart by identity alone.
const [a, b] = [{}, {}] as unknown as Upstream["route"][];
const [k1, k2] = [{}, {}] as unknown as NonNullable<Upstream["key"]>[];
const OVERLOADED = { retryAfterMs: 3_000 };
const RATE_LIMITED = { retryAfterMs: 3_000, coolKeyUntil: 3_000 };

Deno.test("a 529's retry-after is owed by every key of its provider, and only there: no rate limit", () => {
  const owed = new RetryAfters(60_000);
  owed.failed({ route: a, key: k1 }, OVERLOADED, 0);
  assert.deepEqual(owed.owedBy({ route: a, key: k2 }, 1_000), { cappedMs: 2_000, rateLimitedMs: undefined });
  assert.equal(owed.owedBy({ route: b, key: k1 }, 1_000), undefined, "another provider owes it nothing");
});

Deno.test("a 429's retry-after is owed by its key alone, a rate limit while it runs", () => {
  const owed = new RetryAfters(60_000);
  owed.failed({ route: a, key: k1 }, RATE_LIMITED, 0);
  assert.deepEqual(owed.owedBy({ route: a, key: k1 }, 500), { cappedMs: 2_500, rateLimitedMs: 2_500 });
  assert.equal(owed.owedBy({ route: a, key: k2 }, 500), undefined);
  assert.deepEqual(
    owed.owedBy({ route: a, key: k1 }, 3_000),
    { cappedMs: 0, rateLimitedMs: undefined },
    "over",
  );
  owed.failed({ route: b, key: undefined }, RATE_LIMITED, 0);
  assert.equal(
    owed.owedBy({ route: b, key: undefined }, 0)?.rateLimitedMs,
    3_000,
    "a keyless provider's one key",
  );
});

Deno.test("retry-afters are remembered past failures elsewhere: the longest is waited, only a running 429 limits", () => {
  const owed = new RetryAfters(60_000);
  owed.failed({ route: a, key: k1 }, { retryAfterMs: 10_000 }, 0);
  owed.failed({ route: b, key: k1 }, OVERLOADED, 1_000);
  owed.failed({ route: a, key: k2 }, RATE_LIMITED, 2_000);
  assert.deepEqual(owed.owedBy({ route: a, key: k2 }, 4_000), { cappedMs: 6_000, rateLimitedMs: 1_000 });
  // The 429 first, then the 529: the order they were said in does not decide.
  const reversed = new RetryAfters(60_000);
  reversed.failed({ route: a, key: k2 }, RATE_LIMITED, 2_000);
  reversed.failed({ route: a, key: k1 }, { retryAfterMs: 10_000 }, 0);
  assert.deepEqual(reversed.owedBy({ route: a, key: k2 }, 4_000), { cappedMs: 6_000, rateLimitedMs: 1_000 });
  assert.deepEqual(owed.owedBy({ route: a, key: k1 }, 12_000), { cappedMs: 0, rateLimitedMs: undefined });
});

Deno.test("a retry-after is capped at routing.max_retry_after for the wait, a 429's limit counted in full", () => {
  const owed = new RetryAfters(5_000);
  owed.failed({ route: a, key: k1 }, { retryAfterMs: 600_000 }, 0);
  owed.failed({ route: a, key: k1 }, { retryAfterMs: undefined }, 0);
  assert.deepEqual(owed.owedBy({ route: a, key: k1 }, 1_000), { cappedMs: 4_000, rateLimitedMs: undefined });
  owed.failed({ route: a, key: k1 }, { retryAfterMs: 600_000, coolKeyUntil: 600_000 }, 0);
  assert.deepEqual(owed.owedBy({ route: a, key: k1 }, 1_000), { cappedMs: 4_000, rateLimitedMs: 599_000 });
});
