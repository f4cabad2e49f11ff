import type { Strategy } from "./types.ts";

/** Models whose turns are kept at most; bounded, since model names come from clients. */
const _MAX_MODELS = 1024;

/**
 * `round_robin`: each request starts one provider further down the list, the rest following in
 * turn, so load spreads evenly and a failure still falls through to every other provider. Each model
 * takes turns of its own: two models' requests interleaved would otherwise send all of one to the
 * first provider and all of the other to the second.
 *
 * @example
 * ```ts
 * const strategy = roundRobinStrategy();
 * strategy.order([a, b, c], sonnet); // [a, b, c]
 * strategy.order([a, b, c], haiku); // [a, b, c]
 * strategy.order([a, b, c], sonnet); // [b, c, a]
 * ```
 */
export function roundRobinStrategy(): Strategy {
  const turns = new Map<string | undefined, number>();
  return {
    name: "round_robin",
    order(candidates, { model }) {
      if (candidates.length === 0) return [];
      if (!turns.has(model) && turns.size >= _MAX_MODELS) turns.clear();
      const turn = turns.get(model) ?? 0;
      turns.set(model, turn + 1);
      const start = turn % candidates.length;
      return [...candidates.slice(start), ...candidates.slice(0, start)];
    },
  };
}
