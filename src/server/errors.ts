/**
 * relay's own errors, in the envelope Anthropic's SDKs parse:
 * `{"type":"error","error":{"type":...,"message":...}}`. Upstream errors never pass through here: they
 * reach the client with their own status and body, because Claude Code matches on their wording.
 */

import { isJsonObject, type JsonObject } from "../util/json.ts";
import { errorMessage } from "../util/error_message.ts";
import { maskKeysAndSecretsIn } from "../util/mask.ts";

/**
 * The header that tells the SDKs and Claude Code not to retry an error only a person can mend (a wrong
 * client token, a key no provider takes): they obey it over the status.
 */
export const NOT_RETRIED: Readonly<Record<string, string>> = { "x-should-retry": "false" };

/** The `error.type` values Anthropic uses, by the status relay answers with. */
export type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "billing_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "timeout_error"
  | "overloaded_error";

/** The error type Anthropic's API uses for a status. */
export function errorTypeForStatus(status: number): AnthropicErrorType {
  switch (status) {
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 529:
      return "overloaded_error";
  }
  return status < 500 ? "invalid_request_error" : "api_error";
}

/** An error envelope: the body of an error response, and the `data` of a mid-stream `event: error`. */
export function errorEnvelope(type: AnthropicErrorType, message: string) {
  return { type: "error", error: { type, message } } as const;
}

/**
 * A relay error response.
 *
 * @example
 * ```ts
 * return errorResponse(413, "request body is 40 MB; the limit is 32 MiB (server.max_body_size)");
 * ```
 */
export function errorResponse(
  status: number,
  message: string,
  headers?: HeadersInit,
  type: AnthropicErrorType = errorTypeForStatus(status),
): Response {
  return Response.json(errorEnvelope(type, message), { status, headers });
}

/** A failure relay knows how to answer; thrown anywhere on the request path, turned into a response once. */
export class RelayError extends Error {
  /** `type` defaults to the one Anthropic uses for `status` (a 503 at capacity says `overloaded_error`). */
  constructor(
    readonly status: number,
    message: string,
    readonly headers?: HeadersInit,
    readonly type: AnthropicErrorType = errorTypeForStatus(status),
  ) {
    super(message);
    this.name = "RelayError";
  }

  toResponse(): Response {
    return errorResponse(this.status, this.message, this.headers, this.type);
  }
}

/**
 * The `error.type` and `error.message` of an Anthropic error object (an `error` event's payload, an
 * error body, an error body under a 200), as relay reads them for its log, its retries and the errors it
 * tells of them: either missing, or not a string, reads as `fallback` says (`api_error`, `upstream failed`).
 *
 * @example
 * ```ts
 * anthropicErrorOf({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
 * // { type: "overloaded_error", message: "Overloaded" }
 * ```
 */
export function anthropicErrorOf(
  payload: JsonObject,
  fallback: { type: string; message: string } = _UNTOLD,
): { type: string; message: string } {
  const error = isJsonObject(payload.error) ? payload.error : {};
  return {
    type: typeof error.type === "string" ? error.type : fallback.type,
    message: typeof error.message === "string" ? error.message : fallback.message,
  };
}

const _UNTOLD = { type: "api_error", message: "upstream failed" };

/**
 * An Anthropic error object with its `error.type` and `error.message` as `read` says (an upstream's
 * error read by {@linkcode anthropicErrorOf}, masked), every other field of it kept (`request_id`).
 *
 * @example
 * ```ts
 * withErrorRead({ type: "error", error: { type: 7 }, request_id: "req_1" }, { type: "api_error", message: "m" });
 * // { type: "error", error: { type: "api_error", message: "m" }, request_id: "req_1" }
 * ```
 */
export function withErrorRead(payload: JsonObject, read: { type: string; message: string }): JsonObject {
  const error = isJsonObject(payload.error) ? payload.error : {};
  return { ...payload, error: { ...error, ...read } };
}

/**
 * A 200 whose body relay cannot read (no JSON, no Message or completion, a broken event stream), as
 * relay's own 502 `api_error`. An adapter throws it as a broken connection is thrown: the attempt fails,
 * relay retries it or fails over, the breakers count it, and it is logged as what it was, not as the
 * upstream's 502 (passed on as an answer) or a 500 (an `error` event's status for `api_error`). relay's
 * own messages go out unmasked, so whatever `message` quotes of `key`, or of anything shaped like a
 * secret, is masked here. `upstreamHeaders` are the 200's (as the adapter would have answered with
 * them: `request-id` under that name): thrown before relay has the answer, its rate limits and its
 * request-id still reach the key pool and the access line ({@linkcode UnreadableAnswerError}).
 *
 * @example
 * ```ts
 * throw unreadableAnswerError(`upstream ${name} answered 200 without a JSON body: ${reason}`, key, headers);
 * ```
 */
