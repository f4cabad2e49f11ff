/**
 * What `relay bench` found, as one JSON object (`--json`) or as tables for a person: each target's
 * times at each concurrency, what relay adds over a direct call and over a bare pass-through, relay's
 * memory, and whether every stream came through unchanged.
 */
import type { ByteDifference, FidelityDifference } from "./fidelity.ts";
import type { Samples } from "./load.ts";
import { type Percentiles, percentiles } from "./percentiles.ts";
import type { ScenarioName } from "./scenarios.ts";
import { formatTable } from "../util/table.ts";

/** The targets a bench can time, in the order they are shown. */
export const TARGET_NAMES = ["direct", "bare", "relay"] as const;

export type TargetName = typeof TARGET_NAMES[number];

/** One target's figures at one concurrency; times in ms. */
export interface TargetFigures {
  /** From asking to the first body byte. */
  ttfb_ms: Percentiles;
  /** From asking to the last body byte. */
  ttlb_ms: Percentiles;
  /** Between two SSE events of a stream; `null` when no stream had two. */
  gap_ms: Percentiles | null;
  requests_per_s: number;
  /** The server's own CPU per request, when it runs in a process of its own whose CPU can be read. */
  cpu_ms_per_request?: number;
}

/** Two points of a distribution. */
export interface Spread {
  p50: number | null;
  p99: number | null;
}

/** Every target's figures at one concurrency, and what relay and bare add to direct's. */
export interface LevelReport {
  concurrency: number;
  /** Measured requests per target. */
  requests: number;
  direct?: TargetFigures;
  bare?: TargetFigures;
  relay: TargetFigures;
  /** relay's TTFB minus direct's, percentile by percentile. */
  overhead_ms?: Percentiles;
  /** relay's TTFB over direct's. */
  overhead_ratio?: Spread;
  /** bare's TTFB minus direct's. */
  bare_overhead_ms?: Percentiles;
  /** What relay adds over what bare adds; the target is 1.2 at p50. `null` when bare's ttfb is not above direct's (noise). */
  overhead_vs_bare?: Spread;
}

/** relay's memory over the run, in MiB: its resident memory, or its JS heap on a worker. */
export interface MemoryReport {
  /** What was measured: relay's own process (resident memory), or the JS heap of the worker it ran on. */
  source: "relay process" | "relay worker";
  idle_mb: number;
  after_warmup_mb: number;
  after_mb: number;
  /** Highest resident memory of the process, when known. */
  peak_mb?: number;
  /** Requests relay served between idle and after. */
  requests: number;
}

/** One scenario's comparison of relayed streams with the direct one. */
export interface FidelityCheck {
  scenario: ScenarioName;
  /** Whether the streams were relayed while relay carried the timed load. */
  under_load: boolean;
  /**
   * Set on the check of the workload streams relay carried in the warm-up and the timed levels: of
   * those only the number of events is checked, since comparing each one would slow the load generator,
   * and one with another number is then compared event by event.
   */
  timed?: true;
  /** Relayed streams compared. */
  streams: number;
  /** How many of them differed. */
  differing: number;
  /** The differences of the first stream that differed, at most {@linkcode MAX_LISTED_DIFFERENCES}. */
  differences: FidelityDifference[];
  /**
   * Idle checks only: where the relayed stream's bytes first part from the direct one's, `null` when
   * nowhere. Told, not judged: a relay that maps models, or one in front of another kind of upstream,
   * sends the same events in other bytes.
   */
  bytes_differ?: ByteDifference | null;
}

/** At most this many differences of a stream are kept: after the first, the rest mostly follow from it. */
export const MAX_LISTED_DIFFERENCES = 5;

export interface FidelityReport {
  /** `null` when nothing was compared. */
  passed: boolean | null;
  /** Why nothing was compared, if so. */
  skipped?: string;
  checks: FidelityCheck[];
}

/** How the run was set up. */
export interface BenchMeta {
  date: string;
  deno: string;
  nproc: number;
  /** `loopback` (the default: mock, relay and bare started by the bench), `target` or `provider`. */
  mode: "loopback" | "target" | "provider";
  /** Where relay ran: a child process, a worker thread of the bench, or elsewhere (`--target`). */
  relay_process: "child" | "worker" | "external";
  /** `host` of the upstream: the bench's mock, `--upstream`, or the provider's. */
  upstream?: string;
  model: string;
  concurrency: number[];
  requests_per_target_per_level: number;
  warmup_per_target_per_level: number;
  /** SSE events in one answer of the timed workload (the `text` scenario). */
  events_per_stream: number;
  /** Headers each request carries (Claude Code's on loopback, so relay's header work is timed). */
  request_headers: number;
}

