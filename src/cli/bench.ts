import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { resolveConfig } from "../config/resolve.ts";
import { serveBare } from "../bench/bare_passthrough.ts";
import { renderReport } from "../bench/report.ts";
import { stderrProgress } from "../bench/progress.ts";
import { type BenchPlan, checksFidelity, plannedRequests, runBench } from "../bench/run.ts";
import { CLAUDE_CODE_HEADERS } from "../bench/claude_code_headers.ts";
import { scenarioRequest } from "../bench/scenarios.ts";
import { type BenchSetup, loopbackSetup, placement, providerSetup, targetSetup } from "../bench/setups.ts";
import { MAX_MOCK_EVENTS } from "../providers/mock_options.ts";
import { estimateTokens } from "../routing/token_estimate.ts";
import { reportConfigError } from "./_config_error.ts";
import { Cancelled, canPrompt, terminalPrompter } from "./_prompts.ts";

/**
 * `relay bench`: relay's time to first byte, throughput and memory against a direct connection to
 * the same upstream and a bare pass-through, and whether streams come through unchanged.
 *
 * @example
 * ```ts
 * program.addCommand(benchCommand((code) => exitCode = code));
 * ```
 */
export function benchCommand(setExitCode: (code: number) => void) {
  return new Command("bench")
    .description("time relay against a direct connection and check that streams come through unchanged")
    .option(
      "--requests <n>",
      "measured requests per target per concurrency (default 2000; 5 with --provider)",
      positiveCount,
    )
    .option(
      "--concurrency <list>",
      "concurrency levels, comma-separated (default 1,16,64; 1 with --provider)",
      concurrencyLevels,
    )
    .option("--events <n>", "text deltas in each mock answer (default 8, at most 100000)", _eventCount)
    .option("--json", "print the report as JSON (progress stays on stderr)")
    .option("--quick", "a short run: 100 requests per target at concurrency 1 and 16")
    .option("--target <url>", "bench a relay already running at this URL")
    .option("--upstream <url>", "with --target: the upstream it relays to, timed directly for comparison")
    .option("--provider <name>", "bench a configured provider, directly and through relay (spends tokens)")
    .option("-c, --config <path>", "with --provider: config file (default: as relay serve finds it)")
    .option("--model <name>", "model to ask for (default: mock-1; with --provider, its first model)")
    .option("--max-tokens <n>", "max_tokens of each request (default 256; 16 with --provider)", positiveCount)
    .option("-y, --yes", "with --provider: spend the tokens without asking")
    .option("--no-fidelity", "skip comparing relayed streams with direct ones")
    // The bare pass-through, run by the bench itself as a child process.
    .addOption(new Option("--serve-bare <upstream>").hideHelp())
    .action(async (options) => setExitCode(await _bench(options)));
}

interface _BenchOptions {
  requests?: number;
  concurrency?: number[];
  events?: number;
  json?: boolean;
  quick?: boolean;
  target?: string;
  upstream?: string;
  provider?: string;
  config?: string;
  model?: string;
  maxTokens?: number;
  yes?: boolean;
  fidelity: boolean;
  serveBare?: string;
}

/** The default model of a run against a real provider: small, and known by that name to Anthropic's API. */
const _PROVIDER_MODEL = "claude-haiku-4-5";
const _LOOPBACK_MODEL = "mock-1";

