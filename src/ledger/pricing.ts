import { ModelMap } from "../routing/model_map.ts";
import type { UsageDetail } from "../stream/usage_tap.ts";

/**
 * A model's prices in USD per million tokens, as `pricing:` takes them, and `web_search` in USD per
 * thousand web search requests. Cache prices left out follow Anthropic's multipliers of `input`: a
 * five-minute cache write costs 1.25x, a one-hour write 2x and a cache read 0.1x. A `web_search` left
 * out is Anthropic's $10 (Bedrock's and Vertex's too): only answers in Anthropic's format report
 * searches, so other models never pay it.
 */
export interface PriceEntry extends TokenPriceEntry {
  web_search?: number;
  /**
   * What fast mode (an answer's `usage.speed: "fast"`) multiplies every token price by, cache and
   * long-prompt prices too; web searches keep their price. A model without it has no price for an
   * answer fast mode served.
   */
  fast?: number;
  /**
   * The prices of a request whose prompt (input, cache reads and cache writes together) is over `above`
   * tokens: all its tokens, output too, are priced at them (Claude Haiku 5.5 above 100,000, Sonnet 4 and
   * 4.5 above 200,000). Cache prices left out follow its own `input`.
   */
  long_prompt?: TokenPriceEntry & { above: number };
}

/** A model's token prices, USD per million, as `pricing:` takes them. */
export interface TokenPriceEntry {
  input: number;
  output: number;
  cache_write?: number;
  cache_write_1h?: number;
  cache_read?: number;
}

/** A model's token prices in USD per million, every one filled in. */
export interface TokenPrices {
  input: number;
  output: number;
  cacheWrite: number;
  cacheWrite1h: number;
  cacheRead: number;
}

/** Every price of a model: tokens in USD per million, `webSearch` in USD per thousand searches. */
export interface ModelPrices extends TokenPrices {
  webSearch: number;
  /** Prices for a prompt over `above` tokens, when the model has them. */
  longPrompt?: TokenPrices & { above: number };
  /** What fast mode multiplies its token prices by, when known. */
  fast?: number;
  /** See {@linkcode BuiltInPriceEntry.regionalPremium}. */
  regionalPremium?: true;
  /** See {@linkcode BuiltInPriceEntry.usOnlyPremium}. */
  usOnlyPremium?: true;
}

/** What pricing needs of a provider: its name, its type, and where it runs its models. */
export interface PricedProvider {
  name: string;
  type: string;
  region?: string;
}

/** A built-in price: a {@linkcode PriceEntry}, and whether regional endpoints charge more for it. */
export interface BuiltInPriceEntry extends PriceEntry {
  /**
   * Whether Bedrock's and Vertex's regional endpoints charge 10% more than their global ones for the
   * model's tokens, as they do for Claude from Sonnet 4.5 and Haiku 4.5 on. Only built-in prices say
   * so: a price in `pricing:` is the user's own figure, taken as it is.
   */
  regionalPremium?: true;
  /**
   * Whether Anthropic charges 10% more for the model's tokens when an answer says it ran on US-only
   * inference (`usage.inference_geo: "us"`), as it does for Claude from Opus and Sonnet 4.6 on; older
   * models keep their price whatever the geo.
   */
  usOnlyPremium?: true;
}

// OpenAI and Z.AI charge nothing extra to write their caches.
const _openai = (input: number, output: number, cacheRead: number): PriceEntry => ({
  input,
  output,
  cache_write: input,
  cache_write_1h: input,
  cache_read: cacheRead,
});

/**
 * A Claude model's price under every id it goes by: `name` and its `aliases`, its dated snapshots on
 * Anthropic's API and Bedrock (`claude-sonnet-4-5-20250929`, `us.anthropic.claude-sonnet-4-5-20250929-v1:0`)
 * and on Vertex (`claude-sonnet-4-5@20250929`). No pattern reaches past the name, so another version
 * (`claude-opus-4-6` beside `claude-opus-4`) has no price rather than a wrong one.
 */
function _claude(
  name: string,
  entry: BuiltInPriceEntry,
  aliases: string[] = [],
): Record<string, BuiltInPriceEntry> {
  return _each(
    [name, ...aliases, `*${name}-20*`, `${name}@*`, `*anthropic.${name}`, `*anthropic.${name}-v*`],
    entry,
  );
}

/**
 * A Claude model from Sonnet 4.5 and Haiku 4.5 on: Bedrock's and Vertex's regional endpoints charge 10%
 * more for it than their global ones.
 */
function _claudeRegional(
  name: string,
  entry: BuiltInPriceEntry,
  aliases: string[] = [],
): Record<string, BuiltInPriceEntry> {
  return _claude(name, { ...entry, regionalPremium: true }, aliases);
}

