import type { ClientStatus } from "../ledger/clients.ts";
import type { LedgerHealth, LedgerState } from "../ledger/writer.ts";
import type { BreakerState } from "../routing/circuit_breaker.ts";
import type { ConcurrencyLimiter } from "../routing/concurrency.ts";
import type { ProviderStatus, Router } from "../routing/router.ts";
import type { EventBus } from "../util/event_bus.ts";
import type { LogFields } from "../util/logger.ts";
import { type Labels, MetricsRegistry } from "../util/prometheus.ts";
import type { RelayEvent, RequestSummary } from "./events.ts";

/** Where {@linkcode RelayMetrics} reads the gauges from, at scrape time. */
export interface MetricsSources {
  /** The router of the config serving now. */
  router: () => Router;
  /** The server-wide limiter: requests holding a slot, and waiting for one. */
  limiter: ConcurrencyLimiter;
  /** The config version serving now; left out when relay runs without a `Runtime` (tests, benches). */
  configVersion?: () => number;
  /** How the usage ledger's writing goes; left out when relay records no usage. */
  ledger?: () => LedgerHealth;
  /** The named clients (`server.auth.tokens`); left out or empty when relay has none. */
  clients?: () => ClientStatus[];
}

export interface RelayMetricsOptions {
  /** Distinct model names given a label of their own; later ones count as `other`. 50. */
  maxModels?: number;
}

const _TTFB_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const _DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const _BREAKER_STATES: readonly BreakerState[] = ["closed", "half_open", "open"];
const _LEDGER_STATES: readonly LedgerState[] = ["ok", "locked", "failing"];
const _TOKEN_TYPES = [
  ["input", "input"],
  ["output", "output"],
  ["cache_read", "cacheRead"],
  ["cache_write", "cacheWrite"],
] as const;
// Longer model names are not a model anyone configured: they count as `other`.
const _MAX_MODEL_CHARS = 128;

/**
 * relay's Prometheus metrics: counters and histograms fed by the server's events as requests end and
 * state changes, gauges read from the router and the limiter when scraped, and the ledger's figures
 * read from its writer when scraped (the request path pays nothing for them). Labels are bounded:
 * provider and key names come from the config (keys as `index:name` or `index:masked label`), status
 * is the numeric code, and model names get a label of their own only for the first `maxModels` seen,
 * then `other`; requests no provider took count under model `none`. No request ids, no free text.
 *
 * @example
 * ```ts
 * const metrics = new RelayMetrics(events, { router: () => runtime.current.router, limiter });
 * app.get("/metrics", () => new Response(metrics.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } }));
 * ```
 */
export class RelayMetrics {
  readonly #registry = new MetricsRegistry();
  readonly #models: _BoundedLabel;
  /** What the scrape under way has read so far, by the reader that read it; emptied once it is rendered. */
  readonly #scraped = new Map<() => unknown, unknown>();

