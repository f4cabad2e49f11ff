import type { RateLimitSnapshot, RateLimitWindowName } from "./rate_limit_headers.ts";
import type { TokenCount } from "./token_estimate.ts";
import { type UsageReservation, UsageWindow } from "./usage_window.ts";

/** Per-minute limits a key may carry in the config; each left out is only limited by the upstream. */
export interface KeyLimits {
  /** Requests per minute. */
  rpm?: number;
  /** Input and output tokens together per minute. */
  tpm?: number;
  /** Input tokens per minute. */
  input_tpm?: number;
  /** Output tokens per minute. */
  output_tpm?: number;
}

/** One key of a pool and its limits. */
export interface PoolKey<K> {
  /** The key as the caller knows it (a `ProviderKey`); compared by identity. */
  key: K;
  /** Left out, only the upstream limits it. */
  limits?: KeyLimits;
}

/** How a {@linkcode KeyPool} keeps time. */
export interface KeyPoolOptions {
  /**
   * Monotonic ms (`performance.now` unless given), which cooling and windows run on, and upstream
   * resets are given on (`readRateLimitHeaders`, `classifyFailure`): on the wall clock, a step back of
   * an hour would keep a key cooled for that hour more.
   */
  now?: () => number;
  /** How long a window lasts when the upstream names no reset; one minute. */
  windowMs?: number;
}

/** What a pick counted against its key, for {@linkcode KeyPool.settle}. */
export interface KeyReservation<K> {
  /** The key picked. */
  readonly key: K;
  /** What each of its windows counted. */
  readonly windows: ReadonlyMap<RateLimitWindowName, UsageReservation>;
}

/**
 * How an upstream refused a key it took out of rotation, for relay's answers while no key is left:
 * `status`, the one they give (`FailureDecision.refusedWith`); `said`, its words, when it gave some.
 */
export interface KeyRefusal {
  status: number;
  said?: string;
}

/**
 * The answer of {@linkcode KeyPool.pick}: a key, or when every usable key is cooling, spent or held,
 * when the first of them is back (`heldOnly` when each key waited for is held past its own limits); `none`
 * when no key is usable at all (disabled or excluded, or held and failing: `openUntil` says when the
 * first of those lets a probe through).
 */
export type KeyPick<K> =
  | { kind: "key"; key: K; reservation: KeyReservation<K> }
  /**
   * `said`: the upstream's words for the rest of the key waited for, when its 429 gave some (`cool`);
   * `openUntil`: held keys set aside as failing meanwhile (`failingUntil`), when the first lets a probe through.
   */
  | {
    kind: "wait";
    waitUntil: number;
    retryAfterMs: number;
    heldOnly?: true;
    said?: string;
    openUntil?: number;
  }
  /** `refusal`: how the upstream refused the first key it took out, when it did (`disable`). */
  | { kind: "none"; openUntil?: number; refusal?: KeyRefusal };

/** What a pool knows about one key, for logs and status pages. */
export interface KeyStatus {
  /** Why it was taken out of rotation (a 401 or 402), when it was. */
  disabled?: string;
  /** Until when a 429 rests it, on the pool's clock, while it does. */
  cooledUntil?: number;
  /** How spent its fullest window is, 0 to 1. */
  ratio: number;
  /** When that window resets, on the pool's clock, while it counts anything. */
  resetAt?: number;
}

/** Which options of {@linkcode KeyPool.pick} narrow the choice. */
export interface PickOptions<K> {
  /** Keys this request already tried. */
  exclude?: ReadonlySet<K>;
  /** A key to take whenever it is usable, whatever its ratio: conversation affinity's. */
  prefer?: K;
  /**
   * For a request no rate limit counts (`count_tokens`, the model list): the pick ignores the key's
   * windows and the estimate, reserves nothing and takes turns apart from counted requests, so it moves
   * neither where they go nor always to the same key; only a 429's rest or a disabled key keeps a key out.
   */
  uncounted?: boolean;
  /**
   * Until when the caller holds each key from this request beyond the pool's own limits and cooling
   * (where the upstream limits each model apart, a 429 for the request's model), `undefined` when it
   * does not: a held key is waited for until the later of its hold and its own wait.
   */
  heldUntil?: (key: K) => number | undefined;
  /**
   * Until when a held key is failing (its circuit breaker open), `undefined` when it is not: one failing
   * past its wait is not waited for, and a pick left with nothing else says when the first of them lets
   * a probe through (`openUntil`).
   */
  failingUntil?: (key: K) => number | undefined;
}

