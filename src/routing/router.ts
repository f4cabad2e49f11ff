import type { Provider, ProviderKey } from "../providers/types.ts";
import { ConversationAffinity } from "./affinity.ts";
import { type BreakerPermit, type BreakerState, CircuitBreaker } from "./circuit_breaker.ts";
import type { Release } from "./concurrency.ts";
import { ConcurrencyLimiter } from "./concurrency.ts";
import { EwmaMap } from "./ewma.ts";
import type { FailureDecision } from "./failure.ts";
import { type KeyLimits, KeyPool, type KeyReservation, type KeyStatus } from "./key_pool.ts";
import type { ModelMap } from "./model_map.ts";
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
  /** Price per client model name, for the `cost` strategy. */
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
  breaker: { failureThreshold: number; windowMs: number; cooldownMs: number; maxCooldownMs?: number };
  /** Told of every breaker's change of state, for the event stream and metrics. */
  onBreakerChange?: (change: BreakerChange) => void;
  /** Wall-clock ms; upstream resets are wall-clock instants. */
  now?: () => number;
  random?: () => number;
}

/** One try of one request on one provider and key; report how it went exactly once. */
export interface Attempt {
  readonly route: Route;
  readonly key: ProviderKey | undefined;
  readonly upstreamModel: string | undefined;
  /** The upstream's rate-limit headers, read on every answer. */
  observe(snapshot: RateLimitSnapshot): void;
  /** The upstream committed (first event in): the answer streams to the client from here. */
  committed(ttfbMs: number): void;
  /** The committed answer ended; `usage` when the stream said it, else the estimate is kept. */
  finished(usage: TokenCount | undefined): void;
  /** The attempt failed before committing, as `decision` says. */
  failed(decision: FailureDecision): void;
  /**
   * The client left after the attempt was sent, before it committed: it says nothing of the upstream's
   * health, but the upstream got the request, so it counts against the key.
   */
  abandoned(): void;
  /**
   * The attempt was never sent (the client left, or relay began shutting down, first): it gives back
   * everything it reserved, the request and its tokens, and says nothing of the upstream.
   */
  cancelled(): void;
}

/** What {@link Plan.next} offers: an attempt, a wait until a key frees up, or nothing left to try. */
export type Step =
  | { kind: "attempt"; attempt: Attempt }
  | { kind: "wait"; waitMs: number; retryAfterMs: number }
  | { kind: "exhausted"; reason: string; retryAfterMs?: number };

/** What the router knows of a request before it is sent. */
export interface PlanRequest {
  model: string | undefined;
  estimate: TokenCount;
  /** `conversationKey()` of the request, for affinity. */
  conversation: string | undefined;
}

/** Where one provider stands, for status pages and metrics. */
export interface ProviderStatus {
  name: string;
  type: string;
  /** False while switched off at runtime ({@linkcode Router.setEnabled}). */
  enabled: boolean;
  breaker: BreakerState;
  /** While the breaker is open, when it lets a probe through (ms since the epoch). */
  retryAt?: number;
  inFlight: number;
  maxInFlight?: number;
  keys: ProviderKeyStatus[];
}

/** Where one key of a provider stands; `disabled` says why it takes no requests, when it does not. */
export interface ProviderKeyStatus extends KeyStatus {
  /** Its place in the provider's `keys` list. */
  index: number;
  /** Its masked form. */
  label: string;
  name?: string;
  breaker: BreakerState;
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
  readonly limiter: ConcurrencyLimiter | undefined;
  inFlight = 0;
  enabled = true;
  /** The owning router's listener: the breakers were made before it and outlive it across reloads. */
  onBreakerChange: ((change: BreakerChange) => void) | undefined;
  #route: Route;

