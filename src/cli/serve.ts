import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { ConfigError } from "../config/errors.ts";
import { type Config, configSchema, isLoopbackHost } from "../config/schema.ts";
import { loadConfigFile, type LoadedConfig } from "../config/load.ts";
import { resolveConfig } from "../config/resolve.ts";
import { ledgerPath, type OpenLedger, openLedger } from "../ledger/open.ts";
import { Runtime } from "../server/runtime.ts";
import { startRelayServer } from "../server/serve.ts";
import { EventBus } from "../util/event_bus.ts";
import { createLogger, type Logger } from "../util/logger.ts";
import { StderrSink } from "../util/stderr_sink.ts";
import { DEFAULT_LEDGER_HINT, LEDGER_PATH_HINT } from "./_ledger_hints.ts";
import { fileInTheWay } from "../ledger/unwritable.ts";
import { reportConfigError } from "./_config_error.ts";
import { reloadTriggers } from "./_reload_triggers.ts";
import { errorMessage, fileErrorMessage, outOfFileDescriptors } from "../util/error_message.ts";
import { CONFIG_SEARCH } from "../config/find.ts";

/**
 * `relay serve`: runs relay until SIGINT/SIGTERM, then drains in-flight streams. SIGHUP, a change to
 * the config file and `POST /admin/reload` reload the config.
 */
export function serveCommand(setExitCode: (code: number) => void) {
  return new Command("serve")
    .description("start relay (with no config file: Anthropic from $ANTHROPIC_API_KEY, else the mock)")
    .option(
      "-c, --config <path>",
      `config file (default: ${CONFIG_SEARCH})`,
    )
    .option("-p, --port <port>", "port to listen on, overriding server.port (0: any free port)", _parsePort)
    .option("-H, --host <host>", "address to bind, overriding server.host", _parseHost)
    .action(async (options) => setExitCode(await _serve(options)));
}

/** How long relay's last log lines may take to go out when it stops; a stuck reader must not keep it. */
const _FLUSH_MS = 1_000;
/** The same when told to stop at once. */
const _FLUSH_AT_ONCE_MS = 100;

/** How soon after the first a second signal is taken for the same keypress (`deno task` doubles it). */
export const SAME_KEYPRESS_MS = 50;

/**
 * Log lines are written at most this often, those that came meanwhile together: under load a line per
 * request would be a write per request, and 20 ms later is still at once to whoever reads them.
 */
const _LOG_WRITE_GAP_MS = 20;

type _ServeOptions = { config?: string; port?: number; host?: string };

/** `relay serve`, its log lines going out through a sink that never waits for stderr's reader. */
async function _serve(options: _ServeOptions): Promise<number> {
  const format = Deno.stderr.isTerminal() ? "text" : "json";
  const sink = new StderrSink({
    gapMs: _LOG_WRITE_GAP_MS,
    onDropped: (count) =>
      createLogger({ format, write: sink.writeLine }).warn("log lines dropped", {
        count,
        reason: "stderr was not read as fast as relay wrote",
      }),
  });
  try {
    return await _serveLogged(options, sink, format);
  } finally {
    await sink.flush(_FLUSH_MS);
  }
}

