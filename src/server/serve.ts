import type { Config } from "../config/schema.ts";
import { ConcurrencyLimiter } from "../routing/concurrency.ts";
import type { Router } from "../routing/router.ts";
import type { Logger } from "../util/logger.ts";
import { type AppOptions, createApp } from "./app.ts";
import { InFlight } from "./in_flight.ts";

export interface ServeOptions extends Omit<AppOptions, "inFlight"> {
  hostname: string;
  port: number;
}

/** A running relay. */
export interface RunningServer {
  /** Where it listens, with the real port when 0 was asked for. */
  readonly url: string;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Upstream exchanges under way. */
  readonly inFlight: InFlight;
  /**
   * Stops accepting connections and lets in-flight requests finish; exchanges still open after
   * `graceMs` are aborted, their clients told with an error event. Resolves with whether any were.
   */
  shutdown(graceMs: number): Promise<{ cut: boolean }>;
}

/** What a config asks of the server, less where to listen. */
export function serverOptionsFromConfig(
  config: Config,
  router: Router,
  logger: Logger,
): Omit<ServeOptions, "hostname"> {
  const { server, routing } = config;
  return {
    port: server.port,
    router,
    logger,
    tokens: server.auth.tokens,
    maxBodyBytes: server.max_body_size,
    keepaliveMs: server.keepalive,
    limiter: new ConcurrencyLimiter({ max: server.max_concurrent, maxQueue: server.max_queue }),
    queueTimeoutMs: server.queue_timeout,
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

/**
 * Starts relay's HTTP server.
 *
 * @example
 * ```ts
 * const server = startServer({ hostname: "127.0.0.1", port: 0, router, logger, tokens: [], maxBodyBytes });
 * await server.shutdown(30_000);
 * ```
 */
export function startServer(options: ServeOptions): RunningServer {
  const inFlight = new InFlight();
  const app = createApp({ ...options, inFlight });
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
    onError: (error) => _internalError(options.logger, error),
  }, app.fetch);
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${port}`,
    finished: server.finished,
    inFlight,
    async shutdown(graceMs: number) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const graceOver = new Promise<"cut">((resolve) => timer = setTimeout(() => resolve("cut"), graceMs));
      const drained = server.shutdown();
      const result = await Promise.race([drained.then(() => "drained" as const), graceOver]);
      clearTimeout(timer);
      if (result === "cut") {
        inFlight.abortAll(new Error("relay shut down before the upstream finished (server.shutdown_grace)"));
        await drained;
      }
      return { cut: result === "cut" };
    },
  };
}

function _internalError(logger: Logger, error: unknown): Response {
  logger.error("unhandled", { error: String(error instanceof Error ? error.stack : error) });
  return new Response("internal error", { status: 500 });
}
