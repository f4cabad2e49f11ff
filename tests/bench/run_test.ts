import assert from "node:assert/strict";
import { type Target, urlTarget } from "../../src/bench/load.ts";
import type { Progress } from "../../src/bench/progress.ts";
import { BenchFailed, type BenchPlan, plannedRequests, runBench } from "../../src/bench/run.ts";
import { startChildServer } from "../../src/bench/servers.ts";
import { type BenchSetup, loopbackSetup } from "../../src/bench/setups.ts";
import { renderReport, type TargetName } from "../../src/bench/report.ts";
import { mockHandler } from "../../src/providers/mock.ts";
import { mockOptionsSchema } from "../../src/providers/mock_options.ts";

const plan: BenchPlan = {
  concurrency: [1, 4],
  requests: 12,
  warmup: 3,
  scenario: { model: "mock-1", maxTokens: 64, mockEvents: 4 },
  fidelity: true,
};
const signal = new AbortController().signal;
/** relay's program, which a bench worker runs. */
const MAIN = new URL("../../main.ts", import.meta.url);
/** relay's worker program with a relay that dies of an uncaught error during the warm-up. */
const DYING_WORKER = new URL("./_dying_relay_worker.ts", import.meta.url);
/** A child server that exits with code 3 at its first request, which it leaves unanswered. */
const DYING_CHILD = `Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.error(JSON.stringify({ msg: "listening", url: \`http://127.0.0.1:\${port}\` })),
}, () => {
  // A run's access lines, one a request, then the last words they must not push out.
  for (let i = 0; i < 500; i++) console.error(JSON.stringify({ level: "info", msg: "request", status: 200, i }));
  console.error("the relay crashed");
  Deno.exit(3);
});`;

function countingProgress() {
  const seen = { advanced: 0, phases: [] as string[] };
  const progress: Progress = {
    phase: (label) => seen.phases.push(label),
    advance: (count = 1) => seen.advanced += count,
    finish: () => {},
  };
  return { progress, seen };
}

Deno.test("a loopback run on workers times direct, bare and relay at each level, and relay passes every scenario", async () => {
  await using setup = await loopbackSetup({
    placement: "worker",
    maxConcurrent: 64,
    program: { module: MAIN },
  });
  const { progress, seen } = countingProgress();
  const report = await runBench(setup, plan, progress, signal);

  assert.equal(
    seen.advanced,
    plannedRequests(plan, ["direct", "bare", "relay"]),
    "progress adds up to the plan",
  );
  assert.deepEqual(report.levels.map((level) => level.concurrency), [1, 4]);
  for (const level of report.levels) {
    assert.ok(level.direct && level.bare && level.relay && level.overhead_ms && level.overhead_vs_bare);
    assert.equal(level.relay.cpu_ms_per_request, undefined, "no CPU figure for servers on workers");
  }
  assert.equal(report.concurrency, 1, "the first level's figures sit at the top");
  assert.equal(report.meta.events_per_stream, 10);
  assert.equal(report.meta.relay_process, "worker");
  assert.equal(report.memory?.source, "relay worker");
  assert.equal(report.fidelity.passed, true);
  assert.deepEqual(
    report.fidelity.checks.map(({ scenario, under_load, timed }) =>
      `${scenario}${timed ? " timed" : under_load ? " loaded" : ""}`
    ),
    [
      "text",
      "tool_use",
      "parallel_tools",
      "thinking",
      "text loaded",
      "tool_use loaded",
      "parallel_tools loaded",
      "thinking loaded",
      "text timed",
    ],
  );
  assert.deepEqual(
    report.fidelity.checks.filter((check) => !check.under_load).map((check) => check.bytes_differ),
    [null, null, null, null],
    "relay passes every idle stream on byte for byte",
  );
  const timed = report.fidelity.checks.at(-1)!;
  assert.equal(timed.timed, true);
  assert.equal(timed.streams, (plan.warmup + plan.requests) * plan.concurrency.length, "every timed stream");
  const loaded = report.fidelity.checks.filter((check) => check.under_load && !check.timed);
  assert.ok(loaded.every((check) => check.streams >= 1 && check.differing === 0));
  assert.ok(loaded[0].streams > loaded[1].streams, "sampled workload streams count with the text scenario");
  assert.ok(
    seen.phases.includes("fidelity under load, concurrency 4"),
    "without 16, the highest level carries the load",
  );
});

