import type { TokenCount } from "../token_estimate.ts";

/** The strategies `routing.strategy` (and a model route's override) can name. */
export const STRATEGY_NAMES = [
  "failover",
  "round_robin",
  "shuffle",
  "least_busy",
  "latency",
  "cost",
  "model",
] as const;
/** One of {@linkcode STRATEGY_NAMES}. */
export type StrategyName = typeof STRATEGY_NAMES[number];

/** What one model costs on one provider, in dollars per million tokens. */
export interface ModelPrice {
  /** Per million input tokens. */
  readonly inputPerMTok: number;
  /** Per million output tokens. */
  readonly outputPerMTok: number;
  /** A dearer tier for long requests, e.g. above 200k input tokens. */
  readonly longContext?: {
    readonly aboveInputTokens: number;
    readonly inputPerMTok: number;
    readonly outputPerMTok: number;
  };
}

/**
 * A provider that can serve the request, with the figures strategies weigh. The caller fills it in
 * from its state: `inFlight` from the provider's limiter, `ewmaTtfbMs` from an `EwmaMap`,
 * `remainingCapacityRatio` from the provider's `KeyPool.remainingCapacity()` (1 for a provider without
 * keys), `price` from the config for the requested model. Extend it with whatever the caller needs back (the route): strategies
 * return the same objects.
 */
export interface Candidate {
  /** The provider's name in the config. */
  readonly name: string;
  /** Requests under way on it now. */
  readonly inFlight: number;
  /** Moving average of its time to first byte; `undefined` until it has answered once. */
  readonly ewmaTtfbMs: number | undefined;
  /** Share of its keys' capacity left, 0 to 1; 1 for a provider without keys, whose budget relay does not count. */
  readonly remainingCapacityRatio: number;
  /** Its price for the requested model; `undefined` when the config names none. */
  readonly price?: ModelPrice;
}

/** What strategies know of the request. */
export interface RoutingRequest {
  /** The model the client asked for; `undefined` for requests without one. */
  readonly model: string | undefined;
  /** From `estimateTokens`: input, and `max_tokens` as output. */
  readonly estimatedTokens: TokenCount;
}

/**
 * Orders the providers that can serve a request. The order is the retry order: the request goes to
 * the first, and on a retryable failure to the next, so strategies rank every candidate rather than
 * pick one. Candidates come in the config's order; strategies never drop one, and breakers, limits and
 * affinity are the caller's to apply on the way down the list.
 *
 * @example
 * ```ts
 * const order = strategy.order(candidates, { model: "claude-sonnet-4-5", estimatedTokens });
 * for (const candidate of order) { ... }
 * ```
 */
export interface Strategy {
  /** The name the config gives it. */
  readonly name: StrategyName;
  /** Every candidate, best first; a new array of the same objects. */
  order<C extends Candidate>(candidates: readonly C[], request: RoutingRequest): C[];
}

/**
 * `candidates` with the one named `name` moved to the front and the rest in their order; a copy as it
 * was when none has that name. For a model's pinned provider, and for conversation affinity.
 *
 * @example
 * ```ts
 * const order = preferNamed(strategy.order(candidates, request), affinity.get(conversation)?.provider);
 * ```
 */
export function preferNamed<C extends Candidate>(candidates: readonly C[], name: string | undefined): C[] {
  const index = candidates.findIndex((candidate) => candidate.name === name);
  if (index <= 0) return [...candidates];
  return [candidates[index], ...candidates.slice(0, index), ...candidates.slice(index + 1)];
}
