/**
 * Runs larger than `relay bench` makes by default, on the same loopback setup (the bench's mock in
 * this process, relay and the bare pass-through as child processes). bench/README.md says what each
 * number means.
 *
 * ```sh
 * deno run -P=relay --allow-run --allow-write bench/scenarios.ts <streams|body|memory> \
 *   [--requests N] [--concurrency N] [--json]
 * ```
 *
 * - `streams`: 1,000 concurrent streams (direct, bare, relay), 4,000 measured per target, with fidelity
 *   checked under that load.
 * - `body`: every request carries a 400 KB Claude Code session body, at concurrency 1 and 16.
 * - `memory`: 100,000 requests through relay at concurrency 16, its RSS read every 10,000.
 */
import { parseArgs } from "node:util";
import { emptySamples, runBatch } from "../src/bench/load.ts";
import { percentiles } from "../src/bench/percentiles.ts";
import { stderrProgress } from "../src/bench/progress.ts";
import { relayCommand } from "../src/bench/relay_command.ts";
import { renderReport } from "../src/bench/report.ts";
import { type BenchPlan, plannedRequests, runBench } from "../src/bench/run.ts";
import { CLAUDE_CODE_HEADERS } from "../src/bench/claude_code_headers.ts";
import { scenarioRequest } from "../src/bench/scenarios.ts";
import { loopbackSetup } from "../src/bench/setups.ts";
import { claudeCodeBody } from "./_fixtures.ts";

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
const _count = (value: string | undefined, fallback: number) => {
  if (value === undefined) return fallback;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) throw new Error(`expected a positive integer, got "${value}"`);
  return count;
};

/** A measured run of `plan` against direct, bare and relay. */
async function _measured(plan: BenchPlan): Promise<string> {
  const maxConcurrent = Math.max(64, ...plan.concurrency);
  await using setup = await loopbackSetup({ spawn: true, maxConcurrent, command: _COMMAND });
  const progress = stderrProgress(plannedRequests(plan, ["direct", "bare", "relay"]));
  const report = await runBench(setup, plan, progress, new AbortController().signal);
  progress.finish();
  return values.json ? JSON.stringify(report, null, 2) : renderReport(report);
}

/** relay's RSS every {@linkcode _MEMORY_STEP} requests, and the TTFB of each step. */
async function _memory(total: number, concurrency: number): Promise<string> {
  await using setup = await loopbackSetup({
    spawn: true,
    maxConcurrent: Math.max(64, concurrency),
    command: _COMMAND,
  });
  const relay = setup.servers.relay!;
  const request = scenarioRequest("text", _SCENARIO);
  const progress = stderrProgress(total);
  progress.phase(`memory, concurrency ${concurrency}`);
  const idle = await relay.usage();
  const steps = [];
  for (let served = 0; served < total;) {
    const count = Math.min(_MEMORY_STEP, total - served);
    const samples = emptySamples();
    await runBatch(
      setup.relay,
      { request, count, concurrency, onDone: () => progress.advance() },
      samples,
      new AbortController().signal,
    );
    served += count;
    const usage = await relay.usage();
    steps.push({
      requests: served,
      rss_mb: _mib(usage!.rssMib),
      peak_mb: _mib(usage!.peakMib!),
      ttfb_p50_ms: _ms(percentiles(samples.ttfb).p50),
    });
  }
  progress.finish();
  const first = steps[0];
  const last = steps.at(-1)!;
  const result = {
    date: new Date().toISOString(),
    concurrency,
    idle_mb: _mib(idle!.rssMib),
    steps,
    growth_after_first_step_mb: _mib(last.rss_mb - first.rss_mb),
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

function _mib(value: number): number {
  return Math.round(value * 10) / 10;
}

function _ms(value: number): number {
  return Math.round(value * 1000) / 1000;
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