Deno.test("a level of few requests still takes turns among the targets, as --quick's 100 do", async () => {
  const order: string[] = [];
  const mock = mockHandler(mockOptionsSchema.parse({}));
  const recording = (name: TargetName): Target => ({
    name,
    send: ({ body, headers }) => {
      order.push(name);
      return mock(new Request("http://bench/v1/messages", { method: "POST", headers, body }));
    },
  });
  const setup: BenchSetup = {
    mode: "target",
    direct: recording("direct"),
    bare: recording("bare"),
    relay: recording("relay"),
    servers: {},
    notes: [],
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  const quick = { ...plan, concurrency: [1], requests: 100, warmup: 0, fidelity: false };
  const { progress, seen } = countingProgress();
  await runBench(setup, quick, progress, signal);
  assert.deepEqual(seen.phases, ["probing", "concurrency 1"], "no warm-up to show");
  const measured = order.slice(2); // after the probes of relay and direct
  const turns = measured.filter((name, i) => name !== measured[i - 1]).length;
  assert.equal(measured.length, 300);
  assert.equal(turns, 15, "five turns of 20 each, the order rotating");
  assert.deepEqual(measured.slice(0, 61).filter((_, i) => i % 20 === 0), ["direct", "bare", "relay", "bare"]);
});

Deno.test("the load fidelity is checked under is no more than a level's requests, nor fewer than its concurrency", () => {
  const small = { ...plan, concurrency: [1, 16], requests: 20, warmup: 0 };
  // A probe to relay, the measured requests, then the load at 16.
  assert.equal(plannedRequests(small, ["relay"]), 1 + 2 * 20 + 20);
  assert.equal(plannedRequests({ ...small, requests: 2000 }, ["relay"]), 1 + 2 * 2000 + 200);
  assert.equal(plannedRequests({ ...small, concurrency: [500], requests: 2000 }, ["relay"]), 1 + 2000 + 2000);
});

/** A "relay" that hands on the upstream's answers, `alter`ed: what the fidelity check is there to catch. */
function alteringRelay(upstream: string, alter: (body: ReadableStream<Uint8Array>) => BodyInit): BenchSetup {
  const direct = urlTarget("direct", upstream);
  return {
    mode: "target",
    direct,
    relay: {
      name: "relay",
      send: async (request, signal) => {
        const response = await direct.send(request, signal);
        return new Response(alter(response.body!), response);
      },
    },
    servers: {},
    notes: [],
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

/** A "relay" that hands out its own tool_use ids. */
function renamingToolIds(upstream: string): BenchSetup {
  return alteringRelay(upstream, (body) =>
    body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(
        new TransformStream({ transform: (text, c) => c.enqueue(text.replaceAll("toolu_", "toolu_x")) }),
      )
      .pipeThrough(new TextEncoderStream()));
}

Deno.test("a relay that changes tool_use ids fails fidelity, idle and under load, naming the difference", async () => {
  await using loopback = await loopbackSetup({
    placement: "worker",
    maxConcurrent: 64,
    program: { module: MAIN },
  });
  const report = await runBench(
    renamingToolIds(loopback.upstream!),
    plan,
    countingProgress().progress,
    signal,
  );
  assert.equal(report.fidelity.passed, false);
  const verdicts = report.fidelity.checks.map(({ scenario, under_load, timed, streams, differing }) =>
    `${scenario}${timed ? " timed" : under_load ? " loaded" : ""}: ${
      differing === 0 ? "identical" : differing === streams ? "all differ" : "some"
    }`
  );
  assert.deepEqual(verdicts, [
    "text: identical",
    "tool_use: all differ",
    "parallel_tools: all differ",
    "thinking: identical",
    "text loaded: identical",
    "tool_use loaded: all differ",
    "parallel_tools loaded: all differ",
    "thinking loaded: identical",
    "text timed: identical",
  ]);
  const [first] = report.fidelity.checks[1].differences;
  assert.equal(first.field, "tool_use id");
  assert.match(first.direct!, /^toolu_mock_/);
  assert.match(first.relay!, /^toolu_xmock_/);
});

Deno.test("a relay that sends the same events in other bytes passes fidelity, and the idle checks tell where", async () => {
  await using loopback = await loopbackSetup({
    placement: "worker",
    maxConcurrent: 64,
    program: { module: MAIN },
  });
  const respacing = alteringRelay(loopback.upstream!, (body) =>
    body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(
        new TransformStream({ transform: (text, c) => c.enqueue(text.replaceAll('{"type":', '{ "type":')) }),
      )
      .pipeThrough(new TextEncoderStream()));
  const report = await runBench(respacing, plan, countingProgress().progress, signal);
  assert.equal(report.fidelity.passed, true, "the events a client acts on are the same");
  const [text] = report.fidelity.checks;
  assert.equal(text.differing, 0);
  assert.equal(text.bytes_differ?.direct.slice(0, 7), '"type":', "from the byte after the brace");
  assert.equal(text.bytes_differ?.relay.slice(0, 8), ' "type":');
  assert.match(
    renderReport(report),
    /text +idle +1 streams: the same events, in other bytes from byte \d+: direct "\\"type\\":.*", relay " \\"type/,
  );
});

/** A "relay" that sends an event of its own before each stream: one more than the upstream sent. */
function addingAnEvent(upstream: string): BenchSetup {
  const note = new TextEncoder().encode('event: relay_note\ndata: {"type":"relay_note"}\n\n');
  return alteringRelay(upstream, (body) =>
    ReadableStream.from((async function* () {
      yield note;
      yield* body;
    })()));
}

Deno.test("a relay whose workload streams have an event too many fails fidelity, listing it, and the run ends", async () => {
  await using loopback = await loopbackSetup({
    placement: "worker",
    maxConcurrent: 64,
    program: { module: MAIN },
  });
  const report = await runBench(addingAnEvent(loopback.upstream!), plan, countingProgress().progress, signal);
  assert.equal(report.fidelity.passed, false);
  const timed = report.fidelity.checks.find((check) => check.timed)!;
  const streams = (plan.warmup + plan.requests) * plan.concurrency.length;
  assert.deepEqual({ ...timed, differences: timed.differences.slice(0, 1) }, {
    scenario: "text",
    under_load: true,
    timed: true,
    streams,
    differing: streams,
    differences: [{ at: 0, field: "event", direct: "message_start", relay: "relay_note" }],
  });
  assert.equal(report.levels.length, 2, "every level timed");
});

Deno.test("without a direct target nothing is compared, and the report says why", async () => {
  await using loopback = await loopbackSetup({
    placement: "worker",
    maxConcurrent: 64,
    program: { module: MAIN },
  });
  const relayOnly: BenchSetup = {
    ...loopback,
    direct: undefined,
    bare: undefined,
    fidelitySkipped: "no --upstream to compare relay's streams with",
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  const report = await runBench(
    relayOnly,
    { ...plan, concurrency: [2] },
    countingProgress().progress,
    signal,
  );
  assert.deepEqual(report.fidelity, {
    passed: null,
    skipped: "no --upstream to compare relay's streams with",
    checks: [],
  });
  assert.equal(report.direct, undefined);
  assert.equal(report.overhead_ms, undefined);
  assert.equal(report.relay.ttfb_ms.p50 > 0, true);
});

Deno.test("a relay worker that dies mid-run ends the run at once, naming it and why", async () => {
  await using setup = await loopbackSetup({
    placement: "worker",
    maxConcurrent: 64,
    program: { module: DYING_WORKER },
  });
  const failed = await runBench(setup, plan, countingProgress().progress, signal).catch((error) => error);
  assert.ok(failed instanceof BenchFailed);
  assert.match(failed.message, /^the relay worker stopped mid-run: .*the relay crashed/);
  assert.deepEqual(
    failed.measured.checks.map(({ scenario }) => scenario),
    ["text", "tool_use", "parallel_tools", "thinking"],
    "what was measured before: the idle checks",
  );
  assert.deepEqual(failed.measured.levels, []);
});

Deno.test("a relay process that exits mid-run ends the run at once, naming it and why", async () => {
  await using relay = await startChildServer("relay", [Deno.execPath(), "eval", DYING_CHILD]);
  const setup: BenchSetup = {
    mode: "target",
    relay: urlTarget("relay", relay.url),
    servers: { relay },
    notes: [],
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  await assert.rejects(
    runBench(setup, { ...plan, fidelity: false }, countingProgress().progress, signal),
    /^BenchFailed: the relay process stopped mid-run: exited with code 3; the end of its stderr:\n\{"msg":"listening",[^\n]*\}\nthe relay crashed$/,
  );
});
