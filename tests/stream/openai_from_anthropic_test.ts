/** The Anthropic -> OpenAI direction: `anthropic_to_openai.ts` and `anthropic_to_openai_completion.ts`. */
import OpenAI from "openai";
import assert from "node:assert/strict";
import {
  AnthropicToOpenAI,
  encodeOpenAISse,
  type OpenAISsePart,
} from "../../src/stream/anthropic_to_openai.ts";
import { anthropicTranslatedSse } from "../../src/stream/anthropic_translated_sse.ts";
import { chatCompletionFor } from "../../src/stream/anthropic_to_openai_completion.ts";
import { encodeSseEvent } from "../../src/stream/sse_encode.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";
import { GOLDEN_NAMES, loadGolden, splitAwkwardly } from "../_helpers/golden.ts";

const CREATED = 1767225600;

async function translated(chunks: Uint8Array[], includeUsage = true): Promise<string> {
  const body = anthropicTranslatedSse(
    ReadableStream.from(chunks),
    new AnthropicToOpenAI({ created: CREATED, includeUsage }),
    encodeOpenAISse,
  );
  return await new Response(body).text();
}

/** Runs Anthropic events (type + data) through a translator, then the end of the input. */
function run(events: Record<string, unknown>[], includeUsage = false): OpenAISsePart[] {
  const translator = new AnthropicToOpenAI({ created: CREATED, includeUsage });
  const parts = events.flatMap((event) =>
    translator.event({ event: String(event.type), data: JSON.stringify(event) })
  );
  return [...parts, ...translator.end()];
}

const _expected = (name: string) =>
  Deno.readTextFile(new URL(`./golden/openai/from_${name}.sse`, import.meta.url));

/** The official SDK's strict stream reader, fed the bytes instead of a network answer. */
function sdkStream(text: string) {
  const openai = new OpenAI({
    apiKey: "unused",
    maxRetries: 0,
    fetch: () => Promise.resolve(new Response(text, { headers: { "content-type": "text/event-stream" } })),
  });
  return openai.chat.completions.stream({ model: "m", messages: [{ role: "user", content: "hi" }] });
}

Deno.test("golden Anthropic streams translate to the expected OpenAI chunks, however the bytes are cut", async () => {
  for (const name of GOLDEN_NAMES) {
    const golden = await loadGolden(name);
    const expected = await _expected(name);
    for (const chunks of splitAwkwardly(golden)) {
      assert.equal(await translated(chunks), expected, `${name} in ${chunks.length} chunks`);
    }
  }
});

Deno.test("OpenAI's ChatCompletionStream accepts every translated golden and rebuilds its answer", async () => {
  const tools = await sdkStream(await _expected("parallel_tools")).finalChatCompletion();
  assert.equal(tools.choices[0].finish_reason, "tool_calls");
  assert.equal(tools.choices[0].message.content, "I'll look up both cities at once.");
  assert.deepEqual(
    tools.choices[0].message.tool_calls?.map((call) => call.type === "function" && call.function),
    [
      { name: "get_weather", arguments: '{"location": "Tokyo"}' },
      { name: "get_time", arguments: '{"timezone": "Europe/Paris"}' },
    ],
  );
  assert.deepEqual(tools.usage, {
    prompt_tokens: 712,
    completion_tokens: 131,
    total_tokens: 843,
    prompt_tokens_details: { cached_tokens: 0 },
  });
  const thinking = await sdkStream(await _expected("thinking")).finalChatCompletion();
  assert.equal(
    thinking.choices[0].message.content,
    "27 × 453 = **12,231**",
    "thinking is not part of the answer",
  );
  for (const name of ["text", "tool_use", "unicode"]) {
    assert.equal((await sdkStream(await _expected(name)).finalChatCompletion()).choices.length, 1);
  }
  await assert.rejects(
    async () => await sdkStream(await _expected("error_mid")).finalChatCompletion(),
    (error: unknown) => error instanceof OpenAI.APIError && error.type === "overloaded_error",
  );
});

Deno.test("without include_usage there is no usage chunk; the finish chunk and [DONE] still end the stream", async () => {
  const text = await translated([await loadGolden("text")], false);
  const chunks = text.split("\n\n").filter((part) => part.startsWith("data: {")).map((part) =>
    JSON.parse(part.slice(6))
  );
  assert.ok(chunks.every((chunk) => chunk.choices.length === 1 && !("usage" in chunk)));
  assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
  assert.ok(text.endsWith("data: [DONE]\n\n"));
});

Deno.test("a stream that ends before message_stop ends with an error chunk, not [DONE]", () => {
  const parts = run([
    { type: "message_start", message: { id: "msg_1", model: "claude", usage: { input_tokens: 3 } } },
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
  ]);
  assert.deepEqual(parts.at(-1), {
    kind: "chunk",
    data: {
      error: {
        message: "upstream ended the stream before the answer was finished",
        type: "api_error",
        param: null,
        code: null,
      },
    },
  });
});

