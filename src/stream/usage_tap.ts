import { estimateWrittenTokens, type TokenCount } from "../routing/token_estimate.ts";
import { concatBytes } from "../util/bytes.ts";
import { asJsonObject, isJsonObject, type JsonObject, parseJsonObject } from "../util/json.ts";
import type { AnthropicUsage } from "./openai_types.ts";
import { JsonEnd } from "./json_end.ts";
import { SseDecoder, type SseEvent } from "./sse_decode.ts";

/**
 * Everything an answer's `usage` says, for the ledger: `input` is `input_tokens` alone, cache reads and
 * writes are counted apart (they are priced apart), and `cacheWrite1h` is the part of `cacheWrite` kept
 * for an hour (priced higher than the default five minutes). `webSearches` is
 * `server_tool_use.web_search_requests`, searches Anthropic ran for the answer and charges for on top of
 * its tokens; left out when the answer reports none. `speed` and `inferenceGeo` say what served the
 * answer, which Anthropic bills whatever the request asked for (a fast-mode request can be served at
 * standard speed, a workspace's default geo applies to a request that names none); each is left out
 * unless the answer said `"fast"` or `"us"`.
 */
export interface UsageDetail {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  cacheWrite1h: number;
  webSearches?: number;
  /** `usage.speed: "fast"`: fast mode served the answer, at a multiple of the model's prices. */
  speed?: "fast";
  /** `usage.inference_geo: "us"`: the answer ran on US-only inference, 10% dearer on newer models. */
  inferenceGeo?: "us";
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

/** The events of an Anthropic stream. */
const _EVENT_NAMES = [
  "content_block_delta",
  "content_block_start",
  "content_block_stop",
  "message_start",
  "message_delta",
  "message_stop",
  "ping",
  "error",
];
const _EVENT_TYPES: ReadonlySet<unknown> = new Set(_EVENT_NAMES);
/**
 * An Anthropic stream event's `type` when it is its data's first key, as Anthropic and most gateways write
 * it: read without parsing the data. Only the first key: a nested object can hold an event's name too (a
 * tool's input `{"type":"error"}`), and taken for the event's it would fail or end a whole answer.
 */
const _FIRST_EVENT_TYPE = new RegExp(`^\\s*\\{\\s*"type"\\s*:\\s*"(${_EVENT_NAMES.join("|")})"`);
/**
 * Whether data names an Anthropic event anywhere: only such data, whose `type` comes after other keys (a
 * gateway that sorts them), is parsed for it, so a data-only stream of anything else costs no parsing.
 * What it parsed to is read for its usage too, never parsed again.
 */
const _ANY_EVENT_TYPE = new RegExp(`"type"\\s*:\\s*"(?:${_EVENT_NAMES.join("|")})"`);

/** JSON bodies up to this size are kept whole and parsed for their `usage`. */
const _MAX_JSON_BYTES = 4 * 1024 * 1024;
/**
 * Of a longer one only the end is kept: Anthropic's message ends with its `usage`, so its top-level
 * `usage` member is read from there. Its `type` is not kept with it: that usage object, found whole at
 * the end of a successful answer, is taken for a message's. Where the body ends is told of every byte
 * ({@linkcode JsonEnd}), kept or not.
 */
const _JSON_TAIL_BYTES = 64 * 1024;

/**
 * A message's `type`, in a JSON body cut short: a token count's answer and a model list hold none
 * (a model is `"type":"model"`).
 */
const _MESSAGE_TYPE = /"type"\s*:\s*"message"/;

/**
 * Reads the token usage an Anthropic answer reports, the web searches it ran (charged apart) and the speed
 * and geo that served it (which change its price), from copies of the chunks relay forwards: a stream's
 * `message_start` and last `message_delta`, or a message's `usage`. It never holds up, changes or fails a
 * chunk. Input counts `input_tokens` plus cache writes (what input rate limits count); cache reads are left
 * out, as Anthropic's own limits leave them out. A stream that ends without its `message_delta` (the client
 * left, the upstream broke off) has only `message_start`'s placeholder output, though Anthropic bills what
 * was written: its output is then at least relay's estimate of the text, thinking and tool input its content
 * deltas carried, and `estimated` is told. A stream relay translates itself starts with zero usage:
 * `unreported` then gives what the answer used so far, read in its place. A stream that never counts its
 * input (a gateway's `message_start` without `usage`) counts `estimatedInput`, telling `estimated` too, and so
 * does a whole message whose `usage` counts none, when `estimatedInput` is given. An
 * event without an `event:` line (a gateway's data-only stream) is the one its data's `type` names.
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
  readonly #json: _JsonBody | undefined;
  #input: number | undefined;
  #output: number | undefined;
  #cacheRead = 0;
  #cacheWrite = 0;
  #cacheWrite1h = 0;
  #webSearches = 0;
  #fast = false;
  #usOnly = false;
  /**
   * What the content deltas wrote, as relay estimates its tokens, for a stream that ends without its
   * `message_delta`: the tokens estimated so far, and the data of the content deltas since, joined.
   */
  #writtenTokens = 0;
  #deltas = "";
  #errorData: string | undefined;
  /** The stream sent the event that ends it: `message_stop`, or an `error`. */
  #ended = false;
  /** A `message_delta`, the answer's own final usage, was read. */
  #reported = false;
  /** A `message_start` was read: the answer began, and its input is billed whether it counted it or not. */
  #started = false;
  readonly #unreported: (() => AnthropicUsage | undefined) | undefined;
  readonly #estimated: (() => void) | undefined;
  readonly #estimatedInput: number | undefined;

