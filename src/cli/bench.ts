import {
  Command,
  CommanderError,
  type CommandUnknownOpts,
  InvalidArgumentError,
  Option,
} from "@commander-js/extra-typings";
import { ConfigError } from "../config/errors.ts";
import { resolveConfig } from "../config/resolve.ts";
import { serveBare } from "../bench/bare_passthrough.ts";
import { renderReport } from "../bench/report.ts";
import { stderrProgress } from "../bench/progress.ts";
import { BenchFailed, type BenchPlan, checksFidelity, plannedRequests, runBench } from "../bench/run.ts";
import { CLAUDE_CODE_HEADERS } from "../bench/claude_code_headers.ts";
import { scenarioRequest } from "../bench/scenarios.ts";
import { type BenchSetup, loopbackSetup, placement, providerSetup, targetSetup } from "../bench/setups.ts";
import { MAX_MOCK_EVENTS } from "../providers/mock_options.ts";
import { estimateTokens } from "../routing/token_estimate.ts";
import { terminalSafeJson } from "../util/visible.ts";
import { Cancelled, canPrompt, terminalPrompter } from "./_prompts.ts";
import { errorMessage } from "../util/error_message.ts";
import { isHttpUrl } from "../util/http_url.ts";

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
  const bench = new Command("bench")
    .description("time relay against a direct connection and check that streams come through unchanged")
    .option(
      "--requests <n>",
      "measured requests per target per concurrency (default 2000; 5 with --provider)",
      positiveCount,
    )
    .option(
      "--concurrency <list>",
      `concurrency levels, comma-separated or the flag repeated, each at most ${_MAX_CONCURRENCY} (default 1,16,64; 1 with --provider)`,
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
  return bench
    .showHelpAfterError("(run relay bench --help for usage)")
    .exitOverride((error) => _refusedByParser(error, bench));
}

/**
 * A flag the parser refuses (a bad value, one bench does not have) is a usage error as the bench's own
 * refusals are: exit 2, and under `--json` the object a failed run prints. Help is no failure.
 */
function _refusedByParser(error: CommanderError, bench: CommandUnknownOpts): never {
  if (error.exitCode === 0) throw error;
  // Commander has written its message to stderr already.
  _sayStopped(_usage(error.message.replace(/^error: /, ""), ""), _asksForJson(bench));
  throw new CommanderError(2, error.code, error.message);
}

/**
 * Whether the command line has `--json`, before or after the flag refused: the parser stops at that one,
 * so the flags after it are not in bench's options, only in the words `relay` was given and passed on.
 */
