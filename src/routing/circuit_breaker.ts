/** Where a breaker stands: passing requests, refusing them, or letting one probe find out. */
export type BreakerState = "closed" | "open" | "half_open";

/** How a {@linkcode CircuitBreaker} trips and recovers. */
export interface CircuitBreakerOptions {
  /** Failures in a row (no success between them) within `windowMs` that open the breaker; 5. */
  failureThreshold?: number;
  /** How far back failures count, in ms; one minute. */
  windowMs?: number;
  /**
   * How long, at the least, the `failureThreshold` failures must span to open the breaker, in ms; 0
   * (and always 0 for a threshold of 1).
   * Requests that meet one short burst together (an upstream's second of 529s) fail at once, however
   * many: the burst is over before a breaker would help, and opening it would refuse every request for
   * its cooldown. An upstream that stays down keeps failing past it.
   */
  minSpanMs?: number;
  /** How long the breaker stays open before a probe, in ms; 30 seconds. */
  cooldownMs?: number;
  /**
   * Each consecutive failed probe doubles the cooldown, up to this, in ms; 10 minutes, or `cooldownMs`
   * when that is longer. At least `cooldownMs`. Jitter comes on top, so breakers held at this cap
   * still probe apart.
   */
  maxCooldownMs?: number;
  /**
   * Up to this share of the cooldown is added at random, so breakers that opened together (every key
   * of a provider that went down) do not probe together; 0.2.
   */
  jitterRatio?: number;
  /**
   * Monotonic ms; `performance.now` unless given. Never the wall clock: a step back of an hour (NTP,
   * a suspended VM) would keep an open breaker refusing for that hour more.
   */
  now?: () => number;
  /**
   * How long a probe out holds its place, in ms; without end unless given. A probe that has learnt
   * nothing by then (an upstream that takes the connection and never answers, or sends only pings)
   * leaves its place to the next request; its failure then counts for nothing, its success still closes
   * the breaker (it was slow, and the upstream answers).
   */
  probeTimeoutMs?: number;
  /** In [0, 1); `Math.random` unless given. */
  random?: () => number;
  /** Told of every change of state, for logs and metrics. */
  onTransition?: (from: BreakerState, to: BreakerState) => void;
}

/** How long the cooldown may grow to when `maxCooldownMs` is not given: 10 minutes. */
const _DEFAULT_MAX_COOLDOWN_MS = 600_000;

/**
 * Leave to send one request, from {@linkcode CircuitBreaker.tryAcquire}. Every permit must end in
 * exactly one of `onSuccess`, `onFailure` or `release`: a probe never reported keeps the breaker
 * half-open and refusing.
 */
export interface BreakerPermit {
  /** Whether this is the one request a half-open breaker lets through. */
  readonly probe: boolean;
}