async function _bench(options: _BenchOptions): Promise<number> {
  if (options.serveBare) return await _serveBare(options.serveBare);
  if (options.target && options.provider) return _usage("--target and --provider cannot be used together");
  if (options.upstream && !options.target) return _usage("--upstream goes with --target");
  _bypassProxyForLoopback();
  // Ctrl-C ends the run, not the process, so the servers it started are stopped and its files removed.
  const interrupted = new AbortController();
  const onInterrupt = () => interrupted.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    return await _run(options, interrupted.signal);
  } catch (error) {
    if (interrupted.signal.aborted) return 130;
    console.error(`relay bench: ${error instanceof Error ? error.message : error}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

async function _run(options: _BenchOptions, signal: AbortSignal): Promise<number> {
  let plan: BenchPlan;
  let setup: BenchSetup;
  if (options.provider) {
    const chosen = await _provider(options);
    if (typeof chosen === "number") return chosen;
    ({ plan, setup } = chosen);
  } else {
    const quick = options.quick === true;
    plan = {
      concurrency: options.concurrency ?? (quick ? [1, 16] : [1, 16, 64]),
      requests: options.requests ?? (quick ? 100 : 2000),
      warmup: quick ? 20 : 200,
      scenario: {
        model: options.model ?? _LOOPBACK_MODEL,
        maxTokens: options.maxTokens ?? 256,
        mockEvents: options.events ?? 8,
        clientHeaders: CLAUDE_CODE_HEADERS,
      },
      fidelity: options.fidelity,
    };
    const servers = placement();
    setup = options.target
      ? await targetSetup({
        target: options.target,
        upstream: options.upstream,
        token: Deno.env.get("ANTHROPIC_AUTH_TOKEN"),
        placement: servers,
      })
      : await loopbackSetup({ placement: servers, maxConcurrent: Math.max(64, ...plan.concurrency) });
  }
  await using _ = setup;
  const names = (["direct", "bare", "relay"] as const).filter((name) => setup[name]);
  const progress = stderrProgress(plannedRequests({ ...plan, fidelity: checksFidelity(plan, setup) }, names));
  let report;
  try {
    report = await runBench(setup, plan, progress, signal);
  } finally {
    // The bar's line is cleared before anything else is written to the terminal.
    progress.finish();
  }
  console.log(options.json ? JSON.stringify(report, null, 2) : renderReport(report));
  return report.fidelity.passed === false ? 1 : 0;
}

/**
 * The plan and setup of `--provider`: after saying how many tokens the run may spend, and asking
 * (at a terminal) unless `--yes`. A number is the exit code when it stops there.
 */
async function _provider(options: _BenchOptions): Promise<{ plan: BenchPlan; setup: BenchSetup } | number> {
  let resolved;
  try {
    resolved = await resolveConfig({ flag: options.config });
  } catch (error) {
    return reportConfigError(error);
  }
  const { config } = resolved;
  const provider = config.providers.find((candidate) => candidate.name === options.provider);
  if (!provider) {
    const names = config.providers.map((candidate) => candidate.name).join(", ");
    console.error(
      `${resolved.path ?? "the default config"} has no provider named ${options.provider} (it has: ${names})`,
    );
    return 1;
  }
  const model = options.model ?? Object.keys(provider.models ?? {}).find((name) => !name.includes("*")) ??
    _PROVIDER_MODEL;
  const plan: BenchPlan = {
    concurrency: options.concurrency ?? [1],
    requests: options.requests ?? 5,
    warmup: 0,
    scenario: { model, maxTokens: options.maxTokens ?? 16 },
    // A real model answers differently each time: there is no reference stream to compare with.
    fidelity: false,
  };
  const requests = plannedRequests(plan, ["direct", "relay"]);
  const body = JSON.parse(new TextDecoder().decode(scenarioRequest("text", plan.scenario).body));
  const { input, output } = estimateTokens(body);
  console.error(
    `relay bench will send ${requests} requests for ${model} to provider ${provider.name} (${provider.type}), ` +
      `half directly and half through relay: up to ${requests * (input + output)} tokens ` +
      `(about ${input} in and at most ${output} out each).`,
  );
  if (!options.yes) {
    if (!canPrompt()) {
      console.error("No terminal to confirm on: pass --yes to spend them.");
      return 2;
    }
    try {
      const prompter = await terminalPrompter(new AbortController().signal);
      if (!await prompter.confirm({ message: "Spend them?", initial: false })) return 1;
    } catch (error) {
      if (error instanceof Cancelled) return 130;
      throw error;
    }
  }
  try {
    return { plan, setup: await providerSetup(config, provider) };
  } catch (error) {
    throw new Error(`provider ${provider.name}: ${(error as Error).message}`);
  }
}

/** The hidden `--serve-bare`: the pass-through as a child process, announcing its URL as relay does. */
async function _serveBare(upstream: string): Promise<number> {
  const server = serveBare(upstream);
  console.error(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${server.addr.port}` }));
  await server.finished;
  return 0;
}

/**
 * Deno's fetch sends even 127.0.0.1 through `HTTP_PROXY` unless `NO_PROXY` says not to, and reads it
 * at the first request: a bench on loopback must never go through a proxy, nor the servers it starts,
 * whose child processes and workers see this same environment.
 */
function _bypassProxyForLoopback() {
  const current = Deno.env.get("NO_PROXY") ?? Deno.env.get("no_proxy");
  if (current?.includes("127.0.0.1")) return;
  const value = [current, "127.0.0.1,localhost"].filter(Boolean).join(",");
  Deno.env.set("NO_PROXY", value);
  Deno.env.set("no_proxy", value);
}

function _usage(message: string): number {
  console.error(`relay bench: ${message} (run relay bench --help for usage)`);
  return 2;
}

/** A positive integer flag value; commander names the flag when this throws. */
export function positiveCount(value: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError("expected a positive integer");
  return count;
}

/** `--events`: as many as the mock will write (`x-relay-mock: events=`), so the run is not refused. */
function _eventCount(value: string): number {
  const count = positiveCount(value);
  if (count > MAX_MOCK_EVENTS) throw new InvalidArgumentError(`expected at most ${MAX_MOCK_EVENTS}`);
  return count;
}

/** A `--concurrency` list such as `1,16,64`. */
export function concurrencyLevels(value: string): number[] {
  return value.split(",").map((part) => positiveCount(part.trim()));
}
