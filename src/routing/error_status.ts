/**
 * The status an Anthropic `error.type` comes with over HTTP, for an error met where no status says it
 * (an `error` event, an error body under a 200); 500 for a type Anthropic does not list.
 *
 * @example
 * ```ts
 * statusForErrorType("overloaded_error"); // 529
 * ```
 */
export function statusForErrorType(type: string): number {
  return _STATUS_FOR_ERROR_TYPE[type] ?? 500;
}

const _STATUS_FOR_ERROR_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};
