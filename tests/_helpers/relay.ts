import { createAnthropicProvider } from "../../src/providers/anthropic.ts";
import type { Provider } from "../../src/providers/types.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { Router, type UpstreamTimeouts } from "../../src/routing/router.ts";
import { type RunningServer, startServer } from "../../src/server/serve.ts";
import { createLogger } from "../../src/util/logger.ts";
import { maskSecret } from "../../src/util/mask.ts";

export const PROVIDER_KEY = "sk-ant-api03-test-provider-key-0000x7f2";

export interface TestRelayOptions {
  /** An Anthropic-format upstream to relay to. */
  upstreamUrl?: string;
  /** Any other provider (the mock, a scripted one). */
  provider?: Provider;
  keys?: string[];
  tokens?: string[];
  maxBodyBytes?: number;
  timeouts?: Partial<UpstreamTimeouts>;
  /** The provider's `models:` table; every model when left out. */
  models?: Record<string, string>;
}

export interface TestRelay extends AsyncDisposable {
  url: string;
  server: RunningServer;
  /** Every log line relay wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves with the next `request` log line: written when a relayed body has ended. */
  nextRequestLog(): Promise<Record<string, unknown>>;
}

/** Starts relay in-process on 127.0.0.1 port 0, logging into memory. */
export function startTestRelay(options: TestRelayOptions): TestRelay {
  const logs: Record<string, unknown>[] = [];
  const waiting: ((line: Record<string, unknown>) => void)[] = [];
  const pending: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: "debug",
    write: (line) => {
      const parsed = JSON.parse(line);
      logs.push(parsed);
      if (parsed.msg !== "request") return;
      const waiter = waiting.shift();
      if (waiter) waiter(parsed);
      else pending.push(parsed);
    },
  });
  const provider = options.provider ?? createAnthropicProvider({
    name: "upstream",
    type: "anthropic-compatible",
    baseUrl: options.upstreamUrl!,
    authHeader: "x-api-key",
  });
  const keys = (options.keys ?? [PROVIDER_KEY]).map((secret) => ({ secret, label: maskSecret(secret) }));
  const timeouts = { connect: 10_000, firstByte: 60_000, idle: 60_000, ...options.timeouts };
  const server = startServer({
    hostname: "127.0.0.1",
    port: 0,
    router: new Router([{ provider, keys, timeouts, models: new ModelMap(options.models) }]),
    logger,
    tokens: options.tokens ?? [],
    maxBodyBytes: options.maxBodyBytes ?? 32 * 1024 * 1024,
  });
  return {
    url: server.url,
    server,
    logs,
    nextRequestLog: () => {
      const ready = pending.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown(0);
    },
  };
}
