import type { TokenCount } from "../routing/token_estimate.ts";
import { concatBytes } from "../util/bytes.ts";
import { isJsonObject } from "../util/json.ts";
import type { AnthropicUsage } from "./openai_types.ts";
import { SseDecoder, type SseEvent } from "./sse_decode.ts";

/**
 * Everything an answer's `usage` says, for the ledger: `input` is `input_tokens` alone, cache reads and
 * writes are counted apart (they are priced apart), and `cacheWrite1h` is the part of `cacheWrite` kept
 * for an hour (priced higher than the default five minutes). `webSearches` is
 * `server_tool_use.web_search_requests`, searches Anthropic ran for the answer and charges for on top of
 * its tokens; left out when the answer reports none.
 */
export interface UsageDetail {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  cacheWrite1h: number;
  webSearches?: number;
}

/**
 * The tokens rate limits count of a detailed usage: input with cache writes, cache reads left out (as
 * Anthropic's own input limits leave them out), and output.
 *
 * @example
 * ```ts
 * countedTokens({ input: 10, output: 40, cacheRead: 9000, cacheWrite: 500, cacheWrite1h: 0 }); // { input: 510, output: 40 }
 * ```
 */
export function countedTokens(detail: UsageDetail): TokenCount {
  return { input: detail.input + detail.cacheWrite, output: detail.output };
}

/**
 * A token count as an answer reports it, when it is one: a non-negative safe integer. Anything else (a
 * negative, fraction, absurd or missing figure) reads as no count at all, so an upstream can neither
 * credit a client's budget nor price an answer at a googol.
 *
 * @example
 * ```ts
 * tokenCount(87); // 87
 * tokenCount(-1_000_000); // undefined
 * tokenCount(1e300); // undefined
 * ```
 */
export function tokenCount(value: unknown): number | undefined {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? value as number : undefined;
}

const _NO_EVENTS: readonly SseEvent[] = [];

/** JSON bodies up to this size are kept whole and parsed for their `usage`. */
const _MAX_JSON_BYTES = 4 * 1024 * 1024;
/**
 * Of a longer one only the end is kept: Anthropic's message ends with its `usage`, so its last
 * `"usage":` object is read from there.
 */
const _JSON_TAIL_BYTES = 64 * 1024;

/**
 * Reads the token usage an Anthropic answer reports, and the web searches it ran (charged apart), from
 * copies of the chunks relay forwards: a stream's `message_start` and last `message_delta`, or a
 * message's `usage`. It never holds up, changes or fails a chunk. Input counts `input_tokens` plus cache
 * writes (what input rate limits count); cache reads are left out, as Anthropic's own limits leave them
 * out. A stream relay translates itself starts with zero usage: `unreported` then gives what the answer
 * used so far, read in place of a `message_delta` the stream ended without.
 *
 * @example
 * ```ts
 * const tap = new UsageTap(true);
 * tap.observe(chunk);
 * tap.usage(); // { input: 1200, output: 87 }
 * tap.detail(); // { input: 200, output: 87, cacheRead: 9000, cacheWrite: 1000, cacheWrite1h: 0 }
 * ```
 */
export class UsageTap {
  #decoder: SseDecoder | undefined;
  readonly #json: Uint8Array[] | undefined;
  #jsonBytes = 0;
  #tailOnly = false;
  #input: number | undefined;
  #output: number | undefined;
  #cacheRead = 0;
  #cacheWrite = 0;
  #cacheWrite1h = 0;
  #webSearches = 0;
  #errorData: string | undefined;
  /** The stream sent the event that ends it: `message_stop`, or an `error`. */
  #ended = false;
  /** A `message_delta`, the answer's own final usage, was read. */
  #reported = false;
  readonly #unreported: (() => AnthropicUsage | undefined) | undefined;

  /**
   * @param unreported For a stream: the usage so far of an answer whose `message_start` counts none
   * (`UsageFallback.streaming`), or `undefined` for any other.
   */
  constructor(sse: boolean, unreported?: () => AnthropicUsage | undefined) {
    if (sse) this.#decoder = new SseDecoder();
    else this.#json = [];
    this.#unreported = unreported;
  }

