/**
 * Unsigned thinking blocks kept from an upstream that mints no signatures (an OpenAI-compatible one's
 * `reasoning_content` becomes a thinking block signed `""`), taken out of a body before it reaches an
 * upstream that checks them: Anthropic's API, Bedrock, Vertex and Foundry refuse the whole request
 * (`Invalid 'signature' in 'thinking' block`), and a signature cannot be made up (protocols.md §9 rule 3).
 */
import { isJsonObject } from "../util/json.ts";
import { editTopLevelJson } from "./json_edit.ts";

/**
 * `body` without the thinking blocks of its assistant messages that carry no signature (none, or not a
 * non-empty string); an assistant message left with nothing is dropped, as Anthropic refuses an empty
 * one and merges the user turns either side of it into one. `json` is the body as relay parsed it to
 * route it, so finding none (nearly every request) costs a walk over its messages, no parse. Only
 * `messages` is written anew; a body without such a block, or without `json`, is the very same bytes.
 *
 * @example
 * ```ts
 * const text = '{"model":"claude-x", "messages":[{"role":"user","content":"hi"},' +
 *   '{"role":"assistant","content":[{"type":"thinking","thinking":"Hm.","signature":""},' +
 *   '{"type":"text","text":"Hello."}]}]}';
 * withoutUnsignedThinking(new TextEncoder().encode(text), JSON.parse(text));
 * // {"model":"claude-x", "messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"Hello."}]}]}
 * ```
 */
export function withoutUnsignedThinking(
  body: Uint8Array<ArrayBuffer>,
  json: Record<string, unknown> | undefined,
): Uint8Array<ArrayBuffer> {
  const messages = json?.messages;
  if (!Array.isArray(messages) || !messages.some(_holdsUnsigned)) return body;
  const kept = messages.flatMap((message) => {
    if (!_holdsUnsigned(message)) return [message];
    const content = message.content.filter((block: unknown) => !_isUnsignedThinking(block));
    return content.length > 0 ? [{ ...message, content }] : [];
  });
  return editTopLevelJson(body, { set: { messages: kept } });
}

/** Whether `message` is an assistant message with an unsigned thinking block. */
function _holdsUnsigned(message: unknown): message is { content: unknown[] } {
  return isJsonObject(message) && message.role === "assistant" && Array.isArray(message.content) &&
    message.content.some(_isUnsignedThinking);
}

function _isUnsignedThinking(block: unknown): boolean {
  return isJsonObject(block) && block.type === "thinking" &&
    !(typeof block.signature === "string" && block.signature !== "");
}
