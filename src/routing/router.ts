import type { Provider, ProviderKey } from "../providers/types.ts";
import { keyId } from "../util/fingerprint.ts";
import { type AffinityTarget, ConversationAffinity } from "./affinity.ts";
import { type BreakerPermit, type BreakerState, CircuitBreaker } from "./circuit_breaker.ts";
import type { Release } from "./concurrency.ts";
import { ConcurrencyLimiter } from "./concurrency.ts";
import { EwmaMap } from "./ewma.ts";
import type { FailureAction, FailureDecision } from "./failure.ts";
import { type KeyLimits, KeyPool, type KeyRefusal, type KeyReservation, type KeyStatus } from "./key_pool.ts";
import { ModelMap, withoutContextMark } from "./model_map.ts";
import { type ModelRefusal, ModelRefusals } from "./model_refusals.ts";
import type { RateLimitSnapshot } from "./rate_limit_headers.ts";
import {
  type Candidate,
  createStrategy,
  type ModelPrice,
  preferNamed,
  type Strategy,
  type StrategyName,
} from "./strategies/index.ts";
import type { TokenCount } from "./token_estimate.ts";

/** How long relay waits on an upstream, in milliseconds. */
export interface UpstreamTimeouts {
  /** Until response headers on a streamed request. */
  connect: number;
  /** Until the first body byte. */
  firstByte: number;
  /** Longest silence between two body chunks. */
  idle: number;
}

/** A provider with what relay needs to call it. */
export interface Route {
  provider: Provider;
  keys: ProviderKey[];
  timeouts: UpstreamTimeouts;
  /** Which models the provider serves, and under which upstream ids. */
  models: ModelMap;
  /** Per-key limits, by key; a key left out is limited only by what its upstream reports. */
  limits?: ReadonlyMap<ProviderKey, KeyLimits>;
  /** Most requests in flight to this provider at once; unlimited when left out. */
  maxInFlight?: number;
  /**
   * Price per client model name or glob, for the `cost` strategy; a model takes its exact name's
   * price, else the most specific glob's, as in {@linkcode Route.models}.
   */
  prices?: ReadonlyMap<string, ModelPrice>;
  /** Names the config gives keys, by key, for status pages and for switching a key off by name. */
  keyNames?: ReadonlyMap<ProviderKey, string>;
  /**
   * What the provider's config says, hashed. A router built from a previous one keeps the live state
   * (pool, breakers, in-flight cap) of each provider whose name and fingerprint are unchanged; a route
   * without one always starts fresh.
   */
  fingerprint?: string;
}

/** A breaker of a provider (`key` left out) or of one of its keys changed state. */
export interface BreakerChange {
  provider: string;
  /** The key's masked label. */
  key?: string;
  from: BreakerState;
  to: BreakerState;
}

/** A key its upstream took out of rotation (a 401, a 402, a quota or balance spent). */
export interface KeyDisabled {
  provider: string;
  /** The key's masked label. */
  key: string;
  /** The failure's, as the log's `key disabled` line says it (`402 from upstream`). */
  reason: string;
}

/** How the router spreads, retries and protects; see `routing:` in relay.example.yaml. */
export interface RoutingOptions {
  strategy: StrategyName;
  /** A strategy per model (exact name or glob), overriding `strategy`. */
  modelStrategies?: ModelMap;
  /** For the `model` strategy: model -> provider name. */
  modelRoutes?: Readonly<Record<string, string>>;
  /** Requests of one conversation stick to one provider and key while they are healthy. */
  affinity: boolean;
  explorationRate?: number;
  costThresholdTokens?: number;
  breaker: {
    failureThreshold: number;
    windowMs: number;
    cooldownMs: number;
    maxCooldownMs?: number;
    minSpanMs?: number;
  };
  /**
   * A request that every provider it could go to refuses for an open breaker (and nothing else could
   * take) is let through to one of them as that breaker's probe, early: one at a time
   * ({@linkcode CircuitBreaker.tryProbeEarly}); where it failed already, again only after a wait
   * ({@linkcode Attempt.lastResort}: the caller bounds these by its wait). With nowhere to fail
   * over to, a breaker otherwise refuses for its whole cooldown, doubled by each failed probe, however
   * short the trouble: with the config's defaults, a provider back after 5 s would be refused for 30 to
   * 36 s, one back after 2 minutes for 3.5 to 4.2 minutes in all. `true` unless given.
   */
  lastResort?: boolean;
  /** Told of every breaker's change of state, for the event stream and metrics. */
  onBreakerChange?: (change: BreakerChange) => void;
  /** Told of every key its upstream took out, for the event stream. */
  onKeyDisabled?: (disabled: KeyDisabled) => void;
  /**
   * Monotonic ms (`performance.now` unless given), which breakers, cooling keys and windows run on,
   * and the instants a failure's decision and the rate-limit headers give are on: relay's own clock.
   */
  now?: () => number;
  /** Wall-clock ms (`Date.now` unless given), only for the instants {@linkcode Router.status} shows. */
  wallClock?: () => number;
  random?: () => number;
}

/** One try of one request on one provider and key; report how it went exactly once. */
export interface Attempt {
  readonly route: Route;
  readonly key: ProviderKey | undefined;
  readonly upstreamModel: string | undefined;
  /**
   * Its provider stands in for one the request would have gone to but that cannot take it now: passed
   * over in this plan for an open breaker, a full `max_in_flight` or keys at their limits, or failed by
   * this request with trouble that passes (a 429, a 5xx, a timeout). Not when the providers before it
   * are out of rotation, refused the model, rest for long (a plan's limit spent: `said`), or cannot
   * serve the request at all: then it is the one left.
   */
  readonly standIn: boolean;
  /**
   * An open breaker's early probe ({@linkcode RoutingOptions.lastResort}): the caller bounds these by
   * how long it waits (`routing.max_wait`), not by its count of attempts, since a request may ask again,
   * a second apart, for as long as it would wait for a key.
   */
  readonly lastResort: boolean;
  /** The upstream's rate-limit headers, read on every answer. */
  observe(snapshot: RateLimitSnapshot): void;
  /**
   * The upstream committed (first event in): the answer streams to the client from here. The breakers
   * hear of it when the answer ends, since a stream can still fail; only a half-open probe closes its
   * breaker now, so the provider is not refused for as long as the probe's answer streams.
   */
  committed(ttfbMs: number): void;
  /**
   * The committed answer ended; `usage` when the stream said it, else what was reserved stands: the
   * input, and the output only as far as the key's windows had room, as a bound that holds no request back.
   * `upstreamFailed` when the upstream broke it off (its error event, a cut, a stall): a failure for the
   * breakers, as one before the first event is; any other end (the client leaving too) is a success.
   */
  finished(usage: TokenCount | undefined, upstreamFailed?: boolean): void;
  /**
   * The attempt failed before committing, as `decision` says. Returns until when its model is refused
   * its key (or its provider without keys) when the failure refused one (a 403, not to a token count).
   * A 429 cools its key, or where the upstream limits each model apart (`Provider.rateLimitsPerModel`)
   * keeps the key, or the provider without keys, from that model only, until the decision's
   * `coolKeyUntil`, or for {@linkcode GUESSED_MODEL_COOLING_MS} when that is a guess (`coolGuessed`).
   */
  failed(decision: FailureDecision): number | undefined;
  /**
   * What follows `decision`, this attempt's failure, as the log names it: the decision's action, except
   * that a 429 (`retry_next_key`) of a provider without keys, which has no next key, moves on to the
   * next provider (`retry_next_provider`).
   */
  nextAction(decision: FailureDecision): FailureAction;
  /**
   * The client left after the attempt was sent, before it committed: it says nothing of the upstream's
   * health, but the upstream got the request, so it counts against the key as far as relay knows it:
   * the request and its input; its output, unknown, stays a bound that holds no request back.
   */
  abandoned(): void;
  /**
   * The attempt was never sent (the client left, or relay began shutting down, first): it gives back
   * everything it reserved, the request and its tokens, and says nothing of the upstream.
   */
  cancelled(): void;
  /**
   * The attempt waits before it is sent (a backoff, an upstream's `retry-after`): meanwhile it is not in
   * flight and holds no place of its provider's `max_in_flight`, which other requests may take. Returns
   * how to take its place back once the wait is over: `false` when the provider is full by then, and
   * the attempt is to be cancelled.
   */
  paused(): () => boolean;
}

