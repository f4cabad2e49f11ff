/**
 * relay's cost on loopback: the time to first and last byte of a streamed `POST /v1/messages` through
 * relay, against the same call made to the upstream directly and through a bare Deno.serve + fetch
 * pass-through, and relay's resident memory. bench/README.md says what each number means.
 *
 * ```sh
 * deno run -P=relay --allow-run --allow-write bench/loopback.ts \
 *   [--requests N] [--concurrency 1,16] [--json] [--quick]
 * ```
 *
 * The mock upstream and the load generator share this process; relay and the pass-through each run as a
 * child process, so each has its own event loop and its memory can be read alone.
 */
import { parseArgs } from "node:util";
import { mockHandler } from "../src/providers/mock.ts";
import { mockOptionsSchema } from "../src/providers/mock_options.ts";
import {
  emptySamples,
  type Percentiles,
  percentiles,
  probeBytes,
  runBatch,
  type Samples,
  type Target,
} from "./_load.ts";
import { type ChildServer, startChildServer, type Usage } from "./_servers.ts";

const _ROOT = new URL("..", import.meta.url);
const _RUN = ["run", "-q", "-P=relay", "--no-prompt"];
/** Requests per target per turn of the rotation: short turns spread machine noise over every target. */
const _BATCH = 100;
/** The memory run's concurrency: a busy Claude Code session with subagents. */
const _RSS_CONCURRENCY = 16;

/** Every target, in the order of the rotation's first round. */
const _TARGETS = ["direct", "bare", "relay", "relay_log_info"] as const;
type _TargetName = typeof _TARGETS[number];
/** The targets that run as child processes, whose CPU and memory can be read alone. */
type _ChildName = Exclude<_TargetName, "direct">;
const _CHILDREN: readonly _ChildName[] = ["bare", "relay", "relay_log_info"];

/** What the command line asks for. */
interface _Options {
  /** Measured requests per target per concurrency level. */
  requests: number;
  /** Unmeasured requests per target per concurrency level, first. */
  warmup: number;
  /** Requests of the memory run, after the measured ones. */
  rssRequests: number;
  concurrency: number[];
  json: boolean;
}

interface _TargetStats {
  ttfb_ms: Percentiles;
  ttlb_ms: Percentiles;
  requests_per_s: number;
  /** The server's own CPU time per request; direct's server shares the harness process. */
  cpu_ms_per_request?: number;
}

type _Ratio = { p50: number | null; p99: number | null };

/** Every target's figures at one concurrency, and the TTFB each adds over direct. */
type _Level = { concurrency: number } & Record<_TargetName, _TargetStats> & {
  overhead_ms: { p50: number; p99: number };
  bare_overhead_ms: { p50: number; p99: number };
  log_info_overhead_ms: { p50: number; p99: number };
  /** relay's added TTFB over bare's; null when bare added none. */
  overhead_ratio: _Ratio;
};

/** A child's memory over the run, in MiB. */
interface _RssTimeline {
  idle: number;
  after_warmup: number;
  after_measured: number;
  after_rss_run?: number;
  peak: number;
}

function _parseOptions(args: string[]): _Options {
  const { values } = parseArgs({
    args,
    options: {
      requests: { type: "string" },
      concurrency: { type: "string", default: "1,16" },
      json: { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
    },
  });
  const { quick } = values;
  return {
    requests: values.requests === undefined ? (quick ? 200 : 2000) : _count("--requests", values.requests),
    warmup: quick ? 50 : 200,
    rssRequests: quick ? 500 : 10_000,
    concurrency: values.concurrency.split(",").map((value) => _count("--concurrency", value)),
    json: values.json,
  };
}

function _count(flag: string, value: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`${flag}: expected a positive integer, got "${value}"`);
  }
  return count;
}

