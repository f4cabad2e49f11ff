/** The Anthropic -> Responses direction: `anthropic_to_responses.ts`. */
import OpenAI from "openai";
import assert from "node:assert/strict";
import {
  AnthropicToResponses,
  type AnthropicToResponsesOptions,
  encodeResponsesEvent,
  responseEcho,
  responseFor,
} from "../../src/stream/anthropic_to_responses.ts";
import { anthropicTranslatedSse } from "../../src/stream/anthropic_translated_sse.ts";
import type { ResponsesTool } from "../../src/stream/responses_to_chat_request.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { thinkingBlockOf } from "../../src/stream/thinking_items.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";
import { GOLDEN_NAMES, loadGolden, splitAwkwardly } from "../_helpers/golden.ts";

const CREATED = 1767225600;

// deno-lint-ignore no-explicit-any
type _Json = any;

function options(tools: [string, ResponsesTool][] = []): AnthropicToResponsesOptions {
  return { createdAt: CREATED, echo: {}, tools: new Map(tools) };
}

/** The Responses events for Anthropic events (type + data), then the end of the input. */
function run(events: Record<string, unknown>[], tools: [string, ResponsesTool][] = []): _Json[] {
  const translator = new AnthropicToResponses(options(tools));
  const out = events.flatMap((event) =>
    translator.event({ event: String(event.type), data: JSON.stringify(event) })
  );
  return [...out, ...translator.end()].map((event) => event.data);
}

/** The translated bytes of `chunks`, parsed back into events, checking each SSE name is its `type`. */
async function translated(chunks: Uint8Array[]): Promise<_Json[]> {
  const body = anthropicTranslatedSse(
    ReadableStream.from(chunks),
    new AnthropicToResponses(options()),
    encodeResponsesEvent,
  );
  const text = await new Response(body).text();
  return new SseDecoder().feed(new TextEncoder().encode(text)).map(({ event, data }) => {
    const parsed = JSON.parse(data);
    assert.equal(parsed.type, event);
    return parsed;
  });
}

const START = {
  type: "message_start",
  message: { id: "msg_1", model: "claude-x", content: [], usage: { input_tokens: 10, output_tokens: 1 } },
};
const USAGE = {
  input_tokens: 10,
  input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
  output_tokens: 5,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 15,
};

function response(status: string, output: unknown[], extra: Record<string, unknown> = {}) {
  return {
    id: "resp_1",
    object: "response",
    created_at: CREATED,
    status,
    error: null,
    incomplete_details: null,
    model: "claude-x",
    output,
    usage: status === "in_progress" ? null : USAGE,
    ...extra,
  };
}

const textPart = (text: string) => ({ type: "output_text", text, annotations: [], logprobs: [] });