/**
 * Why a plan has nothing left to offer. In its last round no provider could be tried, each for one of
 * these reasons; the plan names the first that held for any, the likeliest to clear soonest:
 * - `busy`: at its `max_in_flight`; it frees up as its requests end.
 * - `open`: failing: its circuit breaker, or every one of its keys', is open; `retryAfterMs` says when
 *   the first of them lets a probe through.
 * - `refused`: its upstream refused this model (403) to each of its keys left, or to its own credential
 *   when it has none, lately; `retryAfterMs` says when the first of them is asked again.
 * - `disabled`: out of rotation: switched off, or every key refused by the upstream (401, 402) or
 *   switched off; the operator brings it back. A provider without keys refused in this request too.
 *   Its step's `refusedWith` says the status to answer with when the upstream took a key out.
 * - `unservable`: none of these held for any: every provider left said it cannot serve the request
 *   (`skip_provider`).
 */
export type ExhaustedCause = "busy" | "open" | "refused" | "disabled" | "unservable";

/** What {@link Plan.next} offers: an attempt, a wait until a key frees up, or nothing left to try. */
export type Step =
  | { kind: "attempt"; attempt: Attempt }
  /**
   * `busy`: a provider at its `max_in_flight` is waited for too, and may free up at any moment.
   * `modelOnly`: every key (or provider without keys) waited for is at its upstream's limit for this
   * model alone (`Provider.rateLimitsPerModel`): it serves other models meanwhile.
   */
  | {
    kind: "wait";
    waitMs: number;
    retryAfterMs: number;
    busy?: true;
    modelOnly?: true;
    /** The upstream's words for the rest of the key waited for, when its 429 gave some (`KeyPool.cool`). */
    said?: string;
    /**
     * The step once the caller will wait no longer, where it is not the wait's own: a request waiting
     * for a breaker's early probe ({@linkcode RoutingOptions.lastResort}) is told the providers are
     * failing, or of a key's longer wait.
     */
    otherwise?: Exclude<Step, { kind: "attempt" }>;
  }
  | {
    kind: "exhausted";
    cause: ExhaustedCause;
    reason: string;
    retryAfterMs?: number;
    /**
     * `disabled` with a key its upstream took out (`FailureDecision.refusedWith`): the status that refusal
     * is answered with (401, 402), where relay's own 503 would have clients retry what no time mends.
     */
    refusedWith?: number;
  };

/** What the router knows of a request before it is sent. */
export interface PlanRequest {
  model: string | undefined;
  estimate: TokenCount;
  /** `conversationKey()` of the request, for affinity. */
  conversation: string | undefined;
  /** The request's method and path: only providers whose upstream has that route (`serves`) take it. */
  route?: { method: string; path: string };
  /**
   * No rate limit of a key counts the request (`count_tokens`, which Anthropic limits apart, and the
   * model list): its key is picked without reserving or waiting for `rpm` and `tpm`, and under
   * `round_robin` it takes turns of its own, so it does not move where Messages go.
   */
  uncounted?: boolean;
}

/** Where one provider stands, for status pages and metrics. */
export interface ProviderStatus {
  name: string;
  type: string;
  /** False while switched off at runtime ({@linkcode Router.setEnabled}). */
  enabled: boolean;
  breaker: BreakerState;
  /** Whether its breaker's probe is out ({@linkcode CircuitBreaker.probing}). */
  probing: boolean;
  /** While the breaker is open, when it lets a probe through (ms since the epoch). */
  retryAt?: number;
  inFlight: number;
  maxInFlight?: number;
  keys: ProviderKeyStatus[];
  /** A provider without keys: the models its upstream refused its own credential (403), while it does. */
  refusedModels?: ModelRefusal[];
  /**
   * A provider without keys whose upstream limits each model apart: the models a 429 keeps its own
   * credential from, while it does.
   */
  cooledModels?: ModelRefusal[];
}

/**
 * Where one key of a provider stands; `disabled` says why it takes no requests, when it does not. Its
 * instants (`cooledUntil`, `resetAt`) are in ms since the epoch, as a status shows them.
 */
export interface ProviderKeyStatus extends KeyStatus {
  /** Its place in the provider's `keys` list. */
  index: number;
  /** Its masked form. */
  label: string;
  name?: string;
  breaker: BreakerState;
  /** Whether its breaker's probe is out ({@linkcode CircuitBreaker.probing}). */
  probing: boolean;
  /** While its breaker is open, when it lets a probe through (ms since the epoch). */
  retryAt?: number;
  /** The models its upstream refused it (403), while it does; it serves the others. */
  refusedModels?: ModelRefusal[];
  /**
   * Where the upstream limits each model apart: the models a 429 keeps it from, while it does (its
   * `cooledUntil` is the whole key's); it serves the others.
   */
  cooledModels?: ModelRefusal[];
}

/** Why a key switched off at runtime is out of rotation; `relay status` shows such a key as plain "off". */
export const SWITCHED_OFF = "switched off at runtime";

/**
 * A provider's live state: its keys' pool, breakers, in-flight cap, whether it is switched off.
 * A reload that leaves the provider's config alone hands the same state to the next router.
 */
class _RouteState {
  readonly pool: KeyPool<ProviderKey>;
  readonly breaker: CircuitBreaker;
  readonly keyBreakers = new Map<ProviderKey, CircuitBreaker>();
  /** The models each key, or the provider's own credential (`undefined`) when it has no keys, was refused. */
  readonly refusals: ModelRefusals<ProviderKey | undefined>;
  /**
   * Where the upstream limits each model apart (`Provider.rateLimitsPerModel`): the models each key,
   * or the provider's own credential, is at its rate limit for after a 429, as `pool` cools whole keys.
   */
  readonly cooledModels: ModelRefusals<ProviderKey | undefined>;
  /** Its `max_in_flight`; without one, a limit never reached, so a reload can set one over what runs. */
  limiter: ConcurrencyLimiter;
  // `route.prices` as a `models:` table resolves: its targets are places in `#priceList`.
  readonly #prices: ModelMap;
  readonly #priceList: ModelPrice[];
  /** Shared with the state of the provider a reload changed, whose requests still running count here. */
  #load = { inFlight: 0 };
  enabled = true;
  /** The owning router's listener: the breakers were made before it and outlive it across reloads. */
  onBreakerChange: ((change: BreakerChange) => void) | undefined;
  #route: Route;

  constructor(route: Route, options: RoutingOptions) {
    this.#route = route;
    const breakerOptions = (key?: ProviderKey) => ({
      ...options.breaker,
      // A probe that has not heard back within the time an answer's head may take holds up no one longer.
      probeTimeoutMs: route.timeouts.connect,
      now: options.now,
      random: options.random,
      onTransition: (from: BreakerState, to: BreakerState) =>
        this.onBreakerChange?.({ provider: this.#route.provider.name, key: key?.label, from, to }),
    });
    this.pool = new KeyPool(route.keys.map((key) => ({ key, limits: route.limits?.get(key) })), {
      now: options.now,
    });
    this.breaker = new CircuitBreaker(breakerOptions());
    this.refusals = new ModelRefusals({ now: options.now });
    this.cooledModels = new ModelRefusals({ now: options.now });
    for (const key of route.keys) this.keyBreakers.set(key, new CircuitBreaker(breakerOptions(key)));
    this.limiter = new ConcurrencyLimiter({ max: route.maxInFlight ?? Infinity, maxQueue: 0 });
    const prices = [...route.prices ?? []];
    this.#prices = new ModelMap(Object.fromEntries(prices.map(([model], index) => [model, `${index}`])));
    this.#priceList = prices.map(([, price]) => price);
  }

  get inFlight(): number {
    return this.#load.inFlight;
  }

  set inFlight(count: number) {
    this.#load.inFlight = count;
  }

  /**
   * Takes over from `before`, this provider's state until a reload changed its config, what must
   * outlive the change. The requests still running on it count as this state's own, and hold places of
   * its `max_in_flight`, changed or not: a reload must not let a provider take more at once than its
   * cap, nor show fewer in flight than it has. Each key that stays, found by its secret,
   * keeps what its pool carries over and the models it is at its rate limit for, as does the provider's
   * own credential when it has no keys: a reload must not forget an upstream's 429.
   */
  carryOverFrom(before: _RouteState): void {
    this.#load = before.#load;
    this.limiter = before.limiter;
    this.limiter.resize(this.#route.maxInFlight ?? Infinity);
    // A changed config builds new key objects: each key that stays is found by its secret, once for
    // all that carries over. The provider's own credential, when it has no keys, is itself.
    const kept = new Map<ProviderKey | undefined, ProviderKey | undefined>(
      this.#route.keys.length === 0 ? [[undefined, undefined]] : this.#route.keys.flatMap((key) => {
        const old = before.keyWithId(keyId(key));
        return old ? [[key, old]] : [];
      }),
    );
    this.pool.carryOver(before.pool, (key) => kept.get(key));
    if (before.cooledModels.empty) return;
    for (const [holder, old] of kept) {
      for (const { model, until } of before.cooledModels.list(old)) {
        this.cooledModels.refuse(holder, model, until);
      }
    }
  }

  get route(): Route {
    return this.#route;
  }

  /**
   * Takes over `route`, built anew from an unchanged config: its adapter (credentials read again from
   * files and the environment), with this state's own key objects, which the pool and breakers know.
   */
  adopt(route: Route): void {
    // A reload is an operator's act, as switching on is: a refused model is asked again at once.
    this.refusals.clearAll();
    this.#route = {
      ...route,
      keys: this.#route.keys,
      limits: this.#route.limits,
      keyNames: this.#route.keyNames,
    };
  }