  /**
   * @param unreported For a stream: the usage so far of an answer whose `message_start` counts none
   * (`UsageFallback.streaming`), or `undefined` for any other.
   * @param estimated Called when the usage {@linkcode detail} gives is partly relay's estimate
   * (`UsageFallback.estimated`).
   * @param estimatedInput The request's input tokens as relay estimated them (`UsageFallback.inputTokens`),
   * counted, less the cache reads and writes it reports, for a stream or message that never reports its
   * own; 0 for a stream when not given, and a message then keeps what it reported (nothing when nothing).
   */
  constructor(
    sse: boolean,
    unreported?: () => AnthropicUsage | undefined,
    estimated?: () => void,
    estimatedInput?: number,
  ) {
    if (sse) this.#decoder = new SseDecoder();
    else this.#json = new _JsonBody();
    this.#unreported = unreported;
    this.#estimated = estimated;
    this.#estimatedInput = estimatedInput;
  }

  /**
   * Reads the next chunk of the answer. Returns the SSE events the chunk completed, so a caller that
   * looks at events too (relay's commit, which waits for the first) parses each byte once; an event sent
   * without a name comes back named by its data's `type` when that is an Anthropic event's.
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
        let name = event.event;
        // Data named by a `type` after other keys is parsed to name it: kept, and read for its usage.
        let parsed: JsonObject | undefined;
        // A stream without `event:` lines (some Anthropic-compatible gateways) names each event by its
        // data's `type`, as relay's translator reads it too; the events go back named, for the commit.
        if (name === "message") {
          const first = _FIRST_EVENT_TYPE.exec(event.data);
          if (first) name = first[1];
          else {
            parsed = _eventData(event.data);
            if (parsed) name = parsed.type as string;
          }
          event.event = name;
        }
        // The most frequent event first: it is most of every stream.
        if (name === "content_block_delta") {
          if (!this.#reported) this.#wrote(event.data);
        } else if (name === "message_start") {
          this.#started = true;
          this.#takeUsageOf(parsed ?? parseJsonObject(event.data));
        } else if (name === "message_delta") {
          const data = parsed ?? parseJsonObject(event.data);
          this.#takeUsageOf(data);
          // A gateway's delta may count no output (no usage, or none in it): the text written stands as
          // relay's estimate then, or the answer would be billed message_start's placeholder.
          if (_outputCounted(data)) {
            this.#reported = true;
            this.#deltas = "";
          }
        } else if (name === "message_stop") this.#ended = true;
        else if (name === "error") {
          this.#errorData = event.data;
          this.#ended = true;
        }
      }
      return events;
    }
    const json = this.#json;
    if (json) {
      json.feed(chunk);
      // Complete, it ends here, as a stream ends at its `message_stop`: an upstream may keep its chunked
      // body open past it. Not when more than whitespace came after it in the same chunk: that is no one
      // JSON value, and the body's end tells it cut. Nothing is parsed until its usage is read.
      if (json.end.complete() && json.end.whole()) this.#ended = true;
    }
    return _NO_EVENTS;
  }

  /** The data of the stream's last `error` event, the upstream's own report that it failed; `undefined` when it sent none. */
  errorData(): string | undefined {
    return this.#errorData;
  }

