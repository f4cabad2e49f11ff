import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { OpenAIToAnthropic, openaiToAnthropicSse } from "../../src/stream/openai_to_anthropic.ts";
import { anthropicMessageFor } from "../../src/stream/openai_to_anthropic_message.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import type { AnthropicEvent } from "../../src/stream/openai_types.ts";
import { assembleAnthropicStream } from "./anthropic_grammar.ts";
import { concatBytes, splitAwkwardly } from "./golden.ts";

/** Chat Completions streams in tests/stream/golden/openai/, each beside its expected Anthropic translation. */
const GOLDEN = ["text", "tool_call", "parallel_tools", "reasoning", "error_mid"] as const;

const _golden = (file: string) => Deno.readFile(new URL(`./golden/openai/${file}`, import.meta.url));

function translator(thinking = false) {
  let generated = 0;
  return new OpenAIToAnthropic({
    messageId: "msg_relay_golden",
    model: "gpt-4.1",
    thinking,
    newToolId: () => `toolu_generated${generated++ || ""}`,
  });
}

async function translated(chunks: Uint8Array[], thinking: boolean): Promise<Uint8Array> {
  const body = openaiToAnthropicSse(ReadableStream.from(chunks), translator(thinking));
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** Feeds JSON payloads (or raw `data` strings) straight to a translator. */
function run(
  payloads: (object | string)[],
  options: { thinking?: boolean; eof?: boolean } = {},
): AnthropicEvent[] {
  const t = translator(options.thinking);
  const events = t.start();
  for (const payload of payloads) {
    events.push(...t.chunk(typeof payload === "string" ? payload : JSON.stringify(payload)));
  }
  if (options.eof) events.push(...t.end());
  return events;
}

const delta = (d: Record<string, unknown>, finish_reason: string | null = null) => ({
  choices: [{ index: 0, delta: d, finish_reason }],
});

/** What the stream adds up to, checked against Anthropic's grammar. */
function assembled(events: AnthropicEvent[]) {
  return assembleAnthropicStream(events.map((event) => ({ event: event.type, data: JSON.stringify(event) })));
}

Deno.test("golden OpenAI streams translate to the expected Anthropic SSE, however the bytes are cut", async () => {
  for (const name of GOLDEN) {
    const input = await _golden(`${name}.sse`);
    const expected = await _golden(`${name}.expected.sse`);
    for (const chunks of splitAwkwardly(input)) {
      assert.deepEqual(concatBytes(chunks), input);
      const output = await translated(chunks, name === "reasoning");
      assert.equal(
        new TextDecoder().decode(output),
        new TextDecoder().decode(expected),
        `${name} in ${chunks.length} chunks`,
      );
    }
    const events = new SseDecoder().feed(expected);
    const { error } = assembleAnthropicStream(events);
    assert.equal(error !== undefined, name === "error_mid", `${name} follows Anthropic's grammar`);
  }
});

Deno.test("the Anthropic SDK reads the translated goldens as the Messages they stand for", async () => {
  const answer = (bytes: Uint8Array<ArrayBuffer>) =>
    new Anthropic({
      apiKey: "unused",
      maxRetries: 0,
      fetch: () => Promise.resolve(new Response(bytes, { headers: { "content-type": "text/event-stream" } })),
    }).messages.stream({ model: "gpt-4.1", max_tokens: 64, messages: [{ role: "user", content: "hi" }] })
      .finalMessage();
  const parallel = await answer(await _golden("parallel_tools.expected.sse"));
  assert.equal(parallel.stop_reason, "tool_use");
  assert.deepEqual(parallel.content.map((block) => block.type === "tool_use" && [block.id, block.input]), [
    ["call_Q1w2E3r4T5y6U7i8O9p0", { city: "Paris" }],
    ["toolu_oa_ZnVuY3Rpb25zLmdldF90aW1lOjE", {}],
    ["call_Z9x8C7v6B5n4M3l2K1j0", {}],
  ]);
  assert.deepEqual(parallel.usage.input_tokens, 2134);
  const reasoning = await answer(await _golden("reasoning.expected.sse"));
  assert.deepEqual(reasoning.content[0], {
    type: "thinking",
    thinking: "The user asks 2+2. That is 4.",
    signature: "",
  });
  const text = await answer(await _golden("text.expected.sse"));
  assert.deepEqual(text.usage, {
    input_tokens: 214,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 1920,
    output_tokens: 18,
  });
  await assert.rejects(
    async () => await answer(await _golden("error_mid.expected.sse")),
    (error: unknown) => error instanceof Anthropic.APIError && /server had an error/.test(error.message),
  );
});

Deno.test("reasoning is dropped when the client did not ask for thinking", async () => {
  const output = await translated([await _golden("reasoning.sse")], false);
  const { message } = assembleAnthropicStream(new SseDecoder().feed(output));
  assert.deepEqual(message.content, [{ type: "text", text: "2 + 2 = 4." }]);
});

Deno.test("a tool call waits for its name, keeping the argument fragments that came first", () => {
  const { message } = assembled(run([
    delta({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { arguments: '{"a"' } }] }),
    delta({ tool_calls: [{ index: 0, function: { name: "f", arguments: ":1" } }] }),
    delta({ tool_calls: [{ index: 0, function: { name: "f", arguments: "}" } }] }),
    delta({}, "tool_calls"),
    "[DONE]",
  ]));
  assert.deepEqual(message.content, [{ type: "tool_use", id: "call_1", name: "f", input: { a: 1 } }]);
});