/**
 * A Claude model from Opus and Sonnet 4.6 on: besides the regional endpoints' premium, Anthropic's
 * US-only inference costs 10% more for it.
 */
function _claudeFrom46(name: string, entry: PriceEntry): Record<string, BuiltInPriceEntry> {
  return _claudeRegional(name, { ...entry, usOnlyPremium: true });
}

const _OPUS: PriceEntry = { input: 5, output: 25 };
const _FABLE_5: PriceEntry = { input: 10, output: 50 };
const _FABLE_5_1: PriceEntry = { ..._FABLE_5, cache_read: 0.25 };
const _SONNET_4: PriceEntry = {
  input: 3,
  output: 15,
  long_prompt: { above: 200_000, input: 6, output: 22.5 },
};

/**
 * An OpenAI model's price under its name and its dated snapshots (`gpt-5-2025-08-07`), and no other:
 * `gpt-5-pro` and `o3-pro` cost many times `gpt-5` and `o3`.
 */
function _dated(name: string, entry: PriceEntry): Record<string, PriceEntry> {
  return _each([name, `${name}-20*`], entry);
}

function _each<T extends PriceEntry>(patterns: string[], entry: T): Record<string, T> {
  return Object.fromEntries(patterns.map((pattern) => [pattern, entry]));
}

/**
 * Public list prices (USD per million tokens, standard tier, global endpoints) of Claude models and a
 * few common others, by model id or glob, as Anthropic's and OpenAI's price pages gave them on
 * 2026-11-26 (Sonnet 5.5's cache reads were cut to $0.10 on 2026-10-07). `fast` is fast mode's multiple,
cache prices included: Opus 5.5 $8 / $40, Opus 5 and 4.8 $10 / $50, and Opus 4.7 and 4.6 $30 / $150 while
they had it (Anthropic's price page); Fable 5.2 twice its price for every kind of token (Google Cloud's page
for it); a model without one has no price for an answer fast mode served. Each pattern matches one model's ids
 * only (Anthropic's, Bedrock's and Vertex's for Claude, dated snapshots for OpenAI): a model not listed,
 * however close its name (`o3-pro`, `gpt-5-codex`, `glm-4.5-airx`), has no price and is warned about.
 * `pricing:` in the config overrides any of them.
 */
export const BUILT_IN_PRICES: Readonly<Record<string, BuiltInPriceEntry>> = {
  ..._claudeFrom46("claude-fable-5-2", { input: 8, output: 40, cache_read: 0.2, fast: 2 }),
  ..._claudeFrom46("claude-fable-5-1", _FABLE_5_1),
  ..._claudeFrom46("claude-mythos-5-1", _FABLE_5_1),
  ..._claudeFrom46("claude-fable-5", _FABLE_5),
  ..._claudeFrom46("claude-mythos-5", _FABLE_5),
  ..._claudeFrom46("claude-opus-5-5", { input: 4, output: 20, cache_read: 0.2, fast: 2 }),
  ..._claudeFrom46("claude-opus-5", { ..._OPUS, fast: 2 }),
  ..._claudeFrom46("claude-opus-4-8", { ..._OPUS, fast: 2 }),
  ..._claudeFrom46("claude-opus-4-7", { ..._OPUS, fast: 6 }),
  ..._claudeFrom46("claude-opus-4-6", { ..._OPUS, fast: 6 }),
  ..._claudeRegional("claude-opus-4-5", _OPUS),
  ..._claude("claude-opus-4-1", { input: 15, output: 75 }),
  ..._claude("claude-opus-4", { input: 15, output: 75 }, ["claude-opus-4-0"]),
  ..._claudeFrom46("claude-sonnet-5-5", { input: 2, output: 10, cache_read: 0.1 }),
  ..._claudeFrom46("claude-sonnet-5", { input: 2, output: 10 }),
  ..._claudeFrom46("claude-sonnet-4-6", { input: 3, output: 15 }),
  ..._claudeRegional("claude-sonnet-4-5", _SONNET_4),
  ..._claude("claude-sonnet-4", _SONNET_4, ["claude-sonnet-4-0"]),
  ..._claudeFrom46("claude-haiku-5-5", {
    input: 0.1,
    output: 0.5,
    long_prompt: { above: 100_000, input: 0.5, output: 2.5 },
  }),
  ..._claudeRegional("claude-haiku-4-5", { input: 1, output: 5 }),
  ..._claude("claude-3-7-sonnet", { input: 3, output: 15 }, ["claude-3-7-sonnet-latest"]),
  ..._claude("claude-3-5-sonnet", { input: 3, output: 15 }, [
    "claude-3-5-sonnet-latest",
    "claude-3-5-sonnet-v2@*",
  ]),
  ..._claude("claude-3-5-haiku", { input: 0.8, output: 4 }, ["claude-3-5-haiku-latest"]),
  ..._claude("claude-3-opus", { input: 15, output: 75 }, ["claude-3-opus-latest"]),
  // Anthropic rounds Haiku 3's cache prices rather than applying its multipliers.
  ..._claude("claude-3-haiku", { input: 0.25, output: 1.25, cache_write: 0.3, cache_read: 0.03 }),
  ..._dated("gpt-5", _openai(1.25, 10, 0.125)),
  ..._dated("gpt-5-mini", _openai(0.25, 2, 0.025)),
  ..._dated("gpt-5-nano", _openai(0.05, 0.4, 0.005)),
  ..._dated("gpt-4.1", _openai(2, 8, 0.5)),
  ..._dated("gpt-4.1-mini", _openai(0.4, 1.6, 0.1)),
  ..._dated("gpt-4.1-nano", _openai(0.1, 0.4, 0.025)),
  ..._dated("gpt-4o", _openai(2.5, 10, 1.25)),
  // The first gpt-4o snapshot kept its launch price, and had no cache discount.
  "gpt-4o-2024-05-13": _openai(5, 15, 5),
  ..._dated("gpt-4o-mini", _openai(0.15, 0.6, 0.075)),
  ..._dated("o3", _openai(2, 8, 0.5)),
  ..._dated("o3-mini", _openai(1.1, 4.4, 0.55)),
  ..._dated("o4-mini", _openai(1.1, 4.4, 0.275)),
  "glm-4.7": _openai(0.6, 2.2, 0.11),
  "glm-4.6": _openai(0.6, 2.2, 0.11),
  "glm-4.5": _openai(0.6, 2.2, 0.11),
  "glm-4.5-air": _openai(0.2, 1.1, 0.03),
};

