/**
 * One bench run over a {@linkcode BenchSetup}: warm-up, then at each concurrency the same streamed
 * workload sent to every target in turn, in batches whose order rotates so machine noise lands on all
 * of them alike; fidelity checks idle and under load; relay's memory before and after.
 */
import { compareEventStreams, firstByteDifference, withoutPings } from "./fidelity.ts";
import {
  type BatchOptions,
  type BenchRequest,
  describeTarget,
  emptySamples,
  runBatch,
  type Samples,
  type Target,
  type TimedStream,
  timedStream,
} from "./load.ts";
import type { Usage } from "./process_usage.ts";
import type { Progress } from "./progress.ts";
import {
  type BenchReport,
  type FidelityCheck,
  type FidelityReport,
  type LevelReport,
  levelReport,
  MAX_LISTED_DIFFERENCES,
  type MemoryReport,
  roundMib,
  TARGET_NAMES,
  type TargetFigures,
  targetFigures,
  type TargetName,
} from "./report.ts";
import { SCENARIO_NAMES, type ScenarioName, type ScenarioOptions, scenarioRequest } from "./scenarios.ts";
import { type BenchServer, whileServing } from "./servers.ts";
import type { BenchSetup } from "./setups.ts";
import type { SseEvent } from "../stream/sse_decode.ts";
import { errorMessage } from "../util/error_message.ts";

/** How much to send. */
export interface BenchPlan {
  concurrency: number[];
  /** Measured requests per target per concurrency. */
  requests: number;
  /** Unmeasured requests per target per concurrency, first. */
  warmup: number;
  scenario: ScenarioOptions;
  /** The timed request, which the `text` scenario's fidelity checks use too; that scenario's own by default. */
  workload?: BenchRequest;
  /** Compare relayed streams with direct ones, when the setup allows it; a run with a real model cannot. */
  fidelity: boolean;
}

/** Requests per target per turn of the rotation: short turns spread noise over every target. */
const _BATCH = 100;
/** Turns per target a level is split into at least, when it has too few requests for turns of _BATCH. */
const _LEAST_TURNS = 5;
/** The concurrency fidelity is also checked under, when the run has it; else its highest. */
const _LOAD_CONCURRENCY = 16;
/** Under load, the events of one relayed workload stream in this many are compared. */
const _KEEP_EVERY = 10;

/**
 * The requests a run sends to its targets, not counting the fidelity checks': one probe to each of
 * direct and relay, warm-up, the measured levels, and the load under which fidelity is checked.
 *
 * @example
 * ```ts
 * const progress = stderrProgress(plannedRequests(plan, ["direct", "bare", "relay"]));
 * ```
 */
export function plannedRequests(plan: BenchPlan, targets: readonly TargetName[]): number {
  const perTarget = (plan.warmup + plan.requests) * plan.concurrency.length;
  const probes = targets.filter((name) => name !== "bare").length;
  return probes + perTarget * targets.length + (plan.fidelity ? _loadCount(plan, _loadConcurrency(plan)) : 0);
}

/**
 * Whether a run of `plan` on `setup` compares streams: asked for, and a direct stream to compare
 * with. Without it no load is sent for the check under load either.
 */
export function checksFidelity(plan: BenchPlan, setup: BenchSetup): boolean {
  return plan.fidelity && !setup.fidelitySkipped && setup.direct !== undefined;
}

/** What a run had measured when it failed. */
export interface Measured {
  /** The levels it had finished. */
  levels: LevelReport[];
  /** The fidelity checks it had made. */
  checks: FidelityCheck[];
}

/** A run that failed: why, as its message and `cause`, and what it had measured by then. */
export class BenchFailed extends Error {
  override name = "BenchFailed";
  constructor(cause: unknown, readonly measured: Measured) {
    super(errorMessage(cause), { cause });
  }
}

/**
 * Runs the plan against the setup's targets and reports what it measured. Throws a
 * {@linkcode BenchFailed} when a target fails a request, direct or bare send a stream of another
 * length than direct's first (an upstream that does not answer alike every time), or a server the
 * bench started stops, naming it.
 *
 * @example
 * ```ts
 * await using setup = await loopbackSetup({ placement: "child", maxConcurrent: 64 });
 * const report = await runBench(setup, plan, progress, signal);
 * ```
 */
