/** The bounds of {@linkcode retryDelay}, in ms. */
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
 * spreads retries of many clients best), and never shorter than the upstream's `retry-after`, itself
 * capped at `maxRetryAfterMs`. A caller that finds `retryAfterMs` past that cap may rather give up.
 *
 * Pass `retryAfterMs` only when the retry goes back to the upstream that asked for it: a 429 cools
 * the key in its pool instead, and the next key owes it nothing.
 *
 * @param random in [0, 1).
 *
 * @example
 * ```ts
 * const options = { baseMs: 250, maxMs: 8000, maxRetryAfterMs: 60_000 };
 * retryDelay(0, options, Math.random); // 0 to 250
 * retryDelay(3, options, Math.random); // 0 to 2000
 * retryDelay(1, options, Math.random, 5000); // 5000
 * ```
 */
export function retryDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** attempt);
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, options.maxRetryAfterMs));
}
