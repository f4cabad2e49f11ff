/**
 * The parts of OpenAI's Chat Completions wire format (protocols.md §7.1) and of Anthropic's Messages
 * format that relay's translators read and write. Every field is optional on the reading side: these
 * shapes describe what arrives from clients and compatibles that each leave out something different,
 * so the translators check what they use instead of trusting the types.
 */
import { isJsonObject, type JsonObject } from "../util/json.ts";

/** `usage` of a completion or of the last chunk of a stream that asked for `include_usage`. */
export interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number } | null;
  /** DeepSeek's count of cached prompt tokens, beside `prompt_cache_miss_tokens`. */
  prompt_cache_hit_tokens?: number;
  /** Moonshot's (Kimi) count of cached prompt tokens. */
  cached_tokens?: number;
}

/** One fragment of a streamed tool call; only the first fragment of call `index` has `id` and `name`. */
export interface ChatToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: ChatFunctionCall;
}

/** The function a tool call names, and its arguments as JSON text (or a fragment of it, streamed). */
export interface ChatFunctionCall {
  name?: string;
  arguments?: string;
}

/**
 * What one streamed chunk adds to the answer. `reasoning_content` (vLLM, DeepSeek) and `reasoning`
 * (OpenRouter, Ollama) are compatibles' names for the model's reasoning; OpenAI itself sends neither.
 * `content` is a list of parts from Mistral's reasoning models (see {@linkcode contentTexts}).
 */
export interface ChatDelta {
  role?: string;
  content?: string | unknown[] | null;
  refusal?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
  tool_calls?: ChatToolCallDelta[] | null;
  /** The one call of the API before `tools` (see {@linkcode toolCallsIn}). */
  function_call?: ChatFunctionCall | null;
}

/** One `data:` payload of a Chat Completions stream. */
export interface ChatChunk {
  id?: string;
  model?: string;
  choices?: {
    index?: number;
    delta?: ChatDelta;
    finish_reason?: string | null;
    /** Where Moonshot (Kimi) reports the usage, in its finish chunk, instead of at the top. */
    usage?: ChatUsage | null;
  }[];
  usage?: ChatUsage | null;
  /** Set by upstreams that report a failure inside an already-started stream. */
  error?: unknown;
}

/** A whole tool call of a finished completion, or of an assistant message in a request. */
export interface ChatToolCall {
  id?: string;
  type?: string;
  function?: ChatFunctionCall;
}

/** A non-streamed Chat Completions answer. */
export interface ChatCompletion {
  id?: string;
  model?: string;
  choices?: {
    index?: number;
    message?: {
      content?: string | unknown[] | null;
      refusal?: string | null;
      reasoning_content?: string | null;
      reasoning?: string | null;
      tool_calls?: ChatToolCall[] | null;
      function_call?: ChatFunctionCall | null;
    };
    finish_reason?: string | null;
    /** Where Moonshot (Kimi) reports the usage in a stream; read here too when the top has none. */
    usage?: ChatUsage | null;
  }[];
  usage?: ChatUsage | null;
}

/**
 * The text and the reasoning in a completion's or a delta's `content`: a string, or a list of parts, as
 * Mistral's Magistral models send it (`{type:"text",text}`, `{type:"thinking",thinking:[text parts]}`).
 * Parts of other types carry nothing relay can pass on, and are skipped.
 *
 * @example
 * ```ts
 * contentTexts([{ type: "thinking", thinking: [{ type: "text", text: "Hm." }] }, { type: "text", text: "Hi" }]);
 * // { text: "Hi", thinking: "Hm." }
 * ```
 */
export function contentTexts(content: unknown): { text: string; thinking: string } {
  if (typeof content === "string") return { text: content, thinking: "" };
  let text = "";
  let thinking = "";
  for (const part of Array.isArray(content) ? content : []) {
    if (!isJsonObject(part)) continue;
    if (part.type === "text" && typeof part.text === "string") text += part.text;
    if (part.type === "thinking") {
      thinking += typeof part.thinking === "string" ? part.thinking : contentTexts(part.thinking).text;
    }
  }
  return { text, thinking };
}

/**
 * What makes a delta or a completion's message unreadable, or `undefined` if nothing does: a field relay
 * reads that has the wrong type. An upstream's JSON may be anything, and a part of the answer relay cannot
 * read must not vanish in silence (`null` counts as absent).
 *
 * @example
 * ```ts
 * messageFault({ content: "Hi", tool_calls: [{ index: 0, id: "call_1" }] }); // undefined
 * messageFault({ tool_calls: [null] }); // "tool_calls.0 is not an object"
 * ```
 */
export function messageFault(message: unknown): string | undefined {
  if (message === undefined || message === null) return undefined;
  if (!isJsonObject(message)) return "the message is not an object";
  if (message.content != null && typeof message.content !== "string" && !Array.isArray(message.content)) {
    return "content is neither a string nor a list";
  }
  const fault = _notString(message, ["refusal", "reasoning_content", "reasoning"]);
  if (fault) return fault;
  if (message.function_call != null) {
    const legacyFault = _functionFault(message.function_call, "function_call");
    if (legacyFault) return legacyFault;
  }
  const calls = message.tool_calls;
  if (calls === undefined || calls === null) return undefined;
  if (!Array.isArray(calls)) return "tool_calls is not a list";
  for (const [at, call] of calls.entries()) {
    const where = `tool_calls.${at}`;
    if (!isJsonObject(call)) return `${where} is not an object`;
    if (call.index != null && !Number.isInteger(call.index)) return `${where}.index is not an integer`;
    const callFault = _notString(call, ["id"]) ?? _functionFault(call.function ?? {}, "function");
    if (callFault) return `${where}.${callFault}`;
  }
  return undefined;
}

/**
 * The tool calls of a message or a delta. A server that still speaks the API from before `tools` sends
 * its one call as `function_call` (and ends with `finish_reason: "function_call"`): it counts as call
 * 0, without an id, so relay gives it one. Beside `tool_calls` it is left out, as the same call twice.
 *
 * @example
 * ```ts
 * toolCallsIn({ function_call: { name: "get_weather", arguments: "{}" } });
 * // [{ index: 0, function: { name: "get_weather", arguments: "{}" } }]
 * toolCallsIn({ content: "Hi" }); // []
 * ```
 */
export function toolCallsIn(message: ChatDelta): ChatToolCallDelta[] {
  const { tool_calls: calls, function_call: legacy } = message;
  if (calls?.length || !legacy) return calls ?? [];
  return [{ index: 0, function: legacy }];
}

/** What makes a call's `function` (at `where`) unreadable, or `undefined`. */
function _functionFault(fn: unknown, where: string): string | undefined {
  if (!isJsonObject(fn)) return `${where} is not an object`;
  return _notString(fn, ["name", "arguments"], `${where}.`);
}

/** The first of `fields` present in `object` but not a string, worded `<prefix><field> is not a string`. */
function _notString(object: JsonObject, fields: string[], prefix = ""): string | undefined {
  const field = fields.find((name) => object[name] != null && typeof object[name] !== "string");
  return field === undefined ? undefined : `${prefix}${field} is not a string`;
}

/** Anthropic's `usage`, as a Message or a `message_delta` carries it. */
export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

/** One Anthropic stream event's `data`; its `type` is also the SSE event name. */
export interface AnthropicEvent {
  type: string;
  [field: string]: unknown;
}
