import type { Strategy } from "./types.ts";

/**
 * `round_robin`: each request starts one provider further down the list, the rest following in
 * turn, so load spreads evenly and a failure still falls through to every other provider.
 *
 * @example
 * ```ts
 * const strategy = roundRobinStrategy();
 * strategy.order([a, b, c], request); // [a, b, c]
 * strategy.order([a, b, c], request); // [b, c, a]
 * ```
 */
export function roundRobinStrategy(): Strategy {
  let turn = 0;
  return {
    name: "round_robin",
    order(candidates) {
      if (candidates.length === 0) return [];
      const start = turn++ % candidates.length;
      return [...candidates.slice(start), ...candidates.slice(0, start)];
    },
  };
}
