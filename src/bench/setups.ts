/**
 * What a bench runs against, in each of its modes: the loopback default (the bench's own mock, relay
 * and a bare pass-through), a relay already running (`--target`), or a configured provider
 * (`--provider`).
 */
import { parseConfig } from "../config/load.ts";
import type { Config, ProviderConfig } from "../config/schema.ts";
import { createProvider, systemEnvironment } from "../providers/registry.ts";
import type { Provider, ProviderKey } from "../providers/types.ts";
import { ModelMap } from "../routing/model_map.ts";
import { maskSecret } from "../util/mask.ts";
import { serveBare } from "./bare_passthrough.ts";
import { benchConfigText } from "./bench_config.ts";
import { benchUpstreamHandler } from "./bench_upstream.ts";
import { startInProcessRelay } from "./in_process_relay.ts";
import { type Target, urlTarget } from "./load.ts";
import { relayCommand } from "./relay_command.ts";
import type { BenchMeta, TargetName } from "./report.ts";
import { type BenchServer, inProcessServer, startChildServer } from "./servers.ts";

/** The targets of one run and the servers behind them; disposing of it stops what the bench started. */
export interface BenchSetup extends AsyncDisposable {
  mode: BenchMeta["mode"];
  relayProcess: BenchMeta["relay_process"];
  /** The upstream's origin, for the report. */
  upstream?: string;
  relay: Target;
  /** The upstream itself, when the bench can reach it. */
  direct?: Target;
  bare?: Target;
  /** The servers the bench started, to read their memory and CPU. */
  servers: Partial<Record<TargetName, BenchServer>>;
  /** Why relayed streams cannot be compared with direct ones, when they cannot. */
  fidelitySkipped?: string;
  notes: string[];
}

/**
 * Whether the bench may start relay and the pass-through as child processes: `--allow-run` for the
 * program that is running, which the `relay` permission set does not grant.
 *
 * @example
 * ```ts
 * const setup = await loopbackSetup({ spawn: canStartChildren(), maxConcurrent: 64 });
 * ```
 */
export function canStartChildren(): boolean {
  return Deno.permissions.querySync({ name: "run", command: relayCommand()[0] }).state === "granted";
}

const _IN_PROCESS_NOTE =
  "no --allow-run, so relay and bare ran inside the bench: they share its event loop " +
  "with the load generator and the mock, and memory is the whole bench process's";

/** How the default run starts its servers. */
export interface LoopbackOptions {
  /** Start relay and bare as child processes; in this process otherwise. */
  spawn: boolean;
  /** relay's `server.max_concurrent`: at least the run's highest concurrency. */
  maxConcurrent: number;
  /** The relay program to run as a child; the running one ({@linkcode relayCommand}) by default. */
  command?: string[];
}

/**
 * The default run: the bench's mock upstream in this process; relay (`relay serve` on a throwaway
 * config, mode 0600) and the bare pass-through as child processes when `spawn`, else in this process.
 *
 * @example
 * ```ts
 * await using setup = await loopbackSetup({ spawn: canStartChildren(), maxConcurrent: 64 });
 * ```
 */