  /** `ref` is a key's name or its place in the list; a name made of digits is a name first. */
  findKey(ref: string): ProviderKey | undefined {
    const { keys, keyNames } = this.#route;
    return keys.find((key) => keyNames?.get(key) === ref) ??
      (/^\d+$/.test(ref) ? keys[Number(ref)] : undefined);
  }

  /** What `model` costs here, from `route.prices`: its exact name's price, else the most specific glob's. */
  priceOf(model: string): ModelPrice | undefined {
    const index = this.#prices.resolve(model);
    return index === undefined ? undefined : this.#priceList[Number(index)];
  }

  /** The key whose `keyId` is `id`, when this provider still has it. */
  keyWithId(id: string): ProviderKey | undefined {
    return this.#route.keys.find((key) => keyId(key) === id);
  }

  /** Whether a key other than `key` is in rotation (enabled, its breaker not open). */
  hasOtherWorkingKey(key: ProviderKey): boolean {
    return this.#route.keys.some((other) =>
      other !== key && this.pool.status(other).disabled === undefined &&
      this.keyBreakers.get(other)!.state !== "open"
    );
  }

  /**
   * Closes the breakers of the provider and of each of its keys, or of `key` alone: an operator switched
   * it on, and expects it tried again now, whatever was left of a cooldown.
   */
  closeBreakers(key?: ProviderKey): void {
    const breakers = key ? [this.keyBreakers.get(key)!] : [this.breaker, ...this.keyBreakers.values()];
    for (const breaker of breakers) breaker.reset();
  }

  /** Where it stands, its instants `wallOffset` ms on, from the router's clock to the wall clock. */
  status(wallOffset: number): ProviderStatus {
    const { provider, keys, keyNames, maxInFlight } = this.#route;
    const refused = (holder: ProviderKey | undefined) => {
      const refusals = this.refusals.list(holder);
      const cooled = this.cooledModels.list(holder);
      const onWallClock = (held: ModelRefusal[]) =>
        held.map(({ model, until }) => ({ model, until: until + wallOffset }));
      return {
        ...(refusals.length === 0 ? {} : { refusedModels: onWallClock(refusals) }),
        ...(cooled.length === 0 ? {} : { cooledModels: onWallClock(cooled) }),
      };
    };
    return {
      name: provider.name,
      type: provider.type,
      enabled: this.enabled,
      ..._breakerStatus(this.breaker, wallOffset),
      inFlight: this.inFlight,
      ...(maxInFlight === undefined ? {} : { maxInFlight }),
      keys: keys.map((key, index) => ({
        index,
        label: key.label,
        ...(keyNames?.has(key) ? { name: keyNames.get(key) } : {}),
        ..._onWallClock(this.pool.status(key), wallOffset),
        ..._breakerStatus(this.keyBreakers.get(key)!, wallOffset),
        ...refused(key),
      })),
      ...(keys.length === 0 ? refused(undefined) : {}),
    };
  }
}

function _breakerStatus(
  breaker: CircuitBreaker,
  wallOffset: number,
): { breaker: BreakerState; probing: boolean; retryAt?: number } {
  const { retryAt } = breaker;
  return {
    breaker: breaker.state,
    probing: breaker.probing,
    ...(retryAt === undefined ? {} : { retryAt: retryAt + wallOffset }),
  };
}

/** `status` with its instants `wallOffset` ms on, from the pool's clock to the wall clock. */
function _onWallClock({ cooledUntil, resetAt, ...rest }: KeyStatus, wallOffset: number): KeyStatus {
  return {
    ...rest,
    ...(cooledUntil === undefined ? {} : { cooledUntil: cooledUntil + wallOffset }),
    ...(resetAt === undefined ? {} : { resetAt: resetAt + wallOffset }),
  };
}

/** A provider that serves a request's model, under the id its upstream knows the model by. */
interface _Serving {
  state: _RouteState;
  upstreamModel: string | undefined;
}

/** A candidate as strategies see it, carrying its state back to the plan. */
interface _Candidate extends Candidate, _Serving {}

/**
 * The order a plan tries providers in, and the key it prefers (its conversation's); `pinned`, where
 * the conversation was when the plan was ranked, is what its commit moves it from.
 */
interface _Ranking {
  order: _Candidate[];
  preferKey: ProviderKey | undefined;
  pinned: AffinityTarget<string> | undefined;
}

/**
 * Chooses where each request goes and keeps what that takes: providers in the order the strategy
 * ranks them (the retry order), keys by lowest usage from their pools, circuit breakers per provider
 * and per key, in-flight caps, latency averages and conversation affinity. One router per config.
 *
 * A reloaded config gets a new router built from the previous one: providers whose name and
 * {@linkcode Route.fingerprint} are unchanged keep their live state, latency averages and conversation
 * pins carry over by provider name (a pin's key by its secret, whatever else changed), and everything
 * else starts fresh. A provider or key the new config
 * dropped is simply absent: requests already under way hold on to its state and finish on it.
 *
 * @example
 * ```ts
 * const plan = router.plan({ model: "claude-sonnet-4-5", estimate, conversation });
 * const step = plan.next(); // { kind: "attempt", attempt } | { kind: "wait", ... } | { kind: "exhausted", ... }
 * const reloaded = new Router(newRoutes, newOptions, { previous: router });
 * ```
 */
export class Router {
  readonly #states: _RouteState[];
  readonly #options: RoutingOptions;
  // By strategy name, and apart for uncounted requests (see `#strategyFor`).
  readonly #strategies = new Map<string, Strategy>();
  readonly #ttfb: EwmaMap<string>;
  // Pins name a key by its secret's fingerprint: a reload that changes its provider builds new key objects.
  readonly #affinity: ConversationAffinity<string>;
  readonly #now: () => number;
  readonly #wallClock: () => number;
  /** What {@linkcode runsAs} found, by model. */
  readonly #runsAs = new Map<string, readonly { provider: string; model: string }[]>();
  /**
   * The runtime switches the reload that built this router undid: a provider switched off, or a key
   * of it (found again by its secret, whatever its name now), whose provider the new config changed
   * comes back on with fresh state. A key by its new label.
   */
  readonly undoneSwitches: readonly { provider: string; key?: string }[];
  /**
   * The breakers the reload that built this router closed: a provider the new config changed starts
   * with fresh breakers, its own and those of the keys it keeps, whatever state they were in. A key by
   * its new label.
   */
  readonly resetBreakers: readonly BreakerChange[];

