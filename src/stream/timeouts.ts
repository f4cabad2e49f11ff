import { guardedPull } from "./guarded_pull.ts";

/** Which deadline a body missed. */
export type TimeoutKind = "first_byte" | "idle";

/** The timer pair a deadline runs on; tests inject a fake one to fire deadlines without waiting. */
export interface Timers {
  /** Returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The deadlines of {@link withIdleTimeout} and who hears about a missed one. */
export interface IdleTimeoutOptions {
  /** Longest wait for the first chunk, in milliseconds. */
  firstByteMs: number;
  /** Longest wait for each later chunk, in milliseconds. */
  idleMs: number;
  /** Called once, when a deadline passes, before the body errors with a {@link StreamTimeoutError}. */
  onTimeout?: (kind: TimeoutKind) => void;
  /** The global `setTimeout`/`clearTimeout` unless given. */
  timers?: Timers;
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

/**
 * Guards a body against a silent upstream: the chunks pass through untouched, and when the first one
 * takes longer than `firstByteMs`, or a later one longer than `idleMs`, `onTimeout` is told, the body
 * errors with a {@link StreamTimeoutError} and the source is cancelled, which aborts its fetch.
 *
 * The clock only runs while a read of the source is outstanding, and a read only starts when the
 * consumer asks for a chunk: nothing is read ahead, so a slow client neither buffers the upstream here
 * nor counts as upstream silence.
 *
 * @example
 * ```ts
 * const body = withIdleTimeout(upstream.body!, {
 *   firstByteMs: 60_000,
 *   idleMs: 300_000,
 *   onTimeout: (kind) => log.warn("upstream went silent", { kind }),
 * });
 * ```
 */
export function withIdleTimeout(
  body: ReadableStream<Uint8Array>,
  options: IdleTimeoutOptions,
): ReadableStream<Uint8Array> {
  const timers = options.timers ?? realTimers;
  let gotFirst = false;
  return guardedPull(body, {
    arm(_controller, stop) {
      const kind: TimeoutKind = gotFirst ? "idle" : "first_byte";
      const ms = gotFirst ? options.idleMs : options.firstByteMs;
      const timer = timers.setTimeout(() => {
        options.onTimeout?.(kind);
        stop(new StreamTimeoutError(kind, ms));
      }, ms);
      return () => timers.clearTimeout(timer);
    },
    see: () => gotFirst = true,
  });
}