/**
 * Prices models and prices usage. A model is looked up by the id its upstream knows it by (what ran is
 * what is billed), case-insensitively: first in the config's `pricing:`, then in
 * {@linkcode BUILT_IN_PRICES}; within each, an exact name wins, then the most specific glob. What a
 * `type: mock` provider answered costs nothing, whatever model it names: no upstream billed it.
 *
 * @example
 * ```ts
 * const pricing = new Pricing({ "my-sonnet-deployment": { input: 3, output: 15 } });
 * pricing.cost("claude-sonnet-4-5-20250929", { input: 1000, output: 100, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 });
 * // 0.0045
 * ```
 */
export class Pricing {
  readonly #tables: { map: ModelMap; prices: ModelPrices[] }[];
  /**
   * Each model's answer, once looked up: every request is priced, and a model no table names would
   * otherwise run every glob of the built-in table each time. Bounded, since model names come from
   * clients.
   */
  readonly #known = new Map<string, ModelPrices | undefined>();
  readonly #providers: ReadonlyMap<string, PricedProvider>;

  /**
   * @param overrides The config's `pricing:`.
   * @param providers The config's providers: where a request ran decides a regional endpoint's premium.
   */
  constructor(
    overrides: Readonly<Record<string, PriceEntry>> = {},
    providers: readonly PricedProvider[] = [],
  ) {
    this.#providers = new Map(providers.map((provider) => [provider.name, provider]));
    this.#tables = [overrides, BUILT_IN_PRICES].map((table) => {
      const entries = Object.entries(table);
      return {
        // The map's targets are indexes into `prices`: it only has to find the entry.
        map: new ModelMap(
          Object.fromEntries(entries.map(([name], index) => [name.toLowerCase(), `${index}`])),
        ),
        prices: entries.map(([, entry]) => _prices(entry)),
      };
    });
  }

  /** Whether what `provider` answers costs nothing (a `type: mock`), so needs no price. */
  isFree(provider: string | undefined): boolean {
    // No upstream bills a `type: mock` provider's canned answers, so no budget pays for them.
    return provider !== undefined && this.#providers.get(provider)?.type === "mock";
  }

  /** The prices of `model`, or `undefined` when neither table names it. */
  priceOf(model: string | undefined): ModelPrices | undefined {
    if (model === undefined) return undefined;
    if (this.#known.has(model)) return this.#known.get(model);
    // Claude Code's context-window mark (`claude-opus-4-8[1m]`) names no other model.
    const price = this.#lookUp(model.toLowerCase().replace(_CONTEXT_MARK, ""));
    if (this.#known.size >= _MAX_KNOWN_MODELS) this.#known.clear();
    this.#known.set(model, price);
    return price;
  }

  /**
   * `model`'s prices at `speed`; `undefined` when it has none, or none for fast mode and `speed` is
   * `"fast"` (its standard price would undercount such an answer).
   */
  priceFor(model: string | undefined, speed?: "fast"): ModelPrices | undefined {
    const price = this.priceOf(model);
    return speed === "fast" && price?.fast === undefined ? undefined : price;
  }

  #lookUp(model: string): ModelPrices | undefined {
    for (const { map, prices } of this.#tables) {
      const index = map.resolve(model);
      if (index !== undefined) return prices[Number(index)];
    }
    return undefined;
  }

  /**
   * What `usage` of `model` cost, in USD, tokens and web searches, rounded to a billionth of a dollar
   * so sums stay exact enough to compare; `undefined` when the model has no price, or no fast-mode
   * price for an answer fast mode served (its standard price would undercount it). A prompt over the
   * model's long-prompt threshold prices all its tokens at the long-prompt prices; fast mode multiplies
   * whichever applies. Run on a regional endpoint of `provider` ({@linkcode _isRegionalEndpoint}), a
   * model whose built-in price says regional endpoints cost more costs 10% more for its tokens; so does
   * one that charges for US-only inference, when the answer says it ran there. A count below zero
   * counts as none: a cost is never negative, which would credit a budget. Through a `type: mock`
   * provider it is 0, priced model or not.
   */
  cost(model: string | undefined, usage: UsageDetail, provider?: string): number | undefined {
    if (this.isFree(provider)) return 0;
    const price = this.priceFor(model, usage.speed);
    if (!price) return undefined;
    const fast = usage.speed === "fast" ? price.fast! : 1;
    const count = (tokens: number) => Math.max(0, tokens);
    const cacheWrite = count(usage.cacheWrite);
    const cacheWrite1h = Math.min(count(usage.cacheWrite1h), cacheWrite);
    const prompt = count(usage.input) + count(usage.cacheRead) + cacheWrite;
    const { longPrompt } = price;
    const rates = longPrompt && prompt > longPrompt.above ? longPrompt : price;
    let tokens = (count(usage.input) * rates.input + count(usage.output) * rates.output +
      count(usage.cacheRead) * rates.cacheRead + (cacheWrite - cacheWrite1h) * rates.cacheWrite +
      cacheWrite1h * rates.cacheWrite1h) * fast;
    // Times 11, then divided by 10, keeps round prices round, as in _tokenPrices.
    // Looked up only for a model that has the premium (a priced model is a named one).
    if (
      price.regionalPremium && provider !== undefined &&
      _isRegionalEndpoint(this.#providers.get(provider), model!)
    ) tokens = tokens * 11 / 10;
    if (price.usOnlyPremium && usage.inferenceGeo === "us") tokens = tokens * 11 / 10;
    // A search priced per thousand costs what a thousand times as many tokens priced per million do.
    const perMillion = tokens + count(usage.webSearches ?? 0) * price.webSearch * 1_000;
    return Math.round(perMillion * 1_000) / 1e9;
  }
}

const _MAX_KNOWN_MODELS = 1024;

const _CONTEXT_MARK = /\[\d+[km]\]$/;

/** Anthropic's price of web search, per thousand requests; Bedrock and Vertex charge the same. */
const _WEB_SEARCH_USD_PER_1K = 10;

function _prices(entry: BuiltInPriceEntry): ModelPrices {
  const prices: ModelPrices = {
    ..._tokenPrices(entry),
    webSearch: entry.web_search ?? _WEB_SEARCH_USD_PER_1K,
  };
  if (entry.long_prompt) {
    prices.longPrompt = { ..._tokenPrices(entry.long_prompt), above: entry.long_prompt.above };
  }
  if (entry.fast !== undefined) prices.fast = entry.fast;
  if (entry.regionalPremium) prices.regionalPremium = true;
  if (entry.usOnlyPremium) prices.usOnlyPremium = true;
  return prices;
}

function _tokenPrices(entry: TokenPriceEntry): TokenPrices {
  return {
    input: entry.input,
    output: entry.output,
    // Divisions keep round prices round: 3 * 0.1 is 0.30000000000000004, 3 / 10 is 0.3.
    cacheWrite: entry.cache_write ?? entry.input * 5 / 4,
    cacheWrite1h: entry.cache_write_1h ?? entry.input * 2,
    cacheRead: entry.cache_read ?? entry.input / 10,
  };
}

/**
 * Whether a request to `model` through `provider` ran on a regional endpoint, which Bedrock and Vertex
 * charge more for than their global ones (for the models whose built-in price says so). On Bedrock,
 * an id without the `global.` profile prefix is regional (`us.`, `eu.`, `apac.`..., or a model in one
 * region), in an ARN too (`…:inference-profile/us.anthropic.…`). On Vertex, every region but `global`
 * is regional.
 */
function _isRegionalEndpoint(provider: PricedProvider | undefined, model: string): boolean {
  if (provider?.type === "bedrock") return !model.slice(model.lastIndexOf("/") + 1).startsWith("global.");
  if (provider?.type === "vertex") return provider.region !== "global";
  return false;
}