const _LIMIT_FOR: Record<RateLimitWindowName, keyof KeyLimits> = {
  requests: "rpm",
  tokens: "tpm",
  input_tokens: "input_tpm",
  output_tokens: "output_tpm",
};

function _sameLimits(a: KeyLimits, b: KeyLimits): boolean {
  return (Object.values(_LIMIT_FOR)).every((field) => a[field] === b[field]);
}

/** Which turns a pick takes: counted and uncounted requests take turns apart. */
type _Turns = "counted" | "uncounted";

class _KeyState {
  windows: Map<RateLimitWindowName, UsageWindow>;
  disabled: string | undefined;
  cooledUntil = 0;
  /** The upstream's words for the rest `cooledUntil` is, when it gave some. */
  cooledSaid: string | undefined;
  /** How the upstream refused it, when it, not an operator, took it out. */
  refusal: KeyRefusal | undefined;
  // Which pick of the pool last took this key (0: none yet), per turns, to break ties between equal ratios.
  readonly lastPicked: Record<_Turns, number> = { counted: 0, uncounted: 0 };
  readonly limits: KeyLimits;

  constructor(limits: KeyLimits, options: KeyPoolOptions) {
    this.limits = limits;
    this.windows = new Map(
      (Object.keys(_LIMIT_FOR) as RateLimitWindowName[]).map((name) => [
        name,
        new UsageWindow({ limit: limits[_LIMIT_FOR[name]], windowMs: options.windowMs, now: options.now }),
      ]),
    );
  }

  get ratio(): number {
    return this.fullest.ratio;
  }

  get fullest(): UsageWindow {
    return [...this.windows.values()].reduce((fullest, window) =>
      window.ratio > fullest.ratio ? window : fullest
    );
  }

  /**
   * When a request of `tokens` can go out on this key, `undefined` when it can now; a request that
   * counts nothing (`tokens` undefined) waits for a 429's rest only.
   */
  blockedUntil(tokens: TokenCount | undefined, now: number): number | undefined {
    const windowEnds = tokens === undefined
      ? []
      : [...this.windows].map(([name, window]) =>
        window.blockedUntil(_amount(name, tokens), _certain(name, tokens)) ?? 0
      );
    const until = Math.max(this.cooledUntil, ...windowEnds);
    return until > now ? until : undefined;
  }

  /** Counts a request of `tokens` in each window. */
  reserve(tokens: TokenCount): ReadonlyMap<RateLimitWindowName, UsageReservation> {
    const reservations = new Map<RateLimitWindowName, UsageReservation>();
    for (const [name, window] of this.windows) {
      reservations.set(name, window.reserve(_amount(name, tokens), _certain(name, tokens)));
    }
    return reservations;
  }

  /** Whether this key goes before `other`: less used, or on a tie, picked less recently in `turns`. */
  before(other: _KeyState, turns: _Turns): boolean {
    const ratio = this.ratio;
    const otherRatio = other.ratio;
    return ratio < otherRatio || (ratio === otherRatio && this.lastPicked[turns] < other.lastPicked[turns]);
  }
}

/**
 * The keys of one provider and what they have spent. A request takes the usable key with the lowest
 * usage ratio; ties go to the key picked least recently (the first listed until each has been picked),
 * so keys that know no limits take turns (uncounted requests turns of their own). A 429 cools a key
 * until its reset, a 401 or 402 disables it, and every response's rate-limit headers report the
 * upstream's own budget, which can only tighten a configured limit (see `UsageWindow`). Limits the
 * config leaves out are learned from those headers, so a key without configured limits counts as
 * unused (ratio 0) until its upstream says otherwise.
 *
 * Time is injected and nothing here sleeps: when every key is cold, {@linkcode pick} says until when,
 * and the caller decides whether to wait that long.
 *
 * @example
 * ```ts
 * const pool = new KeyPool([{ key: "sk-1", limits: { rpm: 50 } }, { key: "sk-2" }]);
 * const pick = pool.pick(estimateTokens(body));
 * if (pick.kind === "key") {
 *   const response = await send(pick.key);
 *   pool.observe(pick.key, readRateLimitHeaders(response.headers, performance.now(), Date.now()));
 *   // ... once the usage is in:
 *   pool.settle(pick.reservation, { input: usage.input_tokens, output: usage.output_tokens });
 * }
 * ```
 */
