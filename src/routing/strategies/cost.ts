import type { Candidate, ModelPrice, RoutingRequest, Strategy } from "./types.ts";

/** When {@linkcode costStrategy} starts minding the price. */
export interface CostOptions {
  /**
   * Estimated input tokens from which price decides the order; below it the config's order stands,
   * since a small request costs little anywhere and the first-listed provider is the one preferred.
   * 0 (the default) orders every request by price.
   */
  thresholdTokens?: number;
}

/**
 * `cost`: the cheapest provider for this request first. A request's price on a provider is its
 * estimated input tokens at the input price plus `max_tokens` at the output price (the most it can
 * cost), with the long-context tier when the input is past it. Providers with no price for the model
 * come after the priced ones; ties and unpriced providers keep the config's order.
 *
 * @example
 * ```ts
 * // a at $3/$15, b at $1/$5 per million tokens
 * costStrategy({ thresholdTokens: 10_000 }).order([a, b], { model, estimatedTokens: { input: 50_000, output: 8000 } });
 * // [b, a]; with 2000 input tokens it stays [a, b]
 * ```
 */
export function costStrategy(options: CostOptions = {}): Strategy {
  const threshold = options.thresholdTokens ?? 0;
  return {
    name: "cost",
    order<C extends Candidate>(candidates: readonly C[], request: RoutingRequest): C[] {
      if (request.estimatedTokens.input < threshold) return [...candidates];
      const cost = ({ price }: Candidate) => price ? _cost(price, request) : Infinity;
      // Two unpriced providers compare as NaN (Infinity - Infinity): `|| 0` keeps them in order.
      return [...candidates].sort((a, b) => cost(a) - cost(b) || 0);
    },
  };
}

function _cost(price: ModelPrice, { estimatedTokens: { input, output } }: RoutingRequest): number {
  const tier = price.longContext && input > price.longContext.aboveInputTokens ? price.longContext : price;
  return (input * tier.inputPerMTok + output * tier.outputPerMTok) / 1e6;
}
