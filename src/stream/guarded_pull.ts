/**
 * What a {@link guardedPull} stream does around each read of its source.
 */
export interface PullGuard {
  /**
   * Called as a read of the source starts; returns what undoes it once the read settles. `stop`
   * errors the stream with `error` and cancels the source (a deadline that passed).
   */
  arm(controller: ReadableStreamDefaultController<Uint8Array>, stop: (error: unknown) => void): () => void;
  /** Sees each chunk as it goes on. */
  see?(chunk: Uint8Array): void;
}

/**
 * The same bytes as `body`, read only when the consumer asks (`highWaterMark: 0`), with `guard`
 * watching each read of the source: a deadline, a keep-alive. Nothing is read ahead, so a guard's
 * clock runs on the source's silence, never on a slow consumer's.
 *
 * @example
 * ```ts
 * const body = guardedPull(upstream, {
 *   arm: (_controller, stop) => {
 *     const timer = setTimeout(() => stop(new Error("silent")), 1000);
 *     return () => clearTimeout(timer);
 *   },
 * });
 * ```
 */
export function guardedPull(body: ReadableStream<Uint8Array>, guard: PullGuard): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  // Set by `stop` or a cancel; the read still outstanding then settles into a body that is done.
  let stopped = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const stop = (error: unknown) => {
        if (stopped) return;
        stopped = true;
        controller.error(error);
        reader.cancel(error).catch(() => {});
      };
      const disarm = guard.arm(controller, stop);
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        if (!stopped) controller.error(error);
        return;
      } finally {
        disarm();
      }
      if (stopped) return;
      if (result.done) {
        controller.close();
      } else {
        guard.see?.(result.value);
        controller.enqueue(result.value);
      }
    },
    cancel(reason) {
      // Cancelling settles the outstanding read at once, and the pull disarms the guard then.
      stopped = true;
      // Deno 2.9.6 rejects a cancel that reaches a TransformStream terminated with output still queued
      // (Bedrock's decoder after its error event); the client is gone either way.
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
