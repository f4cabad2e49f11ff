/**
 * The stream an Anthropic-format upstream's whole answer to a streamed request stands for: a server
 * that ignores `"stream": true` answers with the Message as JSON, or with its error so, and an SDK
 * reads a streamed request's answer only as events.
 */
import { jsonSyntaxReason } from "../util/json.ts";
import { anthropicErrorOf, errorEnvelope, unreadableAnswerError, withErrorRead } from "../server/errors.ts";
import { anthropicFailureFor } from "../server/openai_errors.ts";
import { isJsonObject } from "../util/json.ts";
import { messageAsSse } from "./message_as_sse.ts";
import { encodeSseEvent } from "./sse_encode.ts";
import { MAX_WHOLE_ANSWER_MIB, type WholeText } from "./translate_whole.ts";

/** Who answered, and who hears what the answer turned out to be. */
export interface WholeAnswerOptions {
  /** The provider's name, for an error that says its answer is no Message. */
  readonly name: string;
  /** The key the request went with, masked wherever that error quotes it. */
  readonly key?: { readonly secret: string; readonly label?: string };
  /** The answer's `content-type`, for an error that says it is neither JSON nor SSE; none when absent. */
  readonly label?: string | null;
  /** Told when the answer is a Message: its upstream answers streams whole. */
  readonly onMessage?: () => void;
  /**
   * Told when the Message counts no output, which its `message_delta` then says is 0: the count is
   * relay's, not the upstream's (`UsageFallback.estimated`).
   */
  readonly onOutputUnreported?: () => void;
}

/**
 * The events of a whole answer: a Message's ({@linkcode messageAsSse}), or one `event: error` before
 * anything else, which relay can still retry: the upstream's own error (`{"type":"error",…}`, or an
 * `{"error":…}` in OpenAI's words). An answer that is no Message (too large, no JSON, JSON of another
 * shape) is thrown as relay's own 502 `api_error` naming the provider and why.
 *
 * @example
 * ```ts
 * const stream = sseOrWhole(response.body, MAX_WHOLE_ANSWER_BYTES, (whole) => wholeAnswerStream(whole, { name: "glm" }));
 * ```
 */
export function wholeAnswerStream({ text, cut }: WholeText, options: WholeAnswerOptions): Uint8Array[] {
  const { name } = options;
  if (cut) {
    return _failed(
      options,
      `upstream ${name} answered a stream with a body over ${MAX_WHOLE_ANSWER_MIB} MiB, more than relay reads whole`,
    );
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch (error) {
    return _failed(
      options,
      `upstream ${name} answered a stream with a body (${options.label ?? "no content-type"}) that is ` +
        `neither SSE nor JSON: ${jsonSyntaxReason(error as SyntaxError)}`,
    );
  }
  if (!isJsonObject(answer)) return _failed(options, _notAMessage(name, answer));
  if (answer.type === "error") {
    const read = anthropicErrorOf(answer, { type: "api_error", message: _excerpt(answer) });
    return [encodeSseEvent("error", withErrorRead(answer, read))];
  }
  if (answer.type === "message") {
    const { content } = answer;
    if (
      Array.isArray(content) &&
      content.every((block) => isJsonObject(block) && typeof block.type === "string")
    ) {
      options.onMessage?.();
      return messageAsSse({ ...answer, content }, options.onOutputUnreported);
    }
    return _failed(options, _notAMessage(name, answer));
  }
  // Some compatibles report a failure in a 200 body in OpenAI's words.
  const failure = answer.error === undefined ? undefined : anthropicFailureFor(answer);
  if (failure) return [encodeSseEvent("error", errorEnvelope(failure.type, failure.message))];
  return _failed(options, _notAMessage(name, answer));
}

function _notAMessage(name: string, answer: unknown): string {
  return `upstream ${name} answered a stream with JSON that is not a Message: ${_excerpt(answer)}`;
}

/** An answer relay cannot use, thrown ({@linkcode unreadableAnswerError}). */
function _failed({ key }: WholeAnswerOptions, message: string): never {
  throw unreadableAnswerError(message, key);
}

/** The start of an answer relay could not use, for the error that says so. */
function _excerpt(json: unknown): string {
  const text = JSON.stringify(json);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
