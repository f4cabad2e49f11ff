import assert from "node:assert/strict";
import type { ClientRegistry } from "../../src/ledger/clients.ts";
import type { LedgerSink } from "../../src/ledger/entry.ts";
import { createAnthropicProvider } from "../../src/providers/anthropic.ts";
import type { Provider } from "../../src/providers/types.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { ConcurrencyLimiter } from "../../src/routing/concurrency.ts";
import { type Route, Router, type RoutingOptions, type UpstreamTimeouts } from "../../src/routing/router.ts";
import type { RelayOptions, RetryOptions } from "../../src/server/relay.ts";
import { type RunningServer, startServer } from "../../src/server/serve.ts";
import { createLogger } from "../../src/util/logger.ts";
import { maskSecret } from "../../src/util/mask.ts";
import type { FakeClock } from "./fake_clock.ts";

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
  /** Several providers, instead of the one `upstreamUrl` or `provider` describes. */
  routes?: Route[];
  /** Over the test defaults: one attempt, no waiting, so a failure reaches the client as it is. */
  retry?: Partial<RetryOptions>;
  routing?: Partial<RoutingOptions>;
  /** `server.max_concurrent` and its queue. */
  maxConcurrent?: number;
  maxQueue?: number;
  /** Named clients with limits, in place of `tokens`. */
  clients?: ClientRegistry;
  /** Where ended requests go. */
  ledger?: LedgerSink;
  /** Told of every ended request, in place of the server's event bus. */
  onRequest?: RelayOptions["onRequest"];
  /**
   * The clock relay and its router run on, monotonic and wall clock alike, with relay's deadlines: a
   * test fires one by moving it on. The real ones when left out.
   */
  clock?: FakeClock;
  /** Where the backoff's jitter comes from; `Math.random` unless given. */
  random?: () => number;
  /** `server.keepalive`; relay's default unless given. */
  keepaliveMs?: number;
}

/** Routing that never holds a test up: failover, breakers that need many failures. */
export const TEST_ROUTING: RoutingOptions = {
  strategy: "failover",
  affinity: true,
  breaker: { failureThreshold: 1000, windowMs: 60_000, cooldownMs: 30_000 },
};

export interface TestRelay extends AsyncDisposable {
  url: string;
  server: RunningServer;
  /** The router it serves with: a test switches providers off as the admin API would. */
  router: Router;
  /** Every log line relay wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves with the next `request` log line: written when a relayed body has ended. */
  nextRequestLog(): Promise<Record<string, unknown>>;
  /** Resolves with the first log line with `msg`, already written or to come. */
  logged(msg: string): Promise<Record<string, unknown>>;
}

/** Starts relay in-process on 127.0.0.1 port 0, logging into memory. */
export function startTestRelay(options: TestRelayOptions): TestRelay {
  const logs: Record<string, unknown>[] = [];
  const waiting: ((line: Record<string, unknown>) => void)[] = [];
  const pending: Record<string, unknown>[] = [];
  const watchers: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  const { clock } = options;
  const logger = createLogger({
    level: "debug",
    write: (line) => {
      const parsed = JSON.parse(line);
      logs.push(parsed);
      for (const watcher of watchers.filter(({ msg }) => msg === parsed.msg)) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve(parsed);
      }
      if (parsed.msg !== "request") return;
      const waiter = waiting.shift();
      if (waiter) waiter(parsed);
      else pending.push(parsed);
    },
  });
  const router = new Router(options.routes ?? [_route(options)], {
    ...TEST_ROUTING,
    now: clock?.now,
    ...options.routing,
  });
  const server = startServer({
    hostname: "127.0.0.1",
    port: 0,
    router,
    logger,
    tokens: options.tokens ?? [],
    clients: options.clients,
    ledger: options.ledger,
    onRequest: options.onRequest,
    now: clock?.now,
    wallClock: clock?.now,
    timers: clock,
    random: options.random,
    keepaliveMs: options.keepaliveMs,
    maxBodyBytes: options.maxBodyBytes ?? 32 * 1024 * 1024,
    limiter: new ConcurrencyLimiter({ max: options.maxConcurrent ?? 64, maxQueue: options.maxQueue ?? 256 }),
    queueTimeoutMs: 30_000,
    retry: {
      maxAttempts: 1,
      backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 },
      maxWaitMs: 0,
      ...options.retry,
    },
  });
  return {
    url: server.url,
    server,
    router,
    logs,
    nextRequestLog: () => {
      const ready = pending.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
    logged: (msg) => {
      const line = logs.find((logged) => logged.msg === msg);
      return line ? Promise.resolve(line) : new Promise((resolve) => watchers.push({ msg, resolve }));
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown(0);
    },
  };
}

/**
 * Waits until relay has armed a timer due in `ms` on its fake `clock`. An `answer` that settles first
 * came from a deadline on another clock: the test fails then, instead of waiting for ever.
 */
export async function armedBefore(clock: FakeClock, ms: number, answer: Promise<unknown>): Promise<void> {
  await Promise.race([clock.whenArmed(ms), answer]);
  assert.ok(clock.armed.includes(ms), `relay answered before it armed a ${ms} ms timer on its clock`);
}

/** A streamed `/v1/messages` to `relay` for `model`, as Claude Code sends one. */
export function postStream(relay: TestRelay, model: string): Promise<Response> {
  return fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({
      model,
      max_tokens: 64,
      stream: true,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
}

/**
 * With a resend unanswered, relay waits on `timeouts.connect` (10 s here), not `first_byte` (600 s): once
 * it passes, the `answer` is a 504 naming it.
 */
export async function assertHeldToConnect(clock: FakeClock, answer: Promise<Response>): Promise<void> {
  assert.ok(
    clock.armed.includes(10_000) && !clock.armed.includes(600_000),
    `connect's deadline, not first_byte's, while the resend is unanswered (armed: ${clock.armed})`,
  );
  clock.advance(10_000);
  const held = await answer;
  assert.equal(held.status, 504);
  assert.match((await held.json()).error.message, /timeouts\.connect/);
}

/** The one route a test relay has when it is given no `routes`. */
function _route(options: TestRelayOptions): Route {
  const provider = options.provider ?? createAnthropicProvider({
    name: "upstream",
    type: "anthropic-compatible",
    baseUrl: options.upstreamUrl!,
    authHeader: "x-api-key",
  });
  return {
    provider,
    keys: (options.keys ?? [PROVIDER_KEY]).map((secret) => ({ secret, label: maskSecret(secret) })),
    timeouts: { ...TEST_TIMEOUTS, ...options.timeouts },
    models: new ModelMap(options.models),
  };
}

/** A route to the Anthropic-format upstream at `url` (`anthropic-compatible`, keys in `x-api-key`). */
export function anthropicRoute(name: string, url: string, keys: string[] = [PROVIDER_KEY]): Route {
  return {
    provider: createAnthropicProvider({
      name,
      type: "anthropic-compatible",
      baseUrl: url,
      authHeader: "x-api-key",
    }),
    keys: keys.map((secret) => ({ secret, label: maskSecret(secret) })),
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
}

/** Generous deadlines, so only tests about timeouts ever meet one. */
export const TEST_TIMEOUTS: UpstreamTimeouts = { connect: 10_000, firstByte: 60_000, idle: 60_000 };
