/**
 * The routing strategies by the name the config gives them. Each orders the providers that can serve
 * a request; see {@linkcode Strategy}.
 */
import { costStrategy } from "./cost.ts";
import { failoverStrategy } from "./failover.ts";
import { latencyStrategy } from "./latency.ts";
import { leastBusyStrategy } from "./least_busy.ts";
import { modelStrategy } from "./model.ts";
import { roundRobinStrategy } from "./round_robin.ts";
import { shuffleStrategy } from "./shuffle.ts";
import type { Strategy, StrategyName } from "./types.ts";

export * from "./types.ts";
export type { CostOptions } from "./cost.ts";
export type { LatencyOptions } from "./latency.ts";
export {
  costStrategy,
  failoverStrategy,
  latencyStrategy,
  leastBusyStrategy,
  modelStrategy,
  roundRobinStrategy,
  shuffleStrategy,
};

/** What the strategies that need it are built with; each takes only its own. */
export interface StrategyOptions {
  /** In [0, 1), for `shuffle` and `latency`; `Math.random` unless given. */
  random?: () => number;
  /** `latency`: share of requests that explore; 0.05. */
  explorationRate?: number;
  /** `cost`: estimated input tokens from which price decides; 0. */
  costThresholdTokens?: number;
  /** `model`: exact model name -> provider name. */
  modelRoutes?: Readonly<Record<string, string>>;
}

/**
 * A fresh strategy. Strategies keep state (`round_robin`'s turn), so build one per place it applies:
 * one for `routing.strategy` and one per model route that overrides it.
 *
 * @example
 * ```ts
 * const strategy = createStrategy(config.routing.strategy, { random: Math.random });
 * const order = strategy.order(candidates, { model, estimatedTokens });
 * ```
 */
export function createStrategy(name: StrategyName, options: StrategyOptions = {}): Strategy {
  switch (name) {
    case "failover":
      return failoverStrategy();
    case "round_robin":
      return roundRobinStrategy();
    case "shuffle":
      return shuffleStrategy({ random: options.random });
    case "least_busy":
      return leastBusyStrategy();
    case "latency":
      return latencyStrategy({ random: options.random, explorationRate: options.explorationRate });
    case "cost":
      return costStrategy({ thresholdTokens: options.costThresholdTokens });
    case "model":
      return modelStrategy({ routes: options.modelRoutes ?? {} });
  }
}