export function unreadableAnswerError(
  message: string,
  key: { secret: string } | undefined,
  upstreamHeaders?: Headers,
): UnreadableAnswerError {
  return new UnreadableAnswerError(maskKeysAndSecretsIn(message, key ? [key] : []), upstreamHeaders);
}

/**
 * relay's 502 for a 200 it cannot read, with the headers of that 200: for relay's own use (rate limits,
 * the request-id it logs), never the client's, which {@linkcode RelayError.headers} would be.
 */
export class UnreadableAnswerError extends RelayError {
  constructor(message: string, readonly upstreamHeaders?: Headers) {
    super(502, message);
    this.name = "UnreadableAnswerError";
  }
}

/**
 * relay's 504 for an upstream that did not answer within a deadline (`timeouts.connect`, `first_byte`).
 * Its answer's headers may have come by then, to an adapter that reads the body before it answers (an
 * unstreamed completion read whole, Bedrock's first frame): that adapter tells them as the deadline
 * aborts its read ({@linkcode readAnswerBody}), and they go to relay as an unreadable answer's do.
 * Told once: each deadline is one attempt's.
 */
export class AnswerTimeoutError extends RelayError {
  #upstreamHeaders?: Headers;

  constructor(message: string) {
    super(504, message);
    this.name = "AnswerTimeoutError";
  }

  /** The headers of the answer that was being read when the deadline passed, if one was. */
  get upstreamHeaders(): Headers | undefined {
    return this.#upstreamHeaders;
  }

  /** Told by the adapter whose read of an answer with `headers` this deadline aborted. */
  answered(headers: Headers): void {
    this.#upstreamHeaders ??= headers;
  }
}

/**
 * A body an adapter was reading before it answered, failed (a connection cut, relay's own abort):
 * `cause` is the failure as it came, which relay tells of as it would of any answer's, and
 * `upstreamHeaders` the answer's, for relay's own use as an unreadable answer's are.
 */
export class BrokenAnswerError extends Error {
  constructor(cause: unknown, readonly upstreamHeaders: Headers) {
    super(errorMessage(cause), { cause });
    this.name = "BrokenAnswerError";
  }
}

/**
 * `read` of the body of an answer whose `headers` are in, in an adapter's `send`, before it answers (an
 * unstreamed completion read whole, Bedrock's first frame). Whatever fails it still tells relay those
 * headers (the rate limits the key pool learns, the request-id the access line logs), as an unreadable
 * body does ({@linkcode UnreadableAnswerError}): a failure of the read is thrown as a
 * {@linkcode BrokenAnswerError}, and relay's own deadline for the answer, passing meanwhile, is told
 * them as it aborts the read ({@linkcode AnswerTimeoutError}). `headers` are those the adapter would
 * answer with (`request-id` under that name).
 *
 * @example
 * ```ts
 * const whole = await readAnswerBody(headers, request.signal, () => readWhole(response.body, maxBytes));
 * ```
 */
export async function readAnswerBody<T>(
  headers: Headers,
  signal: AbortSignal,
  read: () => Promise<T>,
): Promise<T> {
  // Told at once: relay answers with the deadline's error as it aborts, not once the read has failed.
  const tell = () => {
    if (signal.reason instanceof AnswerTimeoutError) signal.reason.answered(headers);
  };
  if (signal.aborted) tell();
  else signal.addEventListener("abort", tell, { once: true });
  try {
    return await read();
  } catch (error) {
    throw new BrokenAnswerError(error, headers);
  } finally {
    signal.removeEventListener("abort", tell);
  }
}

/**
 * The headers of the upstream answer a failure thrown before relay had that answer came with (see
 * {@linkcode readAnswerBody}): for relay's own use, never the client's.
 */
export function upstreamHeadersOf(error: unknown): Headers | undefined {
  return error instanceof UnreadableAnswerError || error instanceof AnswerTimeoutError ||
      error instanceof BrokenAnswerError
    ? error.upstreamHeaders
    : undefined;
}
