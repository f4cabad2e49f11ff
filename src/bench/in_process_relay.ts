/** relay's own server, started inside this program from a config, for when it cannot be a child process. */
import type { Config } from "../config/schema.ts";
import { openLedger } from "../ledger/open.ts";
import { Router } from "../routing/router.ts";
import { routesFromConfig, routingOptionsFromConfig } from "../routing/routes.ts";
import { serverOptionsFromConfig, startServer } from "../server/serve.ts";
import { createLogger } from "../util/logger.ts";
import { type BenchServer, inProcessServer } from "./servers.ts";

/**
 * Starts relay the way `relay serve` does, on `config.server.host` and `port`, with the usage ledger
 * the config describes. Its log lines are rendered at the config's level, as a child's would be, but
 * dropped: the bench's stderr is for its progress. Stopping it drains its streams, then writes what
 * the ledger still holds.
 *
 * @example
 * ```ts
 * await using relay = startInProcessRelay(parseConfig(text, "bench", () => undefined).config);
 * ```
 */
export function startInProcessRelay(config: Config): BenchServer {
  const router = new Router(routesFromConfig(config, "bench"), routingOptionsFromConfig(config));
  const logger = createLogger({ level: config.log.level, write: () => {} });
  const ledger = openLedger(config, { logger });
  const server = startServer({
    ...serverOptionsFromConfig(config, router, logger),
    clients: ledger.clients,
    ledger: ledger.recorder,
    hostname: config.server.host,
  });
  return inProcessServer("relay", server.url, async () => {
    await server.shutdown(config.server.shutdown_grace);
    await ledger.close();
  });
}