Deno.test("the tool_use golden: a message item, then a function_call item, in OpenAI's order and shapes", async () => {
  const events = await translated([await loadGolden("tool_use")]);
  const text = "I'll check the current weather in Paris for you.";
  const args = '{"location": "Paris, France", "unit": "celsius"}';
  const id = "014p7gG3wDgGV9EUtLvnow3U";
  const message = {
    id: `msg_${id}_0`,
    type: "message",
    status: "completed",
    role: "assistant",
    content: [textPart(text)],
  };
  const call = {
    id: `fc_${id}_1`,
    type: "function_call",
    status: "completed",
    call_id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
    name: "get_weather",
    arguments: args,
  };
  const envelope = {
    id: `resp_${id}`,
    object: "response",
    created_at: CREATED,
    error: null,
    incomplete_details: null,
    model: "claude-opus-4-1-20250805",
  };
  const started = { ...envelope, status: "in_progress", output: [], usage: null };
  const at0 = { item_id: message.id, output_index: 0 };
  const at1 = { item_id: call.id, output_index: 1 };
  const expected = [
    { type: "response.created", response: started },
    { type: "response.in_progress", response: started },
    {
      type: "response.output_item.added",
      output_index: 0,
      item: { ...message, status: "in_progress", content: [] },
    },
    { type: "response.content_part.added", ...at0, content_index: 0, part: textPart("") },
    {
      type: "response.output_text.delta",
      ...at0,
      content_index: 0,
      delta: "I'll check the current weather",
      logprobs: [],
    },
    {
      type: "response.output_text.delta",
      ...at0,
      content_index: 0,
      delta: " in Paris for you.",
      logprobs: [],
    },
    { type: "response.output_text.done", ...at0, content_index: 0, text, logprobs: [] },
    { type: "response.content_part.done", ...at0, content_index: 0, part: textPart(text) },
    { type: "response.output_item.done", output_index: 0, item: message },
    {
      type: "response.output_item.added",
      output_index: 1,
      item: { ...call, status: "in_progress", arguments: "" },
    },
    { type: "response.function_call_arguments.delta", ...at1, delta: '{"location": "Pa' },
    { type: "response.function_call_arguments.delta", ...at1, delta: "ris, Fr" },
    { type: "response.function_call_arguments.delta", ...at1, delta: 'ance", "unit": "cel' },
    { type: "response.function_call_arguments.delta", ...at1, delta: 'sius"}' },
    { type: "response.function_call_arguments.done", ...at1, name: "get_weather", arguments: args },
    { type: "response.output_item.done", output_index: 1, item: call },
    {
      type: "response.completed",
      response: {
        ...envelope,
        status: "completed",
        output: [message, call],
        usage: {
          input_tokens: 472,
          input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
          output_tokens: 89,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: 561,
        },
      },
    },
  ];
  assert.deepEqual(
    events,
    expected.map((event, index) => ({ ...event, sequence_number: index })),
  );
});

Deno.test("every golden stream translates the same however its bytes are cut, and ends in one final event", async () => {
  for (const name of GOLDEN_NAMES) {
    const bytes = await loadGolden(name);
    const whole = await translated([bytes]);
    assert.deepEqual(whole.map((event) => event.sequence_number), whole.map((_, index) => index), name);
    const finals = whole.filter((event) => /^response\.(completed|incomplete|failed)$/.test(event.type));
    assert.deepEqual(finals, [whole.at(-1)], name);
    for (const chunks of splitAwkwardly(bytes)) assert.deepEqual(await translated(chunks), whole, name);
  }
});

Deno.test("a thinking block is a reasoning item: its text the summary, streamed, the block whole its encrypted_content", async () => {
  const events = await translated([await loadGolden("thinking")]);
  const [block] =
    assembleAnthropicStream(new SseDecoder().feed(await loadGolden("thinking"))).message.content;
  assert.equal(block.type, "thinking");
  const done = events.at(-1);
  assert.equal(done.type, "response.completed");
  assert.deepEqual(done.response.output.map((item: { type: string }) => item.type), ["reasoning", "message"]);
  const [reasoning, message] = done.response.output;
  assert.deepEqual(reasoning.summary, [{ type: "summary_text", text: block.thinking }]);
  assert.deepEqual(thinkingBlockOf(reasoning.encrypted_content), block, "the signature goes back as it came");
  assert.equal(message.content[0].text, "27 × 453 = **12,231**");
  const about = events.filter((event) => event.item_id === reasoning.id || event.item?.id === reasoning.id);
  assert.deepEqual([...new Set(about.map((event) => event.type))], [
    "response.output_item.added",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_summary_part.done",
    "response.output_item.done",
  ]);
  const deltas = about.filter((event) => event.type === "response.reasoning_summary_text.delta");
  assert.equal(deltas.map((event) => event.delta).join(""), block.thinking);
});

