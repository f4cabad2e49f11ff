import type { Candidate, Strategy } from "./types.ts";

/** How {@linkcode latencyStrategy} explores. */
export interface LatencyOptions {
  /** Share of requests that lead with a provider other than the fastest, so a figure gone stale gets remeasured; 0.05. */
  explorationRate?: number;
  /** In [0, 1); `Math.random` unless given. */
  random?: () => number;
}

/**
 * `latency`: the lowest `ewmaTtfbMs` first. Providers not yet measured lead (in the config's order)
 * until they have answered once; after that, one request in `1 / explorationRate` puts a randomly
 * chosen other provider first, because an average only moves when the provider is used.
 *
 * @example
 * ```ts
 * // a at 300 ms, b at 120 ms, c never measured
 * latencyStrategy({ explorationRate: 0 }).order([a, b, c], request); // [c, b, a]
 * ```
 */
export function latencyStrategy(options: LatencyOptions = {}): Strategy {
  const explorationRate = options.explorationRate ?? 0.05;
  const random = options.random ?? Math.random;
  return {
    name: "latency",
    order<C extends Candidate>(candidates: readonly C[]): C[] {
      // Two unmeasured providers compare as NaN (-Infinity + Infinity): `|| 0` keeps them in order.
      const order = [...candidates].sort((a, b) => _latency(a) - _latency(b) || 0);
      if (order.length < 2 || random() >= explorationRate) return order;
      const [explored] = order.splice(1 + Math.floor(random() * (order.length - 1)), 1);
      return [explored, ...order];
    },
  };
}

function _latency(candidate: Candidate): number {
  return candidate.ewmaTtfbMs ?? -Infinity;
}