  /**
   * Reads the next chunk of the answer. Returns the SSE events the chunk completed, so a caller that
   * looks at events too (relay's commit, which waits for the first) parses each byte once.
   */
  observe(chunk: Uint8Array): readonly SseEvent[] {
    if (this.#decoder) {
      let events: SseEvent[];
      try {
        events = this.#decoder.feed(chunk);
      } catch {
        // An event past the decoder's bound is no Anthropic event: the tap stops reading, the stream
        // goes on, and the usage stays what was read before it.
        this.#decoder = undefined;
        return _NO_EVENTS;
      }
      for (const event of events) {
        const name = event.event;
        if (name === "message_start") this.#read(event.data);
        else if (name === "message_delta") {
          this.#read(event.data);
          this.#reported = true;
        } else if (name === "message_stop") this.#ended = true;
        else if (name === "error") {
          this.#errorData = event.data;
          this.#ended = true;
        }
      }
      return events;
    }
    if (this.#json) {
      this.#json.push(chunk.slice());
      this.#jsonBytes += chunk.byteLength;
      if (this.#jsonBytes > _MAX_JSON_BYTES) this.#tailOnly = true;
      if (this.#tailOnly) {
        while (this.#jsonBytes - this.#json[0].byteLength >= _JSON_TAIL_BYTES) {
          this.#jsonBytes -= this.#json.shift()!.byteLength;
        }
      }
    }
    return _NO_EVENTS;
  }

  /** The data of the stream's last `error` event, the upstream's own report that it failed; `undefined` when it sent none. */
  errorData(): string | undefined {
    return this.#errorData;
  }

  /** Whether the stream has sent the event that ends an Anthropic answer: `message_stop`, or an `error`. */
  ended(): boolean {
    return this.#ended;
  }

  /**
   * Whether the stream has yet to send the event that ends an Anthropic answer: `message_stop`, or an
   * `error`. One that ends without it was cut short, and the SDKs reject it. Never for a JSON body, nor
   * once the tap stopped reading (an event past its bound): it cannot tell then.
   */
  unfinished(): boolean {
    return this.#decoder !== undefined && !this.#ended;
  }

  /** The usage reported so far; `undefined` when the answer named none. */
  usage(): TokenCount | undefined {
    const detail = this.detail();
    return detail && countedTokens(detail);
  }

  /**
   * The usage reported so far, cache reads and writes apart; `undefined` when the answer named none. A
   * stream without its `message_delta` yet counts what `unreported` gives, when it gives anything.
   */
  detail(): UsageDetail | undefined {
    if (this.#json) {
      const text = new TextDecoder().decode(concatBytes(this.#json));
      this.#read(this.#tailOnly ? _lastUsage(text) : text);
    } else if (!this.#reported) {
      const soFar = this.#unreported?.();
      if (soFar) this.#take(soFar as Record<string, unknown>);
    }
    if (this.#input === undefined && this.#output === undefined) return undefined;
    return {
      input: this.#input ?? 0,
      output: this.#output ?? 0,
      cacheRead: this.#cacheRead,
      cacheWrite: this.#cacheWrite,
      cacheWrite1h: this.#cacheWrite1h,
      ...(this.#webSearches > 0 && { webSearches: this.#webSearches }),
    };
  }

  #read(text: string): void {
    let usage: Record<string, unknown> | undefined;
    try {
      const data = JSON.parse(text);
      usage = data?.usage ?? data?.message?.usage;
    } catch {
      return;
    }
    if (usage) this.#take(usage);
  }

  #take(usage: Record<string, unknown>): void {
    // `within`: the usage itself, or an object in it (`cache_creation`, `server_tool_use`), which may be
    // missing or null.
    const count = (name: string, within: unknown = usage) =>
      isJsonObject(within) ? tokenCount(within[name]) : undefined;
    // A later event repeats what an earlier one said (message_delta's usage is cumulative), so the
    // last figure for each field stands.
    this.#input = count("input_tokens") ?? this.#input;
    this.#output = count("output_tokens") ?? this.#output;
    this.#cacheRead = count("cache_read_input_tokens") ?? this.#cacheRead;
    this.#cacheWrite = count("cache_creation_input_tokens") ?? this.#cacheWrite;
    this.#cacheWrite1h = count("ephemeral_1h_input_tokens", usage.cache_creation) ?? this.#cacheWrite1h;
    this.#webSearches = count("web_search_requests", usage.server_tool_use) ?? this.#webSearches;
  }
}

/**
 * The last `"usage":{...}` object in `text` (the end of a JSON message), as a JSON document of its own,
 * or `""`. Braces inside strings are skipped, so a quoted `}` cannot cut the object short.
 */
function _lastUsage(text: string): string {
  const at = text.lastIndexOf('"usage":');
  const start = text.indexOf("{", at);
  if (at < 0 || start < 0 || text.slice(at + '"usage":'.length, start).trim() !== "") return "";
  let depth = 0;
  let quoted = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === "\\") i++;
      else if (char === '"') quoted = false;
    } else if (char === '"') quoted = true;
    else if (char === "{") depth++;
    else if (char === "}" && --depth === 0) return `{"usage":${text.slice(start, i + 1)}}`;
  }
  return "";
}
