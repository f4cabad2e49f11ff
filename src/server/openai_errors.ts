/**
 * Errors between OpenAI's shape, `{"error":{"message","type","param","code"}}`, and Anthropic's
 * envelope, in both directions: an OpenAI-compatible upstream's failure told to an Anthropic client,
 * and an Anthropic-format failure told to an OpenAI client. The status and the message text survive
 * both ways, because clients retry on the status and Claude Code reads the text.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { MAX_ERROR_BODY_BYTES, readWhole, translateWhole } from "../stream/translate_whole.ts";
import { isJsonObject } from "../util/json.ts";
import { anthropicErrorOf, type AnthropicErrorType, errorEnvelope, errorTypeForStatus } from "./errors.ts";
import { errorMessage } from "../util/error_message.ts";
import { maskKeysAndSecretsIn } from "../util/mask.ts";
import { SecretMask } from "../stream/secret_mask.ts";
import { claudeCodeWording, type TokenLimitAsked } from "../providers/token_limit_wording.ts";

/** A failure in Anthropic's terms: the status to answer before a stream, the type and text always. */
export interface AnthropicFailure {
  readonly status: number;
  readonly type: AnthropicErrorType;
  readonly message: string;
}

/**
 * OpenAI's error body; `param` names the request field at fault, when one is.
 *
 * @example
 * ```ts
 * openaiErrorBody("messages: expected an array", "invalid_request_error", "messages");
 * // { error: { message: "messages: expected an array", type: "invalid_request_error", param: "messages", code: null } }
 * ```
 */
export function openaiErrorBody(message: string, type: string, param: string | null = null, code?: string) {
  return { error: { message, type, param, code: code ?? openaiErrorCode(message) ?? null } };
}

/**
 * OpenAI's `code` for an error, where its clients act on one: `context_length_exceeded` for a prompt too
 * long, on which Codex compacts the conversation (Anthropic's `prompt is too long`, and its ``input length
 * and `max_tokens` exceed context limit``, which a shorter input cures too).
 */
export function openaiErrorCode(message: string): string | undefined {
  return /prompt is too long|input length and `max_tokens` exceed context limit/i.test(message)
    ? "context_length_exceeded"
    : undefined;
}

/** What an error response says besides its status and message. */
export interface OpenAIErrorOptions {
  /** Anthropic's error type for the status unless given, as relay's Anthropic routes would answer. */
  type?: string;
  /** The request field at fault. */
  param?: string;
  /** OpenAI's code for the error; the one {@linkcode openaiErrorCode} reads in the message unless given. */
  code?: string;
  headers?: HeadersInit;
}

/**
 * An error response in OpenAI's shape, which OpenAI's SDKs turn into their typed API errors.
 *
 * @example
 * ```ts
 * return openaiErrorResponse(400, "model: expected a string", { param: "model" });
 * ```
 */
export function openaiErrorResponse(
  status: number,
  message: string,
  options: OpenAIErrorOptions = {},
): Response {
  const { type = errorTypeForStatus(status), param, code, headers } = options;
  return Response.json(openaiErrorBody(message, type, param, code), { status, headers });
}

/**
 * The Anthropic error type and message of an Anthropic-format error answer (relay's own or an
 * upstream's), for its OpenAI-shaped answer with the same status (`openaiErrorResponse`, whose headers
 * carry `retry-after` and `x-should-retry`, which drive the OpenAI SDK's retries too). Its body is read
 * whole up to {@linkcode MAX_ERROR_BODY_BYTES}, whose start is still the message; a body that cannot be
 * read whole (stalled or cut off on its way through relay) gives a message saying so: half of it would be
 * no message.
 *
 * @example
 * ```ts
 * await anthropicErrorIn(answer); // { type: "invalid_request_error", message: "prompt is too long: …" }
 * ```
 */
