/** relay's own server, started inside the bench from a config, for when it cannot be a child process. */
import type { Config } from "../config/schema.ts";
import { Router } from "../routing/router.ts";
import { routesFromConfig, routingOptionsFromConfig } from "../routing/routes.ts";
import { serverOptionsFromConfig, startServer } from "../server/serve.ts";
import { createLogger } from "../util/logger.ts";
import { type BenchServer, inProcessServer } from "./servers.ts";

/**
 * Starts relay in this process the way `relay serve` does, on `config.server.host` and `port`. Its
 * log lines are rendered at the config's level, as a child's would be, but dropped: the bench's
 * stderr is for its progress.
 *
 * @example
 * ```ts
 * await using relay = startInProcessRelay(parseConfig(text, "bench", () => undefined).config);
 * ```
 */
export function startInProcessRelay(config: Config): BenchServer {
  const router = new Router(routesFromConfig(config, "bench"), routingOptionsFromConfig(config));
  const logger = createLogger({ level: config.log.level, write: () => {} });
  const server = startServer({
    ...serverOptionsFromConfig(config, router, logger),
    hostname: config.server.host,
  });
  return inProcessServer("relay", server.url, () => server.shutdown(config.server.shutdown_grace));
}