/** The whole report; the first concurrency's figures also sit at the top, for a quick look. */
export type BenchReport = LevelReport & {
  meta: BenchMeta;
  levels: LevelReport[];
  memory?: MemoryReport;
  fidelity: FidelityReport;
  /** What a reader should know: what was not measured and why. */
  notes: string[];
};

/**
 * One target's figures from its samples; `cpuMs` is the CPU its server used over them, if known.
 *
 * @example
 * ```ts
 * const figures = targetFigures(samples, after.cpuMs - before.cpuMs);
 * ```
 */
export function targetFigures(samples: Samples, cpuMs?: number): TargetFigures {
  const figures: TargetFigures = {
    ttfb_ms: _rounded(percentiles(samples.ttfb)),
    ttlb_ms: _rounded(percentiles(samples.ttlb)),
    gap_ms: samples.gaps.length > 0 ? _rounded(percentiles(samples.gaps)) : null,
    requests_per_s: Math.round(samples.ttfb.length / (samples.wallMs / 1000)),
  };
  if (cpuMs !== undefined) figures.cpu_ms_per_request = roundMs(cpuMs / samples.ttfb.length);
  return figures;
}

/**
 * The figures of one concurrency, with what relay and bare add to direct's TTFB where both were timed.
 * Added times are differences of percentiles, not percentiles of per-request differences.
 *
 * @example
 * ```ts
 * const level = levelReport(16, 2000, { direct, bare, relay });
 * level.overhead_vs_bare?.p50; // 1.76
 * ```
 */
export function levelReport(
  concurrency: number,
  requests: number,
  figures: Partial<Record<TargetName, TargetFigures>> & { relay: TargetFigures },
): LevelReport {
  const level: LevelReport = { concurrency, requests, ...figures };
  const { direct, bare, relay } = figures;
  if (!direct) return level;
  const added = (target: TargetFigures) =>
    _map(target.ttfb_ms, (value, q) => roundMs(value - direct.ttfb_ms[q]));
  level.overhead_ms = added(relay);
  level.overhead_ratio = {
    p50: _ratio(relay.ttfb_ms.p50, direct.ttfb_ms.p50),
    p99: _ratio(relay.ttfb_ms.p99, direct.ttfb_ms.p99),
  };
  if (!bare) return level;
  level.bare_overhead_ms = added(bare);
  level.overhead_vs_bare = {
    p50: _ratio(level.overhead_ms.p50, level.bare_overhead_ms.p50),
    p99: _ratio(level.overhead_ms.p99, level.bare_overhead_ms.p99),
  };
  return level;
}

/**
 * The report as text for a terminal: a table per concurrency, then memory, fidelity and notes.
 *
 * @example
 * ```ts
 * console.log(options.json ? JSON.stringify(report, null, 2) : renderReport(report));
 * ```
 */
export function renderReport(report: BenchReport): string {
  const { meta } = report;
  const where = {
    child: "relay as a child process",
    worker: "relay on a worker thread",
    external: "relay",
  };
  const lines = [
    `relay bench, ${meta.date}: ${meta.mode}, ${
      where[meta.relay_process]
    }; nproc ${meta.nproc}, Deno ${meta.deno}`,
    `streamed POST /v1/messages (model ${meta.model}, ${meta.request_headers} request headers, ` +
    `${meta.events_per_stream} events an answer), ` +
    `${meta.requests_per_target_per_level} requests per target per concurrency after ` +
    `${meta.warmup_per_target_per_level} warm-up, targets interleaved; times in ms`,
  ];
  for (const level of report.levels) lines.push("", ..._renderLevel(level));
  if (report.memory) lines.push("", _renderMemory(report.memory));
  lines.push("", ..._renderFidelity(report.fidelity));
  if (report.notes.length > 0) lines.push("", "notes:", ...report.notes.map((note) => `- ${note}`));
  return lines.join("\n");
}

const _QUANTILES = ["p50", "p90", "p99", "max"] as const;