export async function runBench(
  setup: BenchSetup,
  plan: BenchPlan,
  progress: Progress,
  signal: AbortSignal,
): Promise<BenchReport> {
  const measured: Measured = { levels: [], checks: [] };
  try {
    return await whileServing(
      Object.values(setup.servers),
      signal,
      (signal) => _run(setup, plan, progress, signal, measured),
    );
  } catch (error) {
    throw new BenchFailed(error, measured);
  }
}

async function _run(
  setup: BenchSetup,
  plan: BenchPlan,
  progress: Progress,
  signal: AbortSignal,
  measured: Measured,
): Promise<BenchReport> {
  let relayRequests = 0;
  const relay: Target = {
    ...setup.relay,
    send: (request, signal) => (relayRequests++, setup.relay.send(request, signal)),
  };
  const targets = { direct: setup.direct, bare: setup.bare, relay };
  const timed = TARGET_NAMES.flatMap((name) => targets[name] ? [[name, targets[name]] as const] : []);
  const workload = plan.workload ?? scenarioRequest("text", plan.scenario);
  const requestFor = (name: ScenarioName) =>
    name === "text" ? workload : scenarioRequest(name, plan.scenario);
  const fidelity = checksFidelity(plan, setup);

  const idle = await _usage(setup);
  progress.phase("probing");
  const references = new Map<ScenarioName, SseEvent[]>();
  const { checks, levels } = measured;
  // The idle streams' bytes are kept, for the byte-for-byte comparison.
  const whole = { keepBytes: true };
  const probe = await timedStream(relay, workload, signal, whole);
  progress.advance();
  const directText = setup.direct && await timedStream(setup.direct, workload, signal, whole);
  if (directText) {
    references.set("text", directText.events);
    progress.advance();
  }
  // Only a deterministic upstream must send the same stream every time.
  const lengths = fidelity ? new _TimedLengths(references.get("text")!) : undefined;
  if (fidelity) {
    for (const name of SCENARIO_NAMES) {
      const request = requestFor(name);
      const direct = name === "text" ? directText! : await timedStream(setup.direct!, request, signal, whole);
      references.set(name, direct.events);
      const relayed = name === "text" ? probe : await timedStream(relay, request, signal, whole);
      checks.push(_idleCheck(name, direct, relayed));
    }
  }

  for (const concurrency of plan.warmup > 0 ? plan.concurrency : []) {
    progress.phase(`warm-up, concurrency ${concurrency}`);
    const batch = { request: workload, count: plan.warmup, concurrency };
    await _rotate(timed, batch, new Map(), lengths, progress, signal);
  }
  const warm = await _usage(setup);

  const loadConcurrency = _loadConcurrency(plan);
  // The last reading, while nothing has been sent since: it is the next one too.
  let current: _Reading | undefined = warm;
  for (const concurrency of plan.concurrency) {
    progress.phase(`concurrency ${concurrency}`);
    const before = current ?? await _usage(setup);
    const samples = new Map(timed.map(([name]) => [name, emptySamples()]));
    const batch = { request: workload, count: plan.requests, concurrency };
    await _rotate(timed, batch, samples, lengths, progress, signal);
    const after = current = await _usage(setup);
    const figures = Object.fromEntries(
      timed.map(([name]) => [name, targetFigures(samples.get(name)!, _cpu(before[name], after[name]))]),
    ) as Partial<Record<TargetName, TargetFigures>> & { relay: TargetFigures };
    levels.push(levelReport(concurrency, plan.requests, figures));
    if (fidelity && concurrency === loadConcurrency) {
      progress.phase(`fidelity under load, concurrency ${concurrency}`);
      checks.push(
        ...await _checkUnderLoad(relay, requestFor, plan, concurrency, references, progress, signal),
      );
      current = undefined;
    }
  }
  const end = current ?? await _usage(setup);
  if (lengths) checks.push(lengths.check());

  return {
    meta: {
      date: new Date().toISOString(),
      deno: Deno.version.deno,
      nproc: navigator.hardwareConcurrency,
      mode: setup.mode,
      relay_process: setup.servers.relay?.process ?? "external",
      upstream: setup.upstream,
      model: plan.scenario.model,
      concurrency: plan.concurrency,
      requests_per_target_per_level: plan.requests,
      warmup_per_target_per_level: plan.warmup,
      events_per_stream: probe.events.length,
      request_headers: Object.keys(workload.headers).length,
    },
    ...levels[0],
    levels,
    memory: _memory(setup, idle.relay, warm.relay, end.relay, relayRequests),
    fidelity: _fidelity(
      fidelity,
      checks,
      setup.fidelitySkipped ?? (plan.fidelity ? undefined : "--no-fidelity"),
    ),
    notes: [
      ...setup.notes,
      ...(setup.servers.relay && !end.relay
        ? [
          "relay's memory and CPU could not be read: /proc is read with cat, which needs --allow-run (cat too)",
        ]
        : []),
    ],
  };
}