export async function anthropicErrorIn(response: Response): Promise<{ type: string; message: string }> {
  let text: string;
  try {
    ({ text } = await readWhole(response.body, MAX_ERROR_BODY_BYTES));
  } catch (cut) {
    const reason = errorMessage(cut);
    return {
      type: errorTypeForStatus(response.status),
      message: `upstream answered HTTP ${response.status}, but its error body was cut off: ${reason}`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return anthropicErrorOf(isJsonObject(parsed) ? parsed : {}, {
    type: errorTypeForStatus(response.status),
    message: _fallbackMessage(text, response.status),
  });
}

/**
 * An OpenAI-compatible upstream's non-2xx answer as the Anthropic error answer it stands for, at once.
 * The status is kept; the body, read when the answer's reader asks for it (under relay's deadlines for a body,
 * and not at all when relay retries elsewhere), becomes Anthropic's envelope around the upstream's own
 * text, since its wording is what a user can act on; of a body over {@linkcode MAX_ERROR_BODY_BYTES},
 * its start. `asked` completes an output limit the upstream words without the value it refused. What else
 * the upstream's error says goes to the OpenAI front door's {@linkcode UpstreamErrorFields}, when it asked.
 *
 * @example
 * ```ts
 * if (!response.ok) return anthropicErrorFromOpenAI(response, { "content-type": "application/json" });
 * ```
 */
export function anthropicErrorFromOpenAI(
  response: Response,
  headers?: HeadersInit,
  asked: TokenLimitAsked = {},
  credentials: readonly { secret: string }[] = [],
): Response {
  const { status } = response;
  const body = translateWhole(response.body, MAX_ERROR_BODY_BYTES, ({ text }) => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const failure = anthropicFailureFor(json, status, asked);
    const seen = failure && _upstreamErrorsSeen.getStore();
    if (seen) {
      // Told by the message its client gets, credentials masked as relay masks the answer.
      const answered = SecretMask.for(...credentials.map(({ secret }) => secret))?.text(failure.message);
      seen.tell(answered ?? failure.message, _openaiErrorFields(json, credentials));
    }
    const { type, message } = failure ??
      { type: errorTypeForStatus(status), message: _fallbackMessage(text, response.status) };
    return [new TextEncoder().encode(JSON.stringify(errorEnvelope(type, message)))];
  });
  return new Response(body, { status, headers });
}

/**
 * What an OpenAI-compatible upstream's error says besides its message, which Anthropic's envelope has no
 * place for and OpenAI's clients act on (Codex on `code`, the SDK's `APIError.param` and `.code`).
 * Strings only, as OpenAI gives them: a compatible's numeric `code` is its HTTP status, told already.
 */
export interface OpenAIErrorFields {
  readonly type?: string;
  readonly param?: string;
  readonly code?: string;
}

/**
 * The fields of the OpenAI-compatible upstream errors one request of relay's OpenAI front door met, for
 * its client's error to carry them as the upstream gave them. The front door has the error only as
 * relay's own `/v1/messages` answers it, in Anthropic's envelope (unchanged for Anthropic clients), so
 * {@linkcode anthropicErrorFromOpenAI} tells them by the exchange's async context instead.
 *
 * @example
 * ```ts
 * const upstreamErrors = new UpstreamErrorFields();
 * const error = await upstreamErrors.during(async () => anthropicErrorIn(await dispatch(request)));
 * upstreamErrors.of(error.message); // { type: "invalid_request_error", param: "temperature", code: "invalid_value" }
 * ```
 */
export class UpstreamErrorFields {
  #last?: { message: string; fields: OpenAIErrorFields };

  /** Runs `exchange`, the upstream errors translated meanwhile told to this. */
  during<T>(exchange: () => T): T {
    return _upstreamErrorsSeen.run(this, exchange);
  }

  /** Told by {@linkcode anthropicErrorFromOpenAI}: the upstream error it answered with `message`. */
  tell(message: string, fields: OpenAIErrorFields): void {
    this.#last = { message, fields };
  }

  /**
   * The fields of the upstream error answered with `message`, when it was the last one met; `undefined`
   * for another error: relay's own, another upstream's after a failover, or one whose words relay masked.
   */
  of(message: string): OpenAIErrorFields | undefined {
    return this.#last?.message === message ? this.#last.fields : undefined;
  }
}

const _upstreamErrorsSeen = new AsyncLocalStorage<UpstreamErrorFields>();

/**
 * The {@linkcode OpenAIErrorFields} of an OpenAI-style error body, in the shapes {@linkcode anthropicFailureFor}
 * reads; the `credentials` relay sent, and anything else key-shaped, masked in them, since they reach the
 * client by no other mask of relay's.
 */
function _openaiErrorFields(body: unknown, credentials: readonly { secret: string }[]): OpenAIErrorFields {
  if (!isJsonObject(body)) return {};
  const error = isJsonObject(body.error) ? body.error : body;
  const named = (["type", "param", "code"] as const).filter((name) => typeof error[name] === "string");
  return Object.fromEntries(
    named.map((name) => [name, maskKeysAndSecretsIn(error[name] as string, credentials)]),
  );
}

/**
 * Reads an OpenAI-style error body, or the `error` member of a stream chunk, in Anthropic's terms;
 * `undefined` when it holds no message. Compatibles disagree on the shape: OpenAI nests
 * `{message, type, code}` under `error`, vLLM puts them at the top, OpenRouter gives the HTTP status as
 * a numeric `code`, some servers send a bare string or FastAPI's `detail`. Inside a stream there is no
 * HTTP status, so `status` is then the upstream's numeric `code` or one implied by its `type`.
 *
 * @example
 * ```ts
 * anthropicFailureFor({ error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } });
 * // { status: 429, type: "rate_limit_error", message: "Rate limit reached" }
 * ```
 */
export function anthropicFailureFor(
  body: unknown,
  httpStatus?: number,
  asked: TokenLimitAsked = {},
): AnthropicFailure | undefined {
  const message = openaiErrorMessage(body);
  if (message === undefined || !isJsonObject(body)) return undefined;
  const error = body.error ?? body;
  if (!isJsonObject(error)) return _failure(httpStatus ?? 500, message, "", asked);
  const code = error.code ?? error.status;
  const words = [error.type, code].filter((value) => typeof value === "string").join(" ");
  const codeStatus = typeof code === "number" && code >= 400 && code <= 599 ? code : undefined;
  return _failure(httpStatus ?? codeStatus ?? _statusForWords(words), message, words, asked);
}

/**
 * The message of an OpenAI-style error body, in whichever of the compatibles' shapes it comes (see
 * {@linkcode anthropicFailureFor}); `undefined` when it holds none.
 *
 * @example
 * ```ts
 * openaiErrorMessage({ object: "error", message: "max_tokens is too large", type: "BadRequestError" }); // "max_tokens is too large"
 * ```
 */
export function openaiErrorMessage(body: unknown): string | undefined {
  if (!isJsonObject(body)) return undefined;
  const error = body.error ?? body;
  if (typeof error === "string") return error;
  if (!isJsonObject(error)) return undefined;
  const message = [error.message, error.detail].find((value) => typeof value === "string");
  return message as string | undefined;
}

/** A status for an error known only by its `type`/`code` words, as inside a stream. */
function _statusForWords(words: string): number {
  if (/rate_limit|quota/i.test(words)) return 429;
  if (/overloaded/i.test(words)) return 529;
  if (/context_length|invalid_request/i.test(words)) return 400;
  if (/authentication|invalid_api_key/i.test(words)) return 401;
  if (/timeout/i.test(words)) return 504;
  return 500;
}

/** The upstream's failure, in the words Claude Code acts on when they are about a token limit. */
function _failure(
  status: number,
  message: string,
  words: string,
  asked: TokenLimitAsked,
): AnthropicFailure {
  return {
    status,
    type: errorTypeForStatus(status),
    message: claudeCodeWording(message, status, words, asked),
  };
}

function _fallbackMessage(text: string, status: number): string {
  return text.trim().slice(0, 500) || `upstream answered HTTP ${status} without a message`;
}
