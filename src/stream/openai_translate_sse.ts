/**
 * The byte plumbing both OpenAI translations share: parse an SSE body, hand each event to a translator,
 * send what it returns, and stop translating once it says the stream is over.
 */
import { SseDecoder } from "./sse_decode.ts";
import type { SseEvent } from "./sse_decode.ts";

/** A stream translation as the plumbing sees it; each method returns the encoded events to send. */
export interface SseTranslation {
  /** Set once the output is complete (or failed): the rest of the input is not translated. */
  readonly finished: boolean;
  /** What to send before the first input byte. */
  start(): Uint8Array[];
  /** What one input event completes. */
  event(event: SseEvent): Uint8Array[];
  /** What to send when the input ends. */
  end(): Uint8Array[];
}

export interface TranslateSseOptions {
  /**
   * Once the translation has finished, read the rest of `body` to its end, and close the output with
   * it, instead of cancelling `body`: for a body that reports how it ended (relay's own answer, whose
   * access log and ledger take a cancel for the client leaving), unlike an upstream's, which may
   * never end after an error.
   */
  drain?: boolean;
}

/**
 * `body` translated event by event. Like relay's other stream stages it reads only when its reader
 * asks (`highWaterMark: 0`), so a slow client slows the upstream. When the translation finishes, the
 * output closes and `body` is cancelled, which aborts the request that feeds it, unless `drain` asks
 * for the rest of `body` first; a failure of `body` fails the output, for relay to report. Cancelling
 * the output (the client left) cancels `body`.
 *
 * A `TransformStream` would do the same in fewer lines, but Deno 2.9 throws from `cancel()` on a
 * transform stream that was terminated with output still queued: exactly a client leaving just as an
 * answer ends.
 *
 * @example
 * ```ts
 * const body = translateSse(upstream.body!, {
 *   finished: false,
 *   start: () => [],
 *   event: ({ data }) => [new TextEncoder().encode(`data: ${data}\n\n`)],
 *   end: () => [],
 * });
 * ```
 */
export function translateSse(
  body: ReadableStream<Uint8Array>,
  translation: SseTranslation,
  options: TranslateSseOptions = {},
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new SseDecoder();
  /** Sends `output`; true once the translation is over and the output closed. */
  const send = (controller: ReadableStreamDefaultController<Uint8Array>, output: Uint8Array[]) => {
    for (const bytes of output) controller.enqueue(bytes);
    if (!translation.finished || options.drain) return false;
    controller.close();
    reader.cancel().catch(() => {});
    return true;
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      send(controller, translation.start());
    },
    async pull(controller) {
      // Reads until there is something to send, so every pull the client makes is answered; once the
      // translation is over (only when draining), until the end of `body`.
      while (true) {
        let events: SseEvent[];
        try {
          const { value, done } = await reader.read();
          if (done) {
            if (translation.finished || !send(controller, translation.end())) controller.close();
            return;
          }
          if (translation.finished) continue;
          events = decoder.feed(value);
        } catch (error) {
          controller.error(error);
          return;
        }
        let sent = false;
        for (const event of events) {
          if (translation.finished) break;
          const output = translation.event(event);
          sent ||= output.length > 0;
          if (send(controller, output)) return;
        }
        if (sent) return;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
