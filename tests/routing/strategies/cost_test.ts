import assert from "node:assert/strict";
import { costStrategy } from "../../../src/routing/strategies/cost.ts";
import type { RoutingRequest } from "../../../src/routing/strategies/types.ts";
import { candidate, names } from "./_candidates.ts";

const request = (input: number, output = 8000): RoutingRequest => ({
  model: "claude-sonnet-4-5",
  estimatedTokens: { input, output },
});

const SONNET = { inputPerMTok: 3, outputPerMTok: 15 };
const HAIKU_PRICED = { inputPerMTok: 1, outputPerMTok: 5 };

Deno.test("cost puts the cheapest provider for the request first, unpriced ones last", () => {
  const order = costStrategy().order([
    candidate("unpriced"),
    candidate("dear", { price: SONNET }),
    candidate("cheap", { price: HAIKU_PRICED }),
    candidate("also_unpriced"),
  ], request(1000));
  assert.deepEqual(names(order), ["cheap", "dear", "unpriced", "also_unpriced"]);
});

Deno.test("cost keeps the config's order below its token threshold", () => {
  const strategy = costStrategy({ thresholdTokens: 10_000 });
  const candidates = [candidate("dear", { price: SONNET }), candidate("cheap", { price: HAIKU_PRICED })];
  assert.deepEqual(names(strategy.order(candidates, request(9_999))), ["dear", "cheap"]);
  assert.deepEqual(names(strategy.order(candidates, request(10_000))), ["cheap", "dear"]);
});

Deno.test("cost weighs input and output at their own prices", () => {
  // in-heavy: 100k in, 1k out -> a 0.115, b 0.2025; out-heavy: 1k in, 100k out -> a 2.001, b 0.3015
  const candidates = [
    candidate("cheap_in", { price: { inputPerMTok: 1, outputPerMTok: 20 } }),
    candidate("cheap_out", { price: { inputPerMTok: 2, outputPerMTok: 2.5 } }),
  ];
  assert.deepEqual(names(costStrategy().order(candidates, request(100_000, 1000))), [
    "cheap_in",
    "cheap_out",
  ]);
  assert.deepEqual(names(costStrategy().order(candidates, request(1000, 100_000))), [
    "cheap_out",
    "cheap_in",
  ]);
});

Deno.test("cost prices a long request at its provider's long-context tier", () => {
  const tiered = {
    ...SONNET,
    longContext: { aboveInputTokens: 200_000, inputPerMTok: 6, outputPerMTok: 22.5 },
  };
  const candidates = [
    candidate("tiered", { price: tiered }),
    candidate("flat", { price: { inputPerMTok: 4, outputPerMTok: 16 } }),
  ];
  assert.deepEqual(names(costStrategy().order(candidates, request(200_000))), ["tiered", "flat"]);
  assert.deepEqual(names(costStrategy().order(candidates, request(200_001))), ["flat", "tiered"]);
});
