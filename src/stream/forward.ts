import { type AnthropicErrorType, BodyCutError, errorEnvelope } from "../server/errors.ts";
import { EventBoundary } from "./event_boundary.ts";
import { encodeSseEvent } from "./sse_encode.ts";
import type { WatchedReader } from "./watched_reader.ts";

/** How a relayed body ended, for the access log. */
export type ForwardOutcome =
  | { kind: "complete"; bytes: number }
  | { kind: "client_closed"; bytes: number }
  | { kind: "upstream_failed"; bytes: number; errorType: AnthropicErrorType; message: string };

export interface ForwardOptions {
  /** Bytes already read from the source (relay reads until the upstream commits), sent first. */
  first?: Uint8Array;
  /** Whether the body is an SSE stream, where relay may add events of its own between the source's. */
  sse: boolean;
  /**
   * Sees every chunk read from the source after `first` as it goes out (a usage tap; the caller has seen
   * `first`); it must not keep or change it.
   */
  observe?: (chunk: Uint8Array) => void;
  /**
   * Names a mid-body failure (a timeout, a reset connection), which then ends the body cleanly, told
   * in-band when it can be. Without it the body fails with the source's error.
   */
  describeFailure?: (error: unknown) => { errorType: AnthropicErrorType; message: string };
  /** Called once, when the body ends for any reason. */
  onDone?: (outcome: ForwardOutcome) => void;
  /**
   * Called once, when the client's side asks for more after `first` (or leaves first): for work each
   * answer needs but its first byte need not wait for. Until JavaScript yields, the server cannot
   * write the head; it asks for more only once it has written it, so this costs no extra turn (a timer
   * per answer costs more than the work it would defer: relay bench), and it never waits for the
   * source's next chunk, which may be minutes away.
   */
  afterHead?: () => void;
  /**
   * For an SSE body: `ping` goes out whenever the source has been silent for `intervalMs` while the
   * client waits for more (0: never). Claude Code aborts a stream after 300 s without a byte, proxies
   * and OpenAI clients sooner (protocols.md §2.3, §8.3), while a local model may take minutes over a
   * long prompt and Bedrock sends no pings of its own.
   */
  keepAlive?: { intervalMs: number; ping: Uint8Array };
}

/**
 * The body relay sends its client: the source's bytes, chunk for chunk as they arrive, never read
 * ahead (`highWaterMark: 0`), so a slow client slows the upstream instead of filling relay's memory,
 * and the reader's deadlines run on the source's silence, never on a slow client's.
 *
 * When the source fails mid-stream and `describeFailure` names the failure, the client gets an
 * `event: error` if the bytes so far end on an event boundary (the SDKs then raise a proper API error);
 * otherwise (half an event, or any body that is not SSE) the client's transfer fails, as the upstream's
 * did: anything appended would corrupt it, and a clean end would pass a cut body off as whole. A
 * keep-alive goes out only between two events, for the same reason.
 *
 * One stream layer does all of this: each layer costs promises per chunk, and relay bench counts them.
 *
 * @example
 * ```ts
 * const reader = new WatchedReader(upstream.body!.getReader(), { firstByteMs: 60_000, idleMs: 300_000 });
 * const first = await reader.read();
 * return new Response(forwardBody(reader, {
 *   first: first.value, sse: true, describeFailure, onDone,
 *   keepAlive: { intervalMs: 15_000, ping: ANTHROPIC_PING },
 * }));
 * ```
 */
export function forwardBody(reader: WatchedReader, options: ForwardOptions): ReadableStream<Uint8Array> {
  let bytes = 0;
  const boundary = new EventBoundary();
  let finished = false;
  const finish = (outcome: ForwardOutcome) => {
    if (finished) return;
    finished = true;
    options.onDone?.(outcome);
  };
  const { observe, describeFailure } = options;
  let afterHead = options.afterHead;
  const headIsOut = () => {
    const run = afterHead;
    afterHead = undefined;
    run?.();
  };
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const emit = (chunk: Uint8Array) => {
    bytes += chunk.byteLength;
    boundary.see(chunk);
    controller.enqueue(chunk);
  };
  // After a cancel (`finished`), the read it settled has nowhere to go.
  const onChunk = (result: ReadableStreamReadResult<Uint8Array>) => {
    if (finished) return;
    if (result.done) {
      controller.close();
      finish({ kind: "complete", bytes });
      return;
    }
    try {
      emit(result.value);
      observe?.(result.value);
    } catch (error) {
      onFailure(error);
    }
  };
  const onFailure = (error: unknown) => {
    if (finished) return;
    if (!describeFailure) {
      controller.error(error);
      return;
    }
    const failure = describeFailure(error);
    if (options.sse && boundary.atBoundary) {
      controller.enqueue(encodeSseEvent("error", errorEnvelope(failure.errorType, failure.message)));
      controller.close();
    } else {
      // Half a JSON body or half an event cannot be told, or mended: the client's transfer breaks, as
      // the upstream's did, instead of ending as if it were whole.
      controller.error(new BodyCutError(failure.message, { cause: error }));
    }
    finish({ kind: "upstream_failed", bytes, ...failure });
  };

  return new ReadableStream<Uint8Array>({
    start(streamController) {
      controller = streamController;
      if (options.first) emit(options.first);
      const { keepAlive } = options;
      if (options.sse && keepAlive) {
        reader.onQuiet(keepAlive.intervalMs, () => {
          // Only into an empty queue: a client that stopped reading needs no second ping.
          if (boundary.atBoundary && (controller.desiredSize ?? -1) >= 0) controller.enqueue(keepAlive.ping);
        });
      }
    },
    pull() {
      if (afterHead) headIsOut();
      return reader.read().then(onChunk, onFailure);
    },
    cancel(reason) {
      if (afterHead) headIsOut();
      finish({ kind: "client_closed", bytes });
      // Deno 2.9.6 rejects a cancel that reaches a TransformStream terminated with output still queued
      // (Bedrock's decoder after its error event); the client is gone either way.
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