  constructor(route: Route, options: RoutingOptions) {
    this.#route = route;
    const breakerOptions = (key?: ProviderKey) => ({
      ...options.breaker,
      now: options.now,
      random: options.random,
      onTransition: (from: BreakerState, to: BreakerState) =>
        this.onBreakerChange?.({ provider: this.#route.provider.name, key: key?.label, from, to }),
    });
    this.pool = new KeyPool(route.keys.map((key) => ({ key, limits: route.limits?.get(key) })), {
      now: options.now,
    });
    this.breaker = new CircuitBreaker(breakerOptions());
    for (const key of route.keys) this.keyBreakers.set(key, new CircuitBreaker(breakerOptions(key)));
    this.limiter = route.maxInFlight === undefined
      ? undefined
      : new ConcurrencyLimiter({ max: route.maxInFlight, maxQueue: 0 });
  }

  get route(): Route {
    return this.#route;
  }

  /**
   * Takes over `route`, built anew from an unchanged config: its adapter (credentials read again from
   * files and the environment), with this state's own key objects, which the pool and breakers know.
   */
  adopt(route: Route): void {
    this.#route = {
      ...route,
      keys: this.#route.keys,
      limits: this.#route.limits,
      keyNames: this.#route.keyNames,
    };
  }

  /** `ref` is a key's place in the list or its name. */
  findKey(ref: string): ProviderKey | undefined {
    const { keys, keyNames } = this.#route;
    return /^\d+$/.test(ref) ? keys[Number(ref)] : keys.find((key) => keyNames?.get(key) === ref);
  }

  status(): ProviderStatus {
    const { provider, keys, keyNames, maxInFlight } = this.#route;
    return {
      name: provider.name,
      type: provider.type,
      enabled: this.enabled,
      breaker: this.breaker.state,
      ...(this.breaker.retryAt === undefined ? {} : { retryAt: this.breaker.retryAt }),
      inFlight: this.inFlight,
      ...(maxInFlight === undefined ? {} : { maxInFlight }),
      keys: keys.map((key, index) => ({
        index,
        label: key.label,
        ...(keyNames?.has(key) ? { name: keyNames.get(key) } : {}),
        ...this.pool.status(key),
        breaker: this.keyBreakers.get(key)!.state,
      })),
    };
  }
}

/** A candidate as strategies see it, carrying its state back to the plan. */
interface _Candidate extends Candidate {
  state: _RouteState;
  upstreamModel: string | undefined;
}

/**
 * Chooses where each request goes and keeps what that takes: providers in the order the strategy
 * ranks them (the retry order), keys by lowest usage from their pools, circuit breakers per provider
 * and per key, in-flight caps, latency averages and conversation affinity. One router per config.
 *
 * A reloaded config gets a new router built from the previous one: providers whose name and
 * {@linkcode Route.fingerprint} are unchanged keep their live state, latency averages and conversation
 * pins carry over by provider name, and everything else starts fresh. A provider or key the new config
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
  readonly #strategies = new Map<StrategyName, Strategy>();
  readonly #ttfb: EwmaMap<string>;
  readonly #affinity: ConversationAffinity<ProviderKey>;
  readonly #now: () => number;

  constructor(routes: Route[], options: RoutingOptions, from: { previous?: Router } = {}) {
    if (routes.length === 0) throw new Error("a router needs at least one provider");
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const { previous } = from;
    this.#ttfb = previous ? previous.#ttfb : new EwmaMap<string>();
    this.#affinity = previous ? previous.#affinity : new ConversationAffinity<ProviderKey>();
    this.#states = routes.map((route) => {
      const kept = previous && previous.#unchanged(route);
      kept?.adopt(route);
      return kept ?? new _RouteState(route, options);
    });
    for (const state of this.#states) state.onBreakerChange = options.onBreakerChange;
  }

  get routes(): readonly Route[] {
    return this.#states.map((state) => state.route);
  }

  /** The providers serving `model` in retry order; requests without a model use every provider. */
  plan(request: PlanRequest): Plan {
    const candidates = this.#states.flatMap((state): _Candidate[] => {
      const upstreamModel = request.model === undefined
        ? undefined
        : state.route.models.resolve(request.model);
      if (request.model !== undefined && upstreamModel === undefined) return [];
      return [{
        name: state.route.provider.name,
        state,
        upstreamModel,
        inFlight: state.inFlight,
        ewmaTtfbMs: this.#ttfb.get(state.route.provider.name),
        remainingCapacityRatio: state.pool.remainingCapacity(),
        price: request.model === undefined ? undefined : state.route.prices?.get(request.model),
      }];
    });
    const pinned = request.conversation && this.#options.affinity
      ? this.#affinity.get(request.conversation)
      : undefined;
    const ordered = preferNamed(
      this.#strategyFor(request.model).order(candidates, {
        model: request.model,
        estimatedTokens: request.estimate,
      }),
      pinned?.provider,
    );
    return new Plan(ordered, request, pinned?.key, {
      now: this.#now,
      committed: (state, key, ttfbMs) => {
        this.#ttfb.observe(state.route.provider.name, ttfbMs);
        if (request.conversation && key && this.#options.affinity) {
          this.#affinity.set(request.conversation, { provider: state.route.provider.name, key });
        }
      },
    });
  }

  /** Where each provider and its keys stand, in the config's order. */
  status(): ProviderStatus[] {
    return this.#states.map((state) => state.status());
  }

  /**
   * Switches a provider, or one of its keys (`key`: its place in the list or its name), on or off
   * until a reload changes that provider. Off, it takes no new requests; those under way finish.
   * Returns false when there is no such provider or key. Switching a key on also puts back one that a
   * 401 or 403 took out of rotation.
   */
  setEnabled(provider: string, enabled: boolean, key?: string): boolean {
    const state = this.#states.find((state) => state.route.provider.name === provider);
    if (!state) return false;
    if (key === undefined) {
      state.enabled = enabled;
      return true;
    }
    const found = state.findKey(key);
    if (!found) return false;
    if (enabled) state.pool.enable(found);
    else state.pool.disable(found, SWITCHED_OFF);
    return true;
  }

  /** The model names and patterns the providers serve, for telling a client what it can ask for. */
  servedModels(): string[] {
    return [
      ...new Set(this.#states.flatMap(({ route }) => route.models.servesAll ? ["*"] : route.models.patterns)),
    ];
  }

  #unchanged(route: Route): _RouteState | undefined {
    if (route.fingerprint === undefined) return undefined;
    return this.#states.find((state) =>
      state.route.provider.name === route.provider.name && state.route.fingerprint === route.fingerprint
    );
  }

  #strategyFor(model: string | undefined): Strategy {
    const name = (model === undefined ? undefined : this.#options.modelStrategies?.resolve(model)) as
      | StrategyName
      | undefined;
    const chosen = name ?? this.#options.strategy;
    let strategy = this.#strategies.get(chosen);
    if (!strategy) {
      strategy = createStrategy(chosen, {
        random: this.#options.random,
        explorationRate: this.#options.explorationRate,
        costThresholdTokens: this.#options.costThresholdTokens,
        modelRoutes: this.#options.modelRoutes,
      });
      this.#strategies.set(chosen, strategy);
    }
    return strategy;
  }
}