  constructor(routes: Route[], options: RoutingOptions, from: { previous?: Router } = {}) {
    if (routes.length === 0) throw new Error("a router needs at least one provider");
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#wallClock = options.wallClock ?? Date.now;
    const { previous } = from;
    this.#ttfb = previous ? previous.#ttfb : new EwmaMap<string>();
    this.#affinity = previous ? previous.#affinity : new ConversationAffinity<string>({ now: this.#now });
    this.#states = routes.map((route) => {
      const kept = previous && previous.#unchanged(route);
      kept?.adopt(route);
      if (kept) return kept;
      const state = new _RouteState(route, options);
      const before = previous &&
        previous.#states.find((old) => old.route.provider.name === route.provider.name);
      if (before) state.carryOverFrom(before);
      return state;
    });
    for (const state of this.#states) state.onBreakerChange = options.onBreakerChange;
    const replaced = previous ? _replaced(previous.#states, this.#states) : [];
    this.undoneSwitches = _undoneSwitches(replaced);
    this.resetBreakers = _resetBreakers(replaced);
  }

  get routes(): readonly Route[] {
    return this.#states.map((state) => state.route);
  }

  /**
   * The providers serving `model`, to be tried in the strategy's order; requests without a model use
   * every provider. The strategy ranks them when the plan is first asked for a step, not here: a
   * request may wait for a slot in between, and one that never gets one takes no `round_robin` turn.
   */
  plan(request: PlanRequest): Plan {
    const { route } = request;
    const serving = this.#states.flatMap((state): _Serving[] => {
      if (route && state.route.provider.serves?.(route.method, route.path) === false) return [];
      const upstreamModel = request.model === undefined
        ? undefined
        : state.route.models.resolve(request.model);
      return request.model !== undefined && upstreamModel === undefined ? [] : [{ state, upstreamModel }];
    });
    const pin = this.#options.affinity ? _pinOf(request) : undefined;
    return new Plan(serving.length > 0, request, {
      now: this.#now,
      lastResort: this.#options.lastResort ?? true,
      // Read once the request has a slot: the commit moves the conversation only from where it was then.
      rank: () => this.#rank(serving, request, pin === undefined ? undefined : this.#affinity.get(pin)),
      committed: (state, key, ttfbMs, pinned) => {
        this.#ttfb.observe(state.route.provider.name, ttfbMs);
        // A provider without keys is pinned too: a conversation moved there by a failover must stay. A
        // token count or model list moves nothing: where it went (any provider that counts) is no turn.
        if (pin !== undefined && !request.uncounted) {
          this.#affinity.move(pin, pinned, { provider: state.route.provider.name, key: key && keyId(key) });
        }
      },
      keyDisabled: this.#options.onKeyDisabled,
    });
  }

  /** Where each provider and its keys stand, in the config's order; instants in ms since the epoch. */
  status(): ProviderStatus[] {
    const wallOffset = this.#wallClock() - this.#now();
    return this.#states.map((state) => state.status(wallOffset));
  }

  /** Whether `provider` is switched off (`setEnabled`); an unknown name is not. */
  isSwitchedOff(provider: string): boolean {
    return this.#states.find((state) => state.route.provider.name === provider)?.enabled === false;
  }

  /**
   * Switches a provider, or one of its keys (`key`: its place in the list or its name), on or off
   * until a reload changes that provider. Off, it takes no new requests; those under way finish.
   * Returns what was switched, a key by its label (however `key` named it), or `undefined` when there
   * is no such provider or key. Switching a key on also puts back one that a 401 or 402 took out of
   * rotation. Switching on closes the breakers of what it switches (a provider's own and its keys'),
   * open or not, and forgets the models their upstream refused them (403): an operator who switches
   * something on expects it tried again now (access to a model granted meanwhile, say).
   */
  setEnabled(provider: string, enabled: boolean, key?: string): { key?: string } | undefined {
    const state = this.#states.find((state) => state.route.provider.name === provider);
    if (!state) return undefined;
    if (key === undefined) {
      state.enabled = enabled;
      if (enabled) {
        state.closeBreakers();
        state.refusals.clearAll();
        // Its own credential's switch, as a key's is its own: a key's cooling outlasts its provider's.
        state.cooledModels.clear(undefined);
      }
      return {};
    }
    const found = state.findKey(key);
    if (!found) return undefined;
    if (enabled) {
      state.pool.enable(found);
      state.closeBreakers(found);
      state.refusals.clear(found);
      state.cooledModels.clear(found);
    } else {
      state.pool.disable(found, SWITCHED_OFF);
    }
    return { key: found.label };
  }

  /**
   * The ids `model` runs as, and on which provider, wherever a provider serves it (switched off or not):
   * what a request's worst case is priced by before a route is picked (a budget's hold), since a
   * client's name may be an alias for a dearer model. Worked out once per model for the router's life:
   * what it reads, each provider's name and models, changes only with a reload, which builds a new
   * router (a provider's state that one keeps comes with the same fingerprint: the same name and models).
   */
  runsAs(model: string): readonly { readonly provider: string; readonly model: string }[] {
    let found = this.#runsAs.get(model);
    if (!found) {
      if (this.#runsAs.size >= _MAX_RUNS_AS) this.#runsAs.clear();
      found = this.#states.flatMap(({ route }) => {
        const upstream = route.models.resolve(model);
        return upstream === undefined ? [] : [{ provider: route.provider.name, model: upstream }];
      });
      this.#runsAs.set(model, found);
    }
    return found;
  }

  /** The model names and patterns the providers serve, for telling a client what it can ask for. */
  servedModels(): string[] {
    return [
      ...new Set(this.#states.flatMap(({ route }) => route.models.servesAll ? ["*"] : route.models.patterns)),
    ];
  }

  /** `serving` as it stands now, in the order the request tries it. */
  #rank(serving: _Serving[], request: PlanRequest, pinned: AffinityTarget<string> | undefined): _Ranking {
    const candidates = serving.map(({ state, upstreamModel }): _Candidate => ({
      name: state.route.provider.name,
      state,
      upstreamModel,
      inFlight: state.inFlight,
      ewmaTtfbMs: this.#ttfb.get(state.route.provider.name),
      // A provider without keys has no budget relay counts: as far as relay knows, all of it is left.
      remainingCapacityRatio: state.route.keys.length === 0 ? 1 : state.pool.remainingCapacity(),
      price: request.model === undefined ? undefined : state.priceOf(request.model),
    }));
    const order = preferNamed(
      this.#strategyFor(request).order(candidates, {
        // A `[1m]` request is its model's: it takes that model's turns and `model_routes` entry.
        model: request.model === undefined ? undefined : withoutContextMark(request.model),
        estimatedTokens: request.estimate,
      }),
      pinned?.provider,
    );
    const pinnedKey = pinned?.key === undefined
      ? undefined
      : order.find(({ name }) => name === pinned.provider)?.state.keyWithId(pinned.key);
    return { order, preferKey: pinnedKey, pinned };
  }

  #unchanged(route: Route): _RouteState | undefined {
    if (route.fingerprint === undefined) return undefined;
    return this.#states.find((state) =>
      state.route.provider.name === route.provider.name && state.route.fingerprint === route.fingerprint
    );
  }

  #strategyFor({ model, uncounted }: PlanRequest): Strategy {
    const name = (model === undefined ? undefined : this.#options.modelStrategies?.resolve(model)) as
      | StrategyName
      | undefined;
    const chosen = name ?? this.#options.strategy;
    // Uncounted requests take `round_robin` turns of their own: `count_tokens` calls interleaved with
    // Messages would otherwise decide which provider the Messages go to.
    const place = uncounted ? `${chosen} uncounted` : chosen;
    let strategy = this.#strategies.get(place);
    if (!strategy) {
      strategy = createStrategy(chosen, {
        random: this.#options.random,
        explorationRate: this.#options.explorationRate,
        costThresholdTokens: this.#options.costThresholdTokens,
        modelRoutes: this.#options.modelRoutes,
      });
      this.#strategies.set(place, strategy);
    }
    return strategy;
  }
}

interface _PlanHooks {
  now: () => number;
  /** {@linkcode RoutingOptions.lastResort}. */
  lastResort: boolean;
  /** The order to try providers in, as they stand when asked. */
  rank(): _Ranking;
  /** `pinned`: the ranking's, where the conversation was when the plan was ranked. */
  committed(
    state: _RouteState,
    key: ProviderKey | undefined,
    ttfbMs: number,
    pinned: AffinityTarget<string> | undefined,
  ): void;
  /** An upstream took a key out ({@linkcode RoutingOptions.onKeyDisabled}). */
  keyDisabled?: (disabled: KeyDisabled) => void;
}

