import { type AnthropicErrorType, errorEnvelope } from "../server/errors.ts";
import { EventBoundary } from "./event_boundary.ts";
import { encodeSseEvent } from "./sse_encode.ts";

/** How a relayed body ended, for the access log. */
export type ForwardOutcome =
  | { kind: "complete"; bytes: number }
  | { kind: "client_closed"; bytes: number }
  | { kind: "upstream_failed"; bytes: number; errorType: AnthropicErrorType; message: string };

export interface ForwardOptions {
  /** The upstream's first chunk, already read so relay could answer with a clean error until then. */
  first: Uint8Array;
  /** Whether the body is an SSE stream, where a failure can still be told to the client in-band. */
  sse: boolean;
  /** Sees every chunk as it goes out (a usage tap); it must not keep or change it. */
  observe?: (chunk: Uint8Array) => void;
  /** Names a mid-body failure: a timeout, a reset connection. */
  describeFailure: (error: unknown) => { errorType: AnthropicErrorType; message: string };
  /** Called once, when the body ends for any reason. */
  onDone: (outcome: ForwardOutcome) => void;
}

/**
 * The body relay sends its client: the upstream's bytes, chunk for chunk as they arrive, never read
 * ahead (`highWaterMark: 0`), so a slow client slows the upstream instead of filling relay's memory.
 * When the upstream fails mid-stream, the client gets an `event: error` if the bytes so far end on an
 * event boundary (the SDKs then raise a proper API error); otherwise the stream just ends, because
 * anything appended to half an event would corrupt it.
 *
 * @example
 * ```ts
 * const reader = upstream.body!.getReader();
 * const first = await reader.read();
 * return new Response(forwardBody(reader, { first: first.value!, sse: true, describeFailure, onDone }));
 * ```
 */
export function forwardBody(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  options: ForwardOptions,
): ReadableStream<Uint8Array> {
  let bytes = 0;
  const boundary = new EventBoundary();
  let finished = false;
  const finish = (outcome: ForwardOutcome) => {
    if (finished) return;
    finished = true;
    options.onDone(outcome);
  };
  const emit = (controller: ReadableStreamDefaultController<Uint8Array>, chunk: Uint8Array) => {
    bytes += chunk.byteLength;
    boundary.see(chunk);
    controller.enqueue(chunk);
    options.observe?.(chunk);
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      emit(controller, options.first);
    },
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          controller.close();
          finish({ kind: "complete", bytes });
        } else {
          emit(controller, value);
        }
      } catch (error) {
        const failure = options.describeFailure(error);
        if (options.sse && boundary.atBoundary) {
          controller.enqueue(encodeSseEvent("error", errorEnvelope(failure.errorType, failure.message)));
        }
        controller.close();
        finish({ kind: "upstream_failed", bytes, ...failure });
      }
    },
    cancel(reason) {
      finish({ kind: "client_closed", bytes });
      // A rejected cancel is Deno's TransformStream quirk (see guarded_pull.ts); the client is gone.
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
