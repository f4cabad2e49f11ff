/**
 * What a bench runs against, in each of its modes: the loopback default (the bench's own mock, relay
 * and a bare pass-through), a relay already running (`--target`), or a configured provider
 * (`--provider`).
 */
import { parseConfig } from "../config/load.ts";
import type { Config, ProviderConfig } from "../config/schema.ts";
import type { Provider, ProviderKey } from "../providers/types.ts";
import type { ModelMap } from "../routing/model_map.ts";
import { routesFromConfig } from "../routing/routes.ts";
import { benchConfigText } from "./bench_config.ts";
import { benchUpstreamHandler } from "./bench_upstream.ts";
import { type Target, urlTarget } from "./load.ts";
import { relayCommand } from "./relay_command.ts";
import type { BenchMeta, TargetName } from "./report.ts";
import { type BenchServer, startChildServer } from "./servers.ts";
import { startWorkerServer } from "./worker_server.ts";
import { denoRefusal, errorMessage, withoutOsError } from "../util/error_message.ts";

/** The targets of one run and the servers behind them; disposing of it stops what the bench started. */
export interface BenchSetup extends AsyncDisposable {
  mode: BenchMeta["mode"];
  /** The upstream's origin, for the report. */
  upstream?: string;
  relay: Target;
  /** The upstream itself, when the bench can reach it. */
  direct?: Target;
  bare?: Target;
  /**
   * The servers the bench started, to read their memory and CPU; without `relay`, relay is one the
   * bench did not start.
   */
  servers: Partial<Record<TargetName, BenchServer>>;
  /** Why relayed streams cannot be compared with direct ones, when they cannot. */
  fidelitySkipped?: string;
  notes: string[];
}

/**
 * Where the bench runs the servers it starts, relay and the bare pass-through: each in a child
 * process, or each on a worker thread of the bench's process. Either way a server has an event loop
 * of its own, apart from the load generator's and the mock's.
 */
export type Placement = "child" | "worker";

/**
 * Child processes when the bench may start them (`--allow-run` for the program that is running,
 * which the `relay` permission set, and so the bundle and a compiled binary, does not grant), else
 * workers.
 *
 * @example
 * ```ts
 * const setup = await loopbackSetup({ placement: placement(), maxConcurrent: 64 });
 * ```
 */
export function placement(): Placement {
  const run = Deno.permissions.querySync({ name: "run", command: relayCommand()[0] });
  return run.state === "granted" ? "child" : "worker";
}

const _WORKER_NOTE = "no --allow-run, so relay and bare ran on worker threads of the bench's process: " +
  "each has its own event loop, relay's memory is its JS heap, and no server's CPU can be read";

/** How the default run starts its servers. */
export interface LoopbackOptions {
  placement: Placement;
  /** relay's `server.max_concurrent`: at least the run's highest concurrency. */
  maxConcurrent: number;
  /**
   * The relay program to run, as a command for a child or a module for a worker; the running one by
   * default ({@linkcode relayCommand}, `Deno.mainModule`).
   */
  program?: { command?: string[]; module?: string | URL };
}

/**
 * The default run: the bench's mock upstream in this process; relay (`relay serve` on a throwaway
 * config, its ledger in the same temporary folder) and the bare pass-through placed as asked.
 *
 * @example
 * ```ts
 * await using setup = await loopbackSetup({ placement: placement(), maxConcurrent: 64 });
 * ```
 */
export async function loopbackSetup(options: LoopbackOptions): Promise<BenchSetup> {
  const stack = new AsyncDisposableStack();
  try {
    const mock = stack.use(
      Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen: () => {},
        // The bench cancels its requests at Ctrl-C, mid-body; that is no error worth a stack trace.
        onError: () => new Response(null, { status: 499 }),
      }, benchUpstreamHandler()),
    );
    const upstream = `http://127.0.0.1:${mock.addr.port}`;
    const relay = stack.use(await startBenchRelay(upstream, options));
    const bare = stack.use(await _startBare(upstream, options.placement, options.program));
    const moved = stack.move();
    return {
      mode: "loopback",
      upstream,
      direct: urlTarget("direct", upstream),
      bare: urlTarget("bare", bare.url),
      relay: urlTarget("relay", relay.url),
      servers: { relay, bare },
      notes: options.placement === "worker" ? [_WORKER_NOTE] : [],
      [Symbol.asyncDispose]: () => moved.disposeAsync(),
    };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

/**
 * relay as the bench runs it: `relay serve` on a throwaway config (mode 0600) whose one provider is
 * `upstream`, its usage ledger on but in the same temporary folder, so bench traffic never lands in the
 * ledger of the relay people run. Stopping it removes the folder.
 *
 * @example
 * ```ts
 * await using relay = await startBenchRelay("http://127.0.0.1:9000", { placement: "child", maxConcurrent: 64 });
 * ```
 */
