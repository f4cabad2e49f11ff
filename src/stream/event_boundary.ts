/** Where an SSE stream may take a byte of relay's own without corrupting an event. */

/** A line feed, the byte that ends an SSE line (alone, or after a CR). */
export const LF = 0x0a;
const _CR = 0x0d;

/**
 * Whether the bytes so far end an SSE event: they end in a blank line, i.e. two line ends in a row
 * (LF, CR or CRLF, a CRLF possibly split across chunks). Only the trailing run of CR/LF bytes is looked
 * at, so this costs next to nothing per chunk. The start of a stream counts as a boundary.
 *
 * @example
 * ```ts
 * const boundary = new EventBoundary();
 * boundary.see(new TextEncoder().encode("event: ping\ndata: {}\n\n"));
 * boundary.atBoundary; // true
 * ```
 */
export class EventBoundary {
  #lineEnds = 2;
  #afterCr = false;

  get atBoundary(): boolean {
    return this.#lineEnds >= 2;
  }

  /** Whether the last byte seen is a CR: its LF, if it is half a CRLF, may still come. */
  get endsInCr(): boolean {
    return this.#afterCr;
  }

  see(chunk: Uint8Array): void {
    let start = chunk.byteLength;
    while (start > 0 && (chunk[start - 1] === LF || chunk[start - 1] === _CR)) start--;
    if (start > 0) {
      this.#lineEnds = 0;
      this.#afterCr = false;
    }
    for (let i = start; i < chunk.byteLength; i++) {
      const crlf = chunk[i] === LF && this.#afterCr;
      this.#afterCr = chunk[i] === _CR;
      if (!crlf) this.#lineEnds++;
    }
  }
}

/**
 * Where the last whole SSE event in `bytes` ends: just past its last blank line (two line ends in a
 * row, a CRLF counting as one), or 0 when there is none. A CR at the very end may be half a CRLF, so it
 * ends nothing yet.
 *
 * @example
 * ```ts
 * endOfLastEvent(new TextEncoder().encode("event: ping\ndata: {}\n\nevent: mess")); // 22
 * ```
 */
export function endOfLastEvent(bytes: Uint8Array): number {
  for (let end = bytes.byteLength - 1; end > 0; end--) {
    const lineEnd = bytes[end] === LF ||
      (bytes[end] === _CR && end + 1 < bytes.byteLength && bytes[end + 1] !== LF);
    if (!lineEnd) continue;
    const start = bytes[end] === LF && bytes[end - 1] === _CR ? end - 1 : end;
    if (start > 0 && (bytes[start - 1] === LF || bytes[start - 1] === _CR)) return end + 1;
  }
  return 0;
}