Deno.test("redacted thinking is a reasoning item without summary; thinking cut by max_tokens has no encrypted_content", () => {
  const redacted = { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT" };
  const events = run([
    START,
    { type: "content_block_start", index: 0, content_block: redacted },
    { type: "content_block_stop", index: 0 },
    { type: "content_block_start", index: 1, content_block: { type: "thinking", thinking: "" } },
    { type: "content_block_delta", index: 1, delta: { type: "thinking_delta", thinking: "Let me" } },
    { type: "message_delta", delta: { stop_reason: "max_tokens" }, usage: { output_tokens: 5 } },
    { type: "message_stop" },
  ]);
  const [whole, cut] = events.at(-1).response.output;
  assert.deepEqual(whole.summary, []);
  assert.deepEqual(thinkingBlockOf(whole.encrypted_content), redacted);
  assert.deepEqual(cut, {
    id: "rs_1_1",
    type: "reasoning",
    summary: [{ type: "summary_text", text: "Let me" }],
    status: "incomplete",
  });
});

Deno.test("cached tokens count in input_tokens and in its details", async () => {
  const cached = (await translated([await loadGolden("cached")])).at(-1).response.usage;
  const events = new SseDecoder().feed(await loadGolden("cached"));
  const { usage } = assembleAnthropicStream(events).message;
  const input = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
  assert.deepEqual(
    [cached.input_tokens, cached.input_tokens_details.cached_tokens],
    [input, usage.cache_read_input_tokens],
  );
  assert.ok(usage.cache_read_input_tokens > 0, "the golden reads from the cache");
});

Deno.test("max_tokens ends as response.incomplete, its reason max_output_tokens", () => {
  const events = run([
    START,
    { type: "message_delta", delta: { stop_reason: "max_tokens" }, usage: { output_tokens: 5 } },
    { type: "message_stop" },
  ]);
  assert.deepEqual(events.at(-1), {
    type: "response.incomplete",
    sequence_number: 2,
    response: response("incomplete", [], { incomplete_details: { reason: "max_output_tokens" } }),
  });
});

Deno.test("an error event, or a stream cut short, fails the response with the output so far", () => {
  const text = { type: "content_block_start", index: 0, content_block: { type: "text", text: "Hi" } };
  const stop = { type: "content_block_stop", index: 0 };
  const overloaded = { type: "error", error: { type: "overloaded_error", message: "Overloaded" } };
  const second = { type: "content_block_start", index: 1, content_block: { type: "text", text: "Yo" } };
  const failed = run([
    START,
    text,
    stop,
    second,
    { type: "message_delta", usage: { output_tokens: 5 } },
    overloaded,
  ]);
  const message = (index: number, status: string, text: string) => ({
    id: `msg_1_${index}`,
    type: "message",
    status,
    role: "assistant",
    content: [textPart(text)],
  });
  assert.deepEqual(failed.at(-1)?.response, {
    ...response("failed", [message(0, "completed", "Hi"), message(1, "incomplete", "Yo")]),
    error: { code: "server_error", message: "Overloaded" },
  });
  assert.deepEqual(
    failed.filter((event) => event.type === "response.output_item.done").map((event) => event.item.id),
    ["msg_1_0"],
    "the cut item is never done",
  );
  assert.equal(failed.filter((event) => event.type === "response.failed").length, 1, "nothing after it");
  const tooLong = {
    type: "error",
    error: { type: "invalid_request_error", message: "prompt is too long: 1 > 0" },
  };
  assert.equal(run([START, tooLong]).at(-1)?.response.error.code, "context_length_exceeded");
  const cut = run([START, text]).at(-1);
  assert.equal(cut?.type, "response.failed");
  assert.deepEqual(cut?.response.output, [message(0, "incomplete", "Hi")]);
  assert.match(cut?.response.error.message, /ended the stream before the answer was finished/);
  const stoppedThenCut = run([START, text, stop]);
  assert.deepEqual(stoppedThenCut.at(-1)?.response.output, [message(0, "incomplete", "Hi")]);
  assert.ok(
    !stoppedThenCut.some((event) => event.type === "response.output_item.done"),
    "a block's stop is not the answer's",
  );
});

/** A tool call to `name` (id `toolu_<name>`) at Anthropic index `index`, its input in two deltas. */
function toolCall(index: number, name: string, json: [string, string]): Record<string, unknown>[] {
  const delta = (partial_json: string) => ({
    type: "content_block_delta",
    index,
    delta: { type: "input_json_delta", partial_json },
  });
  return [
    { type: "content_block_start", index, content_block: { type: "tool_use", id: `toolu_${name}`, name } },
    delta(json[0]),
    delta(json[1]),
    { type: "content_block_stop", index },
  ];
}

Deno.test("a tool call cut by max_tokens is never done: Codex would run it; it ends incomplete with what came", () => {
  const tools: [string, ResponsesTool][] = [["apply_patch", { name: "apply_patch", custom: true }]];
  for (
    const [name, cutItem] of [
      ["exec", { type: "function_call", arguments: '{"cmd":"rm -rf /tmp/bu' }],
      ["apply_patch", { type: "custom_tool_call", input: "" }],
    ] as const
  ) {
    const events = run([
      START,
      ...toolCall(0, name, ['{"cmd":', '"rm -rf /tmp/bu']),
      { type: "message_delta", delta: { stop_reason: "max_tokens" }, usage: { output_tokens: 5 } },
      { type: "message_stop" },
    ], tools);
    const types = events.map((event) => event.type);
    assert.ok(!types.includes("response.output_item.done"), `${name}: ${types}`);
    assert.ok(!types.some((type) => /arguments\.done|input\.done/.test(type)), `${name}: ${types}`);
    const last = events.at(-1);
    assert.equal(last.type, "response.incomplete");
    assert.deepEqual(last.response.incomplete_details, { reason: "max_output_tokens" });
    assert.deepEqual(last.response.output, [{
      id: `${cutItem.type === "function_call" ? "fc" : "ctc"}_1_0`,
      status: "incomplete",
      call_id: `toolu_${name}`,
      name,
      ...cutItem,
    }]);
  }
});

Deno.test("a tool call is done once the next block starts, or once the answer ends on its own", () => {
  const events = run([
    START,
    ...toolCall(0, "a", ['{"x"', ":1}"]),
    ...toolCall(1, "b", ['{"y"', ":2}"]),
    { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 5 } },
    { type: "message_stop" },
  ]);
  const order = events
    .filter((event) => /output_item\.(added|done)|^response\.completed$/.test(event.type))
    .map((event) => `${event.type.replace("response.", "")} ${event.item?.name ?? ""}`.trim());
  assert.deepEqual(order, [
    "output_item.added a",
    "output_item.done a",
    "output_item.added b",
    "output_item.done b",
    "completed",
  ]);
  assert.deepEqual(
    events.map((event) => event.sequence_number),
    events.map((_, index) => index),
    "numbered in the order sent",
  );
});

