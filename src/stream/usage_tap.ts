import type { TokenCount } from "../routing/token_estimate.ts";
import { concatBytes } from "../util/bytes.ts";
import { SseDecoder } from "./sse_decode.ts";

/** JSON bodies larger than this are not kept for their `usage`; the estimate stands instead. */
const _MAX_JSON_BYTES = 4 * 1024 * 1024;

/**
 * Reads the token usage an Anthropic answer reports, from copies of the chunks relay forwards: a
 * stream's `message_start` and last `message_delta`, or a message's `usage`. It never holds up or
 * changes a chunk. Input counts `input_tokens` plus cache writes (what input rate limits count);
 * cache reads are left out, as Anthropic's own limits leave them out.
 *
 * @example
 * ```ts
 * const tap = new UsageTap(true);
 * tap.observe(chunk);
 * tap.usage(); // { input: 1200, output: 87 }
 * ```
 */
export class UsageTap {
  readonly #decoder: SseDecoder | undefined;
  readonly #json: Uint8Array[] | undefined;
  #jsonBytes = 0;
  #input: number | undefined;
  #output: number | undefined;

  constructor(sse: boolean) {
    if (sse) this.#decoder = new SseDecoder();
    else this.#json = [];
  }

  observe(chunk: Uint8Array): void {
    if (this.#decoder) {
      for (const event of this.#decoder.feed(chunk)) {
        if (event.event === "message_start" || event.event === "message_delta") this.#read(event.data);
      }
    } else if (this.#json && this.#jsonBytes + chunk.byteLength <= _MAX_JSON_BYTES) {
      this.#json.push(chunk.slice());
      this.#jsonBytes += chunk.byteLength;
    }
  }

  /** The usage reported so far; `undefined` when the answer named none. */
  usage(): TokenCount | undefined {
    if (this.#json) this.#read(new TextDecoder().decode(concatBytes(this.#json)));
    if (this.#input === undefined && this.#output === undefined) return undefined;
    return { input: this.#input ?? 0, output: this.#output ?? 0 };
  }

  #read(text: string): void {
    let usage: Record<string, unknown> | undefined;
    try {
      const data = JSON.parse(text);
      usage = data?.usage ?? data?.message?.usage;
    } catch {
      return;
    }
    if (!usage) return;
    const count = (name: string) => (typeof usage![name] === "number" ? usage![name] as number : undefined);
    const input = count("input_tokens");
    if (input !== undefined) this.#input = input + (count("cache_creation_input_tokens") ?? 0);
    const output = count("output_tokens");
    if (output !== undefined) this.#output = output;
  }
}
