/**
 * An Anthropic SSE body run through a front door's translator (Chat Completions chunks, Responses
 * events), as the bytes its client reads.
 */
import { translateSse } from "./openai_translate_sse.ts";
import type { SseEvent } from "./sse_decode.ts";
import type { JsonObject } from "../util/json.ts";

/** A translation of an Anthropic answer into another API's, in parts of type `Part`. */
export interface AnthropicTranslator<Part> {
  /** Whether the answer is over: nothing more comes out. */
  readonly finished: boolean;
  /** The parts one Anthropic SSE event completes. */
  event(event: SseEvent): Part[];
  /** The parts a whole Message (or an error object) stands for. */
  message(message: JsonObject): Part[];
  /** The Anthropic body ended. */
  end(): Part[];
  /** relay cannot go on with the answer: the parts that end it with an error of Anthropic's `type`. */
  error(message: string, type?: string): Part[];
  /**
   * A keep-alive that is a part of the answer, for a client deaf to SSE comments; `undefined` where
   * none fits, and for a translator without it, comments are sent.
   */
  keepAlive?(): Part | undefined;
}

/**
 * `body` as the bytes of `translator`'s parts, `encode`d. Once the translation has finished, the rest of
 * the body is still read, and the output ends with it: the body is relay's own answer, whose access log
 * and ledger entry would take a cancel for the client leaving. Cancelling the output cancels the body.
 *
 * @example
 * ```ts
 * const sse = anthropicTranslatedSse(answer.body!, new AnthropicToOpenAI({ created, includeUsage }), encodeOpenAISse);
 * ```
 */
export function anthropicTranslatedSse<Part>(
  body: ReadableStream<Uint8Array>,
  translator: AnthropicTranslator<Part>,
  encode: (part: Part) => Uint8Array,
): ReadableStream<Uint8Array> {
  return translateSse(body, {
    get finished() {
      return translator.finished;
    },
    start: () => [],
    event: (event) => translator.event(event).map(encode),
    end: () => translator.end().map(encode),
    fail: (message, errorType) => translator.error(message, errorType).map(encode),
  }, { drain: true });
}
