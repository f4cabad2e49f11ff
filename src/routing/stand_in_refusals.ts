import { BoundedMap } from "../providers/bounded_map.ts";

/** How a {@linkcode StandInRefusals} keeps time and bounds itself. */
export interface StandInRefusalsOptions {
  /** Monotonic ms. */
  now: () => number;
  /** How long a refusal is remembered: 15 minutes, past the longest `retry-after` relay gives (10). */
  ttlMs?: number;
  /** Requests remembered at most (1,024): past that, the first remembered is forgotten. */
  max?: number;
}

/**
 * The requests a provider standing in for another refused lately, by their body's SHA-256. A stand-in's
 * refusal passes it over once (`asStandInRefusal`): the client hears why the provider it was meant for
 * could not take it, and sends the same request again. Refused so again, it gets the refusal: a request
 * at fault in itself is told so after one wait, not after as many as that provider stays down (Codex,
 * told to wait on an open breaker, went on for 21 minutes). Kept in memory: a restart forgets it.
 *
 * @example
 * ```ts
 * const refusals = new StandInRefusals({ now: () => performance.now() });
 * await refusals.refusedBefore(body); // false: passed over, remembered
 * await refusals.refusedBefore(body); // true: the same request, refused again
 * ```
 */
export class StandInRefusals {
  readonly #until: BoundedMap<string, number>;
  readonly #now: () => number;
  readonly #ttlMs: number;

  constructor(options: StandInRefusalsOptions) {
    this.#now = options.now;
    this.#ttlMs = options.ttlMs ?? 15 * 60_000;
    this.#until = new BoundedMap(options.max ?? 1_024);
  }

  /** Whether a stand-in refused `body` within the time remembered; it is remembered from now either way. */
  async refusedBefore(body: Uint8Array<ArrayBuffer>): Promise<boolean> {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body)).toBase64();
    const now = this.#now();
    const until = this.#until.get(digest);
    this.#until.set(digest, now + this.#ttlMs);
    return until !== undefined && until > now;
  }
}
