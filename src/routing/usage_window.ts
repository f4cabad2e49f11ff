import type { RateLimitWindow } from "./rate_limit_headers.ts";

/** How a {@linkcode UsageWindow} counts. */
export interface UsageWindowOptions {
  /** The most the window may count (a configured `rpm`, `tpm`, ...); left out, only the upstream limits it. */
  limit?: number;
  /** How long a window lasts when the upstream names no reset; one minute, as RPM and TPM mean. */
  windowMs?: number;
  /**
   * Monotonic ms (`performance.now` unless given), which windows end on and upstream resets are given
   * on (`readRateLimitHeaders` turns their dates into it): on the wall clock, a step back of an hour
   * would hold a full window shut for that hour more.
   */
  now?: () => number;
}

/** What {@linkcode UsageWindow.reserve} counted, to be settled once when the real amount is known. */
export interface UsageReservation {
  /** What was counted. */
  readonly amount: number;
  /** The part of `amount` that was only a bound (output up to `max_tokens`). */
  readonly bound: number;
  /** The local window it was counted in; once that window has reset there is nothing left to correct. */
  readonly window: number;
  /** Likewise the upstream's: once its reset has passed, relay no longer holds a figure to correct. */
  readonly upstreamWindow: number;
}

const _MINUTE = 60_000;

