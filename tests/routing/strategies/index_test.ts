import assert from "node:assert/strict";
import { createStrategy, STRATEGY_NAMES } from "../../../src/routing/strategies/index.ts";
import { randomSequence } from "../_fakes.ts";
import { candidate, names, REQUEST } from "./_candidates.ts";

Deno.test("createStrategy builds every strategy the config can name", () => {
  assert.deepEqual(
    STRATEGY_NAMES.map((name) => createStrategy(name).name),
    ["failover", "round_robin", "shuffle", "least_busy", "latency", "cost", "model"],
  );
});

Deno.test("createStrategy hands each strategy its own options", () => {
  const candidates = [
    candidate("a", { ewmaTtfbMs: 100, price: { inputPerMTok: 3, outputPerMTok: 15 } }),
    candidate("b", { ewmaTtfbMs: 500, price: { inputPerMTok: 1, outputPerMTok: 5 } }),
  ];
  const order = (strategy: ReturnType<typeof createStrategy>) => names(strategy.order(candidates, REQUEST));
  assert.deepEqual(order(createStrategy("model", { modelRoutes: { [REQUEST.model!]: "b" } })), ["b", "a"]);
  assert.deepEqual(order(createStrategy("cost", { costThresholdTokens: 1001 })), ["a", "b"]);
  assert.deepEqual(order(createStrategy("cost", { costThresholdTokens: 1000 })), ["b", "a"]);
  assert.deepEqual(
    order(createStrategy("latency", { explorationRate: 0.5, random: randomSequence(0.4, 0) })),
    ["b", "a"],
    "0.4 < 0.5 explores",
  );
  assert.deepEqual(order(createStrategy("shuffle", { random: randomSequence(0.6, 0) })), ["b", "a"]);
});

Deno.test("createStrategy builds a fresh strategy each time", () => {
  const candidates = [candidate("a"), candidate("b")];
  const first = createStrategy("round_robin");
  first.order(candidates, REQUEST);
  assert.deepEqual(names(createStrategy("round_robin").order(candidates, REQUEST)), ["a", "b"]);
  assert.deepEqual(names(first.order(candidates, REQUEST)), ["b", "a"]);
});