interface _PlanHooks {
  now: () => number;
  committed(state: _RouteState, key: ProviderKey | undefined, ttfbMs: number): void;
}

/**
 * One request's way down the providers: each {@link next} offers the best attempt not yet tried,
 * skipping providers switched off, whose breaker is open or whose in-flight cap is reached, and keys
 * already tried, cooling, refused or switched off; a provider without keys whose credential was
 * refused is not offered again. Attempts are offered one at a time: never a parallel race.
 */
export class Plan {
  readonly #order: _Candidate[];
  readonly #request: PlanRequest;
  readonly #preferKey: ProviderKey | undefined;
  readonly #hooks: _PlanHooks;
  readonly #triedKeys = new Map<_RouteState, Set<ProviderKey>>();
  readonly #doneRoutes = new Set<_RouteState>();
  // Providers without keys whose credential was refused (401, 402, 403): unlike a disabled key, which
  // its pool remembers, nothing else would keep going round again from sending it once more.
  readonly #refusedRoutes = new Set<_RouteState>();
  #attempts = 0;
  #round = 0;

  constructor(
    order: _Candidate[],
    request: PlanRequest,
    preferKey: ProviderKey | undefined,
    hooks: _PlanHooks,
  ) {
    this.#order = order;
    this.#request = request;
    this.#preferKey = preferKey;
    this.#hooks = hooks;
  }

  /** Whether any provider serves the request's model at all. */
  get served(): boolean {
    return this.#order.length > 0;
  }

