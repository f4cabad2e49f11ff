/**
 * The load generator: streamed `POST /v1/messages` requests at a fixed concurrency, each timed to its
 * first byte, to every SSE event and to its last byte.
 */
import { SseDecoder, type SseEvent } from "../stream/sse_decode.ts";
import { withoutPings } from "./fidelity.ts";
import { concatBytes } from "../util/bytes.ts";
import { errorMessage } from "../util/error_message.ts";
import { withoutTrailing } from "../util/without_trailing.ts";

/** One Messages request as the bench sends it; the target adds its own credential. */
export interface BenchRequest {
  body: Uint8Array<ArrayBuffer>;
  headers: Record<string, string>;
}

/** Something that answers a Messages request: relay, the upstream itself, a pass-through. */
export interface Target {
  readonly name: string;
  /** Where it listens, to name it in a failure; none for a provider's adapter called in process. */
  readonly url?: string;
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
  const base = withoutTrailing(url, /\//);
  const endpoint = `${base}/v1/messages`;
  return {
    name,
    url: base,
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
  /** The body as it came, when asked for: what a byte-for-byte comparison reads. */
  bytes?: Uint8Array;
}

/** How long a target may keep a request waiting before the bench gives up on it, in milliseconds. */
export interface Deadlines {
  /** From asking to the first byte of the body. */
  firstByteMs: number;
  /** Between two chunks of the body. */
  idleMs: number;
}

/**
 * Far above what any answer the bench asks for takes, even a real model's at the highest concurrency
 * the bench allows: only a target that has stopped sending reaches them.
 */
const _DEADLINES: Deadlines = { firstByteMs: 60_000, idleMs: 30_000 };

/** How {@linkcode timedStream} reads an answer. */
export interface TimedOptions {
  deadlines?: Deadlines;
  /** Keep the body's bytes too (`TimedStream.bytes`). */
  keepBytes?: boolean;
}

/**
 * Sends `request` to `target` and reads the streamed answer to its end. Throws, naming the target and
 * its URL, on anything but a 200 event stream that ends with `message_stop`, on an `error` event, on a
 * request or body that fails, and on an answer that stalls past `deadlines` (pings are no progress:
 * relay sends them into an upstream's silence).
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
  { deadlines = _DEADLINES, keepBytes = false }: TimedOptions = {},
): Promise<TimedStream> {
  signal.throwIfAborted();
  const who = describeTarget(target);
  const events: SseEvent[] = [];
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  // Ends this request: the run's signal, or a stall. Not `AbortSignal.any`: a run's signal would keep
  // every request's signal, and what waits on it, for as long as the run lasts (gigabytes over 100k).
  const ending = new AbortController();
  const onEnd = () => ending.abort(signal.reason);
  signal.addEventListener("abort", onEnd, { once: true });
  let stalled = false;
  // Whether the answer has begun: its first byte ends the wait for one, and the wait between events begins.
  let begun = false;
  const stall = () =>
    begun
      ? `${who} stalled mid-stream: no event but pings for ${_seconds(deadlines.idleMs)}, after ${
        _events(events)
      }`
      : `${who} sent no answer within ${_seconds(deadlines.firstByteMs)}`;
  const onStall = () => {
    stalled = true;
    ending.abort();
  };
  let timer = setTimeout(onStall, deadlines.firstByteMs);
  // Raced with every wait, so that a target which ignores the signal cannot hold the run either.
  const ended = new Promise<never>((_, reject) =>
    ending.signal.addEventListener("abort", () => reject(ending.signal.reason), { once: true })
  );
  ended.catch(() => {});
  const wait = async <T>(step: Promise<T>): Promise<T> => {
    try {
      return await Promise.race([step, ended]);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (stalled) throw new Error(stall());
      const when = reader ? `its answer broke off after ${_events(events)}` : "the request failed";
      throw new Error(`${who}: ${when}: ${errorMessage(error)}`, { cause: error });
    }
  };
  try {
    const start = performance.now();
    const response = await wait(target.send(request, ending.signal));
    const type = response.headers.get("content-type") ?? "";
    if (response.status !== 200 || !response.body || !/^text\/event-stream\b/i.test(type)) {
      const what = response.status === 200
        ? `200 with content-type ${type || "(none)"}, not an event stream`
        : String(response.status);
      const said = (await wait(response.text())).slice(0, 500);
      // relay's own refusal of the bench's placeholder credential, not an upstream's of a key.
      const hint = response.status === 401 && /client token/.test(said)
        ? " (set ANTHROPIC_AUTH_TOKEN to one of its server.auth.tokens)"
        : "";
      throw new Error(`${who} answered ${what}: ${said}${hint}`);
    }
    const decoder = new SseDecoder();
    reader = response.body.getReader();
    const gaps: number[] = [];
    const chunks: Uint8Array[] = [];
    let ttfb: number | undefined;
    let previous: number | undefined;
    for (let chunk = await wait(reader.read()); !chunk.done; chunk = await wait(reader.read())) {
      const now = performance.now();
      ttfb ??= now - start;
      if (keepBytes) chunks.push(chunk.value);
      let progress = false;
      for (const event of decoder.feed(chunk.value)) {
        if (previous !== undefined) gaps.push(now - previous);
        previous = now;
        events.push(event);
        progress ||= event.event !== "ping";
        if (event.event === "error") throw new Error(`${who} ended its stream with ${_errorEvent(event)}`);
      }
      if (begun && !progress) continue;
      begun = true;
      clearTimeout(timer);
      timer = setTimeout(onStall, deadlines.idleMs);
    }
    const ttlb = performance.now() - start;
    if (events.length === 0) throw new Error(`${who} answered 200 with an event stream of no events`);
    if (events.findLast((event) => event.event !== "ping")?.event !== "message_stop") {
      throw new Error(`${who} ended its stream without message_stop, after ${_events(events)}`);
    }
    const timed: TimedStream = { ttfb: ttfb ?? ttlb, ttlb, gaps, events };
    return keepBytes ? { ...timed, bytes: concatBytes(chunks) } : timed;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onEnd);
    // Lets go of a connection whose answer was left unread.
    reader?.cancel().catch(() => {});
  }
}

/**
 * A target as a failure names it: `relay (http://127.0.0.1:8787)`.
 *
 * @example
 * ```ts
 * throw new Error(`${describeTarget(target)} sent 15 events`);
 * ```
 */
export function describeTarget(target: Target): string {
  return target.url ? `${target.name} (${target.url})` : target.name;
}

/** An `error` event as a failure says it: `an error event (overloaded_error: Overloaded)`. */
function _errorEvent(event: SseEvent): string {
  let error: { type?: unknown; message?: unknown } | undefined;
  try {
    error = JSON.parse(event.data)?.error;
  } catch {
    error = undefined;
  }
  const said = [error?.type, error?.message].filter((part) => typeof part === "string").join(": ");
  return said ? `an error event (${said})` : `an error event: ${event.data.slice(0, 500)}`;
}

/** How many events came, pings aside: a stall's pings say nothing of how far the answer got. */
function _events(events: readonly SseEvent[]): string {
  const count = withoutPings(events).length;
  return count === 1 ? "1 event" : `${count} events`;
}

function _seconds(ms: number): string {
  return `${ms / 1000} s`;
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
  /** Called with each answer's events before its timings are kept; what it throws stops the batch. */
  check?: (events: SseEvent[]) => void;
  /** Called as each request ends. */
  onDone?: () => void;
}

/**
 * Sends `count` requests to `target`, `concurrency` at a time, and adds their timings to `into`. The
 * first request that fails ends the others and the batch.
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
  const { request, count, concurrency, keepEvery, check, onDone } = options;
  const failed = new AbortController();
  const batch = AbortSignal.any([signal, failed.signal]);
  let started = 0;
  const worker = async () => {
    try {
      while (started < count) {
        const number = ++started;
        const { ttfb, ttlb, gaps, events } = await timedStream(target, request, batch);
        check?.(events);
        into.ttfb.push(ttfb);
        into.ttlb.push(ttlb);
        for (const gap of gaps) into.gaps.push(gap);
        if (keepEvery !== undefined && number % keepEvery === 0) into.kept.push(events);
        onDone?.();
      }
    } catch (error) {
      failed.abort(error);
      throw error;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  into.wallMs += performance.now() - start;
}
