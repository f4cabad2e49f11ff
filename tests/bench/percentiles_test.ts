import assert from "node:assert/strict";
import { percentiles } from "../../src/bench/percentiles.ts";

Deno.test("percentiles are nearest-rank: observed values, whatever the input order", () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 down to 1
  assert.deepEqual(percentiles(values), { p50: 50, p90: 90, p99: 99, max: 100 });
});

Deno.test("percentiles of a few values round up to the next observed one", () => {
  assert.deepEqual(percentiles([4, 1, 3, 2]), { p50: 2, p90: 4, p99: 4, max: 4 });
  assert.deepEqual(percentiles([7]), { p50: 7, p90: 7, p99: 7, max: 7 });
  assert.deepEqual(percentiles([0.5, 0.25, 2.5]), { p50: 0.5, p90: 2.5, p99: 2.5, max: 2.5 });
});

Deno.test("percentiles leave their input as it was", () => {
  const values = [3, 1, 2];
  percentiles(values);
  assert.deepEqual(values, [3, 1, 2]);
});

Deno.test("percentiles of nothing is an error, not NaN", () => {
  assert.throws(() => percentiles([]), RangeError);
});
