import type { Provider, ProviderKey } from "../providers/types.ts";
import type { ModelMap } from "./model_map.ts";

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
}

/** What the router chose for one request. */
export interface Choice {
  route: Route;
  key: ProviderKey | undefined;
  /** The id the chosen upstream knows the requested model by. */
  upstreamModel: string | undefined;
}

/**
 * Chooses the upstream for a request: the first provider, in listed order, that serves the model;
 * within a provider, keys take turns so their rate limits are spent evenly.
 *
 * @example
 * ```ts
 * const router = new Router([{ provider, keys, timeouts, models: new ModelMap(undefined) }]);
 * const choice = router.choose("claude-sonnet-4-5"); // undefined when no provider serves it
 * ```
 */
export class Router {
  readonly #routes: Route[];
  readonly #nextKey = new Map<Route, number>();

  constructor(routes: Route[]) {
    if (routes.length === 0) throw new Error("a router needs at least one provider");
    this.#routes = routes;
  }

  get routes(): readonly Route[] {
    return this.#routes;
  }

  /**
   * The route, key and upstream model id for a request asking for `model`; requests without a model
   * (`GET /v1/models`) go to the first provider. `undefined` when no provider serves the model.
   */
  choose(model: string | undefined): Choice | undefined {
    for (const route of this.#routes) {
      const upstreamModel = model === undefined ? undefined : route.models.resolve(model);
      if (model !== undefined && upstreamModel === undefined) continue;
      return { route, key: this.#takeKey(route), upstreamModel };
    }
    return undefined;
  }

  /** The model names and patterns the providers serve, for telling a client what it can ask for. */
  servedModels(): string[] {
    return [
      ...new Set(this.#routes.flatMap((route) => route.models.servesAll ? ["*"] : route.models.patterns)),
    ];
  }

  #takeKey(route: Route): ProviderKey | undefined {
    if (route.keys.length === 0) return undefined;
    const turn = this.#nextKey.get(route) ?? 0;
    this.#nextKey.set(route, (turn + 1) % route.keys.length);
    return route.keys[turn];
  }
}
