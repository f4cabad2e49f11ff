/**
 * Joins byte chunks into one buffer.
 *
 * @example
 * ```ts
 * concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * A UTF-8 byte order mark's bytes, `EF BB BF`: a body or a file may begin with one (RFC 8259 §8.1 lets
 * a JSON parser skip it), and relay's decoders let it go there, as `TextDecoder` does.
 */
export const BOM_BYTES: readonly number[] = [0xef, 0xbb, 0xbf];

/** The byte order mark as decoded text (U+FEFF), which a file's text keeps when it is written back. */
export const BOM_TEXT = "\uFEFF";

/**
 * Whether `bytes` begin with a UTF-8 byte order mark.
 *
 * @example
 * ```ts
 * startsWithBom(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b])); // true
 * startsWithBom(new TextEncoder().encode("{}")); // false
 * ```
 */
export function startsWithBom(bytes: Uint8Array): boolean {
  return bytes[0] === BOM_BYTES[0] && bytes[1] === BOM_BYTES[1] && bytes[2] === BOM_BYTES[2];
}
