/**
 * The byte plumbing both OpenAI translations share: parse an SSE body, hand each event to a translator,
 * send what it returns, and stop translating once it says the stream is over.
 */
import { AnswerCutError, BodyCutError } from "./body_cut.ts";
import { compactReader } from "./compact_reader.ts";
import { SseDecoder } from "./sse_decode.ts";
import type { SseEvent } from "./sse_decode.ts";
import { realTimers, type Timers } from "../util/timers.ts";
import { errorMessage } from "../util/error_message.ts";

/** A stream translation as the plumbing sees it; each method returns the encoded events to send. */
export interface SseTranslation {
  /** Set once the output is complete (or failed): the rest of the input is not translated. */
  readonly finished: boolean;
  /**
   * Set once the output lacks only its end, and what may still come of the input is bookkeeping that
   * `end()` can do without (OpenAI's usage chunk, `[DONE]`). The input then has
   * {@linkcode TranslateSseOptions.settleMs} to go on, and an input that fails ends the output with
   * `end()` instead of failing it: the answer is whole either way.
   */
  readonly settling?: boolean;
  /** What to send before the first input byte. */
  start(): Uint8Array[];
  /** What one input event completes. */
  event(event: SseEvent): Uint8Array[];
  /** What to send when the input ends. */
  end(): Uint8Array[];
  /**
   * What ends the output when the input can be translated no further (an event past the decoder's
   * limit, a translation that threw), saying why. Without it the output fails, for relay to report.
   */
  fail?(message: string, errorType?: string): Uint8Array[];
}

export interface TranslateSseOptions {
  /**
   * Once the translation has finished, read the rest of `body` to its end, and close the output with
   * it, instead of cancelling `body`: for a body that reports how it ended (relay's own answer, whose
   * access log and ledger take a cancel for the client leaving), unlike an upstream's, which may
   * never end after an error.
   */
  drain?: boolean;
  /**
   * How long a settling translation waits for more of `body` before it ends anyway; no limit when left
   * out. An upstream that finished its answer but neither sends the rest nor ends its body must not
   * hold the answer back until relay's idle deadline fails it.
   */
  settleMs?: number;
  /** The global `setTimeout`/`clearTimeout` unless given. */
  timers?: Timers;
}

/**
 * `body` translated event by event. Like relay's other stream stages it reads only when its reader
 * asks (`highWaterMark: 0`), so a slow client slows the upstream. When the translation finishes, the
 * output closes and `body` is cancelled, which aborts the request that feeds it, unless `drain` asks
 * for the rest of `body` first; a failure of `body` fails the output, for relay to report, but relay's
 * own answer broken off mid-event (an `AnswerCutError`) ends it with the translation's `fail`, saying
 * why. Cancelling
 * the output (the client left) cancels `body`. An input that cannot be translated (an event too large
 * for the decoder, a translation that throws) cancels `body`, even when draining, since what is left of
 * it cannot be read and may never end, and ends the output with the translation's `fail`, or fails it,
 * once what it translated before has gone out.
 *
 * Bytes of `body` that translate to nothing (a comment, reasoning the client did not ask for) are
 * answered with an empty chunk: whoever reads the output for its upstream's silence (relay's idle
 * deadline) sees that the upstream is alive, and the client gets no byte (Deno's server writes
 * nothing for an empty chunk).
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
  // An OpenAI-compatible upstream's fetch body, read without a fresh 64 KiB buffer per chunk; relay's
  // own answer (the front door's translation) is a stream built in JS, read with its default reader.
  const reader = compactReader(body);
  const decoder = new SseDecoder();
  const timers = options.timers ?? realTimers;
  /** A translation's error, told once what it translated before has been read. */
  let failure: { error: unknown } | undefined;
  /** Sends `output`; true once the translation is over and the output closed. */
  const send = (controller: ReadableStreamDefaultController<Uint8Array>, output: Uint8Array[]) => {
    for (const bytes of output) controller.enqueue(bytes);
    if (!translation.finished || options.drain) return false;
    controller.close();
    reader.cancel().catch(() => {});
    return true;
  };
  const end = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (translation.finished || !send(controller, translation.end())) controller.close();
  };
  /** The input can be translated no further: `output` goes out, then the end `fail` gives, or `error`. */
  const abandon = (
    controller: ReadableStreamDefaultController<Uint8Array>,
    output: Uint8Array[],
    message: string,
    error: unknown,
  ) => {
    // Said as relay's own doing: the body may be relay's answer, whose log would blame its client.
    reader.cancel(new BodyCutError(message, { cause: error })).catch(() => {});
    if (translation.fail) {
      for (const bytes of [...output, ...translation.fail(message)]) controller.enqueue(bytes);
      controller.close();
    } else if (output.length === 0) {
      controller.error(error);
    } else {
      for (const bytes of output) controller.enqueue(bytes);
      // Failing the output now would discard what it still holds.
      failure = { error };
    }
  };
  /** The next read of `body`, or `undefined` once a settling translation has waited `settleMs` for it. */
  const read = async () => {
    const next = reader.read();
    if (!translation.settling || options.settleMs === undefined) return await next;
    let timer: unknown;
    const settled = new Promise<undefined>((resolve) => {
      timer = timers.setTimeout(() => resolve(undefined), options.settleMs!);
    });
    try {
      return await Promise.race([next, settled]);
    } finally {
      timers.clearTimeout(timer);
    }
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      send(controller, translation.start());
    },
    async pull(controller) {
      if (failure) {
        controller.error(failure.error);
        return;
      }
      // Every pull answers one read of `body`; once the translation is over (only when draining), the
      // rest of `body` is read to its end.
      while (true) {
        let result: ReadableStreamReadResult<Uint8Array> | undefined;
        try {
          result = await read();
        } catch (error) {
          if (translation.settling) end(controller);
          else if (error instanceof AnswerCutError && translation.fail) {
            // relay broke its own answer off mid-event, saying why, where it could not append an error
            // event: this output, whole events only, can still end with one.
            for (const bytes of translation.fail(error.message, error.errorType)) controller.enqueue(bytes);
            controller.close();
          } else controller.error(error);
          return;
        }
        if (!result || result.done) {
          end(controller);
          return;
        }
        if (translation.finished) continue;
        let events: SseEvent[];
        try {
          events = decoder.feed(result.value);
        } catch (error) {
          if (translation.settling) end(controller);
          else abandon(controller, [], `relay could not read the answer: ${errorMessage(error)}`, error);
          return;
        }
        const output: Uint8Array[] = [];
        try {
          for (const event of events) {
            if (translation.finished) break;
            // Not `push(...)`: one chunk can complete more events than a call takes arguments.
            for (const bytes of translation.event(event)) output.push(bytes);
          }
        } catch (error) {
          abandon(controller, output, `relay failed to translate the answer: ${errorMessage(error)}`, error);
          return;
        }
        send(controller, output.length > 0 ? output : [new Uint8Array()]);
        return;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
