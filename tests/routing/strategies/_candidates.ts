import type { Candidate, RoutingRequest } from "../../../src/routing/strategies/types.ts";

/** An idle, unmeasured provider with all its capacity left, unless `fields` say otherwise. */
export function candidate(name: string, fields: Partial<Candidate> = {}): Candidate {
  return { name, inFlight: 0, ewmaTtfbMs: undefined, remainingCapacityRatio: 1, ...fields };
}

export const REQUEST: RoutingRequest = {
  model: "claude-sonnet-4-5",
  estimatedTokens: { input: 1000, output: 1000 },
};

export const names = (order: readonly Candidate[]): string[] => order.map(({ name }) => name);

/** How often each name came first over `runs` orders. */
export function firstPlaces(runs: number, order: () => readonly Candidate[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < runs; i++) {
    const first = order()[0].name;
    counts[first] = (counts[first] ?? 0) + 1;
  }
  return counts;
}