  constructor(events: EventBus<RelayEvent>, sources: MetricsSources, options: RelayMetricsOptions = {}) {
    this.#models = new _BoundedLabel(options.maxModels ?? 50);
    const registry = this.#registry;
    const requests = registry.counter({
      name: "relay_requests_total",
      help: "Client requests that ended, by the provider that served them, model and HTTP status.",
      labels: ["provider", "model", "status"],
    });
    const ttfb = registry.histogram({
      name: "relay_time_to_first_byte_seconds",
      help: "From a request's arrival until its upstream committed (first event in).",
      labels: ["provider", "model"],
      buckets: _TTFB_BUCKETS,
    });
    const duration = registry.histogram({
      name: "relay_request_duration_seconds",
      help: "From a request's arrival until its answer ended.",
      labels: ["provider", "model"],
      buckets: _DURATION_BUCKETS,
    });
    const tokens = registry.counter({
      name: "relay_tokens_total",
      help: "Tokens the upstreams reported: input (uncached), output, cache reads and cache writes.",
      labels: ["provider", "model", "type"],
    });
    const retries = registry.counter({
      name: "relay_retries_total",
      help: "Upstream attempts beyond each request's first.",
    });
    const failovers = registry.counter({
      name: "relay_failovers_total",
      help: "Retries that moved to another provider.",
    });
    const transitions = registry.counter({
      name: "relay_breaker_transitions_total",
      help: "Circuit breaker changes of state, of providers and of their keys.",
      labels: ["provider", "scope", "to"],
    });
    const reloads = registry.counter({
      name: "relay_config_reloads_total",
      help: "Config reloads, by result.",
      labels: ["result"],
    });
    const router = this.#perScrape(() => sources.router().status());
    registry.gauge({
      name: "relay_provider_breaker_state",
      help: "1 for the state each provider's circuit breaker is in, 0 for the others.",
      labels: ["provider", "state"],
      collect: () => router().flatMap((p) => _states({ provider: p.name }, p.breaker, _BREAKER_STATES)),
    });
    registry.gauge({
      name: "relay_key_breaker_state",
      help: "1 for the state each key's circuit breaker is in, 0 for the others.",
      labels: ["provider", "key", "state"],
      collect: () =>
        _keys(router()).flatMap(([labels, key]) => _states(labels, key.breaker, _BREAKER_STATES)),
    });
    // An open breaker's early probe (the last resort) sends requests while the state still reads open.
    registry.gauge({
      name: "relay_provider_breaker_probing",
      help: "1 while a provider's circuit breaker has its probe out, whatever state it reads.",
      labels: ["provider"],
      collect: () => router().map((p) => [{ provider: p.name }, p.probing ? 1 : 0] as const),
    });
    registry.gauge({
      name: "relay_key_breaker_probing",
      help: "1 while a key's circuit breaker has its probe out, whatever state it reads.",
      labels: ["provider", "key"],
      collect: () => _keys(router()).map(([labels, key]) => [labels, key.probing ? 1 : 0] as const),
    });
    registry.gauge({
      name: "relay_provider_enabled",
      help: "1 while a provider takes requests, 0 while it is switched off at runtime.",
      labels: ["provider"],
      collect: () => router().map((p) => [{ provider: p.name }, p.enabled ? 1 : 0] as const),
    });
    registry.gauge({
      name: "relay_provider_in_flight",
      help: "Upstream requests under way, per provider.",
      labels: ["provider"],
      collect: () => router().map((p) => [{ provider: p.name }, p.inFlight] as const),
    });
    registry.gauge({
      name: "relay_key_saturation_ratio",
      help: "How spent each key's fullest rate-limit window is, 0 to 1.",
      labels: ["provider", "key"],
      collect: () => _keys(router()).map(([labels, key]) => [labels, key.ratio] as const),
    });
    registry.gauge({
      name: "relay_key_usable",
      help: "1 while a key takes requests: not disabled, not cooling after a 429, breaker not open.",
      labels: ["provider", "key"],
      collect: () =>
        _keys(router()).map(([labels, key]) =>
          [
            labels,
            key.disabled === undefined && key.cooledUntil === undefined && key.breaker !== "open" ? 1 : 0,
          ] as const
        ),
    });
    registry.gauge({
      name: "relay_requests_in_flight",
      help: "Client requests holding one of server.max_concurrent's slots.",
      collect: () => [[{}, sources.limiter.inFlight]],
    });
    registry.gauge({
      name: "relay_queue_depth",
      help: "Client requests waiting for a slot (server.max_queue).",
      collect: () => [[{}, sources.limiter.queued]],
    });
    const { configVersion, ledger } = sources;
    if (configVersion) {
      registry.gauge({
        name: "relay_config_version",
        help: "The version of the config serving now: 1 at start, one more per successful reload.",
        collect: () => [[{}, configVersion()]],
      });
    }
    if (ledger) this.#ledgerMetrics(ledger);
    if (sources.clients) this.#clientMetrics(sources.clients);

    events.listen((event) => {
      switch (event.type) {
        case "request": {
          const { provider, model, status, ttfbS, durationS } = this.#request(event.data);
          requests.inc({ provider, model, status });
          duration.observe({ provider, model }, durationS);
          if (ttfbS !== undefined) ttfb.observe({ provider, model }, ttfbS);
          const { usage } = event.data;
          for (const [type, field] of _TOKEN_TYPES) {
            if (usage && usage[field] > 0) tokens.inc({ provider, model, type }, usage[field]);
          }
          retries.inc({}, Math.max(0, _number(event.data.line.attempts) - 1));
          failovers.inc({}, _number(event.data.line.failovers));
          return;
        }
        case "breaker": {
          const { provider, key, to } = event.data;
          transitions.inc({ provider, scope: key === undefined ? "provider" : "key", to });
          return;
        }
        case "reload":
          reloads.inc({ result: event.data.ok ? "success" : "failure" });
      }
    });
  }

  /** The exposition, in Prometheus' text format. */
  render(): string {
    try {
      return this.#registry.render();
    } finally {
      this.#scraped.clear();
    }
  }

