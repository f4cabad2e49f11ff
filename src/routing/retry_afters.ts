import type { Attempt } from "./router.ts";
import type { FailureDecision } from "./failure.ts";

/** What a {@linkcode RetryAfters} says an attempt still owes its upstream, in ms from now. */
export interface OwedWait {
  /**
   * The longest `retry-after` met of the attempt's upstream, each capped at routing.max_retry_after,
   * less the time since it was said: what the retry waits.
   */
  cappedMs: number;
  /**
   * What is left of the key's own 429s (uncapped), while one runs: going back to the key is waiting
   * out its rate limit, which routing.max_wait bounds. `undefined` when none does.
   */
  rateLimitedMs?: number;
}

/** Where an attempt goes: its provider's route and key. */
export type Upstream = Pick<Attempt, "route" | "key">;

interface _Said {
  upstream: Upstream;
  /** A 429's is its key's; any other's (a 529, a 503) its whole provider's. */
  keyOnly: boolean;
  until: number;
  cappedUntil: number;
}

/**
 * The `retry-after`s one request met, kept for as long as it lasts: a request that failed over to
 * another provider and comes back to the first still owes it the rest of its wait (A's 529 said 3 s,
 * B failed at once: A's second key is not asked before the 3 s are over).
 *
 * @example
 * ```ts
 * const owed = new RetryAfters(60_000);
 * owed.failed(attempt, decision, clock.now()); // decision.retryAfterMs: 3000
 * owed.owedBy(sameProviderOtherKey, clock.now() + 1_000)?.cappedMs; // 2000, for a 529; undefined for a 429
 * ```
 */
export class RetryAfters {
  readonly #said: _Said[] = [];
  readonly #maxRetryAfterMs: number;

  /** @param maxRetryAfterMs routing.max_retry_after: the most a retry waits for a `retry-after`. */
  constructor(maxRetryAfterMs: number) {
    this.#maxRetryAfterMs = maxRetryAfterMs;
  }

  /** Remembers the `retry-after` of a failure of `upstream`, if it said one. */
  failed(
    upstream: Upstream,
    decision: Pick<FailureDecision, "retryAfterMs" | "coolKeyUntil">,
    now: number,
  ): void {
    if (decision.retryAfterMs === undefined) return;
    this.#said.push({
      upstream,
      // A keyless provider's 429 holds the provider, its one "key".
      keyOnly: decision.coolKeyUntil !== undefined,
      until: now + decision.retryAfterMs,
      cappedUntil: now + Math.min(decision.retryAfterMs, this.#maxRetryAfterMs),
    });
  }

  /** What a retry to `upstream` still owes the `retry-after`s it said; undefined where none spoke for it. */
  owedBy(upstream: Upstream, now: number): OwedWait | undefined {
    let owed: OwedWait | undefined;
    for (const said of this.#said) {
      if (said.upstream.route !== upstream.route || (said.keyOnly && said.upstream.key !== upstream.key)) {
        continue;
      }
      const limitLeft = said.keyOnly && said.until > now ? said.until - now : undefined;
      owed = {
        cappedMs: Math.max(owed?.cappedMs ?? 0, said.cappedUntil - now),
        rateLimitedMs: limitLeft === undefined
          ? owed?.rateLimitedMs
          : Math.max(owed?.rateLimitedMs ?? 0, limitLeft),
      };
    }
    return owed;
  }
}
