import type { ClientRegistry, ClientStatus } from "../../ledger/clients.ts";
import type { OpenLedger } from "../../ledger/open.ts";
import type { LedgerState } from "../../ledger/writer.ts";
import type { ConcurrencyLimiter } from "../../routing/concurrency.ts";
import type { ProviderStatus } from "../../routing/router.ts";
import { VERSION } from "../../version.ts";
import type { InFlight } from "../in_flight.ts";
import type { Runtime } from "../runtime.ts";

/**
 * What `GET /admin/status` answers, and `relay status` shows. Times are ISO 8601, keys masked; spans
 * (`_ms`) are measured by relay on its monotonic clock, which neither a step of its wall clock nor a
 * reader's clock set otherwise moves.
 */
export interface AdminStatus {
  relay_version: string;
  started_at: string;
  uptime_ms: number;
  config: {
    version: number;
    path: string | null;
    loaded_at: string;
    loaded_ago_ms: number;
    reloadable: boolean;
    last_error: { at: string; ago_ms: number; reason: string; error: string } | null;
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
  ledger: LedgerStatus;
  /**
   * The clients of `server.auth.tokens` (never their tokens): limits, how spent their windows are, and
   * this month's spend (UTC) with what requests in flight hold of a budget; empty without named clients.
   */
  clients: {
    name: string;
    models: string[] | null;
    rpm: { limit: number; saturation: number } | null;
    tpm: { limit: number; saturation: number } | null;
    monthly_budget_usd: number | null;
    spent_usd: number;
    held_usd: number;
  }[];
  providers: {
    name: string;
    type: string;
    enabled: boolean;
    breaker: string;
    /**
     * Whether the breaker's probe is out: a request goes to the upstream again, though the breaker reads
     * open (the last resort's early probe) or half-open. A relay of an earlier version does not say.
     */
    probing?: boolean;
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
      probing?: boolean;
      /** While its breaker is open, when it lets a probe through. A relay of an earlier version does not say. */
      retry_at?: string | null;
      /** How spent the fullest rate-limit window is, 0 to 1. */
      saturation: number;
      cooling_until: string | null;
      resets_at: string | null;
      /**
       * The models its upstream refused it (403) and until when relay does not ask: it serves others.
       * A relay of an earlier version does not say.
       */
      refused_models?: RefusedModel[];
      /**
       * Where the upstream limits each model apart (Bedrock, Vertex): the models a 429 put at their
       * rate limit for it, and until when relay does not ask (its `cooling_until` is the whole key's);
       * it serves others. Present only while one cools.
       */
      cooled_models?: RefusedModel[];
    }[];
    /** A provider without keys: the models its upstream refused its own credential (403). */
    refused_models?: RefusedModel[];
    /** A provider without keys: the models a 429 put at their rate limit; present only while one cools. */
    cooled_models?: RefusedModel[];
  }[];
}

/**
 * An upstream model id a credential was refused (a 403), or is at its rate limit for (a 429, where the
 * upstream limits each model apart), and when relay asks for it again.
 */
export interface RefusedModel {
  model: string;
  until: string | null;
}

/** The usage ledger in the admin status: off, or its file and how writing it goes. */
export type LedgerStatus = { enabled: false; path: null } | {
  enabled: true;
  path: string;
  state: LedgerState;
  /** Why the last try failed, while `state` is not `ok`. */
  error: string | null;
  /** Records held in memory for the next batch, and those waiting for room in it. */
  pending: number;
  written_total: number;
  dropped_total: number;
  /** When `state` began, and how long ago. */
  since: string | null;
  for_ms: number;
};

/** Where the status is read from. */
export interface StatusSources {
  runtime: Runtime;
  /** The server-wide limiter, for in-flight and queue figures. */
  limiter: ConcurrencyLimiter;
  inFlight: InFlight;
  /**
   * The usage ledger; left out (or its `health` undefined) when relay records no usage. Its writer's
   * clock must be the runtime's monotonic clock (both `performance.now` unless given).
   */
  ledger?: Pick<OpenLedger, "path" | "health">;
  /** The named clients; left out when relay has none. */
  clients?: Pick<ClientRegistry, "status">;
  /** When the server started: wall-clock ms, and ms on the runtime's monotonic clock. */
  started: { at: number; monotonic: number };
  /** Wall-clock ms, `Date.now` unless given: turns a monotonic instant into a date. */
  wallClock?: () => number;
}