Deno.test("whole calls without index or id (as some compatibles send them) get their own blocks and fresh ids", () => {
  const { message } = assembled(run([
    delta({ tool_calls: [{ id: "a.1", function: { name: "f", arguments: '{"x":1}' } }] }),
    delta({
      tool_calls: [{ function: { name: "g", arguments: "" } }, {
        id: "b",
        function: { name: "h", arguments: "{}" },
      }],
    }),
    delta({}, "stop"),
    "[DONE]",
  ]));
  assert.equal(
    message.stop_reason,
    "tool_use",
    "a tool call makes it tool_use even after finish_reason stop",
  );
  assert.deepEqual(message.content.map((block: { id: string; name: string }) => [block.id, block.name]), [
    ["toolu_oa_YS4x", "f"],
    ["toolu_generated", "g"],
    ["b", "h"],
  ]);
});

Deno.test("arguments for a call whose block is closed end the stream with an error, not a wrong input", () => {
  const events = run([
    delta({ tool_calls: [{ index: 0, id: "c0", function: { name: "f", arguments: '{"a":' } }] }),
    delta({ tool_calls: [{ index: 1, id: "c1", function: { name: "g", arguments: "{}" } }] }),
    delta({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] }),
    delta({}, "tool_calls"),
  ]);
  assert.deepEqual(events.map((event) => event.type).slice(-3), [
    "content_block_start",
    "content_block_delta",
    "error",
  ]);
  assert.match(JSON.stringify(events.at(-1)), /interleaved the arguments of parallel tool calls/);
});

Deno.test("how a stream ends: [DONE], a finish without [DONE], a cut, a non-JSON chunk", async (t) => {
  await t.step("[DONE] without a finish_reason is a normal end", () => {
    const { message } = assembled(run([delta({ content: "hi" }), "[DONE]"]));
    assert.equal(message.stop_reason, "end_turn");
  });
  await t.step("a finish_reason, then the body ends without [DONE]", () => {
    const { message } = assembled(run([delta({ content: "hi" }, "length")], { eof: true }));
    assert.equal(message.stop_reason, "max_tokens");
  });
  await t.step("the body ends before any finish: an error event", () => {
    const { error } = assembled(run([delta({ content: "hi" })], { eof: true }));
    assert.match(error.message, /before the answer was finished/);
  });
  await t.step("a chunk that is not JSON: an error event, and nothing after it", () => {
    const events = run([delta({ content: "hi" }), "{oops", delta({ content: "more" })], { eof: true });
    assert.equal(events.at(-1)!.type, "error");
    assert.match(JSON.stringify(events.at(-1)), /not JSON: \{oops/);
    assert.equal(events.filter((event) => event.type === "error").length, 1);
  });
  await t.step("an error chunk keeps the upstream's type: a rate limit stays one", () => {
    const { error } = assembled(run([{ error: { message: "slow down", code: 429 } }]));
    assert.deepEqual(error, { type: "rate_limit_error", message: "slow down" });
  });
});

Deno.test("an unstreamed completion becomes the same Message a stream would", () => {
  const message = anthropicMessageFor({
    choices: [{
      message: {
        content: "Let me check.",
        reasoning_content: "Need the weather.",
        tool_calls: [
          {
            id: "call:1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          },
          { type: "function", function: { name: "broken", arguments: '{"city":' } },
        ],
      },
      finish_reason: "tool_calls",
    }],
    usage: { prompt_tokens: 100, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 60 } },
  }, { messageId: "msg_1", model: "gpt-4.1", thinking: true, newToolId: () => "toolu_new" });
  assert.deepEqual(message, {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "gpt-4.1",
    content: [
      { type: "thinking", thinking: "Need the weather.", signature: "" },
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "toolu_oa_Y2FsbDox", name: "get_weather", input: { city: "Paris" } },
      { type: "tool_use", id: "toolu_new", name: "broken", input: {} },
    ],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: {
      input_tokens: 40,
      output_tokens: 20,
      cache_read_input_tokens: 60,
      cache_creation_input_tokens: 0,
    },
  });
});
