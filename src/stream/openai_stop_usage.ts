/**
 * How an answer ended and what it cost, in each format's terms (protocols.md §7.3): Anthropic's
 * `stop_reason` and `usage` against OpenAI's `finish_reason` and `usage`. The two count prompt tokens
 * differently: OpenAI's `prompt_tokens` includes cached tokens, Anthropic's `input_tokens` excludes
 * both cache reads and cache writes.
 */
import type { UsageFallback } from "../providers/types.ts";
import type { AnthropicUsage, ChatUsage } from "./openai_types.ts";
import { tokenCount } from "./usage_tap.ts";

/** The `stop_reason` values relay reports for an OpenAI-format answer. */
export type StopReason = "end_turn" | "max_tokens" | "tool_use" | "refusal";

/** The `finish_reason` values relay reports for an Anthropic-format answer. */
export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

/**
 * The Anthropic `stop_reason` for an OpenAI `finish_reason`. Some compatibles say `stop` after calling
 * tools; a client that is told `end_turn` would never run them, so any tool call makes it `tool_use`.
 * A missing or unknown reason is a normal end.
 *
 * @example
 * ```ts
 * stopReasonFor("length", false); // "max_tokens"
 * stopReasonFor("stop", true); // "tool_use"
 * ```
 */
export function stopReasonFor(finishReason: string | null | undefined, sawToolCall: boolean): StopReason {
  switch (finishReason) {
    case "length":
      return "max_tokens";
    case "content_filter":
      return "refusal";
    case "tool_calls":
    case "function_call":
      return "tool_use";
  }
  return sawToolCall ? "tool_use" : "end_turn";
}

/**
 * The OpenAI `finish_reason` for an Anthropic `stop_reason`. OpenAI has no notion of `pause_turn` or
 * of which stop sequence matched, so both read as a plain `stop`.
 *
 * @example
 * ```ts
 * finishReasonFor("tool_use"); // "tool_calls"
 * ```
 */
export function finishReasonFor(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
  }
  return "stop";
}

/**
 * Anthropic's `usage` for an answer: the upstream's own counts where it reported them; where it did not
 * (no usage, `{}`, only `prompt_tokens`), the fallback's input estimate and `writtenTokens` (the answer's
 * own estimate) for output, or zeros without a fallback.
 *
 * @example
 * ```ts
 * answerUsage(undefined, { inputTokens: 120, estimated }, () => 6.2);
 * // { input_tokens: 120, output_tokens: 7, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
 * answerUsage({ prompt_tokens: 50 }, { inputTokens: 120, estimated }, () => 6.2);
 * // { input_tokens: 50, output_tokens: 7, … }
 * ```
 */
export function answerUsage(
  usage: ChatUsage | null | undefined,
  fallback: UsageFallback | undefined,
  writtenTokens: () => number,
): Required<AnthropicUsage> {
  const reported = anthropicUsageFor(usage);
  const hasInput = tokenCount(usage?.prompt_tokens) !== undefined;
  const hasOutput = tokenCount(usage?.completion_tokens) !== undefined;
  if (!fallback || (hasInput && hasOutput)) return reported;
  fallback.estimated();
  return {
    ...reported,
    input_tokens: hasInput ? reported.input_tokens : fallback.inputTokens,
    output_tokens: hasOutput ? reported.output_tokens : Math.ceil(writtenTokens()),
  };
}

/**
 * Anthropic's `usage` for an OpenAI one; zeros when the upstream reported none.
 *
 * @example
 * ```ts
 * anthropicUsageFor({ prompt_tokens: 100, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 60 } });
 * // { input_tokens: 40, output_tokens: 7, cache_read_input_tokens: 60, cache_creation_input_tokens: 0 }
 * ```
 */
export function anthropicUsageFor(usage: ChatUsage | null | undefined): Required<AnthropicUsage> {
  const cached = _count(usage?.prompt_tokens_details?.cached_tokens);
  const written = _count(usage?.prompt_tokens_details?.cache_write_tokens);
  return {
    input_tokens: Math.max(0, _count(usage?.prompt_tokens) - cached - written),
    output_tokens: _count(usage?.completion_tokens),
    cache_read_input_tokens: cached,
    cache_creation_input_tokens: written,
  };
}

/**
 * OpenAI's `usage` for an Anthropic one.
 *
 * @example
 * ```ts
 * openaiUsageFor({ input_tokens: 40, output_tokens: 7, cache_read_input_tokens: 60 });
 * // { prompt_tokens: 100, completion_tokens: 7, total_tokens: 107, prompt_tokens_details: { cached_tokens: 60 } }
 * ```
 */
export function openaiUsageFor(usage: AnthropicUsage | null | undefined) {
  const cached = _count(usage?.cache_read_input_tokens);
  const prompt = _count(usage?.input_tokens) + cached + _count(usage?.cache_creation_input_tokens);
  const completion = _count(usage?.output_tokens);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

function _count(value: unknown): number {
  return tokenCount(value) ?? 0;
}
