import assert from "node:assert/strict";
import { modelStrategy } from "../../../src/routing/strategies/model.ts";
import { candidate, names } from "./_candidates.ts";

const strategy = modelStrategy({ routes: { "claude-haiku-4-5": "bedrock", "glm-4.7": "zai" } });
const CANDIDATES = [candidate("anthropic"), candidate("vertex"), candidate("bedrock")];
const estimatedTokens = { input: 10, output: 10 };

Deno.test("model puts the provider named for the exact model first, the rest in the config's order", () => {
  assert.deepEqual(
    names(strategy.order(CANDIDATES, { model: "claude-haiku-4-5", estimatedTokens })),
    ["bedrock", "anthropic", "vertex"],
  );
});

Deno.test("model keeps the config's order for other models and absent providers", () => {
  for (const model of ["claude-haiku-4-5-20251001", "glm-4.7", undefined]) {
    assert.deepEqual(names(strategy.order(CANDIDATES, { model, estimatedTokens })), [
      "anthropic",
      "vertex",
      "bedrock",
    ]);
  }
});