Deno.test("tool input given whole at the block's start, as some gateways send it, arrives as arguments", () => {
  const parts = run([
    { type: "message_start", message: { id: "msg_1", model: "claude", usage: { input_tokens: 3 } } },
    {
      type: "content_block_start",
      index: 0,
      content_block: {
        type: "tool_use",
        id: "toolu_oa_ZnVuY3Rpb25zLmdldF90aW1lOjE",
        name: "f",
        input: { x: 1 },
      },
    },
    { type: "content_block_stop", index: 0 },
    { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } },
    { type: "message_stop" },
  ], true);
  const deltas = parts.flatMap((part) =>
    part.kind === "chunk" ? [(part.data.choices as { delta: unknown }[])[0]] : []
  );
  assert.deepEqual(deltas.slice(1, 3).map((choice) => (choice as { delta: unknown }).delta), [
    {
      tool_calls: [{
        index: 0,
        id: "functions.get_time:1",
        type: "function",
        function: { name: "f", arguments: "" },
      }],
    },
    { tool_calls: [{ index: 0, function: { arguments: '{"x":1}' } }] },
  ]);
  assert.deepEqual(parts.at(-1), { kind: "done" });
});

Deno.test("a tool without parameters gets arguments {}, with no deltas or only an empty one", () => {
  const toolStart = {
    type: "content_block_start",
    index: 0,
    content_block: { type: "tool_use", id: "toolu_01NOARGS", name: "get_time", input: {} },
  };
  const emptyDelta = {
    type: "content_block_delta",
    index: 0,
    delta: { type: "input_json_delta", partial_json: "" },
  };
  for (const deltas of [[], [emptyDelta]]) {
    const parts = run([
      { type: "message_start", message: { id: "msg_1", model: "claude", usage: { input_tokens: 3 } } },
      toolStart,
      ...deltas,
      { type: "content_block_stop", index: 0 },
      { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } },
      { type: "message_stop" },
    ]);
    const calls = parts.flatMap((part) =>
      part.kind === "chunk"
        ? (part.data.choices as { delta: { tool_calls?: unknown[] } }[])[0].delta.tool_calls ?? []
        : []
    ) as { function: { arguments: string } }[];
    assert.equal(calls.map((call) => call.function.arguments).join(""), "{}", `${deltas.length} deltas`);
  }
});

Deno.test("unknown events are skipped whatever their data; a known event that is no JSON object fails", () => {
  const translator = new AnthropicToOpenAI({ created: CREATED, includeUsage: false });
  for (const data of ['["future",1]', "not json", "7"]) {
    assert.deepEqual(translator.event({ event: "content_block_annotation", data }), [], data);
    assert.deepEqual(translator.event({ event: "message", data }), [], data);
  }
  assert.equal(translator.finished, false);
  const [failure] = translator.event({ event: "message_delta", data: '["x"]' });
  assert.match(JSON.stringify(failure), /not a JSON object/);
  assert.equal(translator.finished, true);
});

Deno.test("pings become nothing: the front door's own keep-alive sends OpenAI's comments", () => {
  const translator = new AnthropicToOpenAI({ created: CREATED, includeUsage: false });
  const [ping] = new SseDecoder().feed(encodeSseEvent("ping", { type: "ping" }));
  assert.deepEqual(translator.event(ping), []);
});

/** A thinking block, text and a tool call: what each translation of a whole Message must carry. */
const CHECKING_WEATHER = [
  { type: "thinking", thinking: "hmm", signature: "sig" },
  { type: "text", text: "Checking." },
  { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } },
];

Deno.test("an unstreamed Message becomes a chat.completion, its thinking reasoning_content and thinking_blocks", () => {
  assert.deepEqual(
    chatCompletionFor({
      id: "msg_1",
      model: "claude-sonnet-4-5",
      content: CHECKING_WEATHER,
      stop_reason: "tool_use",
      usage: {
        input_tokens: 10,
        output_tokens: 5,
        cache_read_input_tokens: 90,
        cache_creation_input_tokens: 0,
      },
    }, CREATED),
    {
      id: "chatcmpl-msg_1",
      object: "chat.completion",
      created: CREATED,
      model: "claude-sonnet-4-5",
      choices: [{
        index: 0,
        message: {
          role: "assistant",
          content: "Checking.",
          refusal: null,
          tool_calls: [{
            id: "toolu_01",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          }],
          reasoning_content: "hmm",
          thinking_blocks: [{ type: "thinking", thinking: "hmm", signature: "sig" }],
        },
        logprobs: null,
        finish_reason: "tool_calls",
      }],
      usage: {
        prompt_tokens: 100,
        completion_tokens: 5,
        total_tokens: 105,
        prompt_tokens_details: { cached_tokens: 90 },
      },
    },
  );
});

