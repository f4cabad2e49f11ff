/**
 * The load generator: streamed `POST /v1/messages` requests at a fixed concurrency, each timed to its
 * first byte, to every SSE event and to its last byte.
 */
import { SseDecoder, type SseEvent } from "../stream/sse_decode.ts";

/** One Messages request as the bench sends it; the target adds its own credential. */
export interface BenchRequest {
  body: Uint8Array<ArrayBuffer>;
  headers: Record<string, string>;
}

/** Something that answers a Messages request: relay, the upstream itself, a pass-through. */
export interface Target {
  readonly name: string;
  send(request: BenchRequest, signal: AbortSignal): Promise<Response>;
}

/**
 * A target reached over HTTP at `url` (`/v1/messages` is appended), sending `headers` over the
 * request's own.
 *
 * @example
 * ```ts
 * const relay = urlTarget("relay", "http://127.0.0.1:8787", { "x-api-key": "rly_..." });
 * ```
 */
export function urlTarget(name: string, url: string, headers: Record<string, string> = {}): Target {
  const endpoint = `${url.replace(/\/+$/, "")}/v1/messages`;
  return {
    name,
    send: (request, signal) =>
      fetch(endpoint, {
        method: "POST",
        headers: { ...request.headers, ...headers },
        body: request.body,
        signal,
      }),
  };
}

/** One streamed answer, timed from the moment it was asked for, in milliseconds. */
export interface TimedStream {
  /** To the first body chunk. */
  ttfb: number;
  /** To the end of the body. */
  ttlb: number;
  /** Between each SSE event and the one before it (events read in one chunk are 0 apart). */
  gaps: number[];
  events: SseEvent[];
}

/**
 * Sends `request` to `target` and reads the streamed answer to its end. Anything but a 200 throws,
 * naming the target and what it said.
 *
 * @example
 * ```ts
 * const { ttfb, events } = await timedStream(target, request, AbortSignal.timeout(10_000));
 * ```
 */
export async function timedStream(
  target: Target,
  request: BenchRequest,
  signal: AbortSignal,
): Promise<TimedStream> {
  const start = performance.now();
  const response = await target.send(request, signal);
  if (response.status !== 200 || !response.body) {
    throw new Error(`${target.name} answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
  }
  const decoder = new SseDecoder();
  const reader = response.body.getReader();
  const events: SseEvent[] = [];
  const gaps: number[] = [];
  let ttfb: number | undefined;
  let previous: number | undefined;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    const now = performance.now();
    ttfb ??= now - start;
    for (const event of decoder.feed(chunk.value)) {
      if (previous !== undefined) gaps.push(now - previous);
      previous = now;
      events.push(event);
    }
  }
  const ttlb = performance.now() - start;
  return { ttfb: ttfb ?? ttlb, ttlb, gaps, events };
}

/** Timings of many requests to one target, in milliseconds, in the order they finished. */
export interface Samples {
  ttfb: number[];
  ttlb: number[];
  gaps: number[];
  /** Wall time of the batches they ran in. */
  wallMs: number;
  /** The events of the streams a batch was asked to keep. */
  kept: SseEvent[][];
}

/**
 * An empty {@linkcode Samples}, to add batches to.
 *
 * @example
 * ```ts
 * const samples = emptySamples();
 * await runBatch(target, { request, count: 100, concurrency: 16 }, samples, signal);
 * ```
 */
export function emptySamples(): Samples {
  return { ttfb: [], ttlb: [], gaps: [], wallMs: 0, kept: [] };
}

/** What one batch sends. */
export interface BatchOptions {
  request: BenchRequest;
  count: number;
  concurrency: number;
  /** Keep the events of every n-th stream, for a fidelity check. */
  keepEvery?: number;
  /** Every answer must have this many events; another count stops the run, naming the target. */
  expectedEvents?: number;
  /** Called as each request ends. */
  onDone?: () => void;
}

/**
 * Sends `count` requests to `target`, `concurrency` at a time, and adds their timings to `into`.
 *
 * @example
 * ```ts
 * await runBatch(target, { request, count: 100, concurrency: 16, keepEvery: 10 }, samples, signal);
 * ```
 */
export async function runBatch(
  target: Target,
  options: BatchOptions,
  into: Samples,
  signal: AbortSignal,
): Promise<void> {
  const { request, count, concurrency, keepEvery, expectedEvents, onDone } = options;
  let started = 0;
  const worker = async () => {
    while (started < count) {
      const number = ++started;
      const { ttfb, ttlb, gaps, events } = await timedStream(target, request, signal);
      if (expectedEvents !== undefined && events.length !== expectedEvents) {
        throw new Error(`${target.name} sent ${events.length} events, not the ${expectedEvents} expected`);
      }
      into.ttfb.push(ttfb);
      into.ttlb.push(ttlb);
      for (const gap of gaps) into.gaps.push(gap);
      if (keepEvery !== undefined && number % keepEvery === 0) into.kept.push(events);
      onDone?.();
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  into.wallMs += performance.now() - start;
}
