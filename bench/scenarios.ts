/**
 * Runs larger than `relay bench` makes by default, on the same loopback setup (the bench's mock in
 * this process, relay and the bare pass-through as child processes). bench/README.md says what each
 * number means.
 *
 * ```sh
 * deno run -P=relay --allow-run --allow-write bench/scenarios.ts <streams|body|memory|floor> \
 *   [--requests N] [--concurrency N] [--json]
 * ```
 *
 * - `streams`: 1,000 concurrent streams (direct, bare, relay), 4,000 measured per target, with fidelity
 *   checked under that load.
 * - `body`: every request carries a 400 KB Claude Code session body, at concurrency 1 and 16.
 * - `memory`: 100,000 requests through relay at concurrency 16, its RSS read every 10,000.
 * - `floor`: what relay's shape alone costs: `bench/shape_server.ts` at each step, then relay, against
 *   bare, three rounds, at concurrency 1 (`--concurrency 1,16` for more levels).
 */
import { parseArgs } from "node:util";
import { emptySamples, runBatch } from "../src/bench/load.ts";
import { percentiles } from "../src/bench/percentiles.ts";
import { stderrProgress } from "../src/bench/progress.ts";
import { relayCommand } from "../src/bench/relay_command.ts";
import { renderReport, roundMib, roundMs } from "../src/bench/report.ts";
import { type BenchPlan, plannedRequests, runBench } from "../src/bench/run.ts";
import { CLAUDE_CODE_HEADERS } from "../src/bench/claude_code_headers.ts";
import { scenarioRequest } from "../src/bench/scenarios.ts";
import { benchUpstreamHandler } from "../src/bench/bench_upstream.ts";
import { urlTarget } from "../src/bench/load.ts";
import { startChildServer, whileServing } from "../src/bench/servers.ts";
import { type BenchSetup, loopbackSetup, startBenchRelay } from "../src/bench/setups.ts";
import { claudeCodeBody } from "./_fixtures.ts";
import { SHAPE_STEPS } from "./shape_server.ts";
import { concurrencyLevels, positiveCount } from "../src/cli/bench.ts";

/** relay from this checkout's source, whatever started this script. */
const _COMMAND = relayCommand({
  execPath: Deno.execPath(),
  mainModule: new URL("../main.ts", import.meta.url).href,
  standalone: false,
});
const _SCENARIO = { model: "mock-1", maxTokens: 256, mockEvents: 8, clientHeaders: CLAUDE_CODE_HEADERS };
/** How often the memory run reads relay's RSS. */
const _MEMORY_STEP = 10_000;

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    requests: { type: "string" },
    concurrency: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
/** A count flag's value, or `fallback` when the flag is not given. */
const _count = (value: string | undefined, fallback: number) =>
  value === undefined ? fallback : positiveCount(value);

/** A measured run of `plan` against direct, bare and relay. */
async function _measured(plan: BenchPlan): Promise<string> {
  const maxConcurrent = Math.max(64, ...plan.concurrency);
  await using setup = await loopbackSetup({
    placement: "child",
    maxConcurrent,
    program: { command: _COMMAND },
  });
  const progress = stderrProgress(plannedRequests(plan, ["direct", "bare", "relay"]));
  const report = await runBench(setup, plan, progress, new AbortController().signal);
  progress.finish();
  return values.json ? JSON.stringify(report, null, 2) : renderReport(report);
}

/** relay's RSS every {@linkcode _MEMORY_STEP} requests, and the TTFB of each step. */
async function _memory(total: number, concurrency: number): Promise<string> {
  await using setup = await loopbackSetup({
    placement: "child",
    maxConcurrent: Math.max(64, concurrency),
    program: { command: _COMMAND },
  });
  const relay = setup.servers.relay!;
  const request = scenarioRequest("text", _SCENARIO);
  const progress = stderrProgress(total);
  progress.phase(`memory, concurrency ${concurrency}`);
  const idle = await relay.usage();
  const steps: { requests: number; rss_mb: number; peak_mb: number; ttfb_p50_ms: number }[] = [];
  await whileServing([relay], new AbortController().signal, async (signal) => {
    for (let served = 0; served < total;) {
      const count = Math.min(_MEMORY_STEP, total - served);
      const samples = emptySamples();
      await runBatch(
        setup.relay,
        { request, count, concurrency, onDone: () => progress.advance() },
        samples,
        signal,
      );
      served += count;
      const usage = await relay.usage();
      steps.push({
        requests: served,
        rss_mb: roundMib(usage!.memoryMib),
        peak_mb: roundMib(usage!.peakMib!),
        ttfb_p50_ms: roundMs(percentiles(samples.ttfb).p50),
      });
    }
  });
  progress.finish();
  const first = steps[0];
  const last = steps.at(-1)!;
  const result = {
    date: new Date().toISOString(),
    concurrency,
    idle_mb: roundMib(idle!.memoryMib),
    steps,
    growth_after_first_step_mb: roundMib(last.rss_mb - first.rss_mb),
  };
  if (values.json) return JSON.stringify(result, null, 2);
  return [
    `relay memory over ${total} requests at concurrency ${concurrency}, ${result.date}; idle ${result.idle_mb} MiB`,
    "requests  RSS MiB  peak MiB  ttfb p50 ms",
    ...steps.map((step) =>
      `${String(step.requests).padStart(8)}  ${step.rss_mb.toFixed(1).padStart(7)}  ${
        step.peak_mb.toFixed(1).padStart(8)
      }  ${step.ttfb_p50_ms.toFixed(3).padStart(11)}`
    ),
    `RSS after the first ${first.requests} requests to the end: ${
      result.growth_after_first_step_mb >= 0 ? "+" : ""
    }${result.growth_after_first_step_mb} MiB`,
  ].join("\n");
}

