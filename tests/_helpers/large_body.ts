/**
 * A body larger than relay will hold, made one MiB per read rather than held whole, that tells how far
 * it was read and whether it was cancelled.
 */

const _MIB = new Uint8Array(1 << 20).fill("w".charCodeAt(0));

/** A body being read, and what its reader has done with it so far. */
export interface LargeBody {
  readonly body: ReadableStream<Uint8Array>;
  /** How many parts (`head`, each MiB, `tail`) were never read. */
  readonly unread: number;
  /** Set as soon as the reader cancels the body. */
  readonly cancelled: boolean;
}

/**
 * `head`, `mib` MiB of `w`, then `tail`, each MiB its own read, made only once asked for.
 *
 * @example
 * ```ts
 * const large = largeBody(33, { head: '{"choices":[{"index":0,"message":{"content":"', tail: '"}}]}' });
 * await provider.send(...); // answered with new Response(large.body)
 * assert.ok(large.cancelled && large.unread > 0);
 * ```
 */
export function largeBody(mib: number, { head = "", tail = "" } = {}): LargeBody {
  const encoder = new TextEncoder();
  const parts = [encoder.encode(head), ...Array.from({ length: mib }, () => _MIB), encoder.encode(tail)];
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const part = parts.shift();
      if (part) controller.enqueue(part);
      else controller.close();
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  return {
    body,
    get unread() {
      return parts.length;
    },
    get cancelled() {
      return cancelled;
    },
  };
}