async function _serveLogged(
  options: _ServeOptions,
  sink: StderrSink,
  format: "text" | "json",
): Promise<number> {
  let config: Config;
  let logger: Logger;
  let runtime: Runtime;
  let path: string | undefined;
  let ledger: OpenLedger;
  try {
    const resolved = await resolveConfig({ flag: options.config });
    path = resolved.path;
    config = _withOverrides(resolved.config, resolved.path, options);
    runtime = new Runtime({
      config,
      path,
      load: _reload(path, options),
      locate: resolved.locate,
      logger: (config) => createLogger({ level: config.log.level, format, write: sink.writeLine }),
      events: new EventBus(),
    });
    logger = runtime.logger;
    if (resolved.banner) console.error(resolved.banner);
    for (const warning of resolved.warnings) logger.warn("config", { warning });
    logger.info("config", { path: resolved.path ?? "none (built-in defaults)" });
  } catch (error) {
    // Its message is written at once: the log lines before it go first.
    await sink.flush(_FLUSH_MS);
    return reportConfigError(error);
  }
  try {
    ledger = await _openLedger(config, path, logger);
    runtime.follow((next) => ledger.reconfigure(next));
  } catch (error) {
    await sink.flush(_FLUSH_MS);
    const file = _ledgerFile(config);
    console.error(
      `relay cannot open its usage ledger ${file}: ${fileInTheWay(file, error) ?? fileErrorMessage(error)}`,
    );
    console.error(_ledgerHint(error));
    return 1;
  }

  let server;
  try {
    server = startRelayServer(runtime, ledger);
  } catch (error) {
    if (!_cannotListen(error)) throw error;
    await sink.flush(_FLUSH_MS);
    console.error(`relay cannot listen on ${config.server.host}:${config.server.port}: ${error.message}`);
    await ledger.close();
    return 1;
  }
  // Before "listening", which tells whoever waits on it that relay is ready for SIGHUP and edits.
  const triggers = reloadTriggers(runtime, path);
  logger.info("listening", { url: server.url, providers: config.providers.map((p) => p.name).join(",") });

  let stopping: Promise<void> | undefined;
  let firstSignalAt = 0;
  const drain = () => {
    firstSignalAt = performance.now();
    const graceMs = runtime.current.config.server.shutdown_grace;
    logger.info("shutting down", {
      in_flight: server.inFlight.size,
      grace_ms: graceMs,
      hint: "signal again to stop at once",
    });
    stopping = server.shutdown(graceMs).then(({ cut }) => {
      if (cut) logger.warn("grace period over: in-flight streams cut", { grace_ms: graceMs });
    });
  };
  const onSignal = () => {
    if (!stopping) return drain();
    // One Ctrl-C under `deno task serve` is two SIGINTs about a millisecond apart (the task passes the
    // terminal's on, and relay gets it from the terminal too): the second is the same keypress, which
    // asked for a drain, not a cut. No person presses Ctrl-C twice within 50 ms.
    if (performance.now() - firstSignalAt < SAME_KEYPRESS_MS) return;
    logger.warn("stopped at once: in-flight streams cut");
    // The records of requests that ended are written (a few ms), those of the streams cut are lost.
    ledger.close().finally(() => sink.flush(_FLUSH_AT_ONCE_MS)).finally(() => Deno.exit(1));
  };
  for (const signal of _SIGNALS) Deno.addSignalListener(signal, onSignal);
  // Deno's server stops for good when it cannot accept a connection (out of file descriptors), while
  // the connections it has go on: relay says why, lets their streams finish as on SIGTERM (their
  // records written, their tokens charged), then exits 1 for a supervisor to start it again.
  const failure = await server.finished.then(() => undefined, (error: unknown) => error);
  if (failure !== undefined) {
    logger.error("relay stopped accepting connections", {
      error: String(failure),
      hint: _acceptHint(failure),
    });
    if (!stopping) drain();
  }
  await stopping;
  for (const signal of _SIGNALS) Deno.removeSignalListener(signal, onSignal);
  triggers.stop();
  // Every stream has ended (or, the server gone, had its connection with it): what was recorded is written.
  await ledger.close();
  if (failure !== undefined) return 1;
  logger.info("stopped");
  return 0;
}

/**
 * The config's ledger, opened. On the built-in defaults relay serves even when the default ledger
 * cannot be opened (a read-only home), without recording usage, and says so: only a ledger a config
 * file asks for is worth refusing to start over. Throws what {@linkcode openLedger} throws otherwise.
 */
async function _openLedger(
  config: Config,
  configPath: string | undefined,
  logger: Logger,
): Promise<OpenLedger> {
  try {
    const ledger = await openLedger(config, { logger });
    logger.info("ledger", { path: ledger.path ?? "off (ledger.enabled: false)" });
    return ledger;
  } catch (error) {
    if (configPath !== undefined) throw error;
    logger.warn("relay cannot open its usage ledger, so usage is not recorded", {
      path: _ledgerFile(config),
      error: fileErrorMessage(error),
      hint: DEFAULT_LEDGER_HINT,
    });
    logger.info("ledger", { path: "off (it could not be opened)" });
    return await openLedger({ ...config, ledger: { ...config.ledger, enabled: false } }, { logger });
  }
}

