/**
 * relay in-process the way `relay serve` runs it from a config file: a `Runtime` that reloads the
 * file (mode, YAML, schema, `${VAR}`s from `env` only), the admin API and `/metrics`, logging into
 * memory. Tests rewrite the file and reload, then wait on log lines, never on time.
 */
import { loadConfigFile } from "../../src/config/load.ts";
import { openLedger } from "../../src/ledger/open.ts";
import type { RelayMetricsOptions } from "../../src/server/metrics.ts";
import { Runtime } from "../../src/server/runtime.ts";
import { type RunningServer, serverOptionsFromConfig, startServer } from "../../src/server/serve.ts";
import { EventBus } from "../../src/util/event_bus.ts";
import { createLogger } from "../../src/util/logger.ts";

/** The admin token the configs of these tests use. */
export const ADMIN_TOKEN = "adm_test_0123456789abcdef";

export interface LiveRelayOptions {
  /** The only variables `${VAR}` sees. */
  env?: Record<string, string>;
  /** Where to bind; 127.0.0.1 unless given. */
  hostname?: string;
  metrics?: RelayMetricsOptions;
  /**
   * Opens the config's ledger as `relay serve` does, for its clients' limits, budgets and prices (set
   * `ledger.enabled: false` or a `ledger.path` in the test's config: the default path is the user's).
   */
  ledger?: boolean;
}

export interface LiveRelay extends AsyncDisposable {
  /** Reachable over loopback whatever the bind address. */
  url: string;
  server: RunningServer;
  runtime: Runtime;
  /** The config file. */
  path: string;
  /** Every log line, parsed. */
  logs: Record<string, unknown>[];
  /** Rewrites the config file, mode 0600 unless told. */
  write(yaml: string, mode?: number): Promise<void>;
  /** Resolves with the first log line (past or future) `match` accepts. */
  waitForLog(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Calls the admin API with the admin token. */
  admin(path: string, init?: RequestInit): Promise<Response>;
}

/** Writes `yaml` to a fresh folder and starts relay on it. */
export async function startLiveRelay(yaml: string, options: LiveRelayOptions = {}): Promise<LiveRelay> {
  const folder = await Deno.makeTempDir({ prefix: "relay-live-" });
  const path = `${folder}/relay.yaml`;
  const write = async (text: string, mode = 0o600) => {
    // Written whole and renamed in, as an editor saves, so a reload never reads half a file.
    const temporary = `${folder}/.relay.yaml.tmp`;
    await Deno.writeTextFile(temporary, text);
    await Deno.chmod(temporary, mode);
    await Deno.rename(temporary, path);
  };
  await write(yaml);
  const logs: Record<string, unknown>[] = [];
  const watchers: {
    match: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }[] = [];
  const logger = createLogger({
    level: "debug",
    write: (text) => {
      const line = JSON.parse(text);
      logs.push(line);
      for (const watcher of watchers.filter((w) => w.match(line))) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve(line);
      }
    },
  });
  const env = (name: string) => options.env?.[name];
  const load = () => loadConfigFile(path, { env });
  const { config } = await load();
  const runtime = new Runtime({ config, path, load, logger: () => logger, events: new EventBus() });
  const ledger = options.ledger ? await openLedger(config, { logger }) : undefined;
  const server = startServer({
    ...serverOptionsFromConfig(config, runtime.current.router, runtime.logger),
    clients: ledger?.clients,
    ledger: ledger?.recorder,
    ledgerHealth: ledger,
    port: 0,
    hostname: options.hostname ?? "127.0.0.1",
    runtime,
    metrics: options.metrics,
  });
  const url = server.url.replace(/\/\/(0\.0\.0\.0|\[::\])/, "//127.0.0.1");
  return {
    url,
    server,
    runtime,
    path,
    logs,
    write,
    waitForLog(match) {
      const seen = logs.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => watchers.push({ match, resolve }));
    },
    admin(route, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
      return fetch(`${url}/admin${route}`, { ...init, headers });
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown(0);
      await ledger?.close();
    },
  };
}

/** A provider entry relaying to `url` with `keys`, as YAML lines under `providers:`. */
export function upstreamProvider(name: string, url: string, keys: string[], extra = ""): string {
  return [
    `  - name: ${name}`,
    "    type: anthropic-compatible",
    `    base_url: ${url}`,
    "    keys:",
    ...keys.map((key) => `      - key: ${key}`),
    extra,
  ].filter((line) => line !== "").join("\n") + "\n";
}

/** A config with the admin token on and `providers` (YAML lines). */
export function liveConfig(providers: string, extra = ""): string {
  return `server:\n  admin:\n    token: ${ADMIN_TOKEN}\n${extra}providers:\n${providers}`;
}

/** A streamed Messages request body. */
export const STREAM_BODY = JSON.stringify({
  model: "claude-sonnet-4-5",
  max_tokens: 64,
  stream: true,
  messages: [{ role: "user", content: "hi" }],
});

/** POSTs `body` to relay's `/v1/messages`. */
export function postMessage(url: string, body = STREAM_BODY, headers: HeadersInit = {}): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
    body,
  });
}
