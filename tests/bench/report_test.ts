import assert from "node:assert/strict";
import type { Samples } from "../../src/bench/load.ts";
import {
  type BenchReport,
  levelReport,
  renderReport,
  type TargetFigures,
  targetFigures,
} from "../../src/bench/report.ts";

function figures(ttfbP50: number, ttfbP99: number): TargetFigures {
  const spread = (p50: number, p99: number) => ({ p50, p90: (p50 + p99) / 2, p99, max: p99 + 1 });
  return {
    ttfb_ms: spread(ttfbP50, ttfbP99),
    ttlb_ms: spread(ttfbP50 + 0.1, ttfbP99 + 0.1),
    gap_ms: spread(0, 0.05),
    requests_per_s: Math.round(1000 / ttfbP50),
  };
}

Deno.test("targetFigures: percentiles rounded to the microsecond, throughput over wall time, CPU per request", () => {
  const samples: Samples = {
    ttfb: [0.1234567, 0.2, 0.3, 0.4],
    ttlb: [1, 2, 3, 4],
    gaps: [],
    wallMs: 500,
    kept: [],
  };
  const result = targetFigures(samples, 2);
  assert.deepEqual(result.ttfb_ms, { p50: 0.2, p90: 0.4, p99: 0.4, max: 0.4 });
  assert.deepEqual(result.ttlb_ms, { p50: 2, p90: 4, p99: 4, max: 4 });
  assert.equal(result.gap_ms, null, "no stream had two events");
  assert.equal(result.requests_per_s, 8);
  assert.equal(result.cpu_ms_per_request, 0.5);
  assert.equal(targetFigures({ ...samples, ttfb: [0.1234567], ttlb: [1] }).ttfb_ms.p50, 0.123);
  assert.ok(!("cpu_ms_per_request" in targetFigures(samples)));
});

Deno.test("levelReport: relay's added TTFB over direct, as a ratio, and against what bare adds", () => {
  const level = levelReport(16, 2000, { direct: figures(1, 4), bare: figures(1.5, 5), relay: figures(2, 8) });
  assert.deepEqual(level.overhead_ms, { p50: 1, p90: 2.5, p99: 4, max: 4 });
  assert.deepEqual(level.overhead_ratio, { p50: 2, p99: 2 });
  assert.deepEqual(level.bare_overhead_ms, { p50: 0.5, p90: 0.75, p99: 1, max: 1 });
  assert.deepEqual(level.overhead_vs_bare, { p50: 2, p99: 4 });
});

Deno.test("levelReport: no ratio against a bare pass-through that added nothing, no overhead without direct", () => {
  const level = levelReport(1, 100, { direct: figures(1, 4), bare: figures(0.9, 4), relay: figures(1.2, 5) });
  assert.deepEqual(level.overhead_vs_bare, { p50: null, p99: null });
  const alone = levelReport(1, 100, { relay: figures(1.2, 5) });
  assert.equal(alone.overhead_ms, undefined);
  assert.equal(alone.overhead_ratio, undefined);
});

function report(overrides: Partial<BenchReport> = {}): BenchReport {
  const levels = [
    levelReport(1, 2000, { direct: figures(0.2, 4), bare: figures(0.45, 6), relay: figures(0.7, 9.9) }),
    levelReport(16, 2000, { direct: figures(2, 20), bare: figures(3.8, 22), relay: figures(7.5, 28.5) }),
  ];
  return {
    meta: {
      date: "2026-11-25T14:00:00.000Z",
      deno: "2.9.6",
      nproc: 2,
      mode: "loopback",
      relay_process: "child",
      upstream: "http://127.0.0.1:9000",
      model: "mock-1",
      concurrency: [1, 16],
      requests_per_target_per_level: 2000,
      warmup_per_target_per_level: 200,
      events_per_stream: 14,
      request_headers: 19,
    },
    ...levels[0],
    levels,
    memory: {
      source: "relay process",
      idle_mb: 71.7,
      after_warmup_mb: 121.4,
      after_mb: 206.6,
      peak_mb: 209.3,
      requests: 4400,
    },
    fidelity: {
      passed: true,
      checks: [{ scenario: "tool_use", under_load: true, streams: 6, differing: 0, differences: [] }],
    },
    notes: [],
    ...overrides,
  };
}