/**
 * relay's state now: the config version and its history, the last reload error, the load on the
 * server, and every provider and key with its breaker and pool.
 *
 * @example
 * ```ts
 * const started = { at: Date.now(), monotonic: runtime.monotonic() };
 * app.get("/admin/status", (c) => c.json(adminStatus({ runtime, limiter, inFlight, started })));
 * ```
 */
export function adminStatus(sources: StatusSources): AdminStatus {
  const { runtime, limiter, inFlight } = sources;
  const { current, lastError } = runtime;
  const now = runtime.monotonic();
  const ago = (monotonic: number) => Math.max(0, Math.round(now - monotonic));
  return {
    relay_version: VERSION,
    started_at: _iso(sources.started.at)!,
    uptime_ms: ago(sources.started.monotonic),
    config: {
      version: current.version,
      path: current.path ?? null,
      loaded_at: _iso(current.loadedAt)!,
      loaded_ago_ms: ago(current.loadedAtMonotonic),
      reloadable: runtime.reloadable,
      last_error: lastError
        ? {
          at: _iso(lastError.at)!,
          ago_ms: ago(lastError.atMonotonic),
          reason: lastError.reason,
          error: lastError.error,
        }
        : null,
      needs_restart: runtime.needsRestart,
      history: runtime.history.map((record) => ({
        version: record.version,
        loaded_at: _iso(record.loadedAt)!,
        path: record.path ?? null,
        providers: record.providers,
      })),
    },
    server: { in_flight: limiter.inFlight, queued: limiter.queued, exchanges: inFlight.size },
    ledger: _ledger(sources.ledger, ago, (sources.wallClock ?? Date.now)()),
    clients: (sources.clients?.status() ?? []).map(_client),
    providers: current.router.status().map(_provider),
  };
}

function _ledger(
  ledger: StatusSources["ledger"],
  ago: (monotonic: number) => number,
  wallNow: number,
): LedgerStatus {
  const health = ledger?.health?.();
  if (!ledger?.path || !health) return { enabled: false, path: null };
  const forMs = ago(health.since);
  return {
    enabled: true,
    path: ledger.path,
    state: health.state,
    error: health.error ?? null,
    pending: health.pending,
    written_total: health.written,
    dropped_total: health.dropped,
    since: _iso(wallNow - forMs),
    for_ms: forMs,
  };
}

function _client(client: ClientStatus): AdminStatus["clients"][number] {
  return {
    name: client.name,
    models: client.models ? [...client.models] : null,
    rpm: client.rpm ?? null,
    tpm: client.tpm ?? null,
    monthly_budget_usd: client.monthlyBudgetUsd ?? null,
    spent_usd: client.spentUsd,
    held_usd: client.heldUsd,
  };
}

function _provider(provider: ProviderStatus): AdminStatus["providers"][number] {
  return {
    name: provider.name,
    type: provider.type,
    enabled: provider.enabled,
    breaker: provider.breaker,
    probing: provider.probing,
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
      probing: key.probing,
      retry_at: _iso(key.retryAt),
      saturation: key.ratio,
      cooling_until: _iso(key.cooledUntil),
      resets_at: _iso(key.resetAt),
      refused_models: _refused(key.refusedModels),
      ..._cooled(key.cooledModels),
    })),
    refused_models: _refused(provider.refusedModels),
    ..._cooled(provider.cooledModels),
  };
}

/** `cooled_models` only while a model cools: the status of a provider whose limits are per key stays as it was. */
function _cooled(cooled: ProviderStatus["cooledModels"]): { cooled_models?: RefusedModel[] } {
  return cooled === undefined ? {} : { cooled_models: _refused(cooled) };
}

function _refused(refusals: ProviderStatus["refusedModels"]): RefusedModel[] {
  return (refusals ?? []).map(({ model, until }) => ({ model, until: _iso(until) }));
}

function _iso(ms: number | undefined): string | null {
  // An instant no `Date` holds (the router bounds what upstreams say, but a status must never fail).
  const date = new Date(ms ?? NaN);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
