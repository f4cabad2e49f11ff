/** Which deadline a body missed. */
export type TimeoutKind = "first_byte" | "idle";

/** The timer pair a deadline runs on; tests inject a fake one to fire deadlines without waiting. */
export interface Timers {
  /** Returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

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

/** The global timers, as the default {@link Timers}. */
export const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