/**
 * `batch.count` requests to each target, in turns whose order rotates every round, so noise on the
 * machine lands on every target alike: turns of {@linkcode _BATCH}, shorter for a level of few requests
 * (`--quick`'s 100 go in five), and never under 4 x the concurrency, which a turn must reach and hold.
 * Samples go into `into` for the targets it has; `lengths`, when fidelity is checked, counts every
 * stream's events.
 */
async function _rotate(
  timed: readonly (readonly [TargetName, Target])[],
  batch: Omit<BatchOptions, "onDone" | "check">,
  into: Map<TargetName, Samples>,
  lengths: _TimedLengths | undefined,
  progress: Progress,
  signal: AbortSignal,
) {
  const turn = Math.max(4 * batch.concurrency, Math.min(_BATCH, Math.ceil(batch.count / _LEAST_TURNS)));
  for (let round = 0, sent = 0; sent < batch.count; round++, sent += turn) {
    const count = Math.min(turn, batch.count - sent);
    for (let i = 0; i < timed.length; i++) {
      const [name, target] = timed[(round + i) % timed.length];
      const options = {
        ...batch,
        count,
        check: lengths?.checker(name, target),
        onDone: () => progress.advance(),
      };
      await runBatch(target, options, into.get(name) ?? emptySamples(), signal);
    }
  }
}

/**
 * The timed streams' lengths against direct's reference. A relayed stream of another length is a
 * fidelity difference, compared event by event and listed like the others; one from direct or bare
 * means the upstream does not answer alike every time, so nothing can be compared, and stops the run.
 */
class _TimedLengths {
  readonly #reference: SseEvent[];
  #streams = 0;
  #differing = 0;
  #first: SseEvent[] | undefined;

  constructor(reference: SseEvent[]) {
    this.#reference = withoutPings(reference);
  }