/** Why a provider had nothing to offer; see {@linkcode ExhaustedCause}. */
type _Blocked =
  | { cause: "busy" }
  | { cause: "open"; retryAt: number }
  | { cause: "refused"; until: number; said?: string }
  | { cause: "disabled"; switchedOff: boolean; refusal?: KeyRefusal };

/**
 * A provider's keys at their limit: until when the soonest frees up, `modelOnly` when only for this
 * model (`cooledModels`), and its upstream's words when it rests for long in them.
 */
interface _KeyWait {
  waitUntil: number;
  retryAfterMs: number;
  modelOnly?: true;
  said?: string;
}

/**
 * One request's way down the providers: each {@link next} offers the best attempt not yet tried,
 * skipping providers switched off, whose breaker is open or whose in-flight cap is reached, and keys
 * already tried, cooling, refused, failing or switched off; a provider without keys whose credential
 * was refused is not offered again. A key's own failure (a 429, a refused key) moves to the provider's
 * next key; a failure of the provider's (`retry_next_provider`) moves to the next provider, and the
 * provider's other keys come only after every other provider. Attempts are offered one at a time:
 * never a parallel race.
 */
export class Plan {
  readonly #served: boolean;
  readonly #request: PlanRequest;
  readonly #hooks: _PlanHooks;
  #ranking: _Ranking | undefined;
  readonly #triedKeys = new Map<_RouteState, Set<ProviderKey>>();
  // Providers without keys tried in this round: they have no other key to offer.
  readonly #doneRoutes = new Set<_RouteState>();
  // Providers that failed as a whole in this round: the others go first.
  readonly #deferred = new Set<_RouteState>();
  // Providers without keys whose credential was refused (401, 402, 403): unlike a disabled key, which
  // its pool remembers, nothing else would keep going round again from sending it once more.
  readonly #refusedRoutes = new Set<_RouteState>();
  // The keys (`undefined`: a provider's own credential) each provider answered this request with a
  // failure on, as its breakers counted it: answered so again, it says no more than its first time.
  // (Made at a request's first such failure: most requests have none.)
  #answeredOn: Map<_RouteState, Set<ProviderKey | undefined>> | undefined;
  // Providers that cannot serve this request at all (`skip_provider`): no round brings them back.
  readonly #unservableRoutes = new Set<_RouteState>();
  // Providers this request failed on with trouble that passes: the others stand in for them.
  readonly #troubledRoutes = new Set<_RouteState>();
  // Providers this plan offered an attempt on, with the attempt's number: a last resort goes there again
  // only after a wait, to the one asked longest ago first.
  readonly #sentTo = new Map<_RouteState, number>();
  // Whether the plan told its caller to look again for a probe since its last attempt.
  #waitedForProbe = false;
  #attempts = 0;
  #round = 0;

  constructor(served: boolean, request: PlanRequest, hooks: _PlanHooks) {
    this.#served = served;
    this.#request = request;
    this.#hooks = hooks;
  }

  /** Whether any provider serves the request's model at all. */
  get served(): boolean {
    return this.#served;
  }

