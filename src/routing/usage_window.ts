import type { RateLimitWindow } from "./rate_limit_headers.ts";

/** How a {@linkcode UsageWindow} counts. */
export interface UsageWindowOptions {
  /** The most the window may count (a configured `rpm`, `tpm`, ...); left out, only the upstream limits it. */
  limit?: number;
  /** How long a window lasts when the upstream names no reset; one minute, as RPM and TPM mean. */
  windowMs?: number;
  /** Wall-clock ms (`Date.now` unless given): upstream resets are wall-clock instants. */
  now?: () => number;
}

/** What {@linkcode UsageWindow.reserve} counted, to be settled once when the real amount is known. */
export interface UsageReservation {
  /** What was counted. */
  readonly amount: number;
  /** The window it was counted in; once that window has reset there is nothing left to correct. */
  readonly window: number;
}

const _MINUTE = 60_000;

/**
 * A fixed-window counter with an explicit reset time, for one limit of one key (requests, tokens,
 * input or output tokens per minute). Two budgets meet here: the configured limit, counted locally,
 * and the upstream's own, as its headers last reported it and as reserved since. What is left is the
 * smaller of the two, so a configured limit below the upstream's keeps relay under it, and an upstream
 * that says it has less left than relay thought wins.
 *
 * A request reserves its estimate before it is sent and settles the real amount when the response's
 * usage is known; the upstream's headers correct both in between.
 *
 * @example
 * ```ts
 * const tpm = new UsageWindow({ limit: 80_000, now: Date.now });
 * if (tpm.fits(estimate)) {
 *   const reservation = tpm.reserve(estimate);
 *   // ... send; on the response headers:
 *   tpm.correct(readRateLimitHeaders(response.headers, Date.now()).windows.tokens ?? {});
 *   // ... and when the usage is known:
 *   tpm.settle(reservation, usage.input_tokens + usage.output_tokens);
 * }
 * ```
 */
export class UsageWindow {
  readonly #limit: number | undefined;
  readonly #windowMs: number;
  readonly #now: () => number;
  #used = 0;
  #upstreamLimit: number | undefined;
  #upstreamRemaining: number | undefined;
  // Set whenever something is counted, so a window that holds anything always has an end.
  #resetAt: number | undefined;
  #window = 0;

  /** An empty window; see {@linkcode UsageWindowOptions} for the defaults. */
  constructor(options: UsageWindowOptions = {}) {
    if (options.limit !== undefined && !(options.limit > 0)) {
      throw new RangeError(`a usage limit must be positive, not ${options.limit}`);
    }
    this.#limit = options.limit;
    this.#windowMs = options.windowMs ?? _MINUTE;
    this.#now = options.now ?? Date.now;
  }

  /** When the current window ends, in ms since the epoch; `undefined` while it holds nothing. */
  get resetAt(): number | undefined {
    this.#roll();
    return this.#resetAt;
  }

  /** What may still be counted in this window; `Infinity` while no limit is known. */
  get remaining(): number {
    this.#roll();
    const local = this.#limit === undefined ? Infinity : Math.max(0, this.#limit - this.#used);
    return Math.min(local, this.#upstreamRemaining ?? Infinity);
  }

  /** How much of the window is spent, from 0 to 1: the fuller of the two budgets. */
  get ratio(): number {
    this.#roll();
    const local = this.#limit === undefined ? 0 : this.#used / this.#limit;
    return Math.min(1, Math.max(0, local, this.#upstreamRatio()));
  }

  /**
   * Whether `amount` can be counted now. An untouched window takes any amount, so a request larger
   * than the whole limit waits for a fresh window rather than forever; the upstream has the last word.
   */
  fits(amount: number): boolean {
    const remaining = this.remaining;
    return amount <= remaining || (remaining > 0 && this.ratio === 0);
  }

  /** When `amount` will fit, in ms since the epoch; `undefined` when it fits now. */
  blockedUntil(amount: number): number | undefined {
    return this.fits(amount) ? undefined : this.#resetAt;
  }

  /** Counts `amount` against both budgets before the request goes out. */
  reserve(amount: number): UsageReservation {
    this.#roll();
    this.#resetAt ??= this.#now() + this.#windowMs;
    this.#add(amount);
    return { amount, window: this.#window };
  }

  /**
   * Replaces a reservation's estimate with the amount really used; settle each reservation once.
   * Settling `0` gives the whole reservation back.
   */
  settle(reservation: UsageReservation, actual: number): void {
    this.#roll();
    if (reservation.window === this.#window) this.#add(actual - reservation.amount);
  }

  /**
   * Takes the upstream's word for its budget: its limit, what remains of it now and when it resets.
   * A reset in the past (the upstream's clock, or a bucket already full) keeps the local window's end.
   */
  correct(window: RateLimitWindow): void {
    this.#roll();
    const now = this.#now();
    if (window.limit !== undefined) this.#upstreamLimit = window.limit;
    if (window.remaining !== undefined) this.#upstreamRemaining = window.remaining;
    if (window.resetAt !== undefined && window.resetAt > now) this.#resetAt = window.resetAt;
    else if (window.remaining !== undefined) this.#resetAt ??= now + this.#windowMs;
  }

  #add(amount: number): void {
    this.#used = Math.max(0, this.#used + amount);
    if (this.#upstreamRemaining !== undefined) {
      this.#upstreamRemaining = Math.min(
        this.#upstreamLimit ?? Infinity,
        Math.max(0, this.#upstreamRemaining - amount),
      );
    }
  }

  #upstreamRatio(): number {
    if (this.#upstreamRemaining === undefined) return 0;
    if (this.#upstreamLimit === undefined) return this.#upstreamRemaining === 0 ? 1 : 0;
    return 1 - this.#upstreamRemaining / this.#upstreamLimit;
  }

  /** Starts a fresh window once the current one has ended: the upstream's bucket is full again too. */
  #roll(): void {
    if (this.#resetAt === undefined || this.#now() < this.#resetAt) return;
    this.#used = 0;
    this.#upstreamRemaining = undefined;
    this.#resetAt = undefined;
    this.#window++;
  }
}
