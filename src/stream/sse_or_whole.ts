/**
 * An answer to a streamed request that came labelled JSON: a server that ignores `"stream": true` sends
 * its whole answer so, and some send their stream so by mistake. Its first bytes tell which it is.
 */
import { type ChunkReader, compactReader } from "./compact_reader.ts";
import { translateWhole, type WholeText } from "./translate_whole.ts";

/**
 * The most relay reads of such an answer before it takes it for JSON, when all of that was blank: an
 * SSE stream says so on its first line.
 */
const _MAX_SNIFF_BYTES = 64 * 1024;

/**
 * `body` as an SSE stream: passed on as it comes when its first non-blank bytes are an SSE line's
 * (`event:`, `data:` or a `:` comment), else read whole up to `maxBytes` and translated, as
 * {@linkcode translateWhole} does. It is read only as the output's reader asks, so under relay's
 * deadlines for a body; each chunk read while its first bytes are still to tell is answered with an
 * empty chunk, a sign of life. Cancelling the output cancels `body`.
 *
 * @example
 * ```ts
 * const stream = sseOrWhole(upstream.body, MAX_WHOLE_ANSWER_BYTES, ({ text }) => messageAsSse(JSON.parse(text)));
 * return new Response(stream, { headers: { "content-type": "text/event-stream" } });
 * ```
 */
export function sseOrWhole(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  translate: (whole: WholeText) => Uint8Array[],
): ReadableStream<Uint8Array> {
  const upstream = body ? compactReader(body) : ReadableStream.from<Uint8Array>([]).getReader();
  const held: Uint8Array[] = [];
  let size = 0;
  // What the output reads from once the first bytes told: the body itself, or its translation.
  let source: ChunkReader | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (source) {
        const { value, done } = await source.read();
        if (done) controller.close();
        else controller.enqueue(value);
        return;
      }
      const { value, done } = await upstream.read();
      if (!done) {
        held.push(value);
        size += value.byteLength;
      }
      const kind = _kindOf(held, done || size > _MAX_SNIFF_BYTES);
      if (kind === "sse") {
        source = upstream;
        for (const chunk of held.splice(0)) controller.enqueue(chunk);
        if (done) controller.close();
        return;
      }
      if (kind === "json") {
        source = translateWhole(_prepended(held, upstream), maxBytes, translate).getReader();
      }
      controller.enqueue(new Uint8Array());
    },
    cancel(reason) {
      return (source ?? upstream).cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Whether what `held` starts with, blank lines and a BOM aside, is SSE or something else (JSON, or
 * what will fail as JSON); `undefined` while it could still be either, unless `final`. Only its first
 * bytes are looked at: a whole answer may be megabytes.
 */
function _kindOf(held: readonly Uint8Array[], final: boolean): "sse" | "json" | undefined {
  let start = "";
  let first = true;
  for (const chunk of held) {
    for (let at = 0; at < chunk.byteLength && start.length < _LONGEST_START; at++) {
      const byte = chunk[at];
      if (first && byte === 0xef && chunk[at + 1] === 0xbb && chunk[at + 2] === 0xbf) {
        at += 2;
      } else if (start !== "" || !_BLANK.has(byte)) {
        start += String.fromCharCode(byte);
      }
      first = false;
    }
  }
  if (_SSE_STARTS.some((field) => start.startsWith(field))) return "sse";
  if (!final && _SSE_STARTS.some((field) => field.startsWith(start))) return undefined;
  return "json";
}

/** How an SSE stream's first line can start: a comment, or the fields Anthropic's streams use. */
const _SSE_STARTS = [":", "event:", "data:"];
const _LONGEST_START = Math.max(..._SSE_STARTS.map((field) => field.length));
/** Space, tab, CR and LF. */
const _BLANK: ReadonlySet<number> = new Set([0x20, 0x09, 0x0d, 0x0a]);

/** The chunks read so far, then the rest of the body. */
function _prepended(held: Uint8Array[], rest: ChunkReader): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = held.shift();
      if (chunk) return controller.enqueue(chunk);
      const { value, done } = await rest.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => rest.cancel(reason),
  }, { highWaterMark: 0 });
}
