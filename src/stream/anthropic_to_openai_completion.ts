/**
 * A non-streamed Anthropic Message as a Chat Completions answer (protocols.md §7.1, §7.3), the twin of
 * the stream translation in `anthropic_to_openai.ts`: the same text, tool calls, ids, finish reason
 * and usage.
 */
import { finishReasonFor, openaiUsageFor } from "./openai_stop_usage.ts";
import { openaiToolId } from "./openai_tool_ids.ts";
import { isJsonObject, type JsonObject } from "../util/json.ts";

/**
 * The `chat.completion` for an Anthropic Message; `created` is in Unix seconds. Text blocks are joined;
 * thinking is `reasoning_content`, its blocks `thinking_blocks`, as the stream gives them; server-tool
 * blocks have no equivalent and are dropped.
 *
 * @example
 * ```ts
 * chatCompletionFor({ id: "msg_1", model: "claude-sonnet-4-5", content: [{ type: "text", text: "Hi" }],
 *   stop_reason: "end_turn", usage: { input_tokens: 5, output_tokens: 1 } }, 1767225600);
 * // { id: "chatcmpl-msg_1", object: "chat.completion", created: 1767225600, model: "claude-sonnet-4-5",
 * //   choices: [{ index: 0, message: { role: "assistant", content: "Hi", refusal: null }, … }], usage: { … } }
 * ```
 */
export function chatCompletionFor(message: JsonObject, created: number): JsonObject {
  const blocks = Array.isArray(message.content) ? message.content.filter(isJsonObject) : [];
  const text = blocks.filter((block) => block.type === "text").map((block) => String(block.text ?? "")).join(
    "",
  );
  const toolCalls = blocks.filter((block) => block.type === "tool_use").map((block) => ({
    id: openaiToolId(String(block.id)),
    type: "function",
    function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
  }));
  const thinking = blocks.filter((block) => block.type === "thinking" || block.type === "redacted_thinking");
  const reasoning = thinking.map((block) => typeof block.thinking === "string" ? block.thinking : "").join(
    "",
  );
  return {
    id: `chatcmpl-${message.id ?? "relay"}`,
    object: "chat.completion",
    created,
    model: message.model,
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: text || (toolCalls.length > 0 ? null : ""),
        refusal: null,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        ...(reasoning ? { reasoning_content: reasoning } : {}),
        ...(thinking.length > 0 ? { thinking_blocks: thinking } : {}),
      },
      logprobs: null,
      finish_reason: finishReasonFor(
        typeof message.stop_reason === "string" ? message.stop_reason : undefined,
      ),
    }],
    usage: openaiUsageFor(isJsonObject(message.usage) ? message.usage : undefined),
  };
}
