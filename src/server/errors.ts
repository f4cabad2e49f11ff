/**
 * relay's own errors, in the envelope Anthropic's SDKs parse:
 * `{"type":"error","error":{"type":...,"message":...}}`. Upstream errors never pass through here: they
 * reach the client with their own status and body, because Claude Code matches on their wording.
 */

/** The `error.type` values Anthropic uses, by the status relay answers with. */
export type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
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
