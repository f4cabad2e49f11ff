import type { Candidate, Strategy } from "./types.ts";

/**
 * `least_busy`: the provider with the least work ahead of a new request first, where work is the
 * requests in flight, plus this one, times how long each takes to start (`ewmaTtfbMs`). A slow
 * provider still gets requests once the fast ones are busy enough, rather than never; one not yet
 * measured is taken to be as fast as the fastest, so it gets tried. Ties keep the config's order.
 *
 * @example
 * ```ts
 * // a: 2 in flight at 100 ms (300); b: idle at 250 ms (250)
 * leastBusyStrategy().order([a, b], request); // [b, a]
 * ```
 */
export function leastBusyStrategy(): Strategy {
  return {
    name: "least_busy",
    order<C extends Candidate>(candidates: readonly C[]): C[] {
      const known = candidates.flatMap(({ ewmaTtfbMs }) => ewmaTtfbMs === undefined ? [] : [ewmaTtfbMs]);
      const optimistic = known.length > 0 ? Math.min(...known) : 1;
      // At least 1 ms, so in-flight counts still separate providers measured at zero.
      const score = ({ inFlight, ewmaTtfbMs }: Candidate) =>
        (inFlight + 1) * Math.max(1, ewmaTtfbMs ?? optimistic);
      return [...candidates].sort((a, b) => score(a) - score(b));
    },
  };
}
