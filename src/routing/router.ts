import type { Provider, ProviderKey } from "../providers/types.ts";

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
}

/** What the router chose for one request. */
export interface Choice {
  route: Route;
  key: ProviderKey | undefined;
}

/**
 * Chooses the upstream for a request. Providers are tried in listed order (the first one serves);
 * within a provider, keys take turns so their rate limits are spent evenly.
 *
 * @example
 * ```ts
 * const router = new Router([{ provider, keys, timeouts }]);
 * const { route, key } = router.choose();
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

  /** The route and key for the next request: model mapping arrives with the providers issue. */
  choose(): Choice {
    const route = this.#routes[0];
    if (route.keys.length === 0) return { route, key: undefined };
    const turn = this.#nextKey.get(route) ?? 0;
    this.#nextKey.set(route, (turn + 1) % route.keys.length);
    return { route, key: route.keys[turn] };
  }
}