Deno.test("renderReport: a table per concurrency, what relay adds, memory and fidelity", () => {
  const text = renderReport(report());
  assert.match(text, /^relay bench, 2026-11-25T14:00:00\.000Z: loopback, relay as a child process; nproc 2/);
  assert.match(
    text,
    /concurrency 1 \(2000 requests per target\)\n +p50 +p90 +p99 +max\nttfb +direct +0\.200 /,
  );
  assert.match(text, /\n +relay +7\.500 +18\.000 +28\.500 +29\.500\n/, "relay's ttfb row at concurrency 16");
  assert.match(text, /\ngap +direct +0\.000 /);
  assert.match(text, /relay adds 0\.500 ms at p50 \(its ttfb 3\.50x direct's; 2\.00x what bare adds\)/);
  assert.match(
    text,
    /memory \(relay process, RSS MiB\): idle 71\.7, after warm-up 121\.4, after 4400 requests 206\.6, peak 209\.3/,
  );
  assert.match(text, /fidelity: passed/);
  assert.match(text, /tool_use +under load +6 streams: identical/);
  assert.doesNotMatch(text, /notes:/);
  for (const line of text.split("\n")) assert.ok(!line.endsWith(" "), `no trailing blanks: "${line}"`);
});

Deno.test("renderReport: a failed fidelity check names the first difference; notes are listed", () => {
  const text = renderReport(report({
    fidelity: {
      passed: false,
      checks: [{
        scenario: "parallel_tools",
        under_load: false,
        streams: 1,
        differing: 1,
        differences: [{ at: 5, field: "tool_use id", direct: "toolu_a", relay: "toolu_b" }],
      }],
    },
    notes: ["relay at --target was not started by the bench"],
  }));
  assert.match(text, /fidelity: FAILED/);
  assert.match(
    text,
    /parallel_tools +idle +1 streams: 1 differ; the first: event #5 tool_use id: direct toolu_a, relay toolu_b/,
  );
  assert.match(text, /notes:\n- relay at --target was not started by the bench$/);
});

Deno.test("renderReport: the timed streams' check, and an empty value shown as such", () => {
  const text = renderReport(report({
    fidelity: {
      passed: false,
      checks: [
        { scenario: "text", under_load: true, timed: true, streams: 4400, differing: 0, differences: [] },
        {
          scenario: "thinking",
          under_load: false,
          streams: 1,
          differing: 1,
          differences: [{ at: 3, field: "signature", direct: "c2ln", relay: "" }],
        },
      ],
    },
  }));
  assert.match(text, /text +timed +4400 streams: as many events as direct's\n/);
  assert.match(text, /event #3 signature: direct c2ln, relay \(empty\)$/m);
});

Deno.test("renderReport: relay under direct at a percentile adds less than bare, not a negative multiple", () => {
  const level = levelReport(1, 100, {
    direct: figures(1, 4),
    bare: figures(1.5, 3.9),
    relay: figures(0.9, 4.5),
  });
  const text = renderReport(report({ ...level, levels: [level] }));
  assert.match(text, /relay adds -0\.100 ms at p50 \(its ttfb 0\.90x direct's; less than bare adds\)/);
  assert.doesNotMatch(text, /-\d[.\d]*x/);
  // Bare under direct at p99: bare added nothing, so relay's figure has nothing to be held against.
  assert.match(text, /at p99 \(its ttfb 1\.13x direct's; bare's ttfb not above direct's here: no ratio\)/);
});

Deno.test("renderReport: relay-only figures, no memory, fidelity not checked", () => {
  const level = levelReport(1, 100, { relay: figures(0.7, 9.9) });
  const text = renderReport(report({
    ...level,
    levels: [level],
    memory: undefined,
    fidelity: { passed: null, skipped: "no --upstream to compare relay's streams with", checks: [] },
  }));
  assert.doesNotMatch(text, /direct|relay adds|memory/);
  assert.match(text, /fidelity: not checked: no --upstream to compare relay's streams with/);
});

Deno.test("renderReport: relay on a worker thread, its memory the worker's JS heap", () => {
  const base = report();
  const text = renderReport(report({
    meta: { ...base.meta, relay_process: "worker" },
    memory: { source: "relay worker", idle_mb: 15.2, after_warmup_mb: 21.6, after_mb: 24.7, requests: 488 },
  }));
  assert.match(text, /: loopback, relay on a worker thread; nproc 2/);
  assert.match(
    text,
    /memory \(relay worker, JS heap MiB\): idle 15\.2, after warm-up 21\.6, after 488 requests 24\.7\n/,
  );
});
