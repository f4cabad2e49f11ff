/** Points of a distribution, in the unit of its values. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Nearest-rank percentiles: each one is a value that was observed, never an interpolation, so a p99 of
 * 100 samples is the second slowest. Throws on an empty list, which has no percentiles.
 *
 * @example
 * ```ts
 * percentiles([4, 1, 3, 2]); // { p50: 2, p90: 4, p99: 4, max: 4 }
 * ```
 */
export function percentiles(values: readonly number[]): Percentiles {
  if (values.length === 0) throw new RangeError("no values: percentiles need at least one");
  const sorted = values.toSorted((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] };
}