export async function loopbackSetup(options: LoopbackOptions): Promise<BenchSetup> {
  const command = options.command ?? relayCommand();
  const stack = new AsyncDisposableStack();
  try {
    const mock = stack.use(
      Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, benchUpstreamHandler()),
    );
    const upstream = `http://127.0.0.1:${mock.addr.port}`;
    let relay: BenchServer;
    if (options.spawn) {
      const dir = await Deno.makeTempDir({ prefix: "relay-bench-" });
      stack.defer(() => Deno.remove(dir, { recursive: true }));
      const config = `${dir}/relay.yaml`;
      const text = benchConfigText(upstream, {
        maxConcurrent: options.maxConcurrent,
        ledgerPath: `${dir}/ledger.db`,
      });
      // relay refuses a config its group or others can read.
      await Deno.writeTextFile(config, text, { mode: 0o600 });
      relay = stack.use(await startChildServer("relay", [...command, "serve", "--config", config]));
    } else {
      const text = benchConfigText(upstream, { maxConcurrent: options.maxConcurrent });
      relay = stack.use(startInProcessRelay(parseConfig(text, "bench", () => undefined).config));
    }
    const bare = stack.use(await _startBare(upstream, options.spawn && command));
    const moved = stack.move();
    return {
      mode: "loopback",
      relayProcess: relay.process,
      upstream,
      direct: urlTarget("direct", upstream),
      bare: urlTarget("bare", bare.url),
      relay: urlTarget("relay", relay.url),
      servers: { relay, bare },
      notes: options.spawn ? [] : [_IN_PROCESS_NOTE],
      [Symbol.asyncDispose]: () => moved.disposeAsync(),
    };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

/**
 * A relay already running at `target`. With `upstream` (what that relay relays to), the upstream is
 * timed directly too, through a bare pass-through the bench starts, and streams are compared;
 * without it, only relay's own figures can be given. `token` is sent as the client credential.
 *
 * @example
 * ```ts
 * await using setup = await targetSetup({ target: "http://127.0.0.1:8787", spawn: false });
 * ```
 */
export async function targetSetup(
  options: { target: string; upstream?: string; token?: string; spawn: boolean },
): Promise<BenchSetup> {
  const credential: Record<string, string> = options.token
    ? { authorization: `Bearer ${options.token}` }
    : {};
  const relay = urlTarget("relay", options.target, credential);
  const notes = ["relay at --target was not started by the bench, so its memory is not measured"];
  if (!options.upstream) {
    return {
      mode: "target",
      relayProcess: "external",
      relay,
      servers: {},
      fidelitySkipped: "no --upstream to compare relay's streams with",
      notes: [...notes, "no --upstream: relay's own figures only, nothing to compare them with"],
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  const bare = await _startBare(options.upstream, options.spawn && relayCommand());
  return {
    mode: "target",
    relayProcess: "external",
    upstream: options.upstream,
    relay,
    direct: urlTarget("direct", options.upstream),
    bare: urlTarget("bare", bare.url),
    servers: { bare },
    notes: options.spawn ? notes : [...notes, "no --allow-run, so bare ran inside the bench"],
    [Symbol.asyncDispose]: () => bare[Symbol.asyncDispose](),
  };
}

/**
 * A configured provider, timed directly (its adapter, called from the bench, with its first key) and
 * through relay started inside the bench on the same config cut down to that provider. Relay runs in
 * this process so the expanded keys never go to a file; next to a remote upstream's latency its event
 * loop sharing does not show.
 *
 * @example
 * ```ts
 * await using setup = providerSetup(resolved.config, resolved.config.providers[0]);
 * ```
 */
export function providerSetup(config: Config, provider: ProviderConfig): BenchSetup {
  const adapter = createProvider(provider, systemEnvironment);
  const [first] = provider.keys;
  const key = first && { secret: first.key, label: maskSecret(first.key) };
  const relay = startInProcessRelay({
    ...config,
    // Loopback only, so no client token is needed; the chosen provider only, so routing cannot pick another.
    server: { ...config.server, host: "127.0.0.1", port: 0, auth: { tokens: [] } },
    providers: [provider],
  });
  return {
    mode: "provider",
    relayProcess: "in-process",
    upstream: "base_url" in provider && provider.base_url ? provider.base_url : provider.type,
    relay: urlTarget("relay", relay.url),
    direct: _providerTarget(adapter, key, new ModelMap(provider.models)),
    servers: {},
    fidelitySkipped:
      "a real model answers differently each time; the default run checks fidelity against the mock",
    notes: ["relay ran inside the bench, so its memory is not measured against a real provider"],
    [Symbol.asyncDispose]: () => relay[Symbol.asyncDispose](),
  };
}

/** The provider's adapter as a target: what relay itself does for a request, minus relay. */
function _providerTarget(adapter: Provider, key: ProviderKey | undefined, models: ModelMap): Target {
  const decoder = new TextDecoder();
  return {
    name: "direct",
    send: (request, signal) => {
      const { model } = JSON.parse(decoder.decode(request.body));
      return adapter.send({
        path: "/v1/messages",
        search: "",
        method: "POST",
        headers: new Headers(request.headers),
        body: request.body,
        model,
        upstreamModel: models.resolve(model) ?? model,
        stream: true,
        signal,
      }, key);
    },
  };
}

/** The pass-through: a child running `command` when one is given, else in this process. */
async function _startBare(upstream: string, command: string[] | false): Promise<BenchServer> {
  if (command) return await startChildServer("bare", [...command, "bench", "--serve-bare", upstream]);
  const server = serveBare(upstream);
  return inProcessServer("bare", `http://127.0.0.1:${server.addr.port}`, () => server.shutdown());
}
