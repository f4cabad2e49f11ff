import type { ConcurrencyLimiter } from "../../routing/concurrency.ts";
import type { ProviderStatus } from "../../routing/router.ts";
import { VERSION } from "../../version.ts";
import type { InFlight } from "../in_flight.ts";
import type { Runtime } from "../runtime.ts";

/** What `GET /admin/status` answers, and `relay status` shows. Times are ISO 8601, keys masked. */
export interface AdminStatus {
  relay_version: string;
  started_at: string;
  config: {
    version: number;
    path: string | null;
    loaded_at: string;
    reloadable: boolean;
    last_error: { at: string; reason: string; error: string } | null;
    /** Fields the file changed that apply only once relay restarts (`server.port`...); empty when none. */
    needs_restart: string[];
    /** The configs served, the current one last; at most five. */
    history: { version: number; loaded_at: string; path: string | null; providers: string[] }[];
  };
  server: {
    /** Requests holding a `server.max_concurrent` slot. */
    in_flight: number;
    /** Requests waiting for one. */
    queued: number;
    /** Upstream exchanges open, streams included. */
    exchanges: number;
  };
  providers: {
    name: string;
    type: string;
    enabled: boolean;
    breaker: string;
    retry_at: string | null;
    in_flight: number;
    max_in_flight: number | null;
    keys: {
      index: number;
      name: string | null;
      label: string;
      enabled: boolean;
      disabled_reason: string | null;
      breaker: string;
      /** How spent the fullest rate-limit window is, 0 to 1. */
      saturation: number;
      cooling_until: string | null;
      resets_at: string | null;
    }[];
  }[];
}

/** Where the status is read from. */
export interface StatusSources {
  runtime: Runtime;
  /** The server-wide limiter, for in-flight and queue figures. */
  limiter: ConcurrencyLimiter;
  inFlight: InFlight;
  /** Wall-clock ms the server started at. */
  startedAt: number;
}

/**
 * relay's state now: the config version and its history, the last reload error, the load on the
 * server, and every provider and key with its breaker and pool.
 *
 * @example
 * ```ts
 * app.get("/admin/status", (c) => c.json(adminStatus({ runtime, limiter, inFlight, startedAt })));
 * ```
 */
export function adminStatus(sources: StatusSources): AdminStatus {
  const { runtime, limiter, inFlight } = sources;
  const { current, lastError } = runtime;
  return {
    relay_version: VERSION,
    started_at: _iso(sources.startedAt)!,
    config: {
      version: current.version,
      path: current.path ?? null,
      loaded_at: _iso(current.loadedAt)!,
      reloadable: runtime.reloadable,
      last_error: lastError ? { ...lastError, at: _iso(lastError.at)! } : null,
      needs_restart: runtime.needsRestart,
      history: runtime.history.map((record) => ({
        version: record.version,
        loaded_at: _iso(record.loadedAt)!,
        path: record.path ?? null,
        providers: record.providers,
      })),
    },
    server: { in_flight: limiter.inFlight, queued: limiter.queued, exchanges: inFlight.size },
    providers: current.router.status().map(_provider),
  };
}

function _provider(provider: ProviderStatus): AdminStatus["providers"][number] {
  return {
    name: provider.name,
    type: provider.type,
    enabled: provider.enabled,
    breaker: provider.breaker,
    retry_at: _iso(provider.retryAt),
    in_flight: provider.inFlight,
    max_in_flight: provider.maxInFlight ?? null,
    keys: provider.keys.map((key) => ({
      index: key.index,
      name: key.name ?? null,
      label: key.label,
      enabled: key.disabled === undefined,
      disabled_reason: key.disabled ?? null,
      breaker: key.breaker,
      saturation: key.ratio,
      cooling_until: _iso(key.cooledUntil),
      resets_at: _iso(key.resetAt),
    })),
  };
}

function _iso(ms: number | undefined): string | null {
  // An instant no `Date` holds (the router bounds what upstreams say, but a status must never fail).
  const date = new Date(ms ?? NaN);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
