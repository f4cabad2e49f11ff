import { Hono } from "hono";
import { type Config, isLoopbackHost } from "../config/schema.ts";
import type { OpenLedger } from "../ledger/open.ts";
import { ConcurrencyLimiter } from "../routing/concurrency.ts";
import type { Router } from "../routing/router.ts";
import { BodyCutError } from "../stream/body_cut.ts";
import { EventBus } from "../util/event_bus.ts";
import type { Logger } from "../util/logger.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../util/prometheus.ts";
import { ADMIN_PREFIX, adminRoutes } from "./admin/index.ts";
import { adminAuth } from "./admin/auth.ts";
import { type AppOptions, clientsOf, createApp } from "./app.ts";
import type { ClientRegistry } from "../ledger/clients.ts";
import type { RelayEvent } from "./events.ts";
import { InFlight } from "./in_flight.ts";
import { RelayMetrics, type RelayMetricsOptions } from "./metrics.ts";
import type { RelayEnv } from "./request_id.ts";
import { requestSettingsFromConfig, type Runtime } from "./runtime.ts";
import { refuseWrongMethods } from "./wrong_method.ts";

export interface ServeOptions extends Omit<AppOptions, "inFlight"> {
  hostname: string;
  port: number;
  /**
   * The live config, when relay serves one it can reload: each request takes its settings from the
   * snapshot current as it starts, and the admin API (`/admin/`) serves and changes it.
   */
  runtime?: Runtime;
  metrics?: RelayMetricsOptions;
  /** The usage ledger's file and health, for the admin status and `/metrics`; left out without one. */
  ledgerHealth?: Pick<OpenLedger, "path" | "health">;
  /**
   * `server.allowed_hosts`, checked only on a loopback `hostname` (see host_guard.ts); with a `runtime`,
   * its current config's are read instead. None when left out.
   */
  allowedHosts?: () => readonly string[];
}

/** A running relay. */
export interface RunningServer {
  /** Where it listens, with the real port when 0 was asked for. */
  readonly url: string;
  /**
   * Resolves when the server has stopped, or its shutdown has given up on connections a client holds
   * open after its answer; those close with the process.
   */
  readonly finished: Promise<void>;
  /** Upstream exchanges under way. */
  readonly inFlight: InFlight;
  /**
   * Answers new requests 503 and lets those under way finish; exchanges still open after `graceMs` are
   * aborted, their clients told with an error event, and a moment later every connection left is closed
   * (a client that stopped reading cannot hold the server). Resolves with whether any were cut.
   */
  shutdown(graceMs: number): Promise<{ cut: boolean }>;
}

/** What a config asks of the server, less where to listen. */
export function serverOptionsFromConfig(
  config: Config,
  router: Router,
  logger: Logger,
): Omit<ServeOptions, "hostname"> {
  const { server } = config;
  return {
    ...requestSettingsFromConfig(config, router, logger),
    port: server.port,
    tokens: server.auth.tokens,
    allowedHosts: () => server.allowed_hosts,
    limiter: new ConcurrencyLimiter({ max: server.max_concurrent, maxQueue: server.max_queue }),
  };
}

/**
 * Starts relay's HTTP server: the relayed routes, `/metrics`, and with a `runtime` the admin API.
 * `/metrics` is open on a loopback address and needs the admin token on any other. On a loopback
 * address every route refuses a request addressed to another name than a loopback one or
 * `server.allowed_hosts` (DNS rebinding: see host_guard.ts).
 *
 * @example
 * ```ts
 * const server = startServer({ hostname: "127.0.0.1", port: 0, router, logger, tokens: [], maxBodyBytes });
 * await server.shutdown(30_000);
 * ```
 */
export function startServer(given: ServeOptions): RunningServer {
  // One registry for the routes that admit requests and the admin status that shows their clients.
  const options = { ...given, clients: clientsOf(given) };
  const inFlight = new InFlight();
  const { runtime } = options;
  const events = runtime?.events ?? new EventBus<RelayEvent>();
  const app = createApp({
    ...options,
    inFlight,
    onRequest: options.onRequest ??
      ((line, usage) => events.publish({ type: "request", data: { line, usage } })),
    settings: runtime && (() => runtime.current.settings),
    // Elsewhere relay requires client tokens, and is reached by whatever names the LAN gives it.
    allowedHosts: isLoopbackHost(options.hostname)
      ? runtime ? () => runtime.current.config.server.allowed_hosts : options.allowedHosts ?? _NO_HOSTS
      : undefined,
  });
  _mountOperations(app, options, events, inFlight);
  const responses = new _OpenResponses();
  // Deno's `server.shutdown()` waits for every response to be sent, for ever if a client stopped reading,
  // and once it is called the signal no longer cuts anything: relay waits for its responses itself, and
  // calls it only once they are all handed over.
  const stop = new AbortController();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    signal: stop.signal,
    onListen: () => {},
    onError: (error) => _internalError(options.logger, error),
  }, (request, info) => {
    // The app refuses a shutdown's new requests; a client retrying in a loop must not keep the drain going.
    if (!inFlight.shuttingDown) responses.add(info.completed);
    return app.fetch(request, info);
  });
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const shutDown = Promise.withResolvers<void>();
  return {
    url: `http://${host}:${port}`,
    finished: Promise.race([server.finished, shutDown.promise]),
    inFlight,
    async shutdown(graceMs: number) {
      inFlight.beginShutdown();
      // Event streams never end by themselves: end them, or the drain would wait out the grace.
      events.close();
      const cut = !await _settlesWithin(responses.drained(), graceMs);
      if (cut) {
        inFlight.abortAll(new Error("relay shut down before the upstream finished (server.shutdown_grace)"));
      }
      if (!cut || await _settlesWithin(responses.drained(), _CUT_DELIVERY_MS)) {
        // Every response is handed over: Deno's shutdown lets the last bytes go out. It then waits for
        // each connection's request body to end, for ever if a client answered before its upload was in
        // (a 413, a 408, a cut upload's 503) holds the upload open: relay stops waiting for those.
        await _settlesWithin(server.shutdown(), _HELD_UPLOAD_MS);
      } else {
        // A client that stopped reading holds its response: its connection is closed under it.
        stop.abort();
        // A server that stopped accepting connections (out of file descriptors) has failed already, and
        // said so through `finished`.
        await server.finished.catch(() => {});
      }
      shutDown.resolve();
      return { cut };
    },
  };
}