  /**
   * `read`, called once per scrape however many gauges ask: a status is built anew at each call (every
   * provider's keys, every client's windows), and the gauges of one scrape then show one moment.
   */
  #perScrape<T>(read: () => T): () => T {
    return () => {
      if (!this.#scraped.has(read)) this.#scraped.set(read, read());
      return this.#scraped.get(read) as T;
    };
  }

  #ledgerMetrics(ledger: () => LedgerHealth): void {
    const registry = this.#registry;
    registry.gauge({
      name: "relay_ledger_state",
      help: "1 for the state the usage ledger's writing is in (ok, locked by another writer, failing), " +
        "0 for the others.",
      labels: ["state"],
      collect: () => _states({}, ledger().state, _LEDGER_STATES),
    });
    registry.gauge({
      name: "relay_ledger_pending_records",
      help: "Usage records held in memory for the ledger's next batch, and those waiting for room in it.",
      collect: () => [[{}, ledger().pending]],
    });
    registry.counter({
      name: "relay_ledger_records_written_total",
      help: "Usage records written to the ledger.",
      collect: () => [[{}, ledger().written]],
    });
    registry.counter({
      name: "relay_ledger_records_dropped_total",
      help: "Usage records the ledger lost: a database refusing writes, a queue full and unwritable.",
      collect: () => [[{}, ledger().dropped]],
    });
  }

  /** Per client, labelled by its name from the config: what dashboards and budget alerts read. */
  #clientMetrics(status: () => ClientStatus[]): void {
    const registry = this.#registry;
    const clients = this.#perScrape(status);
    const budgeted = () => clients().filter((client) => client.monthlyBudgetUsd !== undefined);
    registry.gauge({
      name: "relay_client_spent_usd",
      help: "What each client spent this calendar month (UTC), as this relay counts it, in USD.",
      labels: ["client"],
      collect: () => clients().map((client) => [{ client: client.name }, client.spentUsd] as const),
    });
    registry.gauge({
      name: "relay_client_budget_usd",
      help: "Each budgeted client's monthly_budget_usd.",
      labels: ["client"],
      collect: () => budgeted().map((client) => [{ client: client.name }, client.monthlyBudgetUsd!] as const),
    });
    registry.gauge({
      name: "relay_client_held_usd",
      help: "What each budgeted client's requests in flight may still spend (their worst case), in USD.",
      labels: ["client"],
      collect: () => budgeted().map((client) => [{ client: client.name }, client.heldUsd] as const),
    });
    registry.gauge({
      name: "relay_client_window_saturation_ratio",
      help: "How spent each client's rpm and tpm windows are, 0 to 1.",
      labels: ["client", "window"],
      collect: () =>
        clients().flatMap((client) =>
          (["rpm", "tpm"] as const).flatMap((window) => {
            const limit = client[window];
            return limit ? [[{ client: client.name, window }, limit.saturation] as const] : [];
          })
        ),
    });
  }

  #request({ line }: RequestSummary) {
    const provider = typeof line.provider === "string" ? line.provider : "none";
    return {
      provider,
      model: provider === "none" ? "none" : this.#models.label(line.model),
      status: String(line.status ?? "none"),
      ttfbS: typeof line.ttfb_ms === "number" ? line.ttfb_ms / 1000 : undefined,
      durationS: _number(line.duration_ms) / 1000,
    };
  }
}

/** The first `max` distinct values keep their own label; the rest share `other`. */
class _BoundedLabel {
  readonly #seen = new Set<string>();

  constructor(readonly max: number) {}

  label(value: LogFields[string]): string {
    if (typeof value !== "string" || value === "") return "none";
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.max || value.length > _MAX_MODEL_CHARS) return "other";
    this.#seen.add(value);
    return value;
  }
}

/** A sample per state `states` holds, 1 for `state` and 0 for the others. */
function _states<S extends string>(
  labels: Labels,
  state: S,
  states: readonly S[],
): (readonly [Labels, number])[] {
  return states.map((candidate) => [{ ...labels, state: candidate }, candidate === state ? 1 : 0]);
}

function _keys(providers: ProviderStatus[]) {
  return providers.flatMap((provider) =>
    provider.keys.map((key) =>
      [{ provider: provider.name, key: `${key.index}:${key.name ?? key.label}` }, key] as const
    )
  );
}

function _number(value: LogFields[string]): number {
  return typeof value === "number" ? value : 0;
}
