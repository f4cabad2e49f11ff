/**
 * A body that must be read whole before it can be translated (a JSON answer, an error answer), read
 * inside the answer relay reads, as it reads a stream, rather than by the adapter before it answers.
 * Every such read has a limit: an upstream decides how large its answer is, and relay holds the whole
 * of it, several times over while it parses and re-encodes it.
 */
import { AnswerCutError, BodyCutError } from "./body_cut.ts";
import { concatBytes } from "../util/bytes.ts";
import { type ChunkReader, compactReader } from "./compact_reader.ts";
import { JsonEnd } from "./json_end.ts";

/**
 * The most of an answer relay reads whole to translate it: 32 MiB, the most relay takes of a request
 * (`server.max_body_size`'s default) or of one SSE event, and far above a real completion (128k output
 * tokens are under 1 MiB of text). Translating one costs several times its size: a body with no limit
 * could cost relay gigabytes, or crash it, and every stream it carries with it.
 */
export const MAX_WHOLE_ANSWER_BYTES = 32 * 1024 * 1024;
/** {@linkcode MAX_WHOLE_ANSWER_BYTES} as messages name it, in MiB. */
export const MAX_WHOLE_ANSWER_MIB = MAX_WHOLE_ANSWER_BYTES / 1_048_576;

/**
 * The most of an error answer relay reads: a JSON error is a few hundred bytes, and of any other body
 * only the first 500 characters become the message.
 */
export const MAX_ERROR_BODY_BYTES = 1024 * 1024;

/** A body read whole, or as much of it as a limit let through. */
export interface WholeText {
  /** The body as text, or its first `maxBytes` when `cut`. */
  text: string;
  /** Whether the body went past `maxBytes`; the rest of it was cancelled unread. */
  cut: boolean;
}

/**
 * `body` read to its end only once the output's reader asks, then translated whole. An adapter's `send`
 * resolves once the upstream's headers are in, and relay waits for it under `timeouts.connect` or
 * `first_byte`; read there, a body that stalls would meet that deadline as if no answer had come. Read
 * here, it runs under the deadlines of a body (`first_byte`, then `idle`), each chunk of `body` answered
 * with an empty chunk, a sign of life, as the SSE translations do. Past `maxBytes`, `body` is cancelled
 * and what came of it translated, marked `cut`. A failure of `body` fails the output, but relay's own
 * answer broken off (an `AnswerCutError`) ends it with what `fail` gives, when given: the output can
 * still say why, unlike half a body. Cancelling the output cancels `body`.
 *
 * @example
 * ```ts
 * const body = translateWhole(upstream.body!, MAX_ERROR_BODY_BYTES, ({ text }) => [
 *   new TextEncoder().encode(text.toUpperCase()),
 * ]);
 * ```
 */
export function translateWhole(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  translate: (whole: WholeText) => Uint8Array[],
  fail?: (error: AnswerCutError) => Uint8Array[],
): ReadableStream<Uint8Array> {
  const reader = _readerOf(body);
  const whole = new _Whole(maxBytes);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let read: ReadableStreamReadResult<Uint8Array>;
      try {
        read = await reader.read();
      } catch (error) {
        if (!(error instanceof AnswerCutError && fail)) throw error;
        for (const bytes of fail(error)) controller.enqueue(bytes);
        controller.close();
        return;
      }
      const { value, done } = read;
      const kept = !done && whole.add(value);
      if (kept && !whole.ended()) {
        controller.enqueue(new Uint8Array());
        return;
      }
      if (!done) reader.cancel(kept ? undefined : _tooLarge(maxBytes)).catch(() => {});
      for (const bytes of translate(whole.read())) controller.enqueue(bytes);
      controller.close();
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * `body` read whole, at once, up to `maxBytes`: for an answer whose status depends on what it says (an
 * unstreamed completion). Past `maxBytes`, the rest of `body` is cancelled unread; a failure of `body`
 * is thrown as it came.
 *
 * @example
 * ```ts
 * const { text, cut } = await readWhole(response.body!, MAX_WHOLE_ANSWER_BYTES);
 * ```
 */
export async function readWhole(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<WholeText> {
  const reader = _readerOf(body);
  const whole = new _Whole(maxBytes);
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    const kept = whole.add(read.value);
    if (kept && !whole.ended()) continue;
    reader.cancel(kept ? undefined : _tooLarge(maxBytes)).catch(() => {});
    break;
  }
  return whole.read();
}

/** Why the rest of a body is cancelled unread: relay's own doing, if the body is relay's own answer. */
function _tooLarge(maxBytes: number): BodyCutError {
  return new BodyCutError(`the answer is over ${maxBytes / 1_048_576} MiB, more than relay reads whole`);
}

/**
 * A `Response`'s body may be `null` (nothing was sent): it reads as empty. An upstream's is read
 * compactly: what is kept until the end takes only the bytes that came, not 64 KiB a chunk.
 */
function _readerOf(body: ReadableStream<Uint8Array> | null): ChunkReader {
  return body ? compactReader(body) : ReadableStream.from<Uint8Array>([]).getReader();
}

/** The chunks of a body kept so far, up to `maxBytes`, and whether they make a whole JSON value. */
class _Whole {
  readonly #maxBytes: number;
  readonly #chunks: Uint8Array[] = [];
  readonly #end = new JsonEnd();
  #size = 0;
  #cut = false;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Keeps `chunk`, or the part of it the limit leaves room for; false once the body has passed it. */
  add(chunk: Uint8Array): boolean {
    const room = this.#maxBytes - this.#size;
    this.#cut = chunk.byteLength > room;
    const kept = this.#cut ? chunk.subarray(0, room) : chunk;
    this.#chunks.push(kept);
    this.#size += kept.byteLength;
    this.#end.feed(kept);
    return !this.#cut;
  }

  /**
   * Whether what came is one whole JSON object, array or string: the answer ends there, as the plain
   * JSON path's does, though an upstream keeps its body open past it (a stream asked for and a whole
   * message given, which relay would otherwise wait on until timeouts.idle, and retry).
   */
  ended(): boolean {
    return this.#end.complete() && this.#end.whole();
  }

  read(): WholeText {
    return { text: new TextDecoder().decode(concatBytes(this.#chunks)), cut: this.#cut };
  }
}
