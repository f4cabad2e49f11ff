/**
 * How an answer ended and what it cost, in each format's terms (protocols.md §7.3): Anthropic's
 * `stop_reason` and `usage` against OpenAI's `finish_reason` and `usage`. The two count prompt tokens
 * differently: OpenAI's `prompt_tokens` includes cached tokens, Anthropic's `input_tokens` excludes
 * both cache reads and cache writes.
 */
import type { UsageFallback } from "../providers/types.ts";
import { type AnthropicFailure, anthropicFailureFor } from "../server/openai_errors.ts";
import type { AnthropicUsage, ChatUsage } from "./openai_types.ts";
import { isJsonObject } from "../util/json.ts";
import { tokenCount } from "./usage_tap.ts";

/** The `stop_reason` values relay reports for an OpenAI-format answer. */
export type StopReason = "end_turn" | "max_tokens" | "tool_use" | "refusal";

/** The `finish_reason` values relay reports for an Anthropic-format answer. */
export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

/**
 * The Anthropic `stop_reason` for an OpenAI `finish_reason`. Whether the answer holds a tool call
 * decides `tool_use`, whatever the reason says: some compatibles say `stop` after calling tools, and a
 * client told `end_turn` would never run them; `tool_calls` with no call would leave a client such as
 * Claude Code waiting for a tool that never comes. `function_call`, the API's name for it before
 * `tools`, is read the same way. A missing or unknown reason is a normal end; a failure (`error`) is not
 * a stop reason, see {@linkcode finishFailure}.
 *
 * @example
 * ```ts
 * stopReasonFor("length", false); // "max_tokens"
 * stopReasonFor("stop", true); // "tool_use"
 * stopReasonFor("tool_calls", false); // "end_turn"
 * ```
 */
export function stopReasonFor(finishReason: string | null | undefined, sawToolCall: boolean): StopReason {
  switch (finishReason) {
    case "length":
      return "max_tokens";
    case "content_filter":
      return "refusal";
  }
  return sawToolCall ? "tool_use" : "end_turn";
}

/**
 * The failure a choice that finished with `error` stands for (OpenRouter's mark of an answer its
 * provider broke off), or `undefined` for any other finish. The choice's own `error` says what went
 * wrong when it has one; without it the answer fails all the same, as an `api_error`: given a stop
 * reason, an answer cut off would read as complete.
 *
 * @example
 * ```ts
 * finishFailure({ finish_reason: "error" });
 * // { status: 502, type: "api_error", message: 'upstream ended the answer with finish_reason "error", …' }
 * finishFailure({ finish_reason: "stop" }); // undefined
 * ```
 */
export function finishFailure(
  choice: { finish_reason?: string | null; error?: unknown },
): AnthropicFailure | undefined {
  if (choice.finish_reason !== "error") return undefined;
  return anthropicFailureFor({ error: choice.error }) ?? {
    status: 502,
    type: "api_error",
    message: 'upstream ended the answer with finish_reason "error", without saying what went wrong',
  };
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
 * `current` with an Anthropic `usage` object's counters (`message_start`'s, then `message_delta`'s):
 * those are totals, and one left null is not reported, so the earlier value stands.
 *
 * @example
 * ```ts
 * mergedUsage({ input_tokens: 10, output_tokens: 1 }, { output_tokens: 7, input_tokens: null });
 * // { input_tokens: 10, output_tokens: 7 }
 * ```
 */
export function mergedUsage(current: AnthropicUsage, usage: unknown): AnthropicUsage {
  if (!isJsonObject(usage)) return current;
  let merged = current;
  for (const [field, value] of Object.entries(usage)) {
    if (typeof value === "number") merged = { ...merged, [field]: value };
  }
  return merged;
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
  // OpenAI's place for it, else DeepSeek's or Kimi's own.
  const cached = _count(
    usage?.prompt_tokens_details?.cached_tokens ?? usage?.prompt_cache_hit_tokens ?? usage?.cached_tokens,
  );
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
