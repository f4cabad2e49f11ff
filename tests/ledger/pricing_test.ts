import assert from "node:assert/strict";
import { BUILT_IN_PRICES, Pricing } from "../../src/ledger/pricing.ts";
import { UsageTap } from "../../src/stream/usage_tap.ts";
import { loadGolden } from "../_helpers/golden.ts";

const NONE = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 };

Deno.test("built-in prices find Claude models under Anthropic's, Bedrock's and Vertex's ids, the most specific first", () => {
  const pricing = new Pricing();
  const sonnet = { input: 3, output: 15, cacheWrite: 3.75, cacheWrite1h: 6, cacheRead: 0.3, webSearch: 10 };
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
  // Others charge nothing extra for cache writes. Their answers never report web searches, so the
  // default price of one is never charged.
  assert.deepEqual(pricing.priceOf("gpt-4.1-mini-2025-04-14"), {
    input: 0.4,
    output: 1.6,
    cacheWrite: 0.4,
    cacheWrite1h: 0.4,
    cacheRead: 0.1,
    webSearch: 10,
  });
  assert.equal(pricing.priceOf("GLM-4.7")?.output, 2.2, "case-insensitive");
  assert.equal(pricing.priceOf("qwen3-coder"), undefined);
  assert.equal(pricing.priceOf(undefined), undefined);
  assert.ok(Object.keys(BUILT_IN_PRICES).length > 20);
});

Deno.test("built-in prices match each model's aliases and dated snapshots on every platform", () => {
  const pricing = new Pricing();
  const inputPrices: Record<string, number> = {
    "claude-opus-4-5-20251101": 5,
    "global.anthropic.claude-opus-4-5-20251101-v1:0": 5,
    "claude-opus-4-5@20251101": 5,
    "claude-opus-4-0": 15,
    "claude-opus-4-20250514": 15,
    "anthropic.claude-opus-4-20250514-v1:0": 15,
    "claude-opus-4@20250514": 15,
    "claude-sonnet-4-0": 3,
    "claude-sonnet-4@20250514": 3,
    "claude-haiku-4-5@20251001": 1,
    "claude-3-7-sonnet-latest": 3,
    "claude-3-5-sonnet-20240620": 3,
    "claude-3-5-sonnet-v2@20241022": 3,
    "anthropic.claude-3-5-sonnet-20241022-v2:0": 3,
    "claude-3-5-haiku-latest": 0.8,
    "claude-3-opus-20240229": 15,
    "claude-3-haiku-20240307": 0.25,
    "gpt-5": 1.25,
    "gpt-5-2025-08-07": 1.25,
    "gpt-5-mini-2025-08-07": 0.25,
    "gpt-5-nano": 0.05,
    "gpt-4.1-2025-04-14": 2,
    "gpt-4.1-nano-2025-04-14": 0.1,
    "gpt-4o-2024-08-06": 2.5,
    "gpt-4o-mini-2024-07-18": 0.15,
    "o3": 2,
    "o3-2025-04-16": 2,
    "o3-mini-2025-01-31": 1.1,
    "o4-mini-2025-04-16": 1.1,
    "glm-4.5-air": 0.2,
    "GLM-4.6": 0.6,
  };
  for (const [id, input] of Object.entries(inputPrices)) assert.equal(pricing.priceOf(id)?.input, input, id);
});

Deno.test("a model the built-in prices do not list has none, however close its name to one they do", () => {
  const pricing = new Pricing();
  for (
    const id of [
      "o3-pro",
      "o3-pro-2025-06-10",
      "o3-deep-research",
      "o4-mini-deep-research",
      "gpt-5-pro",
      "gpt-5-codex",
      "gpt-5.1",
      "gpt-4o-audio-preview",
      "gpt-4o-mini-realtime-preview",
      "gpt-4.1-mini-fast",
      "claude-opus-4-6",
      "claude-sonnet-4-6",
      "us.anthropic.claude-opus-4-6-v1",
      "claude-haiku-4-5-mini",
      "claude-3-5-sonnet-pro",
      "glm-4.5v",
      "glm-4.5-airx",
      "glm-4.5-flash",
      "glm-4.6v",
    ]
  ) {
    assert.equal(pricing.priceOf(id), undefined, id);
  }
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
    webSearch: 10,
  });
  assert.deepEqual(pricing.priceOf("my-deployment"), {
    input: 1,
    output: 2,
    cacheWrite: 1.25,
    cacheWrite1h: 2,
    cacheRead: 0.5,
    webSearch: 10,
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

Deno.test("a negative count costs nothing, never credit: the cost is never below zero", () => {
  const pricing = new Pricing();
  const negative = { input: 1_000, output: -1_000_000, cacheRead: -5, cacheWrite: -3, cacheWrite1h: -2 };
  assert.equal(
    pricing.cost("claude-sonnet-4-5", negative),
    pricing.cost("claude-sonnet-4-5", { ...NONE, input: 1_000 }),
  );
  assert.equal(pricing.cost("claude-sonnet-4-5", { ...NONE, output: -1 }), 0);
});

Deno.test("web searches cost $10 a thousand on top of tokens, Anthropic's price, unless pricing: says otherwise", async () => {
  const tap = new UsageTap(true);
  tap.observe(await loadGolden("cached"));
  const usage = { ...tap.detail()!, webSearches: 5 };
  const pricing = new Pricing({
    "my-search-deployment": { input: 3, output: 15, web_search: 25 },
    "my-free-deployment": { input: 3, output: 15, web_search: 0 },
  });
  // The golden's $0.0136611 of tokens and 5 x $10 per thousand searches.
  assert.equal(pricing.cost("claude-sonnet-4-5-20250929", usage), 0.0636611);
  assert.equal(pricing.cost("us.anthropic.claude-sonnet-4-5-20250929-v1:0", usage), 0.0636611, "Bedrock");
  assert.equal(pricing.cost("claude-sonnet-4-5@20250929", usage), 0.0636611, "Vertex");
  assert.equal(pricing.cost("my-search-deployment", usage), 0.1386611);
  assert.equal(pricing.cost("my-free-deployment", usage), 0.0136611);
  assert.equal(pricing.cost("claude-haiku-4-5", { ...NONE, webSearches: 1 }), 0.01);
  assert.equal(pricing.cost("claude-haiku-4-5", { ...NONE, webSearches: -1_000 }), 0, "never credit");
});
