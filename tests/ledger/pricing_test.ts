import assert from "node:assert/strict";
import { BUILT_IN_PRICES, Pricing } from "../../src/ledger/pricing.ts";
import { UsageTap } from "../../src/stream/usage_tap.ts";
import { loadGolden } from "../stream/golden.ts";

const NONE = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 };

Deno.test("built-in prices find Claude models under Anthropic's, Bedrock's and Vertex's ids, the most specific first", () => {
  const pricing = new Pricing();
  const sonnet = { input: 3, output: 15, cacheWrite: 3.75, cacheWrite1h: 6, cacheRead: 0.3 };
  for (
    const id of [
      "claude-sonnet-4-5",
      "claude-sonnet-4-5-20250929",
      "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
      "claude-sonnet-4-5@20250929",
    ]
  ) {
    assert.deepEqual(pricing.priceOf(id), sonnet, id);
  }
  assert.equal(pricing.priceOf("claude-opus-4-5-20251101")?.input, 5);
  assert.equal(pricing.priceOf("claude-opus-4-1-20250805")?.input, 15);
  assert.equal(pricing.priceOf("claude-haiku-4-5")?.output, 5);
  assert.equal(pricing.priceOf("claude-3-5-haiku-20241022")?.input, 0.8);
  // Others charge nothing extra for cache writes.
  assert.deepEqual(pricing.priceOf("gpt-4.1-mini-2025-04-14"), {
    input: 0.4,
    output: 1.6,
    cacheWrite: 0.4,
    cacheWrite1h: 0.4,
    cacheRead: 0.1,
  });
  assert.equal(pricing.priceOf("GLM-4.7")?.output, 2.2, "case-insensitive");
  assert.equal(pricing.priceOf("qwen3-coder"), undefined);
  assert.equal(pricing.priceOf(undefined), undefined);
  assert.ok(Object.keys(BUILT_IN_PRICES).length > 20);
});

Deno.test("config prices win over built-in ones, even a broad glob over a specific built-in, with Anthropic's cache multipliers by default", () => {
  const pricing = new Pricing({
    "claude-*": { input: 2, output: 10 },
    "my-deployment": { input: 1, output: 2, cache_read: 0.5 },
  });
  assert.deepEqual(pricing.priceOf("claude-sonnet-4-5"), {
    input: 2,
    output: 10,
    cacheWrite: 2.5,
    cacheWrite1h: 4,
    cacheRead: 0.2,
  });
  assert.deepEqual(pricing.priceOf("my-deployment"), {
    input: 1,
    output: 2,
    cacheWrite: 1.25,
    cacheWrite1h: 2,
    cacheRead: 0.5,
  });
  assert.equal(pricing.priceOf("gpt-4o")?.input, 2.5, "built-ins still answer what the config leaves out");
});

Deno.test("cost from a golden stream is exact: input, output, cache reads, 5-minute and 1-hour cache writes", async () => {
  const tap = new UsageTap(true);
  tap.observe(await loadGolden("cached"));
  const usage = tap.detail()!;
  // 4 x $3 + 73 x $15 + 14207 x $0.30 + 1200 x $3.75 + 632 x $6, per million tokens.
  assert.equal(new Pricing().cost("claude-sonnet-4-5-20250929", usage), 0.0136611);
  // The same usage on Haiku 4.5 ($1 / $5): 4 + 365 + 1420.7 + 1500 + 1264.
  assert.equal(new Pricing().cost("claude-haiku-4-5", usage), 0.0045537);
  assert.equal(new Pricing().cost("qwen3-coder", usage), undefined);
  assert.equal(new Pricing().cost("claude-haiku-4-5", NONE), 0);
});
