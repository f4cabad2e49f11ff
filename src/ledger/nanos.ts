/**
 * Money in whole billionths of a dollar: `Pricing.cost` rounds every cost to a whole number of them, so
 * totals kept in them add up exactly, where sums of dollars would drift.
 */

/** Billionths of a dollar a dollar holds. */
export const NANOS_PER_USD = 1e9;

/**
 * `usd` in billionths of a dollar.
 *
 * @example
 * ```ts
 * toNanos(0.1); // 100000000
 * ```
 */
export function toNanos(usd: number): number {
  return Math.round(usd * NANOS_PER_USD);
}

/**
 * Adds `nanos` to `name`'s total in `totals`.
 *
 * @example
 * ```ts
 * addNanos(spent, "ci", toNanos(0.25));
 * ```
 */
export function addNanos(totals: Map<string, number>, name: string, nanos: number): void {
  totals.set(name, (totals.get(name) ?? 0) + nanos);
}