Deno.test("a keep-alive is OpenAI's keepalive event, numbered in turn, none before or after; the SDK reads through it mid-item", async () => {
  const translator = new AnthropicToResponses(options());
  const read = (event: Record<string, unknown>) =>
    translator.event({ event: String(event.type), data: JSON.stringify(event) });
  const keepAlive = () => translator.keepAlive();
  assert.equal(keepAlive(), undefined, "no event may come before response.created");
  const events = [
    ...read(START),
    keepAlive(),
    ...read({ type: "content_block_start", index: 0, content_block: { type: "text", text: "Hel" } }),
    keepAlive(),
    ...read({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "lo" } }),
    ...read({ type: "content_block_stop", index: 0 }),
    keepAlive(),
    ...read({
      type: "content_block_start",
      index: 1,
      content_block: { type: "tool_use", id: "toolu_1", name: "f" },
    }),
    keepAlive(),
    ...read({
      type: "content_block_delta",
      index: 1,
      delta: { type: "input_json_delta", partial_json: "{}" },
    }),
    ...read({ type: "content_block_stop", index: 1 }),
    ...read({ type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 5 } }),
    ...read({ type: "message_stop" }),
  ].filter((event) => event !== undefined);
  assert.deepEqual(events[2].data, { type: "keepalive", sequence_number: 2 });
  assert.deepEqual(events.map((event) => event.data.sequence_number), events.map((_, index) => index));
  assert.ok(translator.finished);
  assert.equal(keepAlive(), undefined, "nothing may follow the response's last event");
  const sse = new TextDecoder().decode(concatBytes(events.map(encodeResponsesEvent)));
  const openai = new OpenAI({
    apiKey: "unused",
    maxRetries: 0,
    fetch: () => Promise.resolve(new Response(sse, { headers: { "content-type": "text/event-stream" } })),
  });
  const final = await openai.responses.stream({ model: "m", input: "hi" }).finalResponse();
  assert.equal(final.output_text, "Hello");
  assert.deepEqual(final.output.map((item) => item.type), ["message", "function_call"]);
});

