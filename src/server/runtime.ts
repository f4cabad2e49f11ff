import { ConfigError } from "../config/errors.ts";
import type { LoadedConfig } from "../config/load.ts";
import type { Locator } from "../config/yaml_document.ts";
import { type Config, isLoopbackHost, maxBodyMemory } from "../config/schema.ts";
import { type ProviderEnvironment, systemEnvironment } from "../providers/registry.ts";
import { routesFromConfig, routingOptionsFromConfig } from "../routing/routes.ts";
import { Router } from "../routing/router.ts";
import type { EventBus } from "../util/event_bus.ts";
import type { LogFields, Logger } from "../util/logger.ts";
import type { RelayEvent, ReloadOutcome } from "./events.ts";
import type { RequestSettings } from "./relay.ts";
import { errorMessage } from "../util/error_message.ts";

/** One config as relay serves it: what each request reads once, as it starts, and keeps to its end. */
export interface Snapshot {
  /** 1 for the config relay started on, one more for each successful reload. */
  readonly version: number;
  /** Wall-clock ms. */
  readonly loadedAt: number;
  /** Monotonic ms (`RuntimeOptions.monotonic`), which how long ago it loaded is measured on. */
  readonly loadedAtMonotonic: number;
  /** `undefined` on the built-in defaults. */
  readonly path: string | undefined;
  readonly config: Config;
  readonly router: Router;
  /** Puts `config_version` on every line. */
  readonly logger: Logger;
  readonly settings: RequestSettings;
}

/** A config relay served, as the admin API lists them. */
export interface ConfigRecord {
  version: number;
  loadedAt: number;
  path: string | undefined;
  providers: string[];
}

/** A reload that failed, and changed nothing. */
export interface ReloadFailure {
  /** Wall-clock ms. */
  at: number;
  /** Monotonic ms (`RuntimeOptions.monotonic`), which how long ago it failed is measured on. */
  atMonotonic: number;
  reason: string;
  error: string;
}

/** What a reload did to the providers, by name. */
export interface ProviderChanges {
  added: string[];
  removed: string[];
  /** Rebuilt from their new config: their live state starts fresh. */
  changed: string[];
  /** Unchanged: their pools, breakers and counters carried over. */
  kept: string[];
}

export type ReloadResult =
  | { ok: true; version: number; changes: ProviderChanges; needsRestart: string[] }
  | { ok: false; version: number; error: string };

export interface RuntimeOptions {
  /** The config relay starts on, already checked; its restart-only settings stay in force until a restart. */
  config: Config;
  path: string | undefined;
  /**
   * Reads the file again and checks it in full (mode, YAML, schema, `${VAR}`s, model mappings),
   * throwing `ConfigError`; left out on the built-in defaults, where there is nothing to read again.
   */
  load?: () => Promise<LoadedConfig>;
  /** Where a config path is in the start config's file, for a provider's credentials error. */
  locate?: Locator;
  /** The logger a config asks for; the runtime stamps the version on it. */
  logger: (config: Config) => Logger;
  events: EventBus<RelayEvent>;
  /** Where providers find credentials; the machine's own unless given. */
  environment?: ProviderEnvironment;
  /** Wall-clock ms. */
  now?: () => number;
  /**
   * Monotonic ms, `performance.now` unless given: how long ago a config loaded is told on it, since a
   * step of the wall clock would make it "0s" or hours.
   */
  monotonic?: () => number;
}

/** How many configs {@linkcode Runtime.history} keeps. */
const _KEPT = 5;

/**
 * Settings that take a restart to change: the socket, the server-wide limiter, and the usage ledger's
 * database and writer. (Clients and prices live beside the snapshots and follow reloads: see
 * {@linkcode Runtime.follow}.)
 */
const _RESTART_ONLY: [string, (config: Config) => unknown][] = [
  ["server.host", (config) => config.server.host],
  ["server.port", (config) => config.server.port],
  ["server.max_concurrent", (config) => config.server.max_concurrent],
  ["server.max_queue", (config) => config.server.max_queue],
  ["ledger", (config) => config.ledger],
];

/**
 * The config relay serves now, swapped whole on reload. A reload reads and checks the file in full and
 * builds the new providers (finding their credentials) before anything changes; any failure leaves
 * the current config serving, and is logged, published and kept for the admin API. A request holds
 * the snapshot it started with, so a provider or key a reload removed finishes the streams it carries
 * and takes no new ones. Providers whose config did not change keep their live state (see `Router`).
 * Reloads run one at a time, in the order asked.
 *
 * @example
 * ```ts
 * const runtime = new Runtime({ config, path, load: () => loadConfigFile(path), logger: () => log, events });
 * Deno.addSignalListener("SIGHUP", () => runtime.reload("SIGHUP"));
 * const { router, logger } = runtime.current; // read once per request
 * ```
 */
