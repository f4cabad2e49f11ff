/**
 * The parts of OpenAI's Chat Completions wire format (protocols.md §7.1) and of Anthropic's Messages
 * format that relay's translators read and write. Every field is optional on the reading side: these
 * shapes describe what arrives from clients and compatibles that each leave out something different,
 * so the translators check what they use instead of trusting the types.
 */

/** A JSON object, as opposed to an array, `null` or a scalar. */
export type JsonObject = Record<string, unknown>;

/**
 * Whether `value` is a JSON object.
 *
 * @example
 * ```ts
 * isJsonObject(JSON.parse('{"a":1}')); // true
 * isJsonObject(JSON.parse("[1]")); // false
 * ```
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `usage` of a completion or of the last chunk of a stream that asked for `include_usage`. */
export interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number } | null;
}

/** One fragment of a streamed tool call; only the first fragment of call `index` has `id` and `name`. */
export interface ChatToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

/**
 * What one streamed chunk adds to the answer. `reasoning_content` (vLLM, DeepSeek) and `reasoning`
 * (OpenRouter, Ollama) are compatibles' names for the model's reasoning; OpenAI itself sends neither.
 */
export interface ChatDelta {
  role?: string;
  content?: string | null;
  refusal?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
  tool_calls?: ChatToolCallDelta[] | null;
}

/** One `data:` payload of a Chat Completions stream. */
export interface ChatChunk {
  id?: string;
  model?: string;
  choices?: { index?: number; delta?: ChatDelta; finish_reason?: string | null }[];
  usage?: ChatUsage | null;
  /** Set by upstreams that report a failure inside an already-started stream. */
  error?: unknown;
}

/** A whole tool call of a finished completion, or of an assistant message in a request. */
export interface ChatToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

/** A non-streamed Chat Completions answer. */
export interface ChatCompletion {
  id?: string;
  model?: string;
  choices?: {
    index?: number;
    message?: {
      content?: string | null;
      refusal?: string | null;
      reasoning_content?: string | null;
      reasoning?: string | null;
      tool_calls?: ChatToolCall[] | null;
    };
    finish_reason?: string | null;
  }[];
  usage?: ChatUsage | null;
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