  /** What checks each stream of `target`, timed as `name`. */
  checker(name: TargetName, target: Target): (events: SseEvent[]) => void {
    return (received) => {
      const events = withoutPings(received);
      if (name === "relay") this.#streams++;
      if (events.length === this.#reference.length) return;
      if (name !== "relay") {
        throw new Error(
          `${describeTarget(target)} sent ${events.length} events where direct's first answer had ` +
            `${this.#reference.length}: the upstream must answer the same request alike every time ` +
            `for relay's streams to be compared with it (--no-fidelity times it anyway)`,
        );
      }
      this.#differing++;
      this.#first ??= events;
    };
  }

  check(): FidelityCheck {
    return {
      scenario: "text",
      under_load: true,
      timed: true,
      streams: this.#streams,
      differing: this.#differing,
      differences: this.#first
        ? compareEventStreams(this.#reference, this.#first).slice(0, MAX_LISTED_DIFFERENCES)
        : [],
    };
  }
}

function _loadConcurrency(plan: BenchPlan): number {
  return plan.concurrency.includes(_LOAD_CONCURRENCY) ? _LOAD_CONCURRENCY : Math.max(...plan.concurrency);
}

/**
 * The workload relay carries while fidelity is checked under load: at least {@linkcode _BATCH} twice
 * and 4 x the concurrency, but no more than a level's requests, and at least one per concurrent slot.
 */
function _loadCount(plan: BenchPlan, concurrency: number): number {
  return Math.max(concurrency, Math.min(plan.requests, Math.max(2 * _BATCH, 4 * concurrency)));
}

/**
 * Relay carries the workload at `concurrency` while every scenario is sent through it, round after
 * round until the load is done; each relayed scenario stream, and one workload stream in ten, is
 * compared with the direct reference.
 */
async function _checkUnderLoad(
  relay: Target,
  requestFor: (name: ScenarioName) => BenchRequest,
  plan: BenchPlan,
  concurrency: number,
  references: Map<ScenarioName, SseEvent[]>,
  progress: Progress,
  signal: AbortSignal,
): Promise<FidelityCheck[]> {
  const samples = emptySamples();
  let loading = true;
  const load = runBatch(
    relay,
    {
      request: requestFor("text"),
      count: _loadCount(plan, concurrency),
      concurrency,
      keepEvery: _KEEP_EVERY,
      onDone: () => progress.advance(),
    },
    samples,
    signal,
  ).finally(() => loading = false);
  const relayed = new Map<ScenarioName, SseEvent[][]>(SCENARIO_NAMES.map((name) => [name, []]));
  const requests = SCENARIO_NAMES.map((name) => [name, requestFor(name)] as const);
  const rounds = (async () => {
    do {
      await Promise.all(requests.map(async ([name, request]) => {
        relayed.get(name)!.push((await timedStream(relay, request, signal)).events);
      }));
    } while (loading);
  })();
  // Together, so a failure of either is reported and neither is left unobserved.
  await Promise.all([load, rounds]);
  relayed.get("text")!.push(...samples.kept);
  return SCENARIO_NAMES.map((name) => _check(name, true, references.get(name)!, relayed.get(name)!));
}

/** {@linkcode _check} of one stream relayed while relay was idle, its bytes compared too. */
function _idleCheck(name: ScenarioName, direct: TimedStream, relayed: TimedStream): FidelityCheck {
  const check = _check(name, false, direct.events, [relayed.events]);
  return { ...check, bytes_differ: firstByteDifference(direct.bytes!, relayed.bytes!) ?? null };
}

function _check(
  name: ScenarioName,
  underLoad: boolean,
  reference: SseEvent[],
  relayed: SseEvent[][],
): FidelityCheck {
  const differing = relayed.map((events) => compareEventStreams(reference, events)).filter((found) =>
    found.length > 0
  );
  return {
    scenario: name,
    under_load: underLoad,
    streams: relayed.length,
    differing: differing.length,
    differences: differing[0]?.slice(0, MAX_LISTED_DIFFERENCES) ?? [],
  };
}

function _fidelity(compared: boolean, checks: FidelityCheck[], skipped: string | undefined): FidelityReport {
  if (!compared) return { passed: null, skipped: skipped ?? "no direct stream to compare with", checks };
  return { passed: checks.every((check) => check.differing === 0), checks };
}

/** Each server's usage, by target, as one reading. */
type _Reading = Partial<Record<TargetName, Usage>>;

async function _usage(setup: BenchSetup): Promise<_Reading> {
  const entries = await Promise.all(
    Object.entries(setup.servers).map(async ([name, server]) => [name, await server.usage()] as const),
  );
  return Object.fromEntries(entries.filter(([, usage]) => usage !== undefined));
}

/** CPU used between two readings, when both are of a child process. */
function _cpu(before: Usage | undefined, after: Usage | undefined): number | undefined {
  return before?.cpuMs === undefined || after?.cpuMs === undefined ? undefined : after.cpuMs - before.cpuMs;
}

/** Whose memory a server's usage is, by where it runs. */
const _MEMORY_SOURCE = {
  child: "relay process",
  worker: "relay worker",
} as const satisfies Record<BenchServer["process"], MemoryReport["source"]>;

function _memory(
  setup: BenchSetup,
  idle: Usage | undefined,
  warm: Usage | undefined,
  end: Usage | undefined,
  requests: number,
): MemoryReport | undefined {
  if (!idle || !warm || !end) return undefined;
  return {
    source: _MEMORY_SOURCE[setup.servers.relay!.process],
    idle_mb: roundMib(idle.memoryMib),
    after_warmup_mb: roundMib(warm.memoryMib),
    after_mb: roundMib(end.memoryMib),
    ...(end.peakMib === undefined ? {} : { peak_mb: roundMib(end.peakMib) }),
    requests,
  };
}
