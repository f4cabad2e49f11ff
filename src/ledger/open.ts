import { join } from "node:path";
import { namedClients } from "../config/clients.ts";
import type { Config } from "../config/schema.ts";
import type { Timers } from "../util/timers.ts";
import type { Logger } from "../util/logger.ts";
import { noHomeError } from "../config/find.ts";
import { expandHome, homeFolder, xdgFolder } from "../util/home.ts";
import { calendarMonth, ClientRegistry, type SpendReader } from "./clients.ts";
import type { LedgerRecord } from "./entry.ts";
import { Pricing } from "./pricing.ts";
import { UsageRecorder } from "./recorder.ts";
import { Retention } from "./retention.ts";
import { SharedSpend } from "./shared_spend.ts";
import { LedgerStore } from "./store.ts";
import { type LedgerHealth, LedgerWriter } from "./writer.ts";
import { stableJson } from "../util/stable_json.ts";
import { errorMessage } from "../util/error_message.ts";

/** The ledger as `relay serve` runs it, and the clients whose budgets it feeds. */
export interface OpenLedger {
  /** The configured clients, their month-to-date spend read from the database. */
  readonly clients: ClientRegistry;
  /** Where relay hands each ended request. */
  readonly recorder: UsageRecorder;
  /** The database file; `undefined` when `ledger.enabled` is false. */
  readonly path: string | undefined;
  /**
   * How writing goes, read when asked (the admin status, `/metrics`); `undefined` when `ledger.enabled`
   * is false.
   */
  readonly health: (() => LedgerHealth) | undefined;
  /**
   * Takes a reloaded config's clients (`server.auth`) and prices (`pricing`), keeping each client's
   * windows, spend and what its requests in flight hold; the rest of `ledger` takes a restart.
   */
  reconfigure(config: Config): void;
  /** Writes every record still held, stops pruning and closes the database. */
  close(): Promise<void>;
}

export interface OpenLedgerOptions {
  logger: Logger;
  env?: (name: string) => string | undefined;
  /** Wall-clock ms. */
  now?: () => number;
  timers?: Timers;
}

/**
 * Where the ledger lives: `ledger.path`, else `$XDG_DATA_HOME/relay/ledger.db`, else
 * `~/.local/share/relay/ledger.db`. Throws `ConfigError` when that takes a home folder and `$HOME` is
 * unset, rather than putting the ledger under `/`. Loading a config file has made `ledger.path` absolute
 * already; only `relay usage` on a file that does not load hands over a `~/` one, left for this to refuse
 * when there is no home.
 *
 * @example
 * ```ts
 * ledgerPath(undefined, (name) => ({ HOME: "/home/me" })[name]); // "/home/me/.local/share/relay/ledger.db"
 * ```
 */
export function ledgerPath(
  configured: string | undefined,
  env: (name: string) => string | undefined,
): string {
  const home = homeFolder(env);
  if (configured !== undefined) {
    const path = expandHome(configured, home);
    if (path !== undefined) return path;
  } else {
    const data = xdgFolder(env, "XDG_DATA_HOME", home);
    if (data !== undefined) return join(data, "relay", "ledger.db");
  }
  throw noHomeError(
    "its usage ledger (ledger.path, else ~/.local/share/relay/ledger.db)",
    "set $XDG_DATA_HOME, or ledger.path in the config (or ledger.enabled: false)",
  );
}

/**
 * Opens the ledger a config describes: the database (created 0600 in a 0700 folder), its batching
 * writer and its pruning schedule, and the clients of `server.auth.tokens` with what each spent this
 * month. With `ledger.enabled: false` nothing touches the disk and budgets count from zero. While another
 * process holds the lock on the ledger's folder (another relay opening it, `flock`, a backup tool), it
 * waits without holding up relay's thread, and warns once that it does.
 *
 * @example
 * ```ts
 * const ledger = await openLedger(config, { logger });
 * startServer({ ...serverOptionsFromConfig(config, router, logger), clients: ledger.clients, ledger: ledger.recorder });
 * // ... after the server stopped:
 * await ledger.close();
 * ```
 */