function _renderLevel(level: LevelReport): string[] {
  const targets = TARGET_NAMES.filter((name) => level[name]);
  const metrics = [["ttfb", "ttfb_ms"], ["ttlb", "ttlb_ms"], ["gap", "gap_ms"]] as const;
  const rows = [["", "", ..._QUANTILES]];
  for (const [label, key] of metrics) {
    for (const [i, name] of targets.entries()) {
      const values = level[name]![key];
      rows.push([i === 0 ? label : "", name, ..._QUANTILES.map((q) => values ? values[q].toFixed(3) : "-")]);
    }
  }
  const lines = [
    `concurrency ${level.concurrency} (${level.requests} requests per target)`,
    formatTable(rows, { left: 2 }),
  ];
  lines.push(`req/s: ${targets.map((name) => `${name} ${level[name]!.requests_per_s}`).join(", ")}`);
  const cpu = targets.filter((name) => level[name]!.cpu_ms_per_request !== undefined);
  if (cpu.length > 0) {
    lines.push(
      `server CPU per request: ${
        cpu.map((name) => `${name} ${level[name]!.cpu_ms_per_request!.toFixed(3)} ms`).join(", ")
      }`,
    );
  }
  if (level.overhead_ms && level.overhead_ratio) {
    const at = (q: "p50" | "p99") =>
      `${level.overhead_ms![q].toFixed(3)} ms at ${q} (its ttfb ${
        _times(level.overhead_ratio![q])
      } direct's` +
      (level.overhead_vs_bare ? `; ${_againstBare(level.overhead_vs_bare[q])}` : "") + ")";
    lines.push(`relay adds ${at("p50")}, ${at("p99")}`);
  }
  return lines;
}

/**
 * Below 0, relay's ttfb came out under direct's at that percentile, which is noise: it added nothing.
 * `null`: bare's did, and there is nothing to hold relay's against.
 */
function _againstBare(ratio: number | null): string {
  if (ratio === null) return "bare's ttfb not above direct's here: no ratio";
  return ratio < 0 ? "less than bare adds" : `${_times(ratio)} what bare adds`;
}

function _renderMemory(memory: MemoryReport): string {
  const peak = memory.peak_mb === undefined ? "" : `, peak ${memory.peak_mb.toFixed(1)}`;
  const measure = memory.source === "relay worker" ? "JS heap" : "RSS";
  return `memory (${memory.source}, ${measure} MiB): idle ${memory.idle_mb.toFixed(1)}, after warm-up ` +
    `${memory.after_warmup_mb.toFixed(1)}, after ${memory.requests} requests ${
      memory.after_mb.toFixed(1)
    }${peak}`;
}

function _renderFidelity(fidelity: FidelityReport): string[] {
  if (fidelity.passed === null) return [`fidelity: not checked: ${fidelity.skipped ?? "nothing to compare"}`];
  const lines = [`fidelity: ${fidelity.passed ? "passed" : "FAILED"}, relayed streams against direct ones`];
  for (const check of fidelity.checks) {
    const when = check.timed ? "timed" : check.under_load ? "under load" : "idle";
    const verdict = check.differing > 0
      ? `${check.differing} differ; the first: ${check.differences.map(_describe).join("; ")}`
      : check.timed
      ? "as many events as direct's"
      : check.bytes_differ === null
      ? "identical, byte for byte"
      : check.bytes_differ
      ? `the same events, in other bytes from byte ${check.bytes_differ.at}: direct ${
        JSON.stringify(check.bytes_differ.direct)
      }, relay ${JSON.stringify(check.bytes_differ.relay)}`
      : "identical";
    lines.push(
      `  ${check.scenario.padEnd(14)} ${when.padEnd(10)} ${
        String(check.streams).padStart(4)
      } streams: ${verdict}`,
    );
  }
  return lines;
}

function _describe({ at, field, direct, relay }: FidelityDifference): string {
  return `event #${at} ${field}: direct ${_value(direct)}, relay ${_value(relay)}`;
}

function _value(value: string | null): string {
  return value === null ? "(none)" : value === "" ? "(empty)" : value;
}

function _times(ratio: number | null): string {
  return ratio === null ? "n/a" : `${ratio.toFixed(2)}x`;
}

function _map(values: Percentiles, f: (value: number, q: keyof Percentiles) => number): Percentiles {
  return {
    p50: f(values.p50, "p50"),
    p90: f(values.p90, "p90"),
    p99: f(values.p99, "p99"),
    max: f(values.max, "max"),
  };
}

function _rounded(values: Percentiles): Percentiles {
  return _map(values, roundMs);
}

/** Milliseconds to the microsecond: finer is below the timer's and the machine's noise. */
export function roundMs(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** MiB to a tenth: memory readings move by more than that between identical runs. */
export function roundMib(value: number): number {
  return Math.round(value * 10) / 10;
}

function _ratio(value: number, reference: number): number | null {
  return reference > 0 ? Math.round((value / reference) * 100) / 100 : null;
}
