/**
 * A whole Anthropic Message as the stream Anthropic would have sent for it, for an Anthropic-format
 * server that ignores `"stream": true` and answers with the Message: the SDKs (and so Claude Code)
 * read a streamed request's answer only as events, and fail on JSON with "request ended without
 * sending any chunks".
 */
import { asJsonObject, type JsonObject } from "../util/json.ts";
import { encodeSseEvent } from "./sse_encode.ts";

/**
 * The SSE events of `message` (protocols.md §1.6), each encoded as api.anthropic.com frames them:
 * `message_start` with the Message's head (`content: []`, the stop fields `null`, its usage with the
 * input and cache counts and at most 1 output token, as Anthropic's says), then each content block as
 * `content_block_start`, its deltas and `content_block_stop`, then `message_delta` (the stop fields, the
 * Message's whole usage) and `message_stop`. A `text` block streams as one `text_delta`; `tool_use` and
 * `server_tool_use` start with `input: {}` and stream their input as one `input_json_delta`; `thinking`
 * streams one `thinking_delta`, then its `signature_delta`; every other block (`redacted_thinking`, a
 * tool result) comes whole in its `content_block_start`, as Anthropic sends those. The SDK's
 * accumulator builds `message` back from them: fields relay does not know are kept where they were.
 * A Message without `usage` streams with an empty one, but for the `output_tokens` every
 * `message_delta` carries (the SDK copies it into the Message it builds, and a sum of `undefined` is
 * `NaN`): one the Message has not is sent as 0, and `outputUnreported` is told, so relay records that
 * count as its own, not the upstream's.
 *
 * @example
 * ```ts
 * const events = messageAsSse({
 *   id: "msg_1", type: "message", role: "assistant", model: "glm-4.6",
 *   content: [{ type: "text", text: "Hi" }], stop_reason: "end_turn", stop_sequence: null,
 *   usage: { input_tokens: 12, output_tokens: 3 },
 * });
 * // event: message_start, content_block_start, content_block_delta (text_delta "Hi"),
 * // content_block_stop, message_delta, message_stop
 * return new Response(ReadableStream.from(events), { headers: { "content-type": "text/event-stream" } });
 * ```
 */
export function messageAsSse(
  message: JsonObject & { content: readonly JsonObject[] },
  outputUnreported?: () => void,
): Uint8Array[] {
  return messageEvents(message, outputUnreported).map(({ event, data }) => encodeSseEvent(event, data));
}

/** The events {@linkcode messageAsSse} encodes, each its name and data, for a translator that reads them. */
export function messageEvents(
  message: JsonObject & { content: readonly JsonObject[] },
  outputUnreported?: () => void,
): MessageStreamEvent[] {
  const usage = asJsonObject(message.usage) ?? {};
  const head: JsonObject = { ...message, content: [], stop_reason: null, stop_sequence: null };
  if ("stop_details" in message) head.stop_details = null;
  head.usage = typeof usage.output_tokens === "number"
    ? { ...usage, output_tokens: Math.min(1, usage.output_tokens) }
    : usage;
  const events: MessageStreamEvent[] = [_event("message_start", { message: head })];
  message.content.forEach((block, index) => events.push(..._blockEvents(block, index)));
  const delta: JsonObject = {
    stop_reason: message.stop_reason ?? null,
    stop_sequence: message.stop_sequence ?? null,
  };
  // The SDK takes both from the delta alone (`stop_details` even when absent).
  if (message.stop_details !== undefined) delta.stop_details = message.stop_details;
  if (message.container !== undefined && message.container !== null) delta.container = message.container;
  const counted = typeof usage.output_tokens === "number";
  if (!counted) outputUnreported?.();
  events.push(
    _event("message_delta", { delta, usage: counted ? usage : { ...usage, output_tokens: 0 } }),
    _event("message_stop", {}),
  );
  return events;
}

/** One event of a Message's stream: its name, and its data, whose `type` is the name too. */
export interface MessageStreamEvent {
  event: string;
  data: JsonObject;
}

function _event(event: string, fields: JsonObject): MessageStreamEvent {
  return { event, data: { type: event, ...fields } };
}

/** The events of one content block at `index`: its start, the deltas that fill it, its stop. */
function _blockEvents(block: JsonObject, index: number): MessageStreamEvent[] {
  const [start, deltas] = _streamed(block);
  return [
    _event("content_block_start", { index, content_block: start }),
    ...deltas.map((delta) => _event("content_block_delta", { index, delta })),
    _event("content_block_stop", { index }),
  ];
}

/** A block as its `content_block_start` has it, and the deltas that make it whole again. */
function _streamed(block: JsonObject): [JsonObject, JsonObject[]] {
  switch (block.type) {
    case "text": {
      const text = typeof block.text === "string" ? block.text : "";
      return [{ ...block, text: "" }, text === "" ? [] : [{ type: "text_delta", text }]];
    }
    case "tool_use":
    case "server_tool_use":
      return [{ ...block, input: {} }, [{
        type: "input_json_delta",
        partial_json: JSON.stringify(block.input ?? {}),
      }]];
    case "thinking": {
      const thinking = typeof block.thinking === "string" ? block.thinking : "";
      const deltas: JsonObject[] = thinking === "" ? [] : [{ type: "thinking_delta", thinking }];
      if (typeof block.signature === "string") {
        deltas.push({ type: "signature_delta", signature: block.signature });
      }
      return [{ ...block, thinking: "", signature: "" }, deltas];
    }
    default:
      return [block, []];
  }
}
