import assert from "node:assert/strict";
import { BUILT_IN_PRICES, Pricing } from "../../src/ledger/pricing.ts";
import { UsageTap } from "../../src/stream/usage_tap.ts";
import { loadGolden } from "../_helpers/golden.ts";

const NONE = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 };

Deno.test("built-in prices find Claude models under Anthropic's, Bedrock's and Vertex's ids, the most specific first", () => {
  const pricing = new Pricing();
  const sonnet = {
    input: 3,
    output: 15,
    cacheWrite: 3.75,
    cacheWrite1h: 6,
    cacheRead: 0.3,
    webSearch: 10,
    longPrompt: { input: 6, output: 22.5, cacheWrite: 7.5, cacheWrite1h: 12, cacheRead: 0.6, above: 200_000 },
    regionalPremium: true,
  };
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
      "claude-opus-4-9",
      "claude-sonnet-4-7",
      "us.anthropic.claude-opus-4-9-v1",
      "claude-opus-5-5-fast",
      "anthropic.claude-sonnet-5-5-preview",
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

Deno.test("built-in prices know the Claude models of 2026 under Anthropic's, Bedrock's and Vertex's ids, with their own cache prices", () => {
  const pricing = new Pricing();
  const opus = { input: 5, output: 25, cacheWrite: 6.25, cacheWrite1h: 10, cacheRead: 0.5, webSearch: 10 };
  const fastModes: Record<string, number> = {
    "claude-opus-4-6": 6,
    "claude-opus-4-7": 6,
    "claude-opus-4-8": 2,
    "us.anthropic.claude-opus-4-8": 2,
    "anthropic.claude-opus-4-6-v1": 6,
    "global.anthropic.claude-opus-4-7-v1:0": 6,
    "claude-opus-5": 2,
    "claude-opus-5@20260724": 2,
  };
  for (const [id, fast] of Object.entries(fastModes)) {
    assert.deepEqual(pricing.priceOf(id), { ...opus, fast, regionalPremium: true, usOnlyPremium: true }, id);
  }
  const cacheReads: Record<string, [input: number, output: number, cacheRead: number]> = {
    "claude-opus-5-5": [4, 20, 0.2],
    "claude-sonnet-5-5": [2, 10, 0.1],
    "claude-sonnet-5": [2, 10, 0.2],
    "claude-sonnet-4-6": [3, 15, 0.3],
    "claude-fable-5-2": [8, 40, 0.2],
    "claude-fable-5-1": [10, 50, 0.25],
    "claude-mythos-5-1": [10, 50, 0.25],
    "claude-fable-5": [10, 50, 1],
    "claude-haiku-5-5": [0.1, 0.5, 0.01],
  };
  for (const [id, [input, output, cacheRead]] of Object.entries(cacheReads)) {
    const price = pricing.priceOf(id);
    assert.deepEqual([price?.input, price?.output, price?.cacheRead], [input, output, cacheRead], id);
  }
  for (const id of ["claude-opus-4-8[1m]", "claude-sonnet-5-5[1M]", "claude-fable-5[1m]"]) {
    assert.ok(pricing.priceOf(id), `${id}: Claude Code's context-window mark names no other model`);
  }
  assert.equal(pricing.priceOf("claude-opus-4-9[1m]"), undefined);
  const haiku3 = pricing.priceOf("claude-3-haiku-20240307");
  assert.deepEqual([haiku3?.cacheWrite, haiku3?.cacheWrite1h, haiku3?.cacheRead], [0.3, 0.5, 0.03]);
  assert.deepEqual(
    [pricing.priceOf("gpt-4o-2024-05-13")?.input, pricing.priceOf("gpt-4o-2024-05-13")?.output],
    [5, 15],
    "the first gpt-4o snapshot kept its launch price",
  );
  assert.equal(pricing.priceOf("gpt-4o-2024-08-06")?.input, 2.5);
});

Deno.test("a prompt over a model's long-prompt threshold prices every token of the request at the long-prompt prices", () => {
  const pricing = new Pricing({
    "my-model": { input: 1, output: 2, long_prompt: { above: 1_000, input: 3, output: 4 } },
  });
  // Haiku 5.5: $0.10 / $0.50 up to 100,000 prompt tokens (input, cache reads and writes), $0.50 / $2.50 over.
  const at = { ...NONE, input: 40_000, cacheRead: 50_000, cacheWrite: 10_000, output: 1_000 };
  // 40,000 x 0.10 + 50,000 x 0.01 + 10,000 x 0.125 + 1,000 x 0.50, per million.
  assert.equal(pricing.cost("claude-haiku-5-5", at), 0.00625);
  // 40,001 x 0.50 + 50,000 x 0.05 + 10,000 x 0.625 + 1,000 x 2.50.
  assert.equal(pricing.cost("claude-haiku-5-5", { ...at, input: 40_001 }), 0.0312505);
  // Sonnet 4.5 over 200,000: $6 / $22.50.
  assert.equal(pricing.cost("claude-sonnet-4-5", { ...NONE, input: 200_000, output: 1_000 }), 0.615);
  assert.equal(pricing.cost("claude-sonnet-4-5", { ...NONE, input: 200_001, output: 1_000 }), 1.222506);
  assert.equal(pricing.cost("claude-sonnet-5-5", { ...NONE, input: 900_000 }), 1.8, "no long-prompt price");
  // The config's own: its cache prices follow its long-prompt input.
  assert.equal(pricing.cost("my-model", { ...NONE, input: 1_001, cacheRead: 1_000 }), 0.003303);
  assert.equal(pricing.priceOf("my-model")?.longPrompt?.cacheRead, 0.3);
});

Deno.test("Bedrock's and Vertex's regional endpoints cost 10% more for Claude from Sonnet 4.5 on, global ones and Anthropic's own do not", () => {
  const pricing = new Pricing({ "my-sonnet": { input: 3, output: 15 } }, [
    { name: "bedrock", type: "bedrock", region: "us-east-1" },
    { name: "vertex-us", type: "vertex", region: "us-east5" },
    { name: "vertex-global", type: "vertex", region: "global" },
    { name: "anthropic", type: "anthropic" },
  ]);
  const usage = { ...NONE, input: 100_000, output: 10_000 };
  const cost = (model: string, provider?: string) => pricing.cost(model, usage, provider);
  // $0.30 + $0.15, and 10% more.
  assert.equal(cost("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock"), 0.495);
  assert.equal(cost("anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock"), 0.495, "in one region");
  assert.equal(cost("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock"), 0.45);
  const profile = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/";
  assert.equal(cost(`${profile}us.anthropic.claude-sonnet-4-5-20250929-v1:0`, "bedrock"), 0.495);
  assert.equal(cost(`${profile}global.anthropic.claude-sonnet-4-5-20250929-v1:0`, "bedrock"), 0.45);
  assert.equal(cost("claude-sonnet-4-5@20250929", "vertex-us"), 0.495);
  assert.equal(cost("claude-sonnet-4-5@20250929", "vertex-global"), 0.45);
  assert.equal(cost("claude-sonnet-4-5", "anthropic"), 0.45);
  assert.equal(cost("claude-sonnet-4-5"), 0.45, "no provider said");
  assert.equal(
    cost("us.anthropic.claude-sonnet-4-20250514-v1:0", "bedrock"),
    0.45,
    "older models: one price",
  );
  assert.equal(cost("my-sonnet", "vertex-us"), 0.45, "a config price is taken as it is");
  assert.equal(
    pricing.cost("claude-sonnet-4-5@20250929", { ...NONE, webSearches: 1_000 }, "vertex-us"),
    10,
    "searches have one price",
  );
});

Deno.test("an answer of a mock provider costs nothing, whatever model it names; a real provider's same answer keeps its price", () => {
  const pricing = new Pricing({ "my-sonnet": { input: 3, output: 15 } }, [
    { name: "mock", type: "mock" },
    { name: "anthropic", type: "anthropic" },
    { name: "bedrock", type: "bedrock", region: "us-east-1" },
  ]);
  const usage = { ...NONE, input: 100_000, output: 10_000, webSearches: 5 };
  for (const model of ["claude-sonnet-4-5", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "my-sonnet"]) {
    assert.equal(pricing.cost(model, usage, "mock"), 0, model);
  }
  assert.equal(pricing.cost("mock-1", usage, "mock"), 0, "a model no table prices: free, not unpriced");
  assert.equal(pricing.cost("claude-fable-5-2", { ...usage, speed: "fast" }, "mock"), 0, "fast mode");
  // $0.30 + $0.15 of tokens, $0.05 of searches; 10% more for the tokens on a regional endpoint.
  assert.equal(pricing.cost("claude-sonnet-4-5", usage, "anthropic"), 0.5);
  assert.equal(pricing.cost("my-sonnet", usage, "anthropic"), 0.5);
  assert.equal(pricing.cost("us.anthropic.claude-sonnet-4-5-20250929-v1:0", usage, "bedrock"), 0.545);
  assert.equal(pricing.cost("claude-sonnet-4-5", usage), 0.5, "no provider said");
  assert.equal(pricing.cost("claude-sonnet-4-5", usage, "gone"), 0.5, "a provider the config does not name");
  assert.equal(pricing.cost("mock-1", usage, "anthropic"), undefined);
  assert.equal(
    new Pricing().cost("claude-sonnet-4-5", usage, "mock"),
    0.5,
    "a provider is known by its type, not by its name",
  );
});

Deno.test("an answer fast mode served costs its model's fast-mode multiple of every token price, searches not; a model without one has no price", () => {
  const pricing = new Pricing({
    "my-opus": { input: 5, output: 25, fast: 3 },
    // A config price is taken as it is: without `fast`, no fast-mode price.
    "claude-opus-5-5": { input: 4, output: 20, cache_read: 0.2 },
  }, [{ name: "bedrock", type: "bedrock", region: "us-east-1" }]);
  const builtIn = new Pricing();
  const usage = { ...NONE, input: 100_000, output: 10_000, cacheRead: 1_000_000, cacheWrite: 10_000 };
  const fast = { ...usage, speed: "fast" as const };
  // Opus 5.5: 100,000 x $4 + 10,000 x $20 + 1,000,000 x $0.20 + 10,000 x $5, per million; twice that.
  assert.equal(builtIn.cost("claude-opus-5-5", usage), 0.85);
  assert.equal(builtIn.cost("claude-opus-5-5", fast), 1.7);
  assert.equal(
    builtIn.cost("claude-opus-5-5", { ...fast, webSearches: 10 }),
    1.8,
    "searches at $10 a thousand",
  );
  assert.equal(builtIn.cost("claude-fable-5-2", { ...NONE, input: 1_000_000, speed: "fast" }), 16);
  assert.equal(builtIn.cost("claude-opus-4-8", { ...NONE, output: 1_000_000, speed: "fast" }), 50);
  assert.equal(builtIn.cost("claude-opus-4-6", { ...NONE, input: 1_000_000, speed: "fast" }), 30);
  // With Bedrock's regional premium on top: $10 x 1.1.
  assert.equal(
    pricing.cost("us.anthropic.claude-opus-4-8", { ...NONE, input: 1_000_000, speed: "fast" }, "bedrock"),
    11,
  );
  assert.equal(pricing.cost("my-opus", { ...NONE, input: 1_000_000, speed: "fast" }), 15);
  // Its standard price would undercount it: no price, as for a model with none.
  assert.equal(builtIn.cost("claude-sonnet-4-6", { ...NONE, input: 1_000_000, speed: "fast" }), undefined);
  assert.equal(pricing.cost("claude-opus-5-5", fast), undefined);
  assert.equal(pricing.cost("claude-opus-5-5", usage), 0.85);
  assert.equal(builtIn.cost("claude-sonnet-4-6", { ...NONE, input: 1_000_000 }), 3);
});

Deno.test("US-only inference the answer reports costs 10% more for Claude from Opus and Sonnet 4.6 on, on top of fast mode, searches not", () => {
  const pricing = new Pricing({ "my-sonnet": { input: 3, output: 15 } });
  const us = { ...NONE, input: 100_000, output: 10_000, inferenceGeo: "us" as const };
  // $0.30 + $0.15, and 10% more.
  for (const id of ["claude-sonnet-4-6", "claude-sonnet-4-6[1m]", "CLAUDE-SONNET-4-6"]) {
    assert.equal(pricing.cost(id, us), 0.495, id);
  }
  assert.equal(pricing.cost("claude-sonnet-4-6", { ...us, inferenceGeo: undefined }), 0.45, "global");
  assert.equal(pricing.cost("claude-sonnet-4-5", us), 0.45, "older models keep their price");
  assert.equal(pricing.cost("claude-haiku-4-5", { ...NONE, input: 1_000_000, inferenceGeo: "us" }), 1);
  assert.equal(pricing.cost("claude-haiku-5-5", { ...NONE, input: 100_000, inferenceGeo: "us" }), 0.011);
  assert.equal(pricing.cost("my-sonnet", us), 0.45, "a config price is taken as it is");
  // Opus 5.5 in fast mode in the US: $4 x 2 x 1.1 a million input tokens, and $10 a thousand searches.
  assert.equal(
    pricing.cost("claude-opus-5-5", {
      ...NONE,
      input: 1_000_000,
      speed: "fast",
      inferenceGeo: "us",
      webSearches: 100,
    }),
    9.8,
  );
});
