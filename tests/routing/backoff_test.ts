import assert from "node:assert/strict";
import { retryDelay } from "../../src/routing/backoff.ts";

const OPTIONS = { baseMs: 250, maxMs: 8000, maxRetryAfterMs: 60_000 };
const top = () => 0.999999;

Deno.test("retryDelay doubles its ceiling per attempt up to maxMs", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 50, 5000].map((attempt) => retryDelay(attempt, OPTIONS, top)),
    [249, 499, 999, 1999, 3999, 7999, 7999, 7999, 7999],
  );
});

Deno.test("retryDelay jitters over the whole range", () => {
  assert.deepEqual([0, 0.25, 0.5].map((r) => retryDelay(3, OPTIONS, () => r)), [0, 500, 1000]);
});
