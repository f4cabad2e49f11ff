import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { ConfigError } from "../config/errors.ts";
import { type Config, isLoopbackHost } from "../config/schema.ts";
import { resolveConfig } from "../config/resolve.ts";
import { routesFromConfig, routingOptionsFromConfig } from "../routing/routes.ts";
import { Router } from "../routing/router.ts";
import { serverOptionsFromConfig, startServer } from "../server/serve.ts";
import { createLogger, type Logger } from "../util/logger.ts";
import { reportConfigError } from "./_config_error.ts";

/** `relay serve`: runs relay until SIGINT/SIGTERM, then drains in-flight streams. */
export function serveCommand(setExitCode: (code: number) => void) {
  return new Command("serve")
    .description("start relay (with no config file: Anthropic from $ANTHROPIC_API_KEY, else the mock)")
    .option(
      "-c, --config <path>",
      "config file (default: $RELAY_CONFIG, ./relay.yaml, ~/.config/relay/relay.yaml)",
    )
    .option("-p, --port <port>", "port to listen on, overriding server.port (0: any free port)", _parsePort)
    .option("-H, --host <host>", "address to bind, overriding server.host")
    .action(async (options) => setExitCode(await _serve(options)));
}

async function _serve(options: { config?: string; port?: number; host?: string }): Promise<number> {
  let config: Config;
  let logger: Logger;
  let router: Router;
  try {
    const resolved = await resolveConfig({ flag: options.config });
    config = _withOverrides(resolved.config, resolved.path, options);
    logger = createLogger({ level: config.log.level, format: Deno.stderr.isTerminal() ? "text" : "json" });
    if (resolved.banner) console.error(resolved.banner);
    for (const warning of resolved.warnings) logger.warn("config", { warning });
    router = new Router(routesFromConfig(config, resolved.path), routingOptionsFromConfig(config));
    logger.info("config", { path: resolved.path ?? "none (built-in defaults)" });
  } catch (error) {
    return reportConfigError(error);
  }

  let server;
  try {
    server = startServer({
      ...serverOptionsFromConfig(config, router, logger),
      hostname: config.server.host,
    });
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.PermissionDenied)) {
      throw error;
    }
    console.error(`relay cannot listen on ${config.server.host}:${config.server.port}: ${error.message}`);
    return 1;
  }
  logger.info("listening", { url: server.url, providers: config.providers.map((p) => p.name).join(",") });

  const graceMs = config.server.shutdown_grace;
  let stopping = false;
  const onSignal = () => {
    if (stopping) {
      logger.warn("stopped at once: in-flight streams cut");
      Deno.exit(1);
    }
    stopping = true;
    logger.info("shutting down", {
      in_flight: server.inFlight.size,
      grace_ms: graceMs,
      hint: "signal again to stop at once",
    });
    server.shutdown(graceMs).then(({ cut }) => {
      if (cut) logger.warn("grace period over: in-flight streams cut", { grace_ms: graceMs });
    });
  };
  for (const signal of _SIGNALS) Deno.addSignalListener(signal, onSignal);
  await server.finished;
  for (const signal of _SIGNALS) Deno.removeSignalListener(signal, onSignal);
  logger.info("stopped");
  return 0;
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

function _parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError("expected a port number from 0 to 65535");
  }
  return port;
}