export class KeyPool<K> {
  readonly #keys = new Map<K, _KeyState>();
  readonly #now: () => number;
  #picks = 0;

  /** A pool of `keys`, each once, in the order ties are broken until each has been picked. */
  constructor(keys: readonly PoolKey<K>[], options: KeyPoolOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    for (const { key, limits } of keys) {
      if (this.#keys.has(key)) throw new Error("a key pool cannot hold the same key twice");
      this.#keys.set(key, new _KeyState(limits ?? {}, { ...options, now: this.#now }));
    }
  }

  /**
   * Takes over from `previous`, the pool of the same provider before a reload changed its config, what
   * each key that stays (`same` finds its old self, by its secret) has spent in its windows and how long
   * it cools, when its limits stayed the same: the requests still running on the old pool settle in
   * the same windows, so a reload neither resets a key's rate limit nor lets the upstream's 429 be
   * forgotten. A key switched off or refused there comes back, as the changed config asks.
   */
  carryOver(previous: KeyPool<K>, same: (key: K) => K | undefined): void {
    for (const [key, state] of this.#keys) {
      const old = previous.#keys.get(same(key) as K);
      if (!old || !_sameLimits(old.limits, state.limits)) continue;
      state.windows = old.windows;
      state.cooledUntil = old.cooledUntil;
      state.cooledSaid = old.cooledSaid;
    }
  }

  /**
   * Takes a key for a request of `estimate` tokens and reserves them on it (its output, a bound, only
   * as far as the key's windows have room), or says when the first usable key will be back.
   */
  pick(estimate: TokenCount, options: PickOptions<K> = {}): KeyPick<K> {
    const now = this.#now();
    const counted = options.uncounted ? undefined : estimate;
    const { exclude, heldUntil, failingUntil } = options;
    const ready: [K, _KeyState][] = [];
    let waitUntil: number | undefined;
    let said: string | undefined;
    let heldOnly = true;
    let openUntil: number | undefined;
    let refusal: KeyRefusal | undefined;
    for (const entry of this.#keys) {
      const [key, state] = entry;
      if (state.disabled !== undefined) {
        refusal ??= state.refusal;
        continue;
      }
      if (exclude?.has(key)) continue;
      const ownUntil = state.blockedUntil(counted, now);
      const held = heldUntil?.(key);
      const isHeld = held !== undefined && held > now;
      // A held key is back at the later of its hold and its own wait.
      const until = isHeld && (ownUntil === undefined || ownUntil < held) ? held : ownUntil;
      if (until === undefined) {
        ready.push(entry);
        continue;
      }
      const failing = isHeld ? failingUntil?.(key) : undefined;
      if (failing !== undefined && failing > until) {
        openUntil = Math.min(openUntil ?? Infinity, failing);
        continue;
      }
      if (!isHeld || until !== held) heldOnly = false;
      if (waitUntil === undefined || until < waitUntil) {
        waitUntil = until;
        // Only the key's own rest is in the upstream's words; its windows and holds are relay's count.
        said = until === state.cooledUntil ? state.cooledSaid : undefined;
      }
    }
    if (ready.length === 0) {
      if (waitUntil === undefined) {
        return {
          kind: "none",
          ...(openUntil === undefined ? {} : { openUntil }),
          ...(refusal === undefined ? {} : { refusal }),
        };
      }
      const retryAfterMs = Math.ceil(waitUntil - now);
      return {
        kind: "wait",
        waitUntil,
        retryAfterMs,
        ...(heldOnly ? { heldOnly: true } as const : {}),
        ...(said === undefined ? {} : { said }),
        ...(openUntil === undefined ? {} : { openUntil }),
      };
    }
    const turns = counted === undefined ? "uncounted" : "counted";
    const [key, state] = ready.find(([key]) => key === options.prefer) ??
      ready.reduce((best, entry) => entry[1].before(best[1], turns) ? entry : best);
    state.lastPicked[turns] = ++this.#picks;
    const windows = counted === undefined ? new Map() : state.reserve(counted);
    return { kind: "key", key, reservation: { key, windows } };
  }

  /**
   * Replaces a pick's estimate with the tokens the request really used: `{ input: 0, output: 0 }`
   * when it did no work, though it still counts as a request. Settle or release each reservation once.
   */
  settle(reservation: KeyReservation<K>, actual: TokenCount): void {
    const windows = this.#state(reservation.key).windows;
    for (const [name, reserved] of reservation.windows) {
      windows.get(name)!.settle(reserved, _amount(name, actual));
    }
  }

  /**
   * Gives back everything a pick counted, the request itself too: for a request that was never sent
   * (its key's breaker refused it, or the client left first), which the upstream never counted.
   */
  release(reservation: KeyReservation<K>): void {
    const windows = this.#state(reservation.key).windows;
    for (const [name, reserved] of reservation.windows) windows.get(name)!.settle(reserved, 0);
  }

  /**
   * Rests a key until `untilMs` (a 429); a longer rest already under way stands. `said`: the upstream's
   * words for it (a plan's limit spent), which a {@linkcode pick} that waits for the key passes on.
   */
  cool(key: K, untilMs: number, said?: string): void {
    const state = this.#state(key);
    if (untilMs < state.cooledUntil) return;
    if (untilMs > state.cooledUntil || said !== undefined) state.cooledSaid = said;
    state.cooledUntil = untilMs;
  }

  /**
   * Takes a key out of rotation for good (a 401 or 402, a quota spent, an operator's switch); `reason` is
   * kept for {@linkcode status}, `refusal` (how the upstream refused it, when it did) for a
   * {@linkcode pick} left with no key to pass on.
   */
  disable(key: K, reason: string, refusal?: KeyRefusal): void {
    const state = this.#state(key);
    state.disabled = reason;
    state.refusal = refusal;
  }

  /**
   * Puts a key back into rotation: no longer disabled, nor cooling, nor held by what its upstream last
   * said of its windows. It is an operator's act, and the one way short of a restart to take back a
   * bogus `retry-after` or reset; a key still limited says so again in its next answer.
   */
  enable(key: K): void {
    const state = this.#state(key);
    state.disabled = undefined;
    state.refusal = undefined;
    state.cooledUntil = 0;
    state.cooledSaid = undefined;
    for (const window of state.windows.values()) window.forgetUpstream();
  }

  /**
   * Corrects a key's windows from the rate-limit headers of a response it got. With a `retry-after`,
   * the figures they report hold until then at most: it is the upstream's word on when the key takes a
   * request again, where a window's reset may only say when it is full again, or be left out (and the
   * window would then be given a whole one).
   */
  observe(key: K, snapshot: RateLimitSnapshot): void {
    const windows = this.#state(key).windows;
    const retryAt = snapshot.retryAfterMs === undefined ? undefined : this.#now() + snapshot.retryAfterMs;
    for (const [name, window] of Object.entries(snapshot.windows)) {
      const resetAt = retryAt === undefined ? window.resetAt : Math.min(window.resetAt ?? retryAt, retryAt);
      windows.get(name as RateLimitWindowName)!.correct({ ...window, resetAt });
    }
  }

  /**
   * The share of the pool's capacity left, 0 to 1: the mean over its keys of `1 - ratio`, where
   * disabled and cooling keys have none. This is what `shuffle` weighs providers by.
   */
  remainingCapacity(): number {
    if (this.#keys.size === 0) return 0;
    const now = this.#now();
    let sum = 0;
    for (const state of this.#keys.values()) {
      if (state.disabled === undefined && state.cooledUntil <= now) sum += 1 - state.ratio;
    }
    return sum / this.#keys.size;
  }

  /** What the pool knows about `key`. */
  status(key: K): KeyStatus {
    const state = this.#state(key);
    const { ratio, resetAt } = state.fullest;
    return {
      ...(state.disabled === undefined ? {} : { disabled: state.disabled }),
      ...(state.cooledUntil > this.#now() ? { cooledUntil: state.cooledUntil } : {}),
      ratio,
      ...(resetAt === undefined ? {} : { resetAt }),
    };
  }

  #state(key: K): _KeyState {
    const state = this.#keys.get(key);
    if (!state) throw new Error("the key is not in this pool");
    return state;
  }
}

/** What a request of `tokens` counts in `window`. */
function _amount(window: RateLimitWindowName, tokens: TokenCount): number {
  switch (window) {
    case "requests":
      return 1;
    case "tokens":
      return tokens.input + tokens.output;
    case "input_tokens":
      return tokens.input;
    case "output_tokens":
      return tokens.output;
  }
}

/** How much of `_amount` is certain: all but the output, which `max_tokens` only bounds. */
function _certain(window: RateLimitWindowName, tokens: TokenCount): number {
  return _amount(window, { input: tokens.input, output: 0 });
}