  /**
   * Whether the stream has sent the event that ends an Anthropic answer: `message_stop`, or an `error`;
   * for a JSON body, whether its top-level value is complete (an object, array or string closed; a bare
   * number or literal only ends with the body), however long it is.
   */
  ended(): boolean {
    return this.#ended;
  }

  /**
   * Whether the stream has yet to send the event that ends an Anthropic answer: `message_stop`, or an
   * `error`. One that ends without it was cut short, and the SDKs reject it. Never once the tap stopped
   * reading (an event past its bound): it cannot tell then. For a JSON body, asked once it has ended:
   * whether it is no one whole JSON value (an upstream that closed its connection, or whose
   * `content-length` was short, mid-answer), which the SDKs reject as well; told of every byte, at any
   * size, without parsing it ({@linkcode JsonEnd.whole}). A whole answer that is no object (`[]`, `null`)
   * is whole all the same.
   */
  unfinished(): boolean {
    if (this.#json) return !this.#json.end.whole();
    return this.#decoder !== undefined && !this.#ended;
  }

  /** The usage reported so far; `undefined` when the answer named none. */
  usage(): TokenCount | undefined {
    const detail = this.detail();
    return detail && countedTokens(detail);
  }

  /**
   * The usage reported so far, cache reads and writes apart; `undefined` when the answer named none. A
   * stream without its `message_delta` yet counts what `unreported` gives, when it gives anything, and
   * otherwise at least the output its content deltas wrote, as relay estimates it, telling `estimated`.
   * A stream that began but counted no input anywhere counts `estimatedInput` less its cache reads and
   * writes, telling `estimated` too, as does a message read whole (or its usage, at the end of one too
   * long to keep) whose usage counts no input, when `estimatedInput` is given. A message cut short (no
   * whole JSON) counts its own top-level `usage` when the cut came after it (never one in a tool's
   * input), and otherwise that input too and at least the output the text and thinking before the cut
   * make, a text cut midway included, as relay estimates it, telling `estimated`. The body is parsed
   * here, once a call, never as it comes.
   */
  detail(): UsageDetail | undefined {
    let estimating = false;
    let messageRead = false;
    // What a message read whole wrote, as relay estimates it, when its usage does not say.
    let messageWritten = 0;
    const json = this.#json;
    if (json) {
      const bytes = json.bytes();
      // Only a message is billed input: a token count's or model list's answer is JSON too. A message
      // cut short was billed whole: what its usage says when the cut came after it (as its end is read
      // of one too long to keep), and otherwise relay's estimate of its input and at least what the text
      // and thinking before the cut make of its output, as for a stream cut short.
      const text = json.tailOnly ? "" : new TextDecoder().decode(bytes);
      const parsed = json.tailOnly || !json.end.whole() ? undefined : parseJsonObject(text);
      if (json.tailOnly) {
        const usage = parseJsonObject(json.usageMember(bytes));
        this.#takeUsageOf(usage);
        messageRead = this.#estimatedInput !== undefined && usage !== undefined;
      } else if (parsed) {
        this.#takeUsageOf(parsed);
        messageRead = this.#estimatedInput !== undefined && parsed.type === "message";
        // A gateway's message may count no output (its usage null, or none in it): billed all the same.
        if (messageRead && !_outputCounted(parsed)) messageWritten = Math.ceil(_writtenTokens(parsed));
      } else {
        // Cut short, or whole but no valid JSON (a `NaN`, a raw control character), which the SDKs
        // reject alike and which was billed all the same.
        const cutMessage = _MESSAGE_TYPE.test(text);
        messageRead = this.#estimatedInput !== undefined && cutMessage;
        const cutUsage = cutMessage ? parseJsonObject(json.usageMember(bytes)) : undefined;
        if (cutUsage) this.#takeUsageOf(cutUsage);
        else if (cutMessage) {
          messageWritten = Math.ceil(estimateWrittenTokens([_unescaped(_deltaTexts(text))]));
        }
      }
    } else if (!this.#reported) {
      const soFar = this.#unreported?.();
      if (soFar) this.#take(soFar as Record<string, unknown>);
      else estimating = true;
    }
    const written = estimating ? this.#estimateWritten() : messageWritten;
    const output = written > 0 ? Math.max(this.#output ?? 0, written) : this.#output;
    // A gateway's `message_start` may leave its `usage` out or null, and no later event count the input (or
    // its message's `usage` leave `input_tokens` out): billed all the same, it is relay's estimate of the
    // request, as for an OpenAI upstream that counts none. A reported 0 is a count, and stands.
    const inputUnreported = (this.#started || messageRead) && this.#input === undefined;
    // relay's estimate is of the whole prompt; the part the stream counted as cache reads and writes is
    // billed as such, and counted again as input it would be paid for twice.
    const input = inputUnreported
      ? Math.max(0, (this.#estimatedInput ?? 0) - this.#cacheRead - this.#cacheWrite)
      : this.#input;
    if (input === undefined && output === undefined) return undefined;
    if (estimating || messageWritten > 0 || inputUnreported) this.#estimated?.();
    return {
      input: input ?? 0,
      output: output ?? 0,
      cacheRead: this.#cacheRead,
      cacheWrite: this.#cacheWrite,
      cacheWrite1h: this.#cacheWrite1h,
      ...(this.#webSearches > 0 && { webSearches: this.#webSearches }),
      ...(this.#fast && { speed: "fast" as const }),
      ...(this.#usOnly && { inferenceGeo: "us" as const }),
    };
  }

  /**
   * Keeps a `content_block_delta`'s data for the output's estimate. It is read a batch at a time: an
   * answer whose deltas fit one batch and that reports its own usage costs only their joining; a longer
   * one pays the reading of its full batches as it goes (about 0.2 µs a delta, `bench/usage_tap_bench.ts`),
   * since its `message_delta` comes only at its end.
   */
  #wrote(data: string): void {
    this.#deltas += data;
    if (this.#deltas.length >= _ESTIMATE_BATCH_CHARS) this.#estimateWritten();
  }

  /** The whole tokens the content deltas wrote so far, as relay estimates them. */
  #estimateWritten(): number {
    if (this.#deltas !== "") {
      this.#writtenTokens += estimateWrittenTokens([_unescaped(_deltaTexts(this.#deltas))]);
      this.#deltas = "";
    }
    return Math.ceil(this.#writtenTokens);
  }

  /** Takes the usage of a message, or of an event (`message_start`'s is in its message). */
  #takeUsageOf(parsed: JsonObject | undefined): void {
    const usage = parsed?.usage ?? asJsonObject(parsed?.message)?.usage;
    if (isJsonObject(usage)) this.#take(usage);
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
    const fiveMinutes = count("ephemeral_5m_input_tokens", usage.cache_creation);
    const anHour = count("ephemeral_1h_input_tokens", usage.cache_creation);
    // Anthropic sends both the total and its breakdown by lifetime; some gateways only the breakdown.
    const breakdown = fiveMinutes === undefined && anHour === undefined
      ? undefined
      : (fiveMinutes ?? 0) + (anHour ?? 0);
    this.#cacheWrite = count("cache_creation_input_tokens") ?? breakdown ?? this.#cacheWrite;
    this.#cacheWrite1h = anHour ?? this.#cacheWrite1h;
    this.#webSearches = count("web_search_requests", usage.server_tool_use) ?? this.#webSearches;
    this.#fast = _says(usage.speed, "fast") ?? this.#fast;
    this.#usOnly = _says(usage.inference_geo, "us") ?? this.#usOnly;
  }
}

/** The name of a `usage` member and its object's opening brace. */
const _USAGE_MEMBER = /^"usage"\s*:\s*\{/;

/**
 * An unstreamed JSON answer as the tap keeps it: its chunks, only the end of one too long to keep, and
 * where it ends, whether it is whole, and where its `usage` starts and ends, told of every byte.
 */
class _JsonBody {
  readonly end = new JsonEnd();
  readonly #chunks: Uint8Array[] = [];
  #bytes = 0;
  /** The bytes of a body too long to keep that were let go: where what is kept starts. */
  #droppedBytes = 0;
  #tailOnly = false;

  /** Whether only the end is kept: the body grew past {@linkcode _MAX_JSON_BYTES}. */
  get tailOnly(): boolean {
    return this.#tailOnly;
  }

  /** Keeps a copy of the body's next chunk, letting go of what a body too long to keep no longer needs. */
  feed(chunk: Uint8Array): void {
    const chunks = this.#chunks;
    chunks.push(chunk.slice());
    this.#bytes += chunk.byteLength;
    this.end.feed(chunk);
    if (this.#bytes > _MAX_JSON_BYTES) this.#tailOnly = true;
    if (this.#tailOnly) {
      // Counted first and let go in one splice: a shift a chunk copies the array each time, which for
      // the tens of thousands of small chunks a trickled answer holds at 4 MiB stalled for seconds.
      let dropping = 0;
      let dropped = 0;
      while (this.#bytes - dropped - chunks[dropping].byteLength >= _JSON_TAIL_BYTES) {
        dropped += chunks[dropping++].byteLength;
      }
      if (dropping > 0) {
        chunks.splice(0, dropping);
        this.#bytes -= dropped;
        this.#droppedBytes += dropped;
      }
    }
  }

  /** What is kept of the body, in one piece. */
  bytes(): Uint8Array {
    return concatBytes(this.#chunks);
  }

  /**
   * The top-level `usage` member, whole, as a JSON document of its own (`{"usage":{…}}`), or `""`: none
   * came, or not all of it, or its value is no object (`null`), or it started before what was kept of a
   * body too long to keep. `bytes` is what is kept ({@linkcode bytes}).
   */
  usageMember(bytes: Uint8Array): string {
    const at = this.end.usageAt();
    const end = this.end.usageEnd();
    if (at === undefined || end === undefined || at < this.#droppedBytes) return "";
    const member = new TextDecoder().decode(
      bytes.subarray(at - this.#droppedBytes, end - this.#droppedBytes),
    );
    // What `end` closes is the first object or array after the name: the member's own when it opens it.
    return _USAGE_MEMBER.test(member) ? `{${member}}` : "";
  }
}

/**
 * An unnamed SSE event's data, parsed, when its top-level `type` (as relay's translator reads it) names an
 * Anthropic event; `undefined` when it names none, or is no JSON. For data whose `type` is not its first
 * key ({@linkcode _FIRST_EVENT_TYPE} reads that one without parsing).
 */
function _eventData(data: string): JsonObject | undefined {
  if (!_ANY_EVENT_TYPE.test(data)) return undefined;
  const parsed = parseJsonObject(data);
  return parsed && _EVENT_TYPES.has(parsed.type) ? parsed : undefined;
}

/**
 * Whether a string field of the usage is `value`; `undefined` when it is no string (left out, null),
 * so a later event that leaves it out keeps what an earlier one said.
 */
function _says(field: unknown, value: string): boolean | undefined {
  return typeof field === "string" ? field === value : undefined;
}

/**
 * Content delta data kept before it is read, in one go: an answer whose deltas fit (most of Claude
 * Code's turns) costs only their joining. A stream holds about this much of them, or one delta when a
 * single one is larger.
 */
const _ESTIMATE_BATCH_CHARS = 16 * 1024;

/**
 * Where a delta's written content starts: the string of its `text` (`text_delta`), `thinking`
 * (`thinking_delta`) or `partial_json` (`input_json_delta`). A JSON string cannot hold an unescaped
 * quote, so none of these can be found inside another string (a quoted key in the text). Only the
 * start: a pattern for the whole string would overflow the regex stack on one of a few MiB.
 */
const _DELTA_TEXT = /"(?:text|thinking|partial_json)":\s*"/g;

/**
 * The content the `content_block_delta` data in `events` carries, joined, as JSON strings' own
 * characters, escapes and all; nothing of any other delta (a signature, a citation). Found without
 * parsing the events, which would more than double what the tap costs a stream. A string that never
 * closes (a message cut mid-text) counts up to where it was cut, less a lone backslash at its end, half
 * an escape.
 */
function _deltaTexts(events: string): string {
  let texts = "";
  _DELTA_TEXT.lastIndex = 0;
  while (_DELTA_TEXT.exec(events)) {
    const start = _DELTA_TEXT.lastIndex;
    const end = _stringEnd(events, start);
    if (end < 0) return texts + _withoutHalfEscape(events.slice(start));
    texts += events.slice(start, end);
    _DELTA_TEXT.lastIndex = end + 1;
  }
  return texts;
}

/** `text` less its last backslash when it ends in an odd run of them: an escape cut in half. */
function _withoutHalfEscape(text: string): string {
  let backslashes = 0;
  while (text.charCodeAt(text.length - 1 - backslashes) === _BACKSLASH) backslashes++;
  return backslashes % 2 === 1 ? text.slice(0, -1) : text;
}

/** Where the JSON string whose characters start at `start` ends: its closing quote, or -1. */
function _stringEnd(text: string, start: number): number {
  for (let end = text.indexOf('"', start); end >= 0; end = text.indexOf('"', end + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === _BACKSLASH) backslashes++;
    // A quote after an odd run of backslashes is escaped, part of the string.
    if (backslashes % 2 === 0) return end;
  }
  return -1;
}

const _BACKSLASH = 0x5c;

/**
 * The text of JSON string characters, escapes undone (`\u3053` is one character to the estimate, not
 * six); as it is when it holds none, or is no valid JSON string (an upstream's broken escape).
 */
function _unescaped(escaped: string): string {
  if (!escaped.includes("\\")) return escaped;
  try {
    return JSON.parse(`"${escaped}"`);
  } catch {
    return escaped;
  }
}

/** The tokens a whole message's text, thinking and tool inputs make, as relay estimates them. */
function _writtenTokens(message: JsonObject): number {
  const content = Array.isArray(message.content) ? message.content : [];
  return estimateWrittenTokens(content.map((block) => {
    if (!isJsonObject(block)) return undefined;
    if (block.type === "tool_use" || block.type === "server_tool_use") {
      return JSON.stringify(block.input ?? {});
    }
    return typeof block.text === "string"
      ? block.text
      : typeof block.thinking === "string"
      ? block.thinking
      : undefined;
  }));
}

/** Whether an event's or a message's usage counts the answer's output, as `message_delta`'s final one does. */
function _outputCounted(data: JsonObject | undefined): boolean {
  const usage = data?.usage;
  return isJsonObject(usage) && tokenCount(usage.output_tokens) !== undefined;
}
