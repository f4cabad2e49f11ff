/** Where an SSE stream may take a byte of relay's own without corrupting an event. */

const _LF = 0x0a;
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

  see(chunk: Uint8Array): void {
    let start = chunk.byteLength;
    while (start > 0 && (chunk[start - 1] === _LF || chunk[start - 1] === _CR)) start--;
    if (start > 0) {
      this.#lineEnds = 0;
      this.#afterCr = false;
    }
    for (let i = start; i < chunk.byteLength; i++) {
      const crlf = chunk[i] === _LF && this.#afterCr;
      this.#afterCr = chunk[i] === _CR;
      if (!crlf) this.#lineEnds++;
    }
  }
}