Deno.test("a custom tool's call is a custom_tool_call with its input; a namespaced one names its namespace", () => {
  const tools: [string, ResponsesTool][] = [
    ["apply_patch", { name: "apply_patch", custom: true }],
    ["agents__spawn", { name: "spawn", namespace: "agents", custom: false }],
  ];
  const events = run([
    START,
    {
      type: "content_block_start",
      index: 0,
      content_block: { type: "tool_use", id: "toolu_a", name: "apply_patch" },
    },
    {
      type: "content_block_delta",
      index: 0,
      delta: { type: "input_json_delta", partial_json: '{"input":"*** Be' },
    },
    {
      type: "content_block_delta",
      index: 0,
      delta: { type: "input_json_delta", partial_json: 'gin Patch"}' },
    },
    { type: "content_block_stop", index: 0 },
    {
      type: "content_block_start",
      index: 1,
      content_block: { type: "tool_use", id: "toolu_b", name: "agents__spawn", input: {} },
    },
    { type: "content_block_stop", index: 1 },
    { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 5 } },
    { type: "message_stop" },
  ], tools);
  const custom = { item_id: "ctc_1_0", output_index: 0 };
  const fn = { item_id: "fc_1_1", output_index: 1 };
  assert.deepEqual(events.slice(2).map(({ sequence_number: _, ...event }) => event), [
    {
      type: "response.output_item.added",
      output_index: 0,
      item: {
        id: "ctc_1_0",
        type: "custom_tool_call",
        status: "in_progress",
        call_id: "toolu_a",
        name: "apply_patch",
        input: "",
      },
    },
    { type: "response.custom_tool_call_input.delta", ...custom, delta: "*** Begin Patch" },
    { type: "response.custom_tool_call_input.done", ...custom, input: "*** Begin Patch" },
    {
      type: "response.output_item.done",
      output_index: 0,
      item: {
        id: "ctc_1_0",
        type: "custom_tool_call",
        status: "completed",
        call_id: "toolu_a",
        name: "apply_patch",
        input: "*** Begin Patch",
      },
    },
    {
      type: "response.output_item.added",
      output_index: 1,
      item: {
        id: "fc_1_1",
        type: "function_call",
        status: "in_progress",
        call_id: "toolu_b",
        name: "spawn",
        namespace: "agents",
        arguments: "",
      },
    },
    // No delta came: the arguments are the start's input, as OpenAI would have sent them.
    { type: "response.function_call_arguments.delta", ...fn, delta: "{}" },
    { type: "response.function_call_arguments.done", ...fn, name: "spawn", arguments: "{}" },
    {
      type: "response.output_item.done",
      output_index: 1,
      item: {
        id: "fc_1_1",
        type: "function_call",
        status: "completed",
        call_id: "toolu_b",
        name: "spawn",
        namespace: "agents",
        arguments: "{}",
      },
    },
    { type: "response.completed", response: events.at(-1)?.response },
  ]);
  assert.equal(events.at(-1)?.response.status, "completed");
  const done = events.filter((event) => event.type === "response.output_item.done").map((event) =>
    event.item
  );
  assert.deepEqual(events.at(-1)?.response.output, done, "the response holds the items as they were done");
});

Deno.test("an unstreamed answer is the response the stream's last event holds, with the request echoed", () => {
  const message = {
    id: "msg_1",
    type: "message",
    model: "claude-x",
    content: [{ type: "text", text: "Hi" }, { type: "tool_use", id: "toolu_z", name: "f", input: { a: 1 } }],
    stop_reason: "tool_use",
    usage: { input_tokens: 10, output_tokens: 5 },
  };
  const echo = responseEcho({ model: "m", input: "hi", temperature: 0.2, store: false });
  const whole = responseFor(message, { ...options(), echo });
  const streamed = new AnthropicToResponses({ ...options(), echo }).message(message).at(-1)?.data.response;
  assert.deepEqual(whole, streamed);
  assert.deepEqual(whole, {
    ...response("completed", [
      { id: "msg_1_0", type: "message", status: "completed", role: "assistant", content: [textPart("Hi")] },
      {
        id: "fc_1_1",
        type: "function_call",
        status: "completed",
        call_id: "toolu_z",
        name: "f",
        arguments: '{"a":1}',
      },
    ]),
    instructions: null,
    max_output_tokens: null,
    metadata: {},
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: null,
    store: false,
    temperature: 0.2,
    text: { format: { type: "text" } },
    tool_choice: "auto",
    tools: [],
    top_p: 1,
    truncation: "disabled",
    user: null,
  });
});