/**
 * A fixed-window counter with an explicit reset time, for one limit of one key (requests, tokens,
 * input or output tokens per minute). Two budgets meet here, each with its own end: the configured
 * limit, counted locally in a window that ends `windowMs` after its first reservation, and the
 * upstream's own, as its headers last reported it (with the reset they name) and as reserved since.
 * What is left is the smaller of the two, so a configured limit below the upstream's keeps relay under
 * it (an upstream bucket that refills sooner does not reset the local count), and an upstream that says
 * it has less left than relay thought wins until its own reset.
 *
 * A request reserves its estimate before it is sent and settles the real amount when the response's
 * usage is known; the upstream's headers correct their budget in between. Part of an estimate may be
 * only a bound (output up to `max_tokens`, of which a request seldom spends much): that part needs
 * only some room to fit and is counted only as far as there is room, so a bound larger than what is
 * left neither holds the request back while the window shows room nor swells the count past the limit.
 * Bounds of requests still in flight count toward how spent the window looks, but hold no other request
 * back: a request waiting for them would wait for the window's end, long after they settle for far less.
 *
 * @example
 * ```ts
 * const tpm = new UsageWindow({ limit: 80_000 });
 * // The input is certain; max_tokens only bounds the output.
 * if (tpm.fits(input + maxTokens, input)) {
 *   const reservation = tpm.reserve(input + maxTokens, input);
 *   // ... send; on the response headers:
 *   tpm.correct(readRateLimitHeaders(response.headers, performance.now(), Date.now()).windows.tokens ?? {});
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
  // The part of `#used` (and of what `#upstreamRemaining` lost) that is bounds of unsettled reservations.
  #bounds = 0;
  #upstreamBounds = 0;
  // Set whenever something is counted, so a local window that holds anything always has an end.
  #resetAt: number | undefined;
  #window = 0;
  // The upstream's limit outlives its resets: a limit learned once still says how spent a key is.
  #upstreamLimit: number | undefined;
  // Known only between a header that reported it and the reset that header named.
  #upstreamRemaining: number | undefined;
  #upstreamResetAt: number | undefined;
  #upstreamWindow = 0;

  /** An empty window; see {@linkcode UsageWindowOptions} for the defaults. */
  constructor(options: UsageWindowOptions = {}) {
    if (options.limit !== undefined && !(options.limit > 0)) {
      throw new RangeError(`a usage limit must be positive, not ${options.limit}`);
    }
    this.#limit = options.limit;
    this.#windowMs = options.windowMs ?? _MINUTE;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * When the fuller of the two budgets frees up, on the clock `now` reads (the later end when both are as
   * full); `undefined` while neither holds anything.
   */
  get resetAt(): number | undefined {
    this.#roll();
    const local = this.#localRatio(this.#used);
    const upstream = this.#upstreamRatio(this.#upstreamRemaining);
    if (this.#upstreamResetAt === undefined || local > upstream) return this.#resetAt;
    if (this.#resetAt === undefined || upstream > local) return this.#upstreamResetAt;
    return Math.max(this.#resetAt, this.#upstreamResetAt);
  }

  /** What may still be counted in this window; `Infinity` while no limit is known. */
  get remaining(): number {
    this.#roll();
    return this.#remaining(this.#used, this.#upstreamRemaining);
  }

  /** How much of the window is spent, from 0 to 1: the fuller of the two budgets. */
  get ratio(): number {
    this.#roll();
    return this.#ratio(this.#used, this.#upstreamRemaining);
  }

  /**
   * Whether `amount` can be counted now, of which `least` is certain and the rest only a bound: the
   * certain part must fit, and a bound needs some room beside it. An untouched window takes any amount,
   * so a request larger than the whole limit waits for a fresh window rather than forever; the upstream
   * has the last word.
   */
  fits(amount: number, least: number = amount): boolean {
    this.#roll();
    return this.#fits(amount, least, this.#used - this.#bounds, this.#firmUpstreamRemaining());
  }

  /**
   * When `amount` (of which `least` is certain, as for {@linkcode fits}) will fit, on the clock `now`
   * reads; `undefined` when it fits now. That is the first end, local or upstream, after which it
   * fits: past both, everything is fresh and anything fits.
   */
  blockedUntil(amount: number, least: number = amount): number | undefined {
    if (this.fits(amount, least)) return undefined;
    const localEnd = this.#resetAt ?? Infinity;
    const upstreamEnd = this.#upstreamResetAt ?? Infinity;
    for (const end of localEnd <= upstreamEnd ? [localEnd, upstreamEnd] : [upstreamEnd, localEnd]) {
      if (end === Infinity) break;
      const used = end >= localEnd ? 0 : this.#used - this.#bounds;
      const upstreamRemaining = end >= upstreamEnd ? undefined : this.#firmUpstreamRemaining();
      if (this.#fits(amount, least, used, upstreamRemaining)) return end;
    }
    return undefined;
  }

  /**
   * Counts `amount` against both budgets before the request goes out: `least` of it in any case, the
   * rest (a bound, as for {@linkcode fits}) as far as there is room.
   */
  reserve(amount: number, least: number = amount): UsageReservation {
    this.#roll();
    const remaining = this.#remaining(this.#used, this.#upstreamRemaining);
    const counted = Math.max(least, Math.min(amount, remaining));
    const bound = counted - Math.min(least, counted);
    this.#resetAt ??= this.#now() + this.#windowMs;
    this.#addLocal(counted);
    this.#bounds += bound;
    if (this.#upstreamRemaining !== undefined) this.#upstreamBounds += bound;
    this.#addUpstream(counted);
    return { amount: counted, bound, window: this.#window, upstreamWindow: this.#upstreamWindow };
  }

  /**
   * Replaces a reservation's estimate with the amount really used, in each budget whose window it
   * was counted in; settle each reservation once. Settling `0` gives the whole reservation back.
   */
  settle(reservation: UsageReservation, actual: number): void {
    this.#roll();
    const change = actual - reservation.amount;
    if (reservation.window === this.#window) {
      this.#addLocal(change);
      this.#bounds = Math.max(0, this.#bounds - reservation.bound);
    }
    if (reservation.upstreamWindow === this.#upstreamWindow) {
      this.#addUpstream(change);
      this.#upstreamBounds = Math.max(0, this.#upstreamBounds - reservation.bound);
    }
  }

  /**
   * Takes the upstream's word for its own budget: its limit, what remains of it now and when it
   * resets. The local count and its window's end stay: a configured limit is spent on relay's clock,
   * whatever the upstream's bucket does. A reset in the past (the upstream's clock, or a bucket
   * already full) keeps the upstream budget's previous end, or gives it one window from now.
   */
  correct(window: RateLimitWindow): void {
    this.#roll();
    const now = this.#now();
    if (window.limit !== undefined) this.#upstreamLimit = window.limit;
    if (window.remaining !== undefined) {
      // The upstream's figure is its own count: no bound of relay's is part of it, and it counts every
      // request sent before it already (the one that brought it too), so their settling must not
      // correct it again: they belong to the figure's past.
      this.#upstreamRemaining = window.remaining;
      this.#upstreamBounds = 0;
      this.#upstreamWindow++;
    }
    // A reset with no count to go with it bounds nothing.
    if (this.#upstreamRemaining === undefined) return;
    if (window.resetAt !== undefined && window.resetAt > now) this.#upstreamResetAt = window.resetAt;
    else this.#upstreamResetAt ??= now + this.#windowMs;
  }

  /**
   * Drops what the upstream last said of its budget (what remains and when it resets) until its next
   * answer says it again; the local count and the upstream's limit stay. An operator's override of a
   * bogus reset that would hold the window shut.
   */
  forgetUpstream(): void {
    this.#upstreamRemaining = undefined;
    this.#upstreamResetAt = undefined;
    this.#upstreamBounds = 0;
  }

  /** What the upstream's budget would have left without the bounds of requests in flight. */
  #firmUpstreamRemaining(): number | undefined {
    if (this.#upstreamRemaining === undefined) return undefined;
    return Math.min(this.#upstreamLimit ?? Infinity, this.#upstreamRemaining + this.#upstreamBounds);
  }

  #addLocal(amount: number): void {
    this.#used = Math.max(0, this.#used + amount);
  }

  #addUpstream(amount: number): void {
    if (this.#upstreamRemaining === undefined) return;
    this.#upstreamRemaining = Math.min(
      this.#upstreamLimit ?? Infinity,
      Math.max(0, this.#upstreamRemaining - amount),
    );
  }

  #remaining(used: number, upstreamRemaining: number | undefined): number {
    const local = this.#limit === undefined ? Infinity : Math.max(0, this.#limit - used);
    return Math.min(local, upstreamRemaining ?? Infinity);
  }

  #ratio(used: number, upstreamRemaining: number | undefined): number {
    return Math.min(1, Math.max(0, this.#localRatio(used), this.#upstreamRatio(upstreamRemaining)));
  }

  #fits(amount: number, least: number, used: number, upstreamRemaining: number | undefined): boolean {
    const remaining = this.#remaining(used, upstreamRemaining);
    // A bound needs some room beside the certain part; an amount that is all certain may fill the window.
    const certainFits = amount > least ? least < remaining : least <= remaining;
    return certainFits || (remaining > 0 && this.#ratio(used, upstreamRemaining) === 0);
  }

  #localRatio(used: number): number {
    return this.#limit === undefined ? 0 : used / this.#limit;
  }

  #upstreamRatio(upstreamRemaining: number | undefined): number {
    if (upstreamRemaining === undefined) return 0;
    if (this.#upstreamLimit === undefined) return upstreamRemaining === 0 ? 1 : 0;
    return 1 - upstreamRemaining / this.#upstreamLimit;
  }

  /** Starts each budget afresh once its own window has ended: the local count, the upstream's figure. */
  #roll(): void {
    // Read on every pick of every key: an empty window has nothing to roll, and no clock to read.
    if (this.#resetAt === undefined && this.#upstreamResetAt === undefined) return;
    const now = this.#now();
    if (this.#resetAt !== undefined && now >= this.#resetAt) {
      this.#used = 0;
      this.#bounds = 0;
      this.#resetAt = undefined;
      this.#window++;
    }
    if (this.#upstreamResetAt !== undefined && now >= this.#upstreamResetAt) {
      this.#upstreamRemaining = undefined;
      this.#upstreamBounds = 0;
      this.#upstreamResetAt = undefined;
      this.#upstreamWindow++;
    }
  }
}
