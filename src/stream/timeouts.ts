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
  const reader = body.getReader();
  let gotFirst = false;
  // Set by a timeout or a cancel; the read still outstanding then settles into a body that is done.
  let stopped = false;

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const kind: TimeoutKind = gotFirst ? "idle" : "first_byte";
      const ms = gotFirst ? options.idleMs : options.firstByteMs;
      const timer = timers.setTimeout(() => {
        stopped = true;
        options.onTimeout?.(kind);
        const error = new StreamTimeoutError(kind, ms);
        controller.error(error);
        reader.cancel(error).catch(() => {});
      }, ms);
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        if (!stopped) controller.error(error);
        return;
      } finally {
        timers.clearTimeout(timer);
      }
      if (stopped) return;
      if (result.done) {
        controller.close();
      } else {
        gotFirst = true;
        controller.enqueue(result.value);
      }
    },
    cancel(reason) {
      // Cancelling settles the outstanding read at once, and the pull clears the timer then.
      stopped = true;
      // Deno 2.9.6 rejects a cancel that reaches a TransformStream terminated with output still queued
      // (Bedrock's decoder after its error event); the client is gone either way.
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