Deno.test("pings and unknown events are skipped; a known event that is not JSON fails the response", () => {
  const translator = new AnthropicToResponses(options());
  assert.deepEqual(translator.event({ event: "ping", data: "{}" }), []);
  assert.deepEqual(translator.event({ event: "future_event", data: "not json" }), []);
  const [created, , failed] = translator.event({ event: "content_block_delta", data: "oops" });
  assert.equal(created.type, "response.created", "created first, as OpenAI's response always is");
  assert.equal(failed.type, "response.failed");
  assert.match(
    String((failed.data.response as { error: { message: string } }).error.message),
    /not a JSON object: oops/,
  );
  assert.ok(translator.finished);
  assert.deepEqual(translator.end(), []);
});

Deno.test("a window filled mid-answer fails the response as context_length_exceeded, on which Codex compacts", () => {
  const events = run([
    START,
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "Long" } },
    { type: "content_block_stop", index: 0 },
    {
      type: "message_delta",
      delta: { stop_reason: "model_context_window_exceeded" },
      usage: { output_tokens: 5 },
    },
    { type: "message_stop" },
  ]);
  const last = events.at(-1);
  assert.equal(last.type, "response.failed");
  assert.equal(last.response.error.code, "context_length_exceeded");
  assert.match(last.response.error.message, /model_context_window_exceeded/);
  assert.equal(
    events.filter((event) => /^response\.(failed|incomplete|completed)$/.test(event.type)).length,
    1,
  );
});

Deno.test("a refusal completes the response with a refusal part after the text so far, as OpenAI's models refuse", () => {
  const events = run([
    START,
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "I can" } },
    { type: "content_block_stop", index: 0 },
    { type: "message_delta", delta: { stop_reason: "refusal" }, usage: { output_tokens: 5 } },
    { type: "message_stop" },
  ]);
  const last = events.at(-1);
  assert.equal(last.type, "response.completed", "Codex sends an incomplete one again, six times");
  assert.equal(last.response.incomplete_details, null);
  const [text, refusal] = last.response.output;
  assert.deepEqual(
    [text.status, text.content[0].text],
    ["incomplete", "I can"],
    "cut where the refusal struck",
  );
  assert.deepEqual(refusal.content, [{ type: "refusal", refusal: refusal.content[0].refusal }]);
  assert.match(refusal.content[0].refusal, /declined/);
  const about = events.filter((event) => event.item_id === refusal.id || event.item?.id === refusal.id);
  assert.deepEqual(about.map((event) => event.type), [
    "response.output_item.added",
    "response.content_part.added",
    "response.refusal.delta",
    "response.refusal.done",
    "response.content_part.done",
    "response.output_item.done",
  ]);
  assert.deepEqual(events.map((event) => event.sequence_number), events.map((_, index) => index));
});

Deno.test("a refusal that strikes inside a tool call leaves it incomplete, never done, the refusal after it", () => {
  const events = run([
    START,
    ...toolCall(0, "exec", ['{"cmd":', '"rm']).slice(0, -1),
    { type: "message_delta", delta: { stop_reason: "refusal" }, usage: { output_tokens: 5 } },
    { type: "message_stop" },
  ]);
  assert.ok(
    !events.some((event) =>
      event.type === "response.output_item.done" && event.item.type === "function_call"
    ),
  );
  const [call, refusal] = events.at(-1).response.output;
  assert.deepEqual([call.type, call.status, call.arguments], ["function_call", "incomplete", '{"cmd":"rm']);
  assert.equal(refusal.content[0].type, "refusal");
  const added = events.filter((event) => event.type === "response.output_item.added");
  assert.deepEqual(added.map((event) => event.output_index), [0, 1]);
});
