import type { Candidate, Strategy } from "./types.ts";

/**
 * `shuffle`: a random order, drawn afresh for every request, in which a provider's chance to come
 * first is its share of the remaining capacity (`remainingCapacityRatio`), and so on down the list.
 * Providers with no capacity left come last, in the config's order.
 *
 * @param options.random in [0, 1); `Math.random` unless given.
 *
 * @example
 * ```ts
 * // a with 0.75 of its capacity left, b with 0.25: a leads three requests in four.
 * shuffleStrategy().order([a, b], request);
 * ```
 */
export function shuffleStrategy(options: { random?: () => number } = {}): Strategy {
  const random = options.random ?? Math.random;
  return {
    name: "shuffle",
    order<C extends Candidate>(candidates: readonly C[]): C[] {
      const left = candidates.filter((candidate) => _weight(candidate) > 0);
      const order: C[] = [];
      while (left.length > 0) {
        let draw = random() * left.reduce((sum, candidate) => sum + _weight(candidate), 0);
        // Rounding can leave a sliver past the last weight: the last candidate takes it.
        let index = left.findIndex((candidate) => (draw -= _weight(candidate)) < 0);
        if (index === -1) index = left.length - 1;
        order.push(...left.splice(index, 1));
      }
      return [...order, ...candidates.filter((candidate) => _weight(candidate) <= 0)];
    },
  };
}

function _weight(candidate: Candidate): number {
  return Math.min(1, candidate.remainingCapacityRatio);
}