export async function openLedger(config: Config, options: OpenLedgerOptions): Promise<OpenLedger> {
  const now = options.now ?? Date.now;
  const pricing = _pricingOf(config);
  if (!config.ledger.enabled) {
    const clients = new ClientRegistry(_clientsOf(config), { now, pricing });
    const recorder = new UsageRecorder({ pricing, clients, logger: options.logger });
    const file = { path: undefined, health: undefined };
    return _opened(clients, recorder, file, () => Promise.resolve(), _pricesOf(config));
  }
  const path = ledgerPath(config.ledger.path, options.env ?? ((name) => Deno.env.get(name)));
  const store = await LedgerStore.openWhenFree(path, { logger: options.logger });
  const readMonth = _spendReader(new SharedSpend(store), options.logger);
  const clients = new ClientRegistry(_clientsOf(config), {
    now,
    spent: store.costByClient(calendarMonth(now())),
    readMonth,
    pricing,
  });
  const writer = new LedgerWriter({
    write: (records, last) => {
      store.insert(records, { waitForLock: last });
      _readBack(clients, records, store, readMonth, options.logger);
    },
    queueSize: config.ledger.queue_size,
    flushIntervalMs: config.ledger.flush_interval,
    logger: options.logger,
    timers: options.timers,
  });
  const retention = new Retention({
    store,
    retentionDays: config.ledger.retention_days,
    now,
    timers: options.timers,
    logger: options.logger,
  });
  retention.start();
  const recorder = new UsageRecorder({ pricing, clients, writer, logger: options.logger });
  return _opened(clients, recorder, { path, health: () => writer.health }, async () => {
    retention.stop();
    await writer.close();
    store.close();
  }, _pricesOf(config));
}

function _opened(
  clients: ClientRegistry,
  recorder: UsageRecorder,
  file: Pick<OpenLedger, "path" | "health">,
  close: () => Promise<void>,
  pricedBy: string,
): OpenLedger {
  return {
    clients,
    recorder,
    ...file,
    close,
    reconfigure(next) {
      clients.reconfigure(_clientsOf(next));
      // A reload that leaves the prices as they were keeps them, and what was warned of them: a relay
      // reloaded every few seconds warned of each unpriced model again each time (8,416 lines in a soak).
      const prices = _pricesOf(next);
      if (prices === pricedBy) return;
      pricedBy = prices;
      // One table for both: what a request holds of a budget and what it is charged, by the same prices.
      const pricing = _pricingOf(next);
      clients.reprice(pricing);
      recorder.reprice(pricing);
    },
  };
}

/**
 * Tells `clients` that `records` are in the file and, when another relay sharing it has written since
 * (a lone relay need not read anything back), lets them read back what this month holds. A failed read
 * leaves them on their own count; it must not fail the batch, which is written already and would be
 * written twice.
 */
function _readBack(
  clients: ClientRegistry,
  records: readonly LedgerRecord[],
  store: LedgerStore,
  readMonth: SpendReader,
  logger: Logger,
): void {
  try {
    clients.written(records, store.writtenByOthers() ? readMonth : undefined);
  } catch (error) {
    _cannotRead(logger, error);
  }
}

/**
 * Reads a month's spend from the file a batch at a time (`spend`), saying so and giving `undefined`
 * when it cannot: the clients then keep their own count.
 */
function _spendReader(spend: SharedSpend, logger: Logger): SpendReader {
  return (month, names) => {
    try {
      return spend.read(month, names);
    } catch (error) {
      _cannotRead(logger, error);
      return undefined;
    }
  };
}

function _cannotRead(logger: Logger, error: unknown): void {
  logger.warn("could not read the month's spend back from the ledger", { error: errorMessage(error) });
}

function _clientsOf(config: Config) {
  return config.server.auth.clients ?? namedClients(config.server.auth.tokens);
}

/**
 * A config's prices, by where its providers run models: one construction for start and reload, so what
 * a request holds of a budget and what it is charged always come from the same prices.
 */
function _pricingOf(config: Config): Pricing {
  return new Pricing(config.pricing, config.providers);
}

/** What a config's prices are made of ({@linkcode _pricingOf}), to tell a reload that changed them. */
function _pricesOf({ pricing, providers }: Config): string {
  return stableJson([
    pricing,
    providers.map(({ name, type, ...rest }) => [name, type, "region" in rest ? rest.region : undefined]),
  ]);
}