async function _run(options: _Options) {
  await using stack = new AsyncDisposableStack();
  // Ctrl-C must still stop the children and remove the config, so it ends the run instead of the process.
  const interrupted = new AbortController();
  const onInterrupt = () => interrupted.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onInterrupt);
  stack.defer(() => Deno.removeSignalListener("SIGINT", onInterrupt));
  const { signal } = interrupted;

  const dir = await Deno.makeTempDir({ prefix: "relay-bench-" });
  stack.defer(() => Deno.remove(dir, { recursive: true }));
  const mock = stack.use(
    Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      mockHandler(mockOptionsSchema.parse({})),
    ),
  );
  const upstream = `http://127.0.0.1:${mock.addr.port}`;
  _progress("starting relay (log warn), relay (log info) and the bare pass-through");
  const children: Record<_ChildName, ChildServer> = {
    relay: stack.use(await _startRelay(dir, "warn", upstream)),
    relay_log_info: stack.use(await _startRelay(dir, "info", upstream)),
    bare: stack.use(await startChildServer("bare", [..._RUN, "bench/_bare_passthrough.ts", upstream], _ROOT)),
  };
  const idle = await _usage(children);

  const expectedBytes = await probeBytes(upstream, signal);
  const urls: Record<_TargetName, string> = {
    direct: upstream,
    bare: children.bare.url,
    relay: children.relay.url,
    relay_log_info: children.relay_log_info.url,
  };
  const target = (name: _TargetName): Target => ({ name, url: urls[name], expectedBytes });

  _progress(`warming up: ${options.warmup} requests per target at concurrency ${options.concurrency}`);
  for (const concurrency of options.concurrency) {
    for (const name of _TARGETS) {
      await runBatch(target(name), options.warmup, concurrency, emptySamples(), signal);
    }
  }
  const warm = await _usage(children);

  const levels: _Level[] = [];
  let before = warm;
  for (const concurrency of options.concurrency) {
    _progress(
      `concurrency ${concurrency}: ${options.requests} requests per target, rotated in batches of ${_BATCH}`,
    );
    const samples = Object.fromEntries(_TARGETS.map((name) => [name, emptySamples()])) as Record<
      _TargetName,
      Samples
    >;
    for (let round = 0, sent = 0; sent < options.requests; round++, sent += _BATCH) {
      const count = Math.min(_BATCH, options.requests - sent);
      for (let turn = 0; turn < _TARGETS.length; turn++) {
        const name = _TARGETS[(round + turn) % _TARGETS.length];
        await runBatch(target(name), count, concurrency, samples[name], signal);
      }
    }
    const after = await _usage(children);
    levels.push(_level(concurrency, samples, before, after));
    before = after;
  }
  const measured = before;

  _progress(`memory run: ${options.rssRequests} requests to relay at concurrency ${_RSS_CONCURRENCY}`);
  await runBatch(target("relay"), options.rssRequests, _RSS_CONCURRENCY, emptySamples(), signal);
  const end = await _usage(children);

  const timeline = (name: _ChildName): _RssTimeline => ({
    idle: _mib(idle[name].rssMib),
    after_warmup: _mib(warm[name].rssMib),
    after_measured: _mib(measured[name].rssMib),
    ...(name === "relay" ? { after_rss_run: _mib(end[name].rssMib) } : {}),
    peak: _mib(end[name].peakMib),
  });
  return {
    meta: {
      date: new Date().toISOString(),
      nproc: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      args: Deno.args,
      requests_per_target_per_level: options.requests,
      warmup_per_target_per_level: options.warmup,
      batch: _BATCH,
      answer_bytes: expectedBytes,
      relay_log_level: "warn",
      rss_run_requests: options.rssRequests,
      rss_run_concurrency: _RSS_CONCURRENCY,
      relay_requests_served: (options.warmup + options.requests) * options.concurrency.length +
        options.rssRequests,
    },
    ...levels[0],
    levels,
    rss_mb: timeline("relay"),
    bare_rss_mb: timeline("bare"),
    relay_log_info_rss_mb: timeline("relay_log_info"),
  };
}

type _Report = Awaited<ReturnType<typeof _run>>;

/** relay from a throwaway config: the mock as an `anthropic-compatible` upstream, logging at `level`. */
async function _startRelay(dir: string, level: "warn" | "info", upstream: string): Promise<ChildServer> {
  const config = `${dir}/relay-${level}.yaml`;
  const yaml = [
    "server:",
    "  shutdown_grace: 1s",
    "log:",
    `  level: ${level}`,
    "providers:",
    "  - name: bench-upstream",
    "    type: anthropic-compatible",
    `    base_url: "${upstream}"`,
    "    keys:",
    '      - key: "sk-bench-0000000000000000"',
    "",
  ].join("\n");
  // relay refuses a config its group or others can read.
  await Deno.writeTextFile(config, yaml, { mode: 0o600 });
  const args = [..._RUN, "main.ts", "serve", "--config", config, "--port", "0"];
  return await startChildServer(level === "warn" ? "relay" : "relay_log_info", args, _ROOT);
}

async function _usage(children: Record<_ChildName, ChildServer>): Promise<Record<_ChildName, Usage>> {
  const usages = await Promise.all(_CHILDREN.map((name) => children[name].usage()));
  return Object.fromEntries(_CHILDREN.map((name, i) => [name, usages[i]])) as Record<_ChildName, Usage>;
}