/**
 * Each step of `bench/shape_server.ts`, then relay itself, timed against bare at each concurrency, in
 * `rounds` rounds: what a pass-through shaped like relay adds over bare before any of relay's own work,
 * and what relay's own work adds on top. Every server is a child, so each one's CPU per request is read
 * too.
 */
async function _floor(requests: number, concurrency: number[], rounds: number): Promise<string> {
  await using stack = new AsyncDisposableStack();
  const mock = stack.use(
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, benchUpstreamHandler()),
  );
  const upstream = `http://127.0.0.1:${mock.addr.port}`;
  const bare = stack.use(await startChildServer("bare", [..._COMMAND, "bench", "--serve-bare", upstream]));
  const script = new URL("./shape_server.ts", import.meta.url).pathname;
  const config = new URL("../deno.json", import.meta.url).pathname;
  const plan: BenchPlan = { concurrency, requests, warmup: 200, scenario: _SCENARIO, fidelity: false };
  const steps = [...SHAPE_STEPS, "relay"] as const;
  const progress = stderrProgress(rounds * steps.length * plannedRequests(plan, ["direct", "bare", "relay"]));
  const start = (step: typeof steps[number]) =>
    step === "relay"
      ? startBenchRelay(upstream, {
        placement: "child",
        maxConcurrent: Math.max(64, ...concurrency),
        program: { command: _COMMAND },
      })
      : startChildServer(step, [
        ...[Deno.execPath(), "run", "-q", "-P=relay", "--no-prompt", "--config", config, script],
        step,
        upstream,
      ]);
  /** By concurrency, then step: each round's ratio and the step's CPU per request. */
  const figures = new Map<number, Map<string, { ratios: number[]; cpu: number[] }>>();
  for (let round = 0; round < rounds; round++) {
    for (const step of steps) {
      await using shaped = await start(step);
      const setup: BenchSetup = {
        mode: "loopback",
        upstream,
        direct: urlTarget("direct", upstream),
        bare: urlTarget("bare", bare.url),
        relay: urlTarget("relay", shaped.url),
        servers: { bare, relay: shaped },
        notes: [],
        [Symbol.asyncDispose]: () => Promise.resolve(),
      };
      progress.phase(`${step}, round ${round + 1}`);
      const report = await runBench(setup, plan, progress, new AbortController().signal);
      for (const level of report.levels) {
        const byStep = figures.get(level.concurrency) ?? new Map();
        figures.set(level.concurrency, byStep);
        const entry = byStep.get(step) ?? { ratios: [], cpu: [] };
        byStep.set(step, entry);
        entry.ratios.push(level.overhead_vs_bare?.p50 ?? NaN);
        entry.cpu.push(level.relay.cpu_ms_per_request ?? NaN);
      }
    }
  }
  progress.finish();
  if (values.json) {
    const levels = [...figures].map(([level, byStep]) => ({
      concurrency: level,
      overhead_vs_bare_p50: Object.fromEntries([...byStep].map(([step, entry]) => [step, entry.ratios])),
      cpu_ms_per_request: Object.fromEntries([...byStep].map(([step, entry]) => [step, entry.cpu])),
    }));
    return JSON.stringify({ date: new Date().toISOString(), requests, levels });
  }
  return [...figures].flatMap(([level, byStep]) => [
    `concurrency ${level}: what each step adds over what bare adds (p50 TTFB), and its CPU per request, ` +
    `${requests} requests, ${rounds} rounds`,
    ...[...byStep].map(([step, entry]) =>
      `${step.padEnd(7)} ${entry.ratios.map((ratio) => `${ratio.toFixed(2)}x`).join("  ")}   CPU ${
        entry.cpu.map((ms) => ms.toFixed(3)).join(" ")
      } ms`
    ),
    "",
  ]).join("\n").trimEnd();
}

const _RUNS: Record<string, () => Promise<string>> = {
  streams: () => {
    const concurrency = _count(values.concurrency, 1000);
    return _measured({
      concurrency: [concurrency],
      requests: _count(values.requests, 4 * concurrency),
      warmup: concurrency,
      scenario: _SCENARIO,
      fidelity: true,
    });
  },
  body: () =>
    _measured({
      concurrency: values.concurrency ? [_count(values.concurrency, 16)] : [1, 16],
      requests: _count(values.requests, 1000),
      warmup: 100,
      scenario: _SCENARIO,
      workload: { body: claudeCodeBody(400 * 1024), headers: scenarioRequest("text", _SCENARIO).headers },
      fidelity: true,
    }),
  memory: () => _memory(_count(values.requests, 100_000), _count(values.concurrency, 16)),
  floor: () => _floor(_count(values.requests, 2000), concurrencyLevels(values.concurrency ?? "1"), 3),
};

if (import.meta.main) {
  const run = _RUNS[positionals[0]];
  if (!run || positionals.length !== 1) {
    console.error(
      `usage: bench/scenarios.ts <${Object.keys(_RUNS).join("|")}> [--requests N] [--concurrency N] [--json]`,
    );
    Deno.exit(2);
  }
  console.log(await run());
}