/**
 * A circuit breaker for one key or one provider. Closed, it passes requests and counts failures;
 * `failureThreshold` failures in a row within `windowMs`, spread over `minSpanMs` at least, open it; a
 * success starts the count afresh, so an upstream that mostly answers stays in use however busy it is. Open, it refuses everything
 * until the cooldown (plus jitter) has passed, then turns half-open and lets exactly one probe through
 * while refusing the rest; the probe's success closes it, its failure opens it again for twice the
 * last cooldown, at most `maxCooldownMs`, so an upstream down for an hour is not probed every 30 s.
 * The cooldown is back to `cooldownMs` once the breaker closes.
 *
 * Only the probe decides a half-open breaker: results of requests let through before it opened say
 * nothing about the upstream now, so they are ignored, then and after it closes again. State changes
 * happen when the breaker is asked (no timers run here), and `onTransition` hears of each.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({ onTransition: (from, to) => log.warn("breaker", { from, to }) });
 * const permit = breaker.tryAcquire();
 * if (!permit) return tryNextProvider();
 * const outcome = await attempt();
 * if (outcome === "cancelled") breaker.release(permit);
 * else if (outcome === "unhealthy") breaker.onFailure(permit);
 * else breaker.onSuccess(permit);
 * ```
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #minSpanMs: number;
  readonly #baseCooldownMs: number;
  readonly #maxCooldownMs: number;
  readonly #jitterRatio: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #onTransition: ((from: BreakerState, to: BreakerState) => void) | undefined;
  #state: BreakerState = "closed";
  #cooldownMs: number;
  // The failures in a row while closed, those within the window, oldest first.
  #failures: number[] = [];
  #retryAt: number | undefined;
  #probe: BreakerPermit | undefined;
  #probeSince = 0;
  // Probes that lost their place to another while out: their success still closes the breaker.
  #staleProbes = new WeakSet<BreakerPermit>();
  #lastEarlyProbe = -Infinity;
  readonly #probeTimeoutMs: number;
  // Permits issued since the breaker last closed: only their failures count toward opening it again.
  #closedPermits = new WeakSet<BreakerPermit>();

  /** A closed breaker; see {@linkcode CircuitBreakerOptions} for the defaults. */
  constructor(options: CircuitBreakerOptions = {}) {
    this.#threshold = options.failureThreshold ?? 5;
    if (!(this.#threshold >= 1)) throw new RangeError("failureThreshold must be at least 1");
    this.#windowMs = options.windowMs ?? 60_000;
    // One failure spans no time: a breaker told to open at the first means it.
    this.#minSpanMs = this.#threshold > 1 ? options.minSpanMs ?? 0 : 0;
    if (!(this.#minSpanMs < this.#windowMs)) {
      throw new RangeError("minSpanMs must be less than windowMs: failures must span it within the window");
    }
    this.#baseCooldownMs = this.#cooldownMs = options.cooldownMs ?? 30_000;
    this.#maxCooldownMs = options.maxCooldownMs ?? Math.max(_DEFAULT_MAX_COOLDOWN_MS, this.#baseCooldownMs);
    if (!(this.#maxCooldownMs >= this.#baseCooldownMs)) {
      throw new RangeError("maxCooldownMs must be at least cooldownMs");
    }
    this.#jitterRatio = options.jitterRatio ?? 0.2;
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? Infinity;
    this.#onTransition = options.onTransition;
  }

  /** The state now; an open breaker whose cooldown is over reads half-open. */
  get state(): BreakerState {
    if (this.#state === "open" && this.#now() >= this.#retryAt!) this.#moveTo("half_open");
    return this.#state;
  }

  /** While open, when it lets a probe through, on the clock `now` reads; `undefined` otherwise. */
  get retryAt(): number | undefined {
    return this.state === "open" ? this.#retryAt : undefined;
  }

  /**
   * Whether a probe is out now and holds its place: the half-open one, or an early one while the breaker
   * still reads open. Requests are going to the upstream then, though the state says it is refused.
   */
  get probing(): boolean {
    return this.#probe !== undefined && this.#probeHoldsPlace();
  }

  /** Leave to send one request, or `undefined` while open or while the half-open probe is out. */
  tryAcquire(): BreakerPermit | undefined {
    switch (this.state) {
      case "closed": {
        const permit = { probe: false };
        this.#closedPermits.add(permit);
        return permit;
      }
      case "open":
        return undefined;
      case "half_open":
        if (this.#probeOut()) return undefined;
        this.#probeSince = this.#now();
        return this.#probe = { probe: true };
    }
  }

  /**
   * Leave to send one request as {@linkcode tryAcquire} gives it, or, while open with no probe out,
   * the probe before its cooldown is over: for a request nothing else can take (every provider it could
   * go to open), which would otherwise be refused for as long as the cooldown lasts, however short the
   * trouble was. It is a probe like any: its success closes the breaker and no other request goes
   * through while it is out. Its failure tells what the breaker already knew: the breaker stays open
   * until its cooldown is over, which it does not double (unless the cooldown ran out meanwhile, when
   * the probe was the one a half-open breaker lets through). None goes out less than `gapMs` after the
   * last early one went or the last probe failed (a half-open one too), so requests held for the upstream
   * ask it about once per `gapMs`, however many, and never straight after it failed one.
   */
  tryProbeEarly(gapMs = 0): BreakerPermit | undefined {
    const permit = this.tryAcquire();
    if (permit || this.state !== "open" || this.#probeOut()) return permit;
    const now = this.#now();
    if (now - this.#lastEarlyProbe < gapMs) return undefined;
    this.#lastEarlyProbe = this.#probeSince = now;
    return this.#probe = { probe: true };
  }

  /** Whether a probe is out, and still holds its place; one past `probeTimeoutMs` is set aside. */
  #probeOut(): boolean {
    if (this.#probe === undefined) return false;
    if (this.#probeHoldsPlace()) return true;
    this.#staleProbes.add(this.#probe);
    this.#probe = undefined;
    return false;
  }

  /** Whether the probe out went less than `probeTimeoutMs` ago. */
  #probeHoldsPlace(): boolean {
    return this.#now() - this.#probeSince < this.#probeTimeoutMs;
  }

  /**
   * The request behind `permit` succeeded: a probe closes the breaker, and a success while closed
   * starts the count of failures afresh, so only failures in a row open it.
   */
  onSuccess(permit: BreakerPermit): void {
    // A probe that lost its place (`probeTimeoutMs`) to another was slow, not failing: its success says
    // as much of the upstream as the one now out would.
    if (permit === this.#probe || this.#staleProbes.has(permit)) return this.reset();
    if (this.state === "closed" && this.#closedPermits.has(permit)) this.#failures = [];
  }

  /**
   * Closes the breaker at once, whatever its state, its count of failures and its cooldown back to
   * their start: what a probe's success does, and what an operator switching a provider or key on asks
   * for (they expect it tried again now, not once a cooldown is over). A probe still out then counts
   * for nothing.
   */
  reset(): void {
    this.#probe = undefined;
    this.#staleProbes = new WeakSet();
    this.#failures = [];
    this.#cooldownMs = this.#baseCooldownMs;
    this.#moveTo("closed");
  }

  /** The request behind `permit` failed in a way that says the upstream is unhealthy. */
  onFailure(permit: BreakerPermit): void {
    if (permit === this.#probe) {
      this.#probe = undefined;
      this.#lastEarlyProbe = this.#now();
      if (this.state === "open") return;
      this.#cooldownMs = Math.min(this.#cooldownMs * 2, this.#maxCooldownMs);
      this.#open();
      return;
    }
    if (this.state !== "closed" || !this.#closedPermits.has(permit)) return;
    const now = this.#now();
    this.#failures.push(now);
    // Every failure in the window counts toward the span: kept to the last `threshold` only, failures
    // faster than `threshold` per `minSpanMs` would never span it, and a provider down for good and asked
    // often would never open.
    while (now - this.#failures[0] >= this.#windowMs) this.#failures.shift();
    if (this.#failures.length >= this.#threshold && now - this.#failures[0] >= this.#minSpanMs) this.#open();
  }

  /**
   * The request behind `permit` ended saying nothing about the upstream's health (the client left,
   * the request was refused as invalid): a probe's place goes to the next request. One never `sent`
   * leaves the next early probe free to go at once.
   */
  release(permit: BreakerPermit, sent = true): void {
    if (permit !== this.#probe) return;
    this.#probe = undefined;
    // Never sent, it does not space the next early probe.
    if (!sent) this.#lastEarlyProbe = -Infinity;
  }

  #open(): void {
    this.#failures = [];
    this.#closedPermits = new WeakSet();
    this.#retryAt = this.#now() + this.#cooldownMs * (1 + this.#jitterRatio * this.#random());
    this.#moveTo("open");
  }

  #moveTo(to: BreakerState): void {
    const from = this.#state;
    this.#state = to;
    if (from !== to) this.#onTransition?.(from, to);
  }
}
