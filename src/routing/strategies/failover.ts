import type { Strategy } from "./types.ts";

/**
 * `failover`, the default: the config's order. Everything goes to the first provider while it
 * answers; the next ones only see retries.
 *
 * @example
 * ```ts
 * failoverStrategy().order([a, b, c], request); // [a, b, c]
 * ```
 */
export function failoverStrategy(): Strategy {
  return { name: "failover", order: (candidates) => [...candidates] };
}