/** A completion with its tool calls' arguments parsed, for comparing answers whatever their spacing. */
function _parsedArguments(completion: OpenAI.ChatCompletion) {
  return {
    ...completion,
    choices: completion.choices.map((choice) => ({
      ...choice,
      message: {
        ...choice.message,
        reasoning_content: undefined,
        tool_calls: choice.message.tool_calls?.map((call) =>
          call.type === "function"
            ? { ...call, function: { ...call.function, arguments: JSON.parse(call.function.arguments) } }
            : call
        ),
      },
    })),
  };
}

/** A whole Message through {@linkcode AnthropicToOpenAI.message}, as the bytes the client gets. */
function wholeTranslated(message: Record<string, unknown>, includeUsage = true): string {
  const translator = new AnthropicToOpenAI({ created: CREATED, includeUsage });
  return new TextDecoder().decode(concatBytes(translator.message(message).map(encodeOpenAISse)));
}

Deno.test("a Message come whole to a streamed request reads, to OpenAI's SDK, as its stream would have", async () => {
  for (const name of GOLDEN_NAMES.filter((name) => name !== "error_mid")) {
    const { message } = assembleAnthropicStream(new SseDecoder().feed(await loadGolden(name)));
    const whole = await sdkStream(wholeTranslated(message)).finalChatCompletion();
    const streamed = await sdkStream(await _expected(name)).finalChatCompletion();
    // A whole Message holds tool input parsed: its arguments are the same JSON, re-serialized. The SDK
    // keeps only the last of the `reasoning_content` deltas (it sets the fields it does not know, as it
    // does DeepSeek's), so the two differ there by how the thinking was cut.
    assert.deepEqual(_parsedArguments(whole), _parsedArguments(streamed), name);
    const unstreamed = chatCompletionFor(message, CREATED) as unknown as OpenAI.ChatCompletion;
    assert.deepEqual(
      [
        whole.choices[0].message.content || null,
        whole.choices[0].message.tool_calls,
        whole.choices[0].finish_reason,
      ],
      [
        unstreamed.choices[0].message.content || null,
        unstreamed.choices[0].message.tool_calls,
        unstreamed.choices[0].finish_reason,
      ],
      `${name}: the same answer as unstreamed`,
    );
  }
});

Deno.test("a whole Message becomes the role chunk, its thinking, content and tool calls, the finish, the usage chunk and [DONE]", () => {
  const text = wholeTranslated({
    id: "msg_9",
    type: "message",
    role: "assistant",
    model: "claude-x",
    content: CHECKING_WEATHER,
    stop_reason: "tool_use",
    usage: { input_tokens: 5, output_tokens: 6 },
  });
  const envelope = {
    id: "chatcmpl-msg_9",
    object: "chat.completion.chunk",
    created: CREATED,
    model: "claude-x",
  };
  const choice = (delta: unknown, finish: string | null = null) => ({
    ...envelope,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const call = {
    index: 0,
    id: "toolu_01",
    type: "function",
    function: { name: "get_weather", arguments: "" },
  };
  assert.deepEqual(
    text.split("\n\n").filter(Boolean),
    [
      choice({ role: "assistant", content: "" }),
      choice({ reasoning_content: "hmm" }),
      choice({ thinking_blocks: [{ type: "thinking", thinking: "hmm", signature: "sig" }] }),
      choice({ content: "Checking." }),
      choice({ tool_calls: [call] }),
      choice({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] }),
      choice({}, "tool_calls"),
      {
        ...envelope,
        choices: [],
        usage: {
          prompt_tokens: 5,
          completion_tokens: 6,
          total_tokens: 11,
          prompt_tokens_details: { cached_tokens: 0 },
        },
      },
    ].map((data) => `data: ${JSON.stringify(data)}`).concat("data: [DONE]"),
  );
});

Deno.test("an error object come whole instead of a Message ends the stream with an error chunk", () => {
  const text = wholeTranslated({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
  assert.deepEqual(JSON.parse(text.slice("data: ".length)), {
    error: { message: "Overloaded", type: "overloaded_error", param: null, code: null },
  });
});

Deno.test("an error event and an error object come whole read their type and text alike, a missing or odd one too", () => {
  const cases: [unknown, { type: string; message: string }][] = [
    [{ type: "overloaded_error", message: "Overloaded" }, {
      type: "overloaded_error",
      message: "Overloaded",
    }],
    [{ type: 529, message: { text: "Overloaded" } }, { type: "api_error", message: "upstream failed" }],
    [{ message: "no type" }, { type: "api_error", message: "no type" }],
    ["Overloaded", { type: "api_error", message: "upstream failed" }],
  ];
  for (const [error, { type, message }] of cases) {
    const expected = { kind: "chunk", data: { error: { message, type, param: null, code: null } } };
    assert.deepEqual(run([{ type: "error", error }]), [expected], `event ${JSON.stringify(error)}`);
    const translator = new AnthropicToOpenAI({ created: CREATED, includeUsage: false });
    assert.deepEqual(
      translator.message({ type: "error", error }),
      [expected],
      `whole ${JSON.stringify(error)}`,
    );
  }
});
