/**
 * Compares two secrets in time that depends on `offered`'s length only, never on where they first
 * differ, so timing does not reveal a token's prefix.
 *
 * @example
 * ```ts
 * const encoder = new TextEncoder();
 * sameSecret(encoder.encode(offered), encoder.encode(expected));
 * ```
 */
export function sameSecret(offered: Uint8Array, expected: Uint8Array): boolean {
  let difference = offered.byteLength ^ expected.byteLength;
  for (let i = 0; i < offered.byteLength; i++) {
    difference |= offered[i] ^ (expected[i % expected.byteLength] ?? 0);
  }
  return difference === 0;
}