export async function startBenchRelay(upstream: string, options: LoopbackOptions): Promise<BenchServer> {
  const dir = await _tempDir();
  const configText = benchConfigText(upstream, {
    maxConcurrent: options.maxConcurrent,
    ledgerPath: `${dir}/ledger.db`,
  });
  let relay: BenchServer;
  try {
    if (options.placement === "child") {
      const config = `${dir}/relay.yaml`;
      // relay refuses a config its group or others can read.
      await Deno.writeTextFile(config, configText, { mode: 0o600 });
      const command = options.program?.command ?? relayCommand();
      relay = await startChildServer("relay", [...command, "serve", "--config", config]);
    } else {
      const { config } = parseConfig(configText, "bench", () => undefined);
      relay = await startWorkerServer("relay", { kind: "relay", config }, options.program?.module);
    }
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  return {
    ...relay,
    [Symbol.asyncDispose]: async () => {
      try {
        await relay[Symbol.asyncDispose]();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

/**
 * A fresh temporary folder, or an error naming where it was to go: Deno's own says only `tmpdir`, not
 * that `$TMPDIR` chose the place, nor the place.
 */
async function _tempDir(): Promise<string> {
  try {
    return await Deno.makeTempDir({ prefix: "relay-bench-" });
  } catch (error) {
    // Where Deno (Rust's temp_dir) makes it: $TMPDIR when set, else /tmp.
    const tmpdir = Deno.env.get("TMPDIR");
    const where = tmpdir === undefined ? "/tmp" : `${tmpdir} ($TMPDIR)`;
    const fix = tmpdir === undefined
      ? ""
      : ": set TMPDIR to a folder that exists and you can write, or unset it";
    const reason = denoRefusal(error) ?? withoutOsError(errorMessage(error));
    throw new Error(`cannot make its temporary folder in ${where}: ${reason}${fix}`);
  }
}

/**
 * A relay already running at `target`. With `upstream` (what that relay relays to), the upstream is
 * timed directly too, through a bare pass-through the bench starts, and streams are compared;
 * without it, only relay's own figures can be given. `token` is sent as the client credential.
 *
 * @example
 * ```ts
 * await using setup = await targetSetup({ target: "http://127.0.0.1:8787", placement: placement() });
 * ```
 */
export async function targetSetup(
  options: { target: string; upstream?: string; token?: string; placement: Placement },
): Promise<BenchSetup> {
  // In place of the workload's own x-api-key (Claude Code's headers carry one), which relay reads first.
  const credential: Record<string, string> = options.token ? { "x-api-key": options.token } : {};
  const relay = urlTarget("relay", options.target, credential);
  const notes = ["relay at --target was not started by the bench, so its memory is not measured"];
  if (!options.upstream) {
    return {
      mode: "target",
      relay,
      servers: {},
      fidelitySkipped: "no --upstream to compare relay's streams with",
      notes: [...notes, "no --upstream: relay's own figures only, nothing to compare them with"],
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  const bare = await _startBare(options.upstream, options.placement);
  return {
    mode: "target",
    upstream: options.upstream,
    relay,
    direct: urlTarget("direct", options.upstream),
    bare: urlTarget("bare", bare.url),
    servers: { bare },
    notes: options.placement === "child"
      ? notes
      : [...notes, "no --allow-run, so bare ran on a worker thread"],
    [Symbol.asyncDispose]: () => bare[Symbol.asyncDispose](),
  };
}

/**
 * A configured provider, timed directly (its adapter, called from the bench, with its first key) and
 * through relay on the same config cut down to that provider, on a worker thread: the config goes to it
 * in memory, so the expanded keys never go to a file, and a child process would need one.
 *
 * @example
 * ```ts
 * await using setup = await providerSetup(resolved.config, resolved.config.providers[0]);
 * ```
 */
export async function providerSetup(config: Config, provider: ProviderConfig): Promise<BenchSetup> {
  const benched: Config = {
    ...config,
    // Loopback only, so no client token is needed; the chosen provider only, so routing cannot pick another.
    server: { ...config.server, host: "127.0.0.1", port: 0, auth: { tokens: [] } },
    providers: [provider],
    // A bench's requests are not the user's traffic, and their relay serve may hold the same file.
    ledger: { ...config.ledger, enabled: false },
  };
  // The provider as relay builds it (adapter, keys, model map), for the direct side.
  const [route] = routesFromConfig(benched, "bench");
  const relay = await startWorkerServer("relay", { kind: "relay", config: benched });
  return {
    mode: "provider",
    upstream: "base_url" in provider && provider.base_url ? provider.base_url : provider.type,
    relay: urlTarget("relay", relay.url),
    direct: _providerTarget(route.provider, route.keys[0], route.models),
    servers: { relay },
    fidelitySkipped:
      "a real model answers differently each time; the default run checks fidelity against the mock",
    notes: ["relay ran on a worker thread of the bench's process: its memory is its JS heap"],
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

/** The pass-through, in a child (`relay bench --serve-bare`) or a worker. */
async function _startBare(
  upstream: string,
  placement: Placement,
  program: LoopbackOptions["program"] = {},
): Promise<BenchServer> {
  if (placement === "worker") {
    return await startWorkerServer("bare", { kind: "bare", upstream }, program.module);
  }
  const command = program.command ?? relayCommand();
  return await startChildServer("bare", [...command, "bench", "--serve-bare", upstream]);
}