function _asksForJson(bench: CommandUnknownOpts): boolean {
  return bench.parent?.args.includes("--json") ?? false;
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

/**
 * The signals that end a run as Ctrl-C does, its servers stopped and its files removed, each with the
 * exit code a shell reports for a process it kills: 128 + its number. SIGHUP comes when the terminal
 * goes, and a child relay would take it as "reload" and outlive the bench.
 */
const _STOP_SIGNALS = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Why a run ends early, and its exit code. `message` is `--json`'s `error`; stderr gets `said`, by
 * default `relay bench: <message>`, and nothing when it is empty (an interrupted run says nothing).
 */
class _Stop extends Error {
  constructor(message: string, readonly code: number, readonly said = `relay bench: ${message}`) {
    super(message);
  }
}

async function _bench(options: _BenchOptions): Promise<number> {
  if (options.serveBare) return await _serveBare(options.serveBare);
  const stopped = new AbortController();
  const listeners = Object.entries(_STOP_SIGNALS).map(([name, code]) => {
    const signal = name as keyof typeof _STOP_SIGNALS;
    const listener = () => stopped.abort(new _Stop(`interrupted by ${signal}`, code, ""));
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });
  try {
    _refuseStrayFlags(options);
    return await _run(options, stopped.signal);
  } catch (error) {
    const stop: _Stop = stopped.signal.aborted
      ? stopped.signal.reason
      : error instanceof _Stop
      ? error
      : new _Stop(errorMessage(error), 1);
    // What a failed run had measured goes out with why it failed.
    const measured = error instanceof BenchFailed
      ? { levels: error.measured.levels, fidelity: { checks: error.measured.checks } }
      : {};
    _sayStopped(stop, options.json, measured);
    return stop.code;
  } finally {
    for (const remove of listeners) remove();
  }
}

/** Why a run ended: `said` on stderr, and under `--json` the error, with what it had measured, on stdout. */
function _sayStopped(stop: _Stop, json: boolean | undefined, measured = {}) {
  if (stop.said) console.error(stop.said);
  if (json) console.log(terminalSafeJson({ error: { message: stop.message }, ...measured }, 2));
}

/**
 * Flags that only mean something with others, or not with others, refused rather than ignored; and URLs
 * the bench could not send to, refused before it starts anything.
 */
function _refuseStrayFlags(options: _BenchOptions) {
  if (options.target && options.provider) throw _usage("--target and --provider cannot be used together");
  if (options.upstream && !options.target) throw _usage("--upstream goes with --target");
  if (options.provider) {
    if (options.quick) {
      throw _usage("--quick shortens the default run; --provider's is short already (5 requests each way)");
    }
    if (options.events) {
      throw _usage("--events sets the built-in mock's answers; --provider asks the provider as configured");
    }
    if (!options.fidelity) {
      throw _usage(
        "--no-fidelity goes without --provider, which never compares streams: a real model answers differently each time",
      );
    }
  } else {
    if (options.config) throw _usage("-c/--config goes with --provider");
    if (options.yes) throw _usage("--yes goes with --provider");
  }
  for (const [flag, url] of [["--target", options.target], ["--upstream", options.upstream]]) {
    if (url !== undefined && !isHttpUrl(url)) {
      throw _usage(
        `${flag} takes a URL with its scheme, http:// or https://, such as http://127.0.0.1:8787, not "${url}"`,
      );
    }
  }
}

async function _run(options: _BenchOptions, signal: AbortSignal): Promise<number> {
  let plan: BenchPlan;
  let setup: BenchSetup;
  if (options.provider) {
    ({ plan, setup } = await _provider(options, signal));
  } else {
    const quick = options.quick === true;
    const concurrency = options.concurrency ?? (quick ? [1, 16] : [1, 16, 64]);
    plan = _checked({
      concurrency,
      requests: options.requests ?? (quick ? 100 : 2000),
      // Enough for each level's streams to be open at once, so warm-up reaches the level it warms.
      warmup: Math.max(quick ? 20 : 200, ...concurrency),
      scenario: {
        model: options.model ?? _LOOPBACK_MODEL,
        maxTokens: options.maxTokens ?? 256,
        mockEvents: options.events ?? 8,
        clientHeaders: CLAUDE_CODE_HEADERS,
      },
      fidelity: options.fidelity,
    });
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
  console.log(options.json ? terminalSafeJson(report, 2) : renderReport(report));
  return report.fidelity.passed === false ? 1 : 0;
}

/** A level runs `requests` at most `concurrency` at a time: with fewer it never reaches its concurrency. */
function _checked(plan: BenchPlan): BenchPlan {
  const highest = Math.max(...plan.concurrency);
  if (plan.requests < highest) {
    throw _usage(
      `${plan.requests} requests per level cannot reach concurrency ${highest}: ` +
        `raise --requests or lower --concurrency`,
    );
  }
  return plan;
}

/**
 * The plan and setup of `--provider`: after saying how many tokens the run may spend, and asking
 * (at a terminal) unless `--yes` or the provider is a mock, which spends none; `signal` cancels the question.
 */
async function _provider(
  options: _BenchOptions,
  signal: AbortSignal,
): Promise<{ plan: BenchPlan; setup: BenchSetup }> {
  let resolved;
  try {
    resolved = await resolveConfig({ flag: options.config });
  } catch (error) {
    // Printed as every command prints a config refusal.
    if (error instanceof ConfigError) throw new _Stop(error.message, 1, error.message);
    throw error;
  }
  const { config } = resolved;
  const provider = config.providers.find((candidate) => candidate.name === options.provider);
  if (!provider) {
    const names = config.providers.map((candidate) => candidate.name).join(", ");
    throw new _Stop(
      `${resolved.path ?? "the default config"} has no provider named ${options.provider} (it has: ${names})`,
      1,
    );
  }
  const model = options.model ?? Object.keys(provider.models ?? {}).find((name) => !name.includes("*")) ??
    _PROVIDER_MODEL;
  const plan = _checked({
    concurrency: options.concurrency ?? [1],
    requests: options.requests ?? 5,
    warmup: 0,
    scenario: { model, maxTokens: options.maxTokens ?? 16 },
    // A real model answers differently each time: there is no reference stream to compare with.
    fidelity: false,
  });
  const requests = plannedRequests(plan, ["direct", "relay"]);
  const spends = provider.type !== "mock";
  const body = JSON.parse(new TextDecoder().decode(scenarioRequest("text", plan.scenario).body));
  const { input, output } = estimateTokens(body);
  console.error(
    `relay bench will send ${requests} requests for ${model} to provider ${provider.name} (${provider.type}), ` +
      `half directly and half through relay: ` +
      (spends
        ? `up to ${requests * (input + output)} tokens (about ${input} in and at most ${output} out each).`
        : "a mock spends no tokens."),
  );
  if (spends && !options.yes) {
    if (!canPrompt()) throw new _Stop("no terminal to confirm on: pass --yes to spend them", 2);
    let spend;
    try {
      spend = await (await terminalPrompter(signal)).confirm({ message: "Spend them?", initial: false });
    } catch (error) {
      // Escape or Ctrl-C at the question; a signal's own code comes from the signal.
      if (error instanceof Cancelled) throw new _Stop("cancelled: nothing was sent", 130, "");
      throw error;
    }
    if (!spend) throw new _Stop("not confirmed: nothing was sent", 1, "");
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

/** A refusal of the command line; `said` as {@linkcode _Stop}'s. */
function _usage(message: string, said?: string): _Stop {
  return new _Stop(`${message} (run relay bench --help for usage)`, 2, said);
}

/** A positive integer flag value, in decimal digits; commander names the flag when this throws. */
export function positiveCount(value: string): number {
  const digits = value.trim();
  const count = /^\d+$/.test(digits) ? Number(digits) : NaN;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new InvalidArgumentError("expected a positive integer");
  }
  return count;
}

/** `--events`: as many as the mock will write (`x-relay-mock: events=`), so the run is not refused. */
function _eventCount(value: string): number {
  const count = positiveCount(value);
  if (count > MAX_MOCK_EVENTS) throw new InvalidArgumentError(`expected at most ${MAX_MOCK_EVENTS}`);
  return count;
}

/**
 * The highest `--concurrency`: the largest run of the scenario harness (`bench/scenarios.ts streams`),
 * the most the bench is known to work at; a typo such as 1e9 must not run until killed.
 */
const _MAX_CONCURRENCY = 1000;

/**
 * A `--concurrency` list such as `1,16,64`, after the levels of the flag given before (`previous`): each
 * level once, none above {@linkcode _MAX_CONCURRENCY}.
 */
export function concurrencyLevels(value: string, previous: readonly number[] = []): number[] {
  const levels = [...previous, ...value.split(",").map(positiveCount)];
  const high = levels.find((level) => level > _MAX_CONCURRENCY);
  if (high !== undefined) throw new InvalidArgumentError(`expected at most ${_MAX_CONCURRENCY}`);
  const twice = levels.find((level, i) => levels.indexOf(level) !== i);
  if (twice !== undefined) throw new InvalidArgumentError(`${twice} is given twice`);
  return levels;
}
