/** The bounds of a retry's wait, in ms: {@linkcode retryDelay}'s, and a `retry-after`'s (`RetryAfters`). */
export interface BackoffOptions {
  /** The ceiling of the first retry's delay; it doubles with each attempt. */
  baseMs: number;
  /** The ceiling never grows past this. */
  maxMs: number;
  /** The most an upstream's `retry-after` can make a retry wait. */
  maxRetryAfterMs: number;
}

/**
 * How long to wait before retry number `attempt` (0 for the first): a random delay up to
 * `baseMs * 2^attempt`, capped at `maxMs` ("full jitter", which needs no memory of earlier delays and
 * spreads retries of many clients best). An upstream's `retry-after` is owed apart (`RetryAfters`): only
 * a retry going to the upstream that said it waits for it.
 *
 * @param random in [0, 1).
 *
 * @example
 * ```ts
 * const options = { baseMs: 250, maxMs: 8000, maxRetryAfterMs: 60_000 };
 * retryDelay(0, options, Math.random); // 0 to 250
 * retryDelay(3, options, Math.random); // 0 to 2000
 * ```
 */
export function retryDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}
