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

Deno.test("formatUsd shows an amount under a cent that rounds up to one as the cent, not $0.0100", () => {
  const shown = [0.00995, 0.0099999, 0.009949, 0.0095, 0.00005, 0.000049, -0].map(formatUsd);
  assert.deepEqual(shown, ["$0.01", "$0.01", "$0.0099", "$0.0095", "$0.0001", "<$0.0001", "$0.00"]);
});