/** Each target's figures at one concurrency; `before` and `after` are its children's usage around it. */
function _level(
  concurrency: number,
  samples: Record<_TargetName, Samples>,
  before: Record<_ChildName, Usage>,
  after: Record<_ChildName, Usage>,
): _Level {
  const stats = Object.fromEntries(_TARGETS.map((name) => [name, _stats(samples[name])])) as Record<
    _TargetName,
    _TargetStats
  >;
  for (const name of _CHILDREN) {
    stats[name].cpu_ms_per_request = _ms(
      (after[name].cpuMs - before[name].cpuMs) / samples[name].ttfb.length,
    );
  }
  const added = (name: _TargetName) => ({
    p50: _ms(stats[name].ttfb_ms.p50 - stats.direct.ttfb_ms.p50),
    p99: _ms(stats[name].ttfb_ms.p99 - stats.direct.ttfb_ms.p99),
  });
  const relay = added("relay");
  const bare = added("bare");
  return {
    concurrency,
    ...stats,
    overhead_ms: relay,
    bare_overhead_ms: bare,
    log_info_overhead_ms: added("relay_log_info"),
    overhead_ratio: { p50: _ratio(relay.p50, bare.p50), p99: _ratio(relay.p99, bare.p99) },
  };
}

function _stats(samples: Samples): _TargetStats {
  const rounded = (values: number[]) => {
    const { p50, p90, p99, max } = percentiles(values);
    return { p50: _ms(p50), p90: _ms(p90), p99: _ms(p99), max: _ms(max) };
  };
  return {
    ttfb_ms: rounded(samples.ttfb),
    ttlb_ms: rounded(samples.ttlb),
    requests_per_s: Math.round(samples.ttfb.length / (samples.wallMs / 1000)),
  };
}

/** MiB to a tenth: finer moves with every allocation. */
function _mib(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Milliseconds to the microsecond: finer is below the timer's and the machine's noise. */
function _ms(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function _ratio(added: number, reference: number): number | null {
  return reference > 0 ? Math.round((added / reference) * 100) / 100 : null;
}

function _progress(message: string) {
  console.error(`loopback: ${message}`);
}

function _render(report: _Report): string {
  const { meta } = report;
  const lines = [
    `relay loopback benchmark, ${meta.date}: nproc ${meta.nproc}, Deno ${meta.deno}`,
    `streamed POST /v1/messages answered by the mock (${meta.answer_bytes} bytes, 8 text deltas); ` +
    `${meta.requests_per_target_per_level} requests per target per concurrency after ` +
    `${meta.warmup_per_target_per_level} warm-up, in rotated batches of ${meta.batch}; times in ms`,
  ];
  const columns = ["p50", "p90", "p99", "max"] as const;
  for (const level of report.levels) {
    const added = {
      bare: level.bare_overhead_ms,
      relay: level.overhead_ms,
      relay_log_info: level.log_info_overhead_ms,
    };
    lines.push(
      "",
      `concurrency ${level.concurrency}`,
      _table([
        [
          "target",
          ...columns.map((c) => `ttfb ${c}`),
          ...columns.map((c) => `ttlb ${c}`),
          "req/s",
          "cpu/req",
          "added ttfb p50",
          "p99",
        ],
        ..._TARGETS.map((name) => [
          name,
          ...columns.map((c) => level[name].ttfb_ms[c].toFixed(3)),
          ...columns.map((c) => level[name].ttlb_ms[c].toFixed(3)),
          String(level[name].requests_per_s),
          level[name].cpu_ms_per_request?.toFixed(3) ?? "-",
          name === "direct" ? "-" : added[name].p50.toFixed(3),
          name === "direct" ? "-" : added[name].p99.toFixed(3),
        ]),
      ]),
      `relay's added ttfb is ${_times(level.overhead_ratio.p50)} bare's at p50, ${
        _times(level.overhead_ratio.p99)
      } at p99`,
    );
  }
  const rss = (timeline: _RssTimeline) =>
    [timeline.idle, timeline.after_warmup, timeline.after_measured, timeline.after_rss_run, timeline.peak]
      .map((mib) => mib?.toFixed(1) ?? "-");
  lines.push(
    "",
    _table([
      ["RSS MiB", "idle", "after warm-up", "after measured", `after ${meta.rss_run_requests} more`, "peak"],
      ["relay", ...rss(report.rss_mb)],
      ["relay_log_info", ...rss(report.relay_log_info_rss_mb)],
      ["bare", ...rss(report.bare_rss_mb)],
    ]),
    `relay served ${meta.relay_requests_served} requests in all, the last ${meta.rss_run_requests} at ` +
      `concurrency ${meta.rss_run_concurrency}`,
  );
  return lines.join("\n");
}

function _times(ratio: number | null): string {
  return ratio === null ? "n/a" : `${ratio.toFixed(2)}x`;
}

/** Rows as aligned columns: the first left-aligned, numbers right-aligned. */
function _table(rows: string[][]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map((row) =>
      row.map((cell, column) => column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))
        .join("  ")
    )
    .join("\n");
}

if (import.meta.main) {
  const options = _parseOptions(Deno.args);
  const report = await _run(options);
  console.log(options.json ? JSON.stringify(report, null, 2) : _render(report));
}