  next(): Step {
    let wait: { waitUntil: number; retryAfterMs: number } | undefined;
    let openUntil: number | undefined;
    let enabled = 0;
    for (const candidate of this.#order) {
      const { state } = candidate;
      if (!state.enabled) continue;
      enabled++;
      if (this.#doneRoutes.has(state) || this.#refusedRoutes.has(state)) continue;
      const permit = state.breaker.tryAcquire();
      if (!permit) {
        openUntil = Math.min(openUntil ?? Infinity, state.breaker.retryAt ?? this.#hooks.now());
        continue;
      }
      const slot = state.limiter ? state.limiter.tryAcquire() : () => {};
      if (!slot) {
        state.breaker.release(permit);
        continue;
      }
      const picked = this.#pickKey(state);
      if (picked.kind === "attempt") {
        return { kind: "attempt", attempt: this.#attempt(candidate, permit, slot, picked) };
      }
      state.breaker.release(permit);
      slot();
      if (picked.kind === "wait" && (!wait || picked.waitUntil < wait.waitUntil)) wait = picked;
      if (picked.kind === "none") this.#doneRoutes.add(state);
    }
    if (wait) {
      return {
        kind: "wait",
        waitMs: Math.max(0, wait.waitUntil - this.#hooks.now()),
        retryAfterMs: wait.retryAfterMs,
      };
    }
    if (openUntil === undefined && this.#attempts > this.#round) {
      // Every provider and key was tried once: go round again (the caller bounds the attempts). The
      // pools and breakers, not this plan, remember which keys are cooling, refused or failing;
      // refused providers without keys stay out.
      this.#round = this.#attempts;
      this.#triedKeys.clear();
      this.#doneRoutes.clear();
      return this.next();
    }
    if (openUntil !== undefined) {
      const retryAfterMs = Math.max(0, openUntil - this.#hooks.now());
      return {
        kind: "exhausted",
        reason: "every provider that serves this model is failing (circuit open)",
        retryAfterMs,
      };
    }
    if (enabled === 0) {
      return { kind: "exhausted", reason: "every provider that serves this model is switched off" };
    }
    return { kind: "exhausted", reason: "every provider and key that serves this model was tried" };
  }

  #pickKey(state: _RouteState):
    | {
      kind: "attempt";
      key: ProviderKey | undefined;
      reservation?: KeyReservation<ProviderKey>;
      keyPermit?: BreakerPermit;
    }
    | { kind: "wait"; waitUntil: number; retryAfterMs: number }
    | { kind: "none" } {
    if (state.route.keys.length === 0) return { kind: "attempt", key: undefined };
    const tried = this.#tried(state);
    const exclude = new Set(tried);
    for (;;) {
      const pick = state.pool.pick(this.#request.estimate, { exclude, prefer: this.#preferKey });
      if (pick.kind !== "key") return pick;
      const keyPermit = state.keyBreakers.get(pick.key)!.tryAcquire();
      if (keyPermit) return { kind: "attempt", key: pick.key, reservation: pick.reservation, keyPermit };
      state.pool.release(pick.reservation);
      exclude.add(pick.key);
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
  ): Attempt {
    const { state } = candidate;
    const { key, reservation, keyPermit } = picked;
    const keyBreaker = key ? state.keyBreakers.get(key) : undefined;
    if (key) this.#tried(state).add(key);
    this.#attempts++;
    state.inFlight++;
    let open = true;
    // `usage` settles the reservation; `"unsent"` gives it all back, the request included.
    const end = (usage: TokenCount | "unsent" | undefined) => {
      if (!open) return;
      open = false;
      state.inFlight--;
      slot();
      if (!reservation) return;
      if (usage === "unsent") state.pool.release(reservation);
      else state.pool.settle(reservation, usage ?? this.#request.estimate);
    };
    const releasePermits = () => {
      state.breaker.release(permit);
      if (keyPermit) keyBreaker!.release(keyPermit);
    };
    const hooks = this.#hooks;
    const doneRoutes = this.#doneRoutes;
    const refusedRoutes = this.#refusedRoutes;
    return {
      route: state.route,
      key,
      upstreamModel: candidate.upstreamModel,
      observe(snapshot) {
        if (key) state.pool.observe(key, snapshot);
      },
      committed(ttfbMs) {
        state.breaker.onSuccess(permit);
        if (keyPermit) keyBreaker!.onSuccess(keyPermit);
        hooks.committed(state, key, ttfbMs);
      },
      finished: end,
      failed(decision) {
        end({ input: 0, output: 0 });
        if (key && decision.coolKeyUntil !== undefined) state.pool.cool(key, decision.coolKeyUntil);
        if (key && decision.action === "disable_key") state.pool.disable(key, decision.reason);
        if (decision.countsForBreaker) {
          state.breaker.onFailure(permit);
          if (keyPermit) keyBreaker!.onFailure(keyPermit);
        } else {
          releasePermits();
        }
        // Another key of the same provider comes next (the "next key, then next provider");
        // a provider without keys has no other to offer, and one whose credential was refused is not
        // asked again in this plan.
        if (!key) doneRoutes.add(state);
        if (!key && decision.action === "disable_key") refusedRoutes.add(state);
      },
      abandoned() {
        end(undefined);
        releasePermits();
      },
      cancelled() {
        end("unsent");
        releasePermits();
      },
    };
  }
}
