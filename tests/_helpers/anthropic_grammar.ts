/**
 * A strict reader of Anthropic's stream grammar (protocols.md §1.6) for tests: it fails on anything the
 * SDK would choke on and rebuilds the Message the way the SDK's accumulator does, so a test can compare a
 * stream with its non-streaming twin.
 */
import assert from "node:assert/strict";
import { SseDecoder, type SseEvent } from "../../src/stream/sse_decode.ts";

// deno-lint-ignore no-explicit-any
type _Json = any;

export interface AssembledStream {
  /** The Message as the SDK would build it; `content[].input` parsed from the JSON fragments. */
  message: _Json;
  /** The `error` of an `event: error` that ended the stream, if one did. */
  error?: _Json;
}

const _DELTA_FOR_BLOCK: Record<string, string[]> = {
  text: ["text_delta", "citations_delta"],
  thinking: ["thinking_delta", "signature_delta"],
  tool_use: ["input_json_delta"],
  server_tool_use: ["input_json_delta"],
};

/**
 * Checks the order and shape of a parsed Anthropic stream and assembles it. A stream must be complete
 * (`message_stop` last) unless it ends in `event: error`.
 *
 * @example
 * ```ts
 * const { message } = assembleAnthropicStream(new SseDecoder().feed(bytes));
 * assert.equal(message.stop_reason, "end_turn");
 * ```
 */
export function assembleAnthropicStream(events: SseEvent[]): AssembledStream {
  let message: _Json;
  let open: { index: number; json: string } | undefined;
  let deltas = 0;
  let stopped = false;
  for (const [position, { event, data }] of events.entries()) {
    const where = `event #${position} (${event})`;
    assert.ok(!stopped, `${where} comes after message_stop`);
    const payload = JSON.parse(data);
    assert.equal(payload.type, event, `${where}: data.type must equal the event name`);
    if (event === "ping") continue;
    if (event === "error") {
      assert.equal(position, events.length - 1, `${where}: an error must end the stream`);
      return { message, error: payload.error };
    }
    if (event === "message_start") {
      assert.equal(message, undefined, `${where}: a second message_start`);
      assert.deepEqual(payload.message.content, [], `${where}: content starts empty`);
      message = structuredClone(payload.message);
      continue;
    }
    assert.ok(message, `${where} before message_start`);
    switch (event) {
      case "content_block_start":
        assert.equal(open, undefined, `${where}: block ${open?.index} is still open`);
        assert.equal(payload.index, message.content.length, `${where}: blocks are indexed 0, 1, 2… in order`);
        assert.equal(deltas, 0, `${where}: blocks must come before message_delta`);
        message.content.push(structuredClone(payload.content_block));
        open = { index: payload.index, json: "" };
        break;
      case "content_block_delta": {
        assert.equal(payload.index, open?.index, `${where}: delta for a block that is not open`);
        const block = message.content[payload.index];
        const delta = payload.delta;
        assert.ok(
          _DELTA_FOR_BLOCK[block.type]?.includes(delta.type),
          `${where}: ${delta.type} in a ${block.type}`,
        );
        if (delta.type === "text_delta") block.text += delta.text;
        if (delta.type === "thinking_delta") block.thinking += delta.thinking;
        if (delta.type === "signature_delta") block.signature += delta.signature;
        if (delta.type === "input_json_delta") open!.json += delta.partial_json;
        break;
      }
      case "content_block_stop":
        assert.equal(payload.index, open?.index, `${where}: stop for a block that is not open`);
        if ("input" in message.content[open!.index]) {
          message.content[open!.index].input = open!.json === "" ? {} : JSON.parse(open!.json);
        }
        open = undefined;
        break;
      case "message_delta":
        assert.equal(open, undefined, `${where}: block ${open?.index} is still open`);
        assert.ok(
          Number.isInteger(payload.usage?.output_tokens),
          `${where}: usage.output_tokens is required`,
        );
        assert.ok(
          payload.usage.output_tokens >= message.usage.output_tokens,
          `${where}: usage is cumulative`,
        );
        Object.assign(message, payload.delta);
        Object.assign(message.usage, payload.usage);
        deltas++;
        break;
      case "message_stop":
        assert.ok(deltas > 0, `${where}: message_stop without a message_delta`);
        stopped = true;
        break;
    }
  }
  assert.ok(stopped, "the stream ended without message_stop");
  return { message };
}

/** A streamed answer's whole body, read and assembled. */
export async function assembledResponse(response: Response): Promise<AssembledStream> {
  return assembleAnthropicStream(new SseDecoder().feed(new Uint8Array(await response.arrayBuffer())));
}
