/**
 * Recorded-shape Anthropic SSE streams (LF-framed, as api.anthropic.com sends them) and the awkward ways
 * a network can cut them, for every test that parses or forwards a stream.
 */

/** Every golden stream, for tests that run over all of them: `for (const name of GOLDEN_NAMES)`. */
export const GOLDEN_NAMES = [
  "text",
  "tool_use",
  "thinking",
  "parallel_tools",
  "error_mid",
  "unicode",
  "cached",
] as const;

export type GoldenName = typeof GOLDEN_NAMES[number];

/**
 * The bytes of `tests/stream/golden/<name>.sse`.
 *
 * @example
 * ```ts
 * const bytes = await loadGolden("tool_use");
 * ```
 */
export function loadGolden(name: GoldenName): Promise<Uint8Array> {
  return Deno.readFile(new URL(`../stream/golden/${name}.sse`, import.meta.url));
}

/**
 * The same stream with CRLF or lone-CR line ends: SSE allows both, and they put a chunk edge between a
 * CR and its LF. The goldens' JSON never holds a raw LF, so every LF is a line end.
 *
 * @example
 * ```ts
 * const crlf = withLineEnding(await loadGolden("text"), "\r\n");
 * ```
 */
export function withLineEnding(bytes: Uint8Array, ending: "\r\n" | "\r"): Uint8Array {
  const text = new TextDecoder().decode(bytes);
  return new TextEncoder().encode(text.replaceAll("\n", ending));
}

const _CR = 0x0d;
const _LF = 0x0a;

/**
 * Ways to cut `bytes` into chunks that a network could deliver: whole; in two at every offset; at every
 * UTF-8 continuation byte at once (each multi-byte character split); between every CR and LF at once;
 * in strides of 2, 3 and 7 bytes; one byte at a time. Chunks are views, so the list is cheap.
 *
 * @example
 * ```ts
 * for (const chunks of splitAwkwardly(bytes)) assert.deepEqual(parseChunks(chunks), expected);
 * ```
 */
export function splitAwkwardly(bytes: Uint8Array): Uint8Array[][] {
  const n = bytes.byteLength;
  const range = (step: number) => Array.from({ length: Math.ceil(n / step) }, (_, i) => i * step);
  const insideCharacters = range(1).filter((i) => (bytes[i] & 0xc0) === 0x80);
  const insideCrlf = range(1).filter((i) => i > 0 && bytes[i - 1] === _CR && bytes[i] === _LF);
  const cuts: number[][] = [
    [0],
    ...range(1).slice(1).map((i) => [0, i]),
    [0, ...insideCharacters],
    [0, ...insideCrlf],
    range(2),
    range(3),
    range(7),
    range(1),
  ];
  return cuts.map((starts) => starts.map((start, k) => bytes.subarray(start, starts[k + 1] ?? n)));
}
