import assert from "node:assert/strict";
import { formatUsd } from "../../src/util/usd.ts";

Deno.test("formatUsd shows cents, and an amount under a cent to a hundredth of one, never as nothing", () => {
  const shown = [0, 12.345, 1, 0.01, 0.0042, 0.009, 0.0001, 0.00004, 1e-9].map(formatUsd);
  assert.deepEqual(shown, [
    "$0.00",
    "$12.35",
    "$1.00",
    "$0.01",
    "$0.0042",
    "$0.0090",
    "$0.0001",
    "<$0.0001",
    "<$0.0001",
  ]);
});