// One list, so that the guard builds its set once.
const _NONE: readonly string[] = [];
const _NO_HOSTS = () => _NONE;

/** How long a cut stream's error event gets to reach its client before the connections are closed. */
const _CUT_DELIVERY_MS = 1_000;

/** How long a shutdown waits for clients answered before their upload was in to close their connections. */
const _HELD_UPLOAD_MS = 1_000;

/** The responses not yet sent whole (or failed), so a shutdown knows when every client has its answer. */
class _OpenResponses {
  readonly #open = new Set<Promise<void>>();

  /** Tracks a response by the promise Deno settles once it is sent, or could not be. */
  add(completed: Promise<void>): void {
    const settled: Promise<void> = completed.catch(() => {}).finally(() => this.#open.delete(settled));
    this.#open.add(settled);
  }

  /** Resolves once no response is open. */
  async drained(): Promise<void> {
    while (this.#open.size > 0) await Promise.all(this.#open);
  }
}

/** Whether `promise` settles within `ms`. */
async function _settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    // Settled either way: a rejection after the wait gave up must not go unhandled.
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * relay's server as `relay serve` runs it: the runtime's config and router, the ledger's clients and
 * recorder, on `server.host` and `server.port`. The bench's worker starts the same, so what it measures
 * is what people run.
 *
 * @example
 * ```ts
 * const server = startRelayServer(runtime, await openLedger(runtime.current.config, { logger: runtime.logger }));
 * ```
 */
export function startRelayServer(runtime: Runtime, ledger: OpenLedger): RunningServer {
  const { config, router } = runtime.current;
  return startServer({
    ...serverOptionsFromConfig(config, router, runtime.logger),
    runtime,
    clients: ledger.clients,
    ledger: ledger.recorder,
    ledgerHealth: ledger,
    hostname: config.server.host,
  });
}

function _mountOperations(
  app: Hono<RelayEnv>,
  options: ServeOptions & { clients: ClientRegistry },
  events: EventBus<RelayEvent>,
  inFlight: InFlight,
): void {
  const { runtime, limiter, ledgerHealth } = options;
  const metrics = new RelayMetrics(events, {
    router: () => (runtime?.current ?? options).router,
    limiter,
    configVersion: runtime && (() => runtime.current.version),
    ledger: ledgerHealth?.health,
    clients: () => options.clients.status(),
  }, options.metrics);
  const scrape = () =>
    new Response(metrics.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
  // Its own app, so that its wrong methods are refused once its token check passed, as the app's are:
  // the app's were refused before this route was added.
  const scraping = new Hono<RelayEnv>();
  if (!isLoopbackHost(options.hostname)) {
    const token = () => runtime?.current.config.server.admin.token;
    scraping.use("/metrics", adminAuth(token, "/metrics on a non-loopback address needs server.admin.token"));
  }
  scraping.get("/metrics", scrape);
  refuseWrongMethods(scraping);
  app.route("/", scraping);
  if (runtime) {
    const { wallClock } = options;
    const started = { at: (wallClock ?? Date.now)(), monotonic: runtime.monotonic() };
    app.route(
      ADMIN_PREFIX,
      adminRoutes({
        runtime,
        limiter,
        inFlight,
        ledger: ledgerHealth,
        clients: options.clients,
        started,
        wallClock,
      }),
    );
  }
}

/**
 * Deno's server calls this with what the app's own error handling never saw: mostly a response body that
 * failed. A body relay broke off on purpose is told in its request's access line already; anything else
 * is a bug, logged with its stack.
 */
function _internalError(logger: Logger, error: unknown): Response {
  if (!(error instanceof BodyCutError)) {
    logger.error("unhandled", { error: String(error instanceof Error ? error.stack : error) });
  }
  return new Response("internal error", { status: 500 });
}