  /**
   * The next step; `waitBudgetMs`, how much longer the caller would wait for a key at its limit: a wait
   * past it yields to the last resort ({@linkcode RoutingOptions.lastResort}), as no wait at all does.
   */
  next(waitBudgetMs = Infinity): Step {
    this.#ranking ??= this.#hooks.rank();
    const { order } = this.#ranking;
    let wait: _KeyWait | undefined;
    // Whether every wait offered is for this model alone (`rateLimitsPerModel`), as the client is told.
    let modelOnly = true;
    const blocked: _Blocked[] = [];
    // Whether a provider before the next one was passed over for a while only (open, busy, cooling).
    let passedOverForNow = false;
    // Providers passed over for their open breakers (or their keys'), each with whether it would have
    // stood in: the last resort's. (Made at the first: most requests have none.)
    let open: { candidate: _Candidate; standIn: boolean }[] | undefined;
    for (const candidate of this.#deferred.size === 0 ? order : this.#deferredLast(order)) {
      const { state, upstreamModel } = candidate;
      if (!state.enabled) {
        blocked.push({ cause: "disabled", switchedOff: true });
        continue;
      }
      const refusedUntil = state.route.keys.length === 0
        ? state.refusals.refusedUntil(undefined, upstreamModel)
        : undefined;
      if (refusedUntil !== undefined) {
        blocked.push({ cause: "refused", until: refusedUntil, said: state.refusals.said(upstreamModel!) });
        continue;
      }
      if (this.#refusedRoutes.has(state)) {
        blocked.push({ cause: "disabled", switchedOff: false });
        continue;
      }
      if (this.#doneRoutes.has(state) || this.#unservableRoutes.has(state)) continue;
      const permit = state.breaker.tryAcquire();
      if (!permit) {
        blocked.push({ cause: "open", retryAt: state.breaker.retryAt ?? this.#hooks.now() });
        (open ??= []).push({ candidate, standIn: passedOverForNow });
        passedOverForNow = true;
        continue;
      }
      const slot = _placeIn(state);
      if (!slot) {
        state.breaker.release(permit);
        blocked.push({ cause: "busy" });
        passedOverForNow = true;
        continue;
      }
      const picked = this.#pickKey(state, upstreamModel);
      if (picked.kind === "attempt") {
        const standIn = this.#standsIn(state, passedOverForNow);
        return { kind: "attempt", attempt: this.#attempt(candidate, permit, slot, picked, standIn) };
      }
      state.breaker.release(permit);
      slot();
      if (picked.kind === "wait") {
        if (picked.openUntil !== undefined) {
          // Beside the keys at their limit, others are failing: should the wait be too long, the last
          // resort may probe one of them.
          (open ??= []).push({ candidate, standIn: passedOverForNow });
          blocked.push({ cause: "open", retryAt: picked.openUntil });
        }
        if (!wait || picked.waitUntil < wait.waitUntil) wait = picked;
        if (!picked.modelOnly) modelOnly = false;
        // Keys resting for long, in their upstream's words (a plan's limit spent for days), are no
        // passing trouble: the provider after them is the one the request goes to meanwhile.
        if (picked.said === undefined) passedOverForNow = true;
      }
      // Only a round without attempts ends the plan, and in one no key was tried: a provider left
      // without a key has them all failing or out of rotation.
      if (picked.kind === "none") {
        if (picked.openUntil !== undefined) {
          (open ??= []).push({ candidate, standIn: passedOverForNow });
          passedOverForNow = true;
        }
        blocked.push(
          picked.openUntil !== undefined
            ? { cause: "open", retryAt: picked.openUntil }
            : picked.refusedUntil !== undefined
            ? { cause: "refused", until: picked.refusedUntil, said: state.refusals.said(upstreamModel!) }
            : { cause: "disabled", switchedOff: false, refusal: picked.refusal },
        );
      }
    }
    if (this.#attempts > this.#round) {
      // Every provider and key this round could offer was tried: go round again, whatever other
      // providers are failing or keys cooling (the caller bounds the attempts), so a key that failed
      // once is retried before the request waits for one at its limit. The pools and breakers, not
      // this plan, remember which keys are cooling, refused or failing; refused providers without
      // keys stay out.
      this.#round = this.#attempts;
      this.#triedKeys.clear();
      this.#doneRoutes.clear();
      this.#deferred.clear();
      return this.next(waitBudgetMs);
    }
    const now = this.#hooks.now();
    const busy = blocked.some(({ cause }) => cause === "busy");
    // The last resort is for a request nothing else could take now or soon: a provider at its
    // max_in_flight frees up any moment, a key within the caller's wait soon. A count says nothing of
    // how the provider's Messages fare, so it probes nothing.
    if (!busy && !this.#request.uncounted && (!wait || wait.waitUntil - now > waitBudgetMs)) {
      const lastResort = open && this.#lastResort(open, now + waitBudgetMs);
      if (lastResort?.kind === "attempt") return lastResort;
      if (lastResort?.kind === "probing") {
        // A probe out may find the provider back within moments: the request looks again every second,
        // for as long as the caller waits. Then it hears of the providers failing (the upstream's own
        // failure where it went), not of a key resting past the wait beside them: sent again, it may
        // find a provider back, where a rest in its upstream's words would tell the client to stop. It
        // may send again at once, not when the cooldown is over: relay asks the provider every second.
        this.#waitedForProbe = true;
        return {
          kind: "wait",
          waitMs: BUSY_RETRY_MS,
          retryAfterMs: BUSY_RETRY_MS,
          otherwise: { ..._exhausted(blocked, now), retryAfterMs: BUSY_RETRY_MS },
        };
      }
      if (lastResort?.kind === "rest") {
        const { rest } = lastResort;
        if (!wait || rest.waitUntil < wait.waitUntil) wait = rest;
        if (!rest.modelOnly) modelOnly = false;
      }
    }
    if (!wait) return _exhausted(blocked, now);
    // A provider at its max_in_flight frees up as soon as one of its requests ends, most often long
    // before a key's rate limit resets: the request looks again every second meanwhile.
    const waitMs = Math.max(0, wait.waitUntil - now);
    const limits = {
      ...(modelOnly ? { modelOnly } as const : {}),
      ...(wait.said === undefined ? {} : { said: wait.said }),
    };
    if (!busy) return { kind: "wait", waitMs, retryAfterMs: wait.retryAfterMs, ...limits };
    return {
      kind: "wait",
      waitMs: Math.min(waitMs, BUSY_RETRY_MS),
      retryAfterMs: wait.retryAfterMs,
      busy,
      ...limits,
    };
  }

  /**
   * An attempt on the first of the `open` providers whose breakers (its own and a key's) let a probe
   * through early ({@linkcode RoutingOptions.lastResort}), where the request was sent already only after
   * a wait; `probing` when none does but one may soon (its probe out, it at its `max_in_flight`, its
   * keys' probes out or cooling until `waitEnds` at most, the request's own look again due); else the
   * soonest `rest` of keys that cool past `waitEnds` or rest in their upstream's words, which nothing
   * sent now could cut short.
   */
  #lastResort(
    open: { candidate: _Candidate; standIn: boolean }[],
    waitEnds: number,
  ): Extract<Step, { kind: "attempt" }> | { kind: "probing" } | { kind: "rest"; rest: _KeyWait } | undefined {
    if (!this.#hooks.lastResort) return undefined;
    let probing = false;
    let rest: _KeyWait | undefined;
    // Each provider after the first in `open` stands in already (`standIn`): the ones before it were
    // passed over for their open breakers. The one asked longest ago goes first, never asked before all:
    // taking the first each second, a request held for max_wait would never find a later one back.
    const asked = (entry: (typeof open)[number]) => this.#sentTo.get(entry.candidate.state) ?? 0;
    for (const { candidate, standIn } of open.toSorted((a, b) => asked(a) - asked(b))) {
      const { state, upstreamModel } = candidate;
      // Where the request failed already, it asks again a second later: the trouble may have passed.
      if (this.#sentTo.has(state) && !this.#waitedForProbe) {
        probing = true;
        continue;
      }
      const permit = state.breaker.tryProbeEarly(BUSY_RETRY_MS);
      const slot = permit && _placeIn(state);
      // Its probe out, or at its max_in_flight: it may take the request in a moment.
      if (!slot) {
        if (permit) state.breaker.release(permit, false);
        probing = true;
        continue;
      }
      const picked = this.#pickKey(state, upstreamModel, true);
      if (picked.kind === "attempt") {
        const standsIn = this.#standsIn(state, standIn);
        return { kind: "attempt", attempt: this.#attempt(candidate, permit, slot, picked, standsIn, true) };
      }
      state.breaker.release(permit, false);
      slot();
      if (picked.probing) {
        // Its keys' breakers refused an early probe: another request's is out, or went within the second.
        probing = true;
      } else if (picked.kind === "wait") {
        // Its key cools from the last resort's own short 429, which may pass in a moment; a rest for
        // longer, or in its upstream's words (a plan's limit spent), is no passing trouble.
        if (picked.said === undefined && picked.waitUntil <= waitEnds) probing = true;
        else if (!rest || picked.waitUntil < rest.waitUntil) rest = picked;
      }
    }
    if (probing) return { kind: "probing" };
    return rest && { kind: "rest", rest };
  }

  /** Whether an attempt on `state` is a stand-in ({@linkcode Attempt.standIn}). */
  #standsIn(state: _RouteState, passedOverForNow: boolean): boolean {
    const troubled = this.#troubledRoutes;
    return passedOverForNow || troubled.size > (troubled.has(state) ? 1 : 0);
  }

  /** `order` with the providers that failed as a whole this round moved to its end. */
  #deferredLast(order: _Candidate[]): _Candidate[] {
    const later = ({ state }: _Candidate) => this.#deferred.has(state);
    return [...order.filter((candidate) => !later(candidate)), ...order.filter(later)];
  }

  /** Whether `state` answered this request with a failure on `key` before; it has now, either way. */
  #answeredAgain(state: _RouteState, key: ProviderKey | undefined): boolean {
    const answeredOn = this.#answeredOn ??= new Map();
    let keys = answeredOn.get(state);
    if (!keys) answeredOn.set(state, keys = new Set());
    const had = keys.has(key);
    keys.add(key);
    return had;
  }

  /**
   * A key of `state` to try for `upstreamModel`; `openUntil` when keys were passed over for their open
   * breakers, `refusedUntil` when for having been refused the model. A wait is `modelOnly` when only
   * keys at their limit for this model (`cooledModels`) are waited for.
   */
  #pickKey(state: _RouteState, upstreamModel: string | undefined, early = false):
    | {
      kind: "attempt";
      key: ProviderKey | undefined;
      reservation?: KeyReservation<ProviderKey>;
      keyPermit?: BreakerPermit;
    }
    | { kind: "wait"; openUntil?: number; probing?: true } & _KeyWait
    | { kind: "none"; openUntil?: number; refusedUntil?: number; refusal?: KeyRefusal; probing?: true } {
    // A count holds nothing back when it fails (its 429 cools nothing), and its limits are not the
    // model's Messages ones (Bedrock's CountTokens has a quota of its own): a model's cooling is not its.
    const { estimate, uncounted } = this.#request;
    if (state.route.keys.length === 0) {
      const cooledUntil = uncounted ? undefined : state.cooledModels.refusedUntil(undefined, upstreamModel);
      if (cooledUntil === undefined) return { kind: "attempt", key: undefined };
      return {
        kind: "wait",
        waitUntil: cooledUntil,
        retryAfterMs: Math.ceil(cooledUntil - this.#hooks.now()),
        modelOnly: true,
      };
    }
    const exclude = new Set(this.#tried(state));
    let refusedUntil: number | undefined;
    // The keys refused this model, in one lookup rather than one a key: only this provider's own keys
    // hold refusals here (`undefined`, a provider without keys' own credential, is never a holder).
    const refused = state.refusals.holdersOf(upstreamModel);
    if (refused !== undefined) {
      for (const [key, until] of refused) {
        if (key === undefined) continue;
        exclude.add(key);
        refusedUntil = Math.min(refusedUntil ?? Infinity, until);
      }
    }
    // A key at its limit for this model only is waited for as a cooling key is, unless it is out of
    // rotation (refused the model, switched off) anyway, or its own breaker stays open longer: then it
    // is a key failing. Held longer by its own limits, which stop every model, its wait is not the
    // model's alone; nor is one for keys at their limit for every model.
    const cooled = uncounted ? undefined : state.cooledModels.holdersOf(upstreamModel);
    const held = cooled && {
      heldUntil: (key: ProviderKey) => cooled.get(key),
      // The last resort probes a failing key early: its breaker's cooldown is no wait then.
      ...(!early && { failingUntil: (key: ProviderKey) => state.keyBreakers.get(key)!.retryAt }),
    };
    let openUntil: number | undefined;
    // Whether a key's breaker refused its early probe (another request's is out, or went just now).
    let probing: true | undefined;
    for (;;) {
      const pick = state.pool.pick(estimate, {
        exclude,
        prefer: this.#ranking!.preferKey,
        uncounted,
        ...held,
      });
      if (pick.kind === "none") {
        if (pick.openUntil !== undefined) openUntil = Math.min(openUntil ?? Infinity, pick.openUntil);
        return { kind: "none", openUntil, refusedUntil, refusal: pick.refusal, ...(probing && { probing }) };
      }
      if (pick.kind === "wait") {
        // The pool's holds here are this model's coolings (`held`). Keys passed over for their open
        // breakers, here or by the pool, are told of too: past the wait, the last resort may probe one.
        const { heldOnly, openUntil: heldOpen, ...wait } = pick;
        if (heldOpen !== undefined) openUntil = Math.min(openUntil ?? Infinity, heldOpen);
        return {
          ...wait,
          ...(heldOnly && { modelOnly: true }),
          ...(openUntil !== undefined && { openUntil }),
          ...(probing && { probing }),
        };
      }
      const keyBreaker = state.keyBreakers.get(pick.key)!;
      const keyPermit = early ? keyBreaker.tryProbeEarly(BUSY_RETRY_MS) : keyBreaker.tryAcquire();
      if (keyPermit) return { kind: "attempt", key: pick.key, reservation: pick.reservation, keyPermit };
      state.pool.release(pick.reservation);
      exclude.add(pick.key);
      if (early) probing = true;
      openUntil = Math.min(openUntil ?? Infinity, keyBreaker.retryAt ?? this.#hooks.now());
    }
  }

  #tried(state: _RouteState): Set<ProviderKey> {
    let tried = this.#triedKeys.get(state);
    if (!tried) this.#triedKeys.set(state, tried = new Set());
    return tried;
  }

  #attempt(
    candidate: _Candidate,
    permit: BreakerPermit,
    slot: Release,
    picked: {
      key: ProviderKey | undefined;
      reservation?: KeyReservation<ProviderKey>;
      keyPermit?: BreakerPermit;
    },
    standIn: boolean,
    lastResort = false,
  ): Attempt {
    const { state } = candidate;
    const { key, reservation } = picked;
    let { keyPermit } = picked;
    const keyBreaker = key ? state.keyBreakers.get(key) : undefined;
    if (key) this.#tried(state).add(key);
    this.#attempts++;
    this.#sentTo.set(state, this.#attempts);
    this.#waitedForProbe = false;
    state.inFlight++;
    let open = true;
    // Its place among the provider's requests, given up while it waits to be sent (`paused`).
    let placed = true;
    const leavePlace = () => {
      placed = false;
      state.inFlight--;
      slot();
    };
    // `usage` settles the reservation; `"unsent"` gives it all back, the request included. Unknown
    // usage (no usage block, a client gone before the answer) leaves the reservation as it stands: the
    // input counted, and the output, which the upstream may or may not have spent, a bound that makes
    // the key look busier but holds no request back. Settling all of `max_tokens` would hold the key
    // for the rest of its window.
    const end = (usage: TokenCount | "unsent" | undefined) => {
      if (!open) return;
      open = false;
      if (placed) leavePlace();
      if (!reservation || usage === undefined) return;
      if (usage === "unsent") state.pool.release(reservation);
      else state.pool.settle(reservation, usage);
    };
    const releasePermits = (sent = true) => {
      state.breaker.release(permit, sent);
      if (keyPermit) keyBreaker!.release(keyPermit, sent);
    };
    const blame = (answered = false) => {
      // A retry of this request on the same key that the upstream answers with the same trouble counts
      // only as a probe: three attempts meeting one burst of 529s are one failure, or two requests at
      // once would open the breaker of a provider that is the only one there is, and hold every client
      // for its cooldown after the burst has passed. (The breaker's min_span does not cover this: a
      // request's backoffs, up to routing.max_backoff, may spread its own retries past it.) A timeout or
      // a refused connection counts each time: a hanging upstream would otherwise take minutes of
      // requests to open its breaker.
      const again = answered && this.#answeredAgain(state, key);
      if (keyPermit) {
        if (again && !keyPermit.probe) keyBreaker!.release(keyPermit);
        else keyBreaker!.onFailure(keyPermit);
      }
      // A key whose own breaker this leaves open has trouble of its own to explain the failure:
      // while another key of the provider works, the provider is not to blame.
      if ((again && !permit.probe) || (keyBreaker?.state === "open" && state.hasOtherWorkingKey(key!))) {
        state.breaker.release(permit);
      } else state.breaker.onFailure(permit);
    };
    const hooks = this.#hooks;
    const { pinned } = this.#ranking!;
    const doneRoutes = this.#doneRoutes;
    const deferred = this.#deferred;
    const refusedRoutes = this.#refusedRoutes;
    const unservableRoutes = this.#unservableRoutes;
    const troubledRoutes = this.#troubledRoutes;
    // An uncounted request's rate limits are not the Messages ones the key pool keeps (Anthropic limits
    // count_tokens apart): what its answer says of them, a 429 included, leaves the key's figures alone.
    const { uncounted } = this.#request;
    return {
      route: state.route,
      key,
      upstreamModel: candidate.upstreamModel,
      standIn,
      lastResort,
      observe(snapshot) {
        if (key && !uncounted) state.pool.observe(key, snapshot);
      },
      committed(ttfbMs) {
        // A probe's first event closes its breaker at once: held to the stream's end, it would keep the
        // provider refusing every other request for as long as the answer streams. What the stream does
        // after counts as any request's under a closed breaker.
        if (!uncounted) {
          permit = _probeSettled(state.breaker, permit);
          if (keyPermit) keyPermit = _probeSettled(keyBreaker!, keyPermit);
        }
        hooks.committed(state, key, ttfbMs, pinned);
      },
      finished(usage, upstreamFailed = false) {
        end(usage);
        // A count or a model list says nothing of the provider's Messages, well or failing (a gateway
        // may answer 500 to a route it lacks): its breakers only hold it back.
        if (uncounted) return releasePermits();
        if (upstreamFailed) return blame();
        state.breaker.onSuccess(permit);
        if (keyPermit) keyBreaker!.onSuccess(keyPermit);
      },
      failed(decision) {
        // Nothing went upstream: the key gets its request and tokens back, and the next early probe
        // may go at once.
        const unsent = decision.action === "skip_provider" && !decision.sent;
        end(unsent ? "unsent" : { input: 0, output: 0 });
        if (!uncounted && decision.coolKeyUntil !== undefined) {
          // Where the upstream limits each model apart, its 429 says nothing of the key's other models:
          // they go on, while this one waits as long as the 429 says, or a moment when it says nothing
          // (Bedrock and Vertex never do): a minute would hold a throttle that passes in a second. A
          // provider without keys (Azure through Entra, a keyless gateway) has no key to cool: its
          // credential cools for the model, or every request would meet the same 429 first.
          const perModel = state.route.provider.rateLimitsPerModel || !key;
          if (perModel && candidate.upstreamModel !== undefined) {
            const until = decision.coolGuessed
              ? Math.min(decision.coolKeyUntil, hooks.now() + GUESSED_MODEL_COOLING_MS)
              : decision.coolKeyUntil;
            state.cooledModels.refuse(key, candidate.upstreamModel, until);
          } else if (key) state.pool.cool(key, decision.coolKeyUntil, decision.said);
        }
        if (key && decision.action === "disable_key") {
          const { refusedWith: status, said } = decision;
          const refusal = status === undefined
            ? undefined
            : { status, ...(said === undefined ? {} : { said }) };
          state.pool.disable(key, decision.reason, refusal);
          hooks.keyDisabled?.({
            provider: state.route.provider.name,
            key: key.label,
            reason: decision.reason,
          });
        }
        // Refused one model, a key (or a keyless provider) goes on serving the others. A count refused
        // says nothing of the model's answers (Bedrock's CountTokens is an IAM action of its own).
        let refusedUntil: number | undefined;
        if (decision.action === "refuse_model" && candidate.upstreamModel !== undefined && !uncounted) {
          refusedUntil = decision.refuseModelUntil;
          state.refusals.refuse(key, candidate.upstreamModel, refusedUntil, decision.said);
        }
        if (decision.countsForBreaker && !uncounted) blame(decision.answered);
        else releasePermits(!unsent);
        // A provider without keys has no other key to offer, and one whose credential was refused is
        // not asked again in this plan; a provider that failed as a whole gets its other keys tried
        // only after the other providers ("next key, then next provider" is for a key's own failures).
        const passes = decision.action === "retry_next_key" || decision.action === "retry_next_provider";
        if (passes && !decision.notRetried) troubledRoutes.add(state);
        if (decision.action === "skip_provider") unservableRoutes.add(state);
        else if (!key) doneRoutes.add(state);
        else if (decision.action === "retry_next_provider") deferred.add(state);
        if (
          decision.askedNoMore ||
          (!key && (decision.action === "disable_key" || decision.action === "refuse_model"))
        ) {
          refusedRoutes.add(state);
        }
        return refusedUntil;
      },
      nextAction(decision) {
        // Its credential refused (`disable_key`, `refuse_model`) is told as such, though `failed` ends a
        // provider without keys' turn in the plan whatever its failure.
        return decision.action === "retry_next_key" && !key ? "retry_next_provider" : decision.action;
      },
      abandoned() {
        end(undefined);
        releasePermits();
      },
      cancelled() {
        end("unsent");
        releasePermits(false);
      },
      paused() {
        // Paused again, or once over, it has no place to give up, and what it holds is what it resumes.
        if (!open || !placed) return () => placed;
        leavePlace();
        return () => {
          const again = _placeIn(state);
          if (!again) return false;
          slot = again;
          placed = true;
          state.inFlight++;
          return true;
        };
      },
    };
  }
}

/** A place among `state`'s requests in flight, or `undefined` while it is at its `max_in_flight`. */
function _placeIn(state: _RouteState): Release | undefined {
  return state.limiter.tryAcquire();
}

/** `permit`, or once it is a probe, the probe's success told and a permit of the closed breaker instead. */
function _probeSettled(breaker: CircuitBreaker, permit: BreakerPermit): BreakerPermit {
  if (!permit.probe) return permit;
  breaker.onSuccess(permit);
  return breaker.tryAcquire() ?? permit;
}

function _undoneSwitches(replaced: _Replaced[]): { provider: string; key?: string }[] {
  return replaced.flatMap(([old, state]) => {
    const provider = state.route.provider.name;
    const keys = old.route.keys.flatMap((key) => {
      const same = old.pool.status(key).disabled === SWITCHED_OFF ? state.keyWithId(keyId(key)) : undefined;
      return same ? [{ provider, key: same.label }] : [];
    });
    return old.enabled ? keys : [{ provider }, ...keys];
  });
}

function _resetBreakers(replaced: _Replaced[]): BreakerChange[] {
  return replaced.flatMap(([old, state]) => {
    const provider = state.route.provider.name;
    const keys = old.route.keys.flatMap((key) => {
      const from = old.keyBreakers.get(key)!.state;
      const same = from === "closed" ? undefined : state.keyWithId(keyId(key));
      return same ? [{ provider, key: same.label, from, to: "closed" as const }] : [];
    });
    const from = old.breaker.state;
    return from === "closed" ? keys : [...keys, { provider, from, to: "closed" as const }];
  });
}

/** A provider's state before a reload and the fresh one that replaced it. */
type _Replaced = [old: _RouteState, fresh: _RouteState];

/** Each provider's {@linkcode _Replaced} states; a kept state is not replaced. */
function _replaced(before: _RouteState[], after: _RouteState[]): _Replaced[] {
  return after.flatMap((state) => {
    const old = before.find((candidate) => candidate.route.provider.name === state.route.provider.name);
    return old && old !== state ? [[old, state]] : [];
  });
}

/**
 * What a request's pin is remembered by: its conversation and model. A prompt cache holds for one
 * model only, and Claude Code's side calls on another model (haiku, same session id) go where that
 * model is served: pinned by conversation alone, they would move the main model's turns there too.
 */
function _pinOf({ conversation, model }: PlanRequest): string | undefined {
  if (conversation === undefined) return undefined;
  // A model holds no control character (relay refuses such a request), so the two parts stay apart.
  // Its `[1m]` variant is the same model: a conversation some of whose requests carry the mark stays put.
  return `${model === undefined ? "" : withoutContextMark(model)}\n${conversation}`;
}

/** Models whose {@linkcode Router.runsAs} is kept at most; bounded, since model names come from clients. */
const _MAX_RUNS_AS = 1024;

/**
 * How long a model rests on a key (or a keyless provider) whose upstream limits each model apart, after a
 * 429 that said nothing of when it frees up: long enough that the retry does not meet the same throttle at
 * once, short enough that a throttle of a second costs the model a second, not the minute a key's guess is.
 */
export const GUESSED_MODEL_COOLING_MS = 2_000;

/** When a client refused for providers at their `max_in_flight` is told to come back, in ms. */
export const BUSY_RETRY_MS = 1_000;

/**
 * The step that ends a plan with every provider that can take the model at its `max_in_flight`;
 * `alsoRateLimited` when some of them have their keys at their rate limits instead, as a wait past
 * `routing.max_wait` finds them.
 *
 * @example
 * ```ts
 * busyStep(); // { kind: "exhausted", cause: "busy", reason: "every provider ... is at its max_in_flight" }
 * if (waitedMs + step.waitMs > maxWaitMs && step.busy) throw unavailable(busyStep(true));
 * ```
 */
export function busyStep(alsoRateLimited = false): Extract<Step, { kind: "exhausted" }> {
  const reason = "every provider that can take this model now is at its max_in_flight";
  return {
    kind: "exhausted",
    cause: "busy",
    reason: alsoRateLimited ? `${reason} or has its keys at their rate limits` : reason,
  };
}

/** The step that ends a plan, from why each provider had nothing to offer. */
function _exhausted(blocked: _Blocked[], now: number): Extract<Step, { kind: "exhausted" }> {
  if (blocked.length === 0) {
    return { kind: "exhausted", cause: "unservable", reason: "no provider can serve this request" };
  }
  if (blocked.some(({ cause }) => cause === "busy")) return busyStep();
  const retryAts = blocked.flatMap((entry) => entry.cause === "open" ? [entry.retryAt] : []);
  if (retryAts.length > 0) {
    return {
      kind: "exhausted",
      cause: "open",
      reason: "every provider that serves this model is failing (circuit open)",
      retryAfterMs: Math.max(0, Math.min(...retryAts) - now),
    };
  }
  const refusals = blocked.flatMap((entry) => entry.cause === "refused" ? [entry] : []);
  if (refusals.length > 0) {
    const retryAfterMs = Math.max(0, Math.min(...refusals.map(({ until }) => until)) - now);
    // The upstream's words say why (a model not enabled in the account, a region): relay's summary cannot.
    const said = refusals.find((refusal) => refusal.said !== undefined)?.said;
    return {
      kind: "exhausted",
      cause: "refused",
      reason: "every provider and key in rotation that serves this model was refused it by its upstream " +
        `(403${said === undefined ? "" : `, upstream said: ${said}`}); relay asks again in ` +
        `${Math.ceil(retryAfterMs / 1000)} s`,
      retryAfterMs,
    };
  }
  const reason = "no provider or key that serves this model is in rotation";
  if (blocked.every((entry) => entry.cause === "disabled" && entry.switchedOff)) {
    return {
      kind: "exhausted",
      cause: "disabled",
      reason: "every provider that serves this model is switched off",
    };
  }
  // A key its upstream took out says why in the upstream's words, which only a person can act on, and
  // is answered as the upstream refused it: clients retry neither a 401 nor a 402.
  const refusal =
    blocked.flatMap((entry) => entry.cause === "disabled" && entry.refusal ? [entry.refusal] : [])[0];
  if (refusal === undefined) {
    return {
      kind: "exhausted",
      cause: "disabled",
      reason: `${reason}: each is switched off or was refused by its upstream (401, 402, 403)`,
    };
  }
  const refused = refusal.status === 401 ? "refused" : "said cannot pay";
  const said = refusal.said === undefined ? "" : ` (upstream said: ${refusal.said})`;
  return {
    kind: "exhausted",
    cause: "disabled",
    reason:
      `${reason}: relay took out the keys their upstream ${refused}${said}; a fixed key and a reload, ` +
      "or the admin API, put them back",
    refusedWith: refusal.status,
  };
}