/**
 * The ledger file, for a message; a stand-in when relay has no folder for it (no `$HOME` nor
 * `$XDG_DATA_HOME`), which the error itself names.
 */
function _ledgerFile(config: Config): string {
  try {
    return ledgerPath(config.ledger.path, (name) => Deno.env.get(name));
  } catch {
    return "(no folder for it)";
  }
}

/**
 * What to do about a ledger that cannot be opened. SQLite says what it found in words only
 * (`node:sqlite` gives no result code), so its words tell a damaged file, or one that is no database,
 * from a place relay cannot write.
 */
function _ledgerHint(error: unknown): string {
  const message = errorMessage(error);
  if (/database disk image is malformed|file is not a database/.test(message)) {
    return "the file is damaged or is not a database: move it aside (relay starts a new one; sqlite3's " +
      ".recover may save its records), or set ledger.path to another file, or ledger.enabled: false";
  }
  if (/written by a newer relay/.test(message)) {
    return "run that newer relay, or set ledger.path to another file, or ledger.enabled: false";
  }
  return LEDGER_PATH_HINT;
}

/** What to do about the server's failing to accept connections, when relay can tell. */
function _acceptHint(error: unknown): string | undefined {
  if (!outOfFileDescriptors(error)) return undefined;
  return "every file descriptor is in use (idle or half-sent connections hold one each): raise the limit " +
    "(ulimit -n, LimitNOFILE=) or put a proxy that closes idle connections in front of relay";
}

/** How a reload reads the file again: checked in full, with the command line's overrides. */
function _reload(
  path: string | undefined,
  options: { port?: number; host?: string },
): (() => Promise<LoadedConfig>) | undefined {
  if (path === undefined) return undefined;
  return async () => {
    const loaded = await loadConfigFile(path);
    return { ...loaded, config: _withOverrides(loaded.config, path, options) };
  };
}

/** `--host`/`--port` win over the file, under the same rule the file is checked by. */
function _withOverrides(
  config: Config,
  path: string | undefined,
  options: { port?: number; host?: string },
): Config {
  const host = options.host ?? config.server.host;
  const port = options.port ?? config.server.port;
  if (!isLoopbackHost(host) && config.server.auth.tokens.length === 0) {
    throw new ConfigError(path ?? "--host", [{
      path: "server.auth.tokens",
      message:
        `binding ${host} requires server.auth.tokens: without them anyone who can reach relay spends your keys`,
    }]);
  }
  return { ...config, server: { ...config.server, host, port } };
}

const _SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];

/**
 * Whether starting the server failed at binding its address (in use, not this machine's, not allowed, a
 * name that does not resolve), which the config or the flags can fix, rather than inside relay.
 */
function _cannotListen(error: unknown): error is Error {
  return _BIND_ERRORS.some((kind) => error instanceof kind) || error instanceof URIError ||
    (error instanceof Error && error.message.startsWith("failed to lookup address"));
}

const _BIND_ERRORS = [
  Deno.errors.AddrInUse,
  Deno.errors.AddrNotAvailable,
  Deno.errors.PermissionDenied,
  Deno.errors.NotFound,
];

/** The file's rule for `server.host`: an unset $HOST, or a typo, must not reach the loopback check. */
function _parseHost(value: string): string {
  const checked = _HOST.safeParse(value);
  if (!checked.success) throw new InvalidArgumentError(checked.error.issues[0].message);
  return checked.data;
}

const _HOST = configSchema.shape.server.unwrap().shape.host;

function _parsePort(value: string): number {
  // Digits only: Number() also takes " 80", "1e3", "0x50", and "" as 0, any free port (an unset $PORT).
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535)) throw new InvalidArgumentError("expected a port number from 0 to 65535");
  return port;
}