export class Runtime {
  readonly events: EventBus<RelayEvent>;
  /** A logger that always writes with the current version, for lines outside any request. */
  readonly logger: Logger;
  readonly #options: RuntimeOptions;
  /** The monotonic clock (`RuntimeOptions.monotonic`) the admin status measures every span on. */
  readonly monotonic: () => number;
  readonly #now: () => number;
  readonly #history: ConfigRecord[] = [];
  #current: Snapshot;
  #lastError: ReloadFailure | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #followers: ((config: Config) => void)[] = [];
  readonly #preparers: (() => void)[] = [];

  /** Builds the first snapshot, version 1; throws `ConfigError` when a provider's credentials are missing. */
  constructor(options: RuntimeOptions) {
    this.#options = options;
    this.events = options.events;
    this.#now = options.now ?? Date.now;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.#current = this.#snapshot(1, options.config, undefined, options.locate);
    this.#history.push(_record(this.#current));
    this.logger = _liveLogger(() => this.#current.logger);
  }

  get current(): Snapshot {
    return this.#current;
  }

  /** The configs served, the current one last; at most five. */
  get history(): readonly ConfigRecord[] {
    return this.#history;
  }

  /** The last reload that failed, until one succeeds. */
  get lastError(): ReloadFailure | undefined {
    return this.#lastError;
  }

  /** Whether there is a file to read again. */
  get reloadable(): boolean {
    return this.#options.load !== undefined;
  }

  /**
   * The restart-only settings (`server.host`, `server.port`, ...) the config serving sets otherwise than
   * the one relay started on: they wait for a restart, however many reloads ago they changed.
   */
  get needsRestart(): string[] {
    return _restartOnlyChanges(this.#options.config, this.#current.config);
  }

  /**
   * Has `apply` called with each config a reload swaps in, right after the swap: for state that lives
   * beside the snapshots because it must carry over (the clients' windows and spend, kept by the
   * ledger, which takes their tokens and the prices from the new config).
   */
  follow(apply: (config: Config) => void): void {
    this.#followers.push(apply);
  }

  /**
   * Calls `prepare` each time a reload is about to read the file, whatever asked for it (the file
   * watcher takes the file as it is then for seen, so it reloads only what comes after).
   */
  beforeEachReload(prepare: () => void): void {
    this.#preparers.push(prepare);
  }

  /** Reads the config again and swaps it in if it is valid; `reason` says who asked, in the log. */
  reload(reason: string): Promise<ReloadResult> {
    const run = this.#queue.then(() => this.#reload(reason));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #reload(reason: string): Promise<ReloadResult> {
    const previous = this.#current;
    let next: Snapshot;
    try {
      if (!this.#options.load) {
        throw new Error("relay runs on its built-in defaults: there is no config file to reload");
      }
      for (const prepare of this.#preparers) prepare();
      const { config, warnings, locate } = await this.#options.load();
      _checkTokensWhereBound(this.#options.config.server.host, config, previous.path);
      next = this.#snapshot(previous.version + 1, config, previous.router, locate);
      for (const warning of warnings) next.logger.warn("config", { warning });
    } catch (error) {
      const message = errorMessage(error);
      this.#lastError = { at: this.#now(), atMonotonic: this.monotonic(), reason, error: message };
      previous.logger.error("config reload failed", { reason, path: previous.path, error: message });
      this.#publish({ ok: false, version: previous.version, reason, error: message });
      return { ok: false, version: previous.version, error: message };
    }
    this.#current = next;
    for (const apply of this.#followers) apply(next.config);
    this.#lastError = undefined;
    this.#history.push(_record(next));
    if (this.#history.length > _KEPT) this.#history.shift();
    const changes = _changes(previous.router, next.router);
    const needsRestart = this.needsRestart;
    next.logger.info("config reloaded", { reason, path: next.path, ..._listed(changes) });
    if (needsRestart.length > 0) {
      next.logger.warn("config change needs a restart", {
        fields: needsRestart.join(","),
        hint: "the values relay started with stay in force until it restarts",
      });
    }
    // The reload first: an events reader whose admin token it revoked is let go then, before what follows.
    this.#publish({ ok: true, version: next.version, reason });
    for (const undone of next.router.undoneSwitches) {
      next.logger.warn("switched on", { ...undone, by: "reload" });
      this.events.publish({ type: "switch", data: { ...undone, enabled: true } });
    }
    for (const change of next.router.resetBreakers) {
      next.logger.info("breaker", { ...change, by: "reload" });
      this.events.publish({ type: "breaker", data: change });
    }
    return { ok: true, version: next.version, changes, needsRestart };
  }

  #snapshot(version: number, config: Config, previous: Router | undefined, locate?: Locator): Snapshot {
    const { path, environment, events } = this.#options;
    const logger = this.#options.logger(config).with({ config_version: version });
    const routes = routesFromConfig(config, path, { ...environment ?? systemEnvironment, logger }, locate);
    const router = new Router(routes, {
      ...routingOptionsFromConfig(config),
      // The runtime's clocks (real unless given): a test's fake clock drives breakers and cooling too.
      now: this.monotonic,
      wallClock: this.#now,
      onBreakerChange: (change) => {
        (change.to === "open" ? logger.warn : logger.info)("breaker", { ...change });
        events.publish({ type: "breaker", data: change });
      },
      onKeyDisabled: (disabled) => events.publish({ type: "key_disabled", data: disabled }),
    }, { previous });
    const settings: RequestSettings = {
      ...requestSettingsFromConfig(config, router, logger),
      onRequest: (line, usage) =>
        events.publish({ type: "request", data: { line, configVersion: version, usage } }),
    };
    return {
      version,
      loadedAt: this.#now(),
      loadedAtMonotonic: this.monotonic(),
      path,
      config,
      router,
      logger,
      settings,
    };
  }

  #publish(outcome: ReloadOutcome): void {
    this.events.publish({ type: "reload", data: outcome });
  }
}

/**
 * What a config sets of the request path: its router and logger, body and queue limits, retries,
 * keep-alives, whether bodies are logged.
 *
 * @example
 * ```ts
 * const settings = requestSettingsFromConfig(config, router, logger);
 * ```
 */
export function requestSettingsFromConfig(config: Config, router: Router, logger: Logger): RequestSettings {
  const { server, routing } = config;
  return {
    router,
    logger,
    maxBodyBytes: server.max_body_size,
    bodyTimeoutMs: server.body_timeout,
    maxBodyMemory: maxBodyMemory(server),
    keepaliveMs: server.keepalive,
    queueTimeoutMs: server.queue_timeout,
    logBodies: config.log.bodies,
    retry: {
      maxAttempts: routing.max_attempts,
      backoff: {
        baseMs: routing.backoff,
        maxMs: routing.max_backoff,
        maxRetryAfterMs: routing.max_retry_after,
      },
      maxWaitMs: routing.max_wait,
    },
  };
}

/** The restart-only fields `next` sets otherwise than `started`. */
function _restartOnlyChanges(started: Config, next: Config): string[] {
  return _RESTART_ONLY.filter(([, read]) => JSON.stringify(read(started)) !== JSON.stringify(read(next)))
    .map(([field]) => field);
}

/**
 * Refuses a config without client tokens while relay is bound to an address other machines reach: the
 * address it started on counts, not the file's, since `server.host` takes a restart.
 */
function _checkTokensWhereBound(boundHost: string, config: Config, path: string | undefined): void {
  if (isLoopbackHost(boundHost) || config.server.auth.tokens.length > 0) return;
  throw new ConfigError(path ?? "the config", [{
    path: "server.auth.tokens",
    message: `relay listens on ${boundHost} until it restarts (server.host takes a restart), which ` +
      "requires server.auth.tokens: without them anyone who can reach relay spends your keys",
  }]);
}

function _record(snapshot: Snapshot): ConfigRecord {
  return {
    version: snapshot.version,
    loadedAt: snapshot.loadedAt,
    path: snapshot.path,
    providers: snapshot.router.routes.map((route) => route.provider.name),
  };
}

function _changes(previous: Router, next: Router): ProviderChanges {
  const before = new Map(previous.routes.map((route) => [route.provider.name, route.fingerprint]));
  const after = new Set(next.routes.map((route) => route.provider.name));
  const changes: ProviderChanges = { added: [], removed: [], changed: [], kept: [] };
  for (const route of next.routes) {
    const name = route.provider.name;
    if (!before.has(name)) changes.added.push(name);
    else if (before.get(name) === route.fingerprint) changes.kept.push(name);
    else changes.changed.push(name);
  }
  changes.removed = [...before.keys()].filter((name) => !after.has(name));
  return changes;
}

function _listed(changes: ProviderChanges): LogFields {
  return Object.fromEntries(
    Object.entries(changes).map(([what, names]) => [what, names.join(",") || undefined]),
  );
}

function _liveLogger(current: () => Logger): Logger {
  return {
    debug: (msg, fields) => current().debug(msg, fields),
    info: (msg, fields) => current().info(msg, fields),
    warn: (msg, fields) => current().warn(msg, fields),
    error: (msg, fields) => current().error(msg, fields),
    with: (fields) => _liveLogger(() => current().with(fields)),
  };
}
