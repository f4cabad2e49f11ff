/**
 * An answer to a streamed request that came labelled anything but `text/event-stream`: a server that
 * ignores `"stream": true` sends its whole answer (JSON), and some send their stream labelled JSON,
 * `text/plain` or nothing by mistake. Its first bytes tell which it is.
 */
import { type ChunkReader, compactReader } from "./compact_reader.ts";
import { translateWhole, type WholeText } from "./translate_whole.ts";
import { BOM_BYTES } from "../util/bytes.ts";
import { isJsonWhitespace } from "../util/json.ts";

/**
 * The most relay reads of such an answer before it reads it whole, when all of that was blank: an SSE
 * stream says so on its first line.
 */
const _MAX_SNIFF_BYTES = 64 * 1024;

/**
 * `body` as an SSE stream: passed on as it comes when its first non-blank bytes are an SSE line's (a `:`
 * comment, or a field, `event`, `data`, `id` or `retry`, then `:` or the line's end), through
 * `translateSse` when given (an upstream whose SSE is not Anthropic's), and `onSse` told;
 * else read whole up to `maxBytes` and translated, as {@linkcode translateWhole} does: JSON, or a body
 * that is neither, which `translate` fails. Passed on as SSE, such a body would be one event that never
 * ends: relay, looking for the stream's first event, would hold it, then pass it on as the stream.
 * It is read only as the output's reader asks, so under relay's deadlines for a body; each chunk read
 * while its first bytes are still to tell is answered with an empty chunk, a sign of life. Cancelling
 * the output cancels `body`.
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
  onSse?: () => void,
  translateSse?: (sse: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const upstream = body ? compactReader(body) : ReadableStream.from<Uint8Array>([]).getReader();
  const held: Uint8Array[] = [];
  let size = 0;
  const sniff = new _Sniff();
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
      const kind = done ? "whole" : sniff.feed(value) ?? (size > _MAX_SNIFF_BYTES ? "whole" : undefined);
      if (kind === "sse") {
        onSse?.();
        if (!translateSse) {
          source = upstream;
          for (const chunk of held.splice(0)) controller.enqueue(chunk);
          return;
        }
        source = translateSse(_prepended(held, upstream)).getReader();
      }
      if (kind === "whole") {
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
 * What an answer's first bytes say it is, read as they come, each byte once: SSE when, after a BOM at
 * the very start and blank lines, they begin an SSE line (a `:` comment or one of SSE's fields), whole
 * otherwise: JSON (`{`, `[`), or something neither, which fails as such once read whole rather than
 * passing for a stream whose first event never ends.
 */
class _Sniff {
  #seen = 0;
  #bomBytes = 0;
  #start = "";

  /** What the bytes so far say; `undefined` while they could still be either. */
  feed(chunk: Uint8Array): "sse" | "whole" | undefined {
    for (const byte of chunk) {
      const at = this.#seen++;
      if (at < BOM_BYTES.length && this.#bomBytes === at) {
        if (byte === BOM_BYTES[at]) {
          this.#bomBytes++;
          continue;
        }
        if (at > 0) return "whole"; // a BOM cut short
      }
      if (this.#start === "") {
        // Blank lines, and JSON's whitespace before a value: the same four bytes.
        if (isJsonWhitespace(byte)) continue;
        if (byte === _BRACE || byte === _BRACKET) return "whole";
      }
      this.#start += String.fromCharCode(byte);
      if (_SSE_STARTS.some((field) => this.#start.startsWith(field))) return "sse";
      if (!_SSE_STARTS.some((field) => field.startsWith(this.#start))) return "whole";
    }
    return undefined;
  }
}

const _BRACE = 0x7b;
const _BRACKET = 0x5b;
/**
 * How an SSE stream's first line can start: a comment, or a field SSE defines, with a value after `:`
 * or none (the line ends at the name).
 */
const _SSE_STARTS = [
  ":",
  ...["event", "data", "id", "retry"].flatMap((field) => [":", "\r", "\n"].map((end) => field + end)),
];

/** The chunks read so far, then the rest of the body. */
function _prepended(held: Uint8Array[], rest: ChunkReader): ReadableStream<Uint8Array> {
  // Read by index, not taken by `held.shift()`, which moves every chunk after: up to 64 Ki are held (a
  // byte each, after as many blank lines), and shifting them all took 1.75 s.
  let next = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (next < held.length) return controller.enqueue(held[next++]);
      held.length = 0; // all passed on: the body's reader need not keep them
      const { value, done } = await rest.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => rest.cancel(reason),
  }, { highWaterMark: 0 });
}
