/** Which deadline a body missed. */
export type TimeoutKind = "first_byte" | "idle";

/**
 * The error a body fails with when its upstream went silent for too long.
 *
 * @example
 * ```ts
 * const describeFailure = (error: unknown) =>
 *   error instanceof StreamTimeoutError
 *     ? { errorType: "timeout_error" as const, message: `upstream stalled: ${error.message}` }
 *     : { errorType: "api_error" as const, message: String(error) };
 * ```
 */
export class StreamTimeoutError extends Error {
  constructor(readonly kind: TimeoutKind, readonly ms: number) {
    super(kind === "first_byte" ? `no body byte within ${ms} ms` : `no body byte for ${ms} ms`);
    this.name = "StreamTimeoutError";
  }
}
