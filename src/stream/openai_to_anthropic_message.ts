/**
 * A non-streamed Chat Completions answer as an Anthropic Message (protocols.md §7.2, §7.3), the twin of
 * the stream translation in `openai_to_anthropic.ts`: the same blocks in the same order (thinking, text,
 * tool calls), the same ids, stop reason and usage.
 */
import type { OpenAIToAnthropicOptions } from "./openai_to_anthropic.ts";
import { estimateWrittenTokens } from "../routing/token_estimate.ts";
import { answerUsage, stopReasonFor } from "./openai_stop_usage.ts";
import { AnswerToolIds } from "./openai_tool_ids.ts";
import { type ChatCompletion, type ChatToolCall, contentTexts, toolCallsIn } from "./openai_types.ts";
import { isJsonObject } from "../util/json.ts";

/**
 * The Anthropic Message for a Chat Completions answer whose message `messageFault` (openai_types.ts)
 * found readable, and whose finish `finishFailure` (openai_stop_usage.ts) found no failure: that is the
 * caller's error to report. Tool arguments that are not a JSON object (truncated by `max_tokens`, or a
 * model's typo) become `{}`, as Anthropic's SDK reads unparsable streamed input.
 *
 * @example
 * ```ts
 * anthropicMessageFor(
 *   { choices: [{ message: { content: "Hi" }, finish_reason: "stop" }], usage: { prompt_tokens: 5, completion_tokens: 1 } },
 *   { messageId: "msg_1", model: "gpt-4.1", thinking: false, newToolId },
 * );
 * // { id: "msg_1", type: "message", role: "assistant", model: "gpt-4.1", content: [{ type: "text", text: "Hi" }],
 * //   stop_reason: "end_turn", stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1, … } }
 * ```
 */
export function anthropicMessageFor(completion: ChatCompletion, options: OpenAIToAnthropicOptions) {
  const choice = answerChoice(completion);
  const message = choice?.message ?? {};
  const parts = contentTexts(message.content);
  const reasoning = (message.reasoning_content || message.reasoning || "") + parts.thinking;
  const text = parts.text || message.refusal;
  const calls = toolCallsIn(message);
  const toolIds = new AnswerToolIds(options.newToolId);
  const content = [
    ...(reasoning && options.thinking ? [{ type: "thinking", thinking: reasoning, signature: "" }] : []),
    ...(text ? [{ type: "text", text }] : []),
    ...calls.map((call) => _toolUse(call, toolIds)),
  ];
  return {
    id: options.messageId,
    type: "message",
    role: "assistant",
    model: options.model,
    content,
    stop_reason: stopReasonFor(choice?.finish_reason, calls.length > 0),
    stop_sequence: null,
    // Moonshot (Kimi) streams its usage in the choice; a completion may have it there as well.
    usage: answerUsage(completion.usage || choice?.usage, options.usageFallback, () =>
      estimateWrittenTokens([
        reasoning,
        text,
        ...calls.flatMap((call) => [call.function?.name, call.function?.arguments]),
      ])),
  };
}

/**
 * The choice the answer is made of (relay asks for one, index 0), or `undefined` when the completion
 * has none: a reply the caller should treat as an upstream failure, not as an empty turn.
 *
 * @example
 * ```ts
 * answerChoice({ choices: [{ index: 0, message: { content: "Hi" } }] }); // { index: 0, message: { content: "Hi" } }
 * answerChoice({ choices: [] }); // undefined
 * ```
 */
export function answerChoice(completion: ChatCompletion) {
  // `choices` comes from an upstream's JSON, so it may be anything.
  if (!Array.isArray(completion.choices)) return undefined;
  return completion.choices.find((candidate) => isJsonObject(candidate) && (candidate.index ?? 0) === 0);
}

function _toolUse(call: ChatToolCall, toolIds: AnswerToolIds) {
  let input: unknown;
  try {
    input = JSON.parse(call.function?.arguments || "{}");
  } catch {
    input = {};
  }
  return {
    type: "tool_use",
    id: toolIds.next(call.id),
    name: call.function?.name ?? "",
    input: isJsonObject(input) ? input : {},
  };
}
