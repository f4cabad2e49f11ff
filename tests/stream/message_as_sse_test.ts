import assert from "node:assert/strict";
import { messageAsSse } from "../../src/stream/message_as_sse.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import type { JsonObject } from "../../src/util/json.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";
import { GOLDEN_NAMES, loadGolden } from "../_helpers/golden.ts";

const text = (chunks: Uint8Array[]) => new TextDecoder().decode(concatBytes(chunks));

Deno.test("messageAsSse streams each kind of block as Anthropic does, byte for byte", () => {
  const message = {
    id: "msg_01",
    type: "message",
    role: "assistant",
    model: "glm-4.6",
    content: [
      { type: "thinking", thinking: "Hmm.", signature: "sig==" },
      { type: "redacted_thinking", data: "opaque" },
      { type: "text", text: "Let me look.", citations: null },
      { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "paris" } },
      { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [] },
      { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
    ],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: {
      input_tokens: 40,
      cache_creation_input_tokens: 2,
      cache_read_input_tokens: 100,
      output_tokens: 25,
      service_tier: "standard",
    },
  };
  assert.equal(
    text(messageAsSse(message)),
    [
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_01","type":"message",' +
      '"role":"assistant","model":"glm-4.6","content":[],"stop_reason":null,"stop_sequence":null,' +
      '"usage":{"input_tokens":40,"cache_creation_input_tokens":2,"cache_read_input_tokens":100,' +
      '"output_tokens":1,"service_tier":"standard"}}}',
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,' +
      '"content_block":{"type":"thinking","thinking":"","signature":""}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,' +
      '"delta":{"type":"thinking_delta","thinking":"Hmm."}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,' +
      '"delta":{"type":"signature_delta","signature":"sig=="}}',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}',
      'event: content_block_start\ndata: {"type":"content_block_start","index":1,' +
      '"content_block":{"type":"redacted_thinking","data":"opaque"}}',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}',
      'event: content_block_start\ndata: {"type":"content_block_start","index":2,' +
      '"content_block":{"type":"text","text":"","citations":null}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":2,' +
      '"delta":{"type":"text_delta","text":"Let me look."}}',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":2}',
      'event: content_block_start\ndata: {"type":"content_block_start","index":3,' +
      '"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":3,' +
      '"delta":{"type":"input_json_delta","partial_json":"{\\"query\\":\\"paris\\"}"}}',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":3}',
      'event: content_block_start\ndata: {"type":"content_block_start","index":4,' +
      '"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]}}',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":4}',
      'event: content_block_start\ndata: {"type":"content_block_start","index":5,' +
      '"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":5,' +
      '"delta":{"type":"input_json_delta","partial_json":"{\\"city\\":\\"Paris\\"}"}}',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":5}',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use",' +
      '"stop_sequence":null},"usage":{"input_tokens":40,"cache_creation_input_tokens":2,' +
      '"cache_read_input_tokens":100,"output_tokens":25,"service_tier":"standard"}}',
      'event: message_stop\ndata: {"type":"message_stop"}',
      "",
    ].join("\n\n"),
  );
});

Deno.test("messageAsSse's stream of each golden stream's Message assembles to that Message", async () => {
  for (const name of GOLDEN_NAMES) {
    const golden = assembleAnthropicStream(new SseDecoder().feed(await loadGolden(name)));
    if (golden.error) continue;
    const replayed = assembleAnthropicStream(
      new SseDecoder().feed(concatBytes(messageAsSse(golden.message))),
    );
    assert.deepEqual(replayed.message, golden.message, name);
  }
});

Deno.test("messageAsSse: the stop fields go in the delta, an empty text has no delta, a missing usage counts 0 output, told", () => {
  let unreported = 0;
  const events = new SseDecoder().feed(concatBytes(messageAsSse({
    id: "msg_02",
    type: "message",
    role: "assistant",
    model: "m",
    content: [{ type: "text", text: "" }, { type: "tool_use", id: "toolu_2", name: "now", input: {} }],
    stop_reason: "pause_turn",
    stop_sequence: null,
    stop_details: { type: "pause" },
    container: { id: "container_1" },
  }, () => unreported++)));
  assert.deepEqual(events.map(({ event }) => event), [
    "message_start",
    "content_block_start",
    "content_block_stop",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  const start = JSON.parse(events[0].data).message;
  assert.deepEqual(
    [start.stop_reason, start.stop_details, start.usage, start.container],
    [null, null, {}, { id: "container_1" }],
  );
  assert.equal(JSON.parse(events[4].data).delta.partial_json, "{}");
  assert.deepEqual(JSON.parse(events[6].data), {
    type: "message_delta",
    delta: {
      stop_reason: "pause_turn",
      stop_sequence: null,
      stop_details: { type: "pause" },
      container: { id: "container_1" },
    },
    usage: { output_tokens: 0 },
  });
  assert.equal(unreported, 1);
});

Deno.test("messageAsSse: a usage without output_tokens gets 0 in its message_delta, told; one with it is its own", () => {
  const deltaUsage = (usage: JsonObject) => {
    let unreported = false;
    const events = new SseDecoder().feed(concatBytes(messageAsSse({
      id: "msg_03",
      type: "message",
      role: "assistant",
      model: "m",
      content: [{ type: "text", text: "Hi" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage,
    }, () => unreported = true)));
    const delta = events.find(({ event }) => event === "message_delta")!;
    return [JSON.parse(delta.data).usage, unreported];
  };
  assert.deepEqual(deltaUsage({ input_tokens: 7, output_tokens: null }), [
    { input_tokens: 7, output_tokens: 0 },
    true,
  ]);
  assert.deepEqual(deltaUsage({ input_tokens: 7 }), [{ input_tokens: 7, output_tokens: 0 }, true]);
  assert.deepEqual(deltaUsage({ input_tokens: 7, output_tokens: 12 }), [
    { input_tokens: 7, output_tokens: 12 },
    false,
  ]);
});
