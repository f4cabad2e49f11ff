/**
 * relay's `/v1/chat/completions` with the official `openai` SDK as the client (its ChatCompletionStream
 * checks roles, finish reasons and tool call shapes strictly), served by an Anthropic-format upstream
 * (the mock behind a real port) and by an OpenAI-compatible one (the fake, through the `openai`
 * provider, so the answer crosses both translations).
 */
import OpenAI from "openai";
import assert from "node:assert/strict";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { controlledStream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import {
  chunk,
  FAKE_OPENAI_KEY,
  FAKE_TEXT,
  FAKE_USAGE,
  openaiStream,
  startFakeOpenAI,
} from "../_helpers/fake_openai.ts";
import { startTestRelay, type TestRelay } from "../_helpers/relay.ts";

const TOKEN = "rly_openai_client_token_01";

const TOOLS: OpenAI.ChatCompletionTool[] = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather for a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
  { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } },
];

function client(relay: TestRelay, headers: Record<string, string> = {}) {
  return new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: TOKEN, maxRetries: 0, defaultHeaders: headers });
}

Deno.test("the OpenAI SDK streams text and tool calls through relay from an Anthropic-format upstream", async (t) => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const openai = client(relay);

  await t.step("text, with the usage chunk when asked for", async () => {
    const stream = openai.chat.completions.stream({
      model: "claude-sonnet-4-5",
      messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hello" }],
      stream_options: { include_usage: true },
    });
    const completion = await stream.finalChatCompletion();
    assert.equal(completion.choices[0].finish_reason, "stop");
    assert.match(completion.choices[0].message.content ?? "", /^Hello from relay's mock/);
    assert.ok(
      completion.usage && completion.usage.prompt_tokens > 0 && completion.usage.completion_tokens > 0,
    );
    const sent = JSON.parse(new TextDecoder().decode((await upstream.nextRequest()).body));
    assert.equal(sent.system, "Be brief.");
    assert.equal(sent.max_tokens, 4096, "a default, since Anthropic requires one");
  });

  await t.step("a tool call, then the answer once the client returns its result", async () => {
    const first = await openai.chat.completions.stream({
      model: "claude-sonnet-4-5",
      messages: [{ role: "user", content: "weather in Paris?" }],
      tools: TOOLS,
    }).finalChatCompletion();
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, "tool_calls");
    const call = choice.message.tool_calls?.[0];
    assert.ok(call?.type === "function");
    assert.match(call.id, /^toolu_mock_/);
    assert.ok(call.id.length <= 40);
    assert.deepEqual(JSON.parse(call.function.arguments), { city: "mock" });
    await upstream.nextRequest();

    const second = await openai.chat.completions.create({
      model: "claude-sonnet-4-5",
      messages: [
        { role: "user", content: "weather in Paris?" },
        choice.message,
        { role: "tool", tool_call_id: call.id, content: "sunny" },
      ],
      tools: TOOLS,
    });
    assert.equal(second.object, "chat.completion");
    assert.equal(second.choices[0].finish_reason, "stop");
    const sent = JSON.parse(new TextDecoder().decode((await upstream.nextRequest()).body));
    assert.deepEqual(sent.messages.slice(1), [
      {
        role: "assistant",
        content: [
          { type: "text", text: choice.message.content },
          { type: "tool_use", id: call.id, name: "get_weather", input: { city: "mock" } },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "sunny" }] },
    ]);
  });

  await t.step("an error event mid-stream fails the OpenAI stream", async () => {
    const stream = await client(relay, { "x-relay-mock": "fault=mid_stream_error, fault_after=4" }).chat
      .completions
      .create({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }], stream: true });
    const contents: string[] = [];
    await assert.rejects(
      async () => {
        for await (const part of stream) contents.push(part.choices[0]?.delta.content ?? "");
      },
      (error: unknown) => error instanceof OpenAI.APIError && error.type === "overloaded_error",
    );
    assert.ok(contents.join("").length > 0, "the text before the error arrived");
    await upstream.nextRequest();
  });

  await t.step("relay's own errors: bad input is a 400, a wrong token a 401, in OpenAI's shape", async () => {
    const response = await fetch(`${relay.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-5" }),
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: {
        message: "messages: field required (an array)",
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
    await assert.rejects(
      () =>
        new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: "rly_wrong_token_000", maxRetries: 0 }).chat
          .completions
          .create({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }),
      (error: unknown) => error instanceof OpenAI.AuthenticationError,
    );
  });

  await t.step(
    "upstream errors keep status and text, in OpenAI's shape (last: relay rests the key after)",
    async () => {
      await assert.rejects(
        () =>
          client(relay, { "x-relay-mock": "fault=rate_limit" }).chat.completions.create({
            model: "claude-sonnet-4-5",
            messages: [{ role: "user", content: "hi" }],
          }),
        (error: unknown) =>
          error instanceof OpenAI.RateLimitError && error.type === "rate_limit_error" &&
          /exceed the mock's rate limit/.test(error.message) && error.headers?.get("retry-after") === "1",
      );
      await upstream.nextRequest();
    },
  );
  await upstream.close();
});

Deno.test("the OpenAI SDK through relay to an OpenAI upstream: parallel tools and ids survive both translations", async () => {
  const upstream = startFakeOpenAI();
  const provider = createOpenAIProvider({ name: "openai", baseUrl: `${upstream.url}/v1` });
  await using relay = startTestRelay({ provider, keys: [FAKE_OPENAI_KEY], tokens: [TOKEN] });
  const openai = client(relay);

  const completion = await openai.chat.completions.stream({
    model: "gpt-fake-1",
    messages: [{ role: "user", content: "weather and time?" }],
    tools: TOOLS,
    stream_options: { include_usage: true },
  }).finalChatCompletion();
  assert.equal(completion.choices[0].finish_reason, "tool_calls");
  assert.deepEqual(
    completion.choices[0].message.tool_calls?.map((call) =>
      call.type === "function" && [call.id, call.function]
    ),
    [
      ["call_fake_0001", { name: "get_weather", arguments: '{"city":"Paris"}' }],
      ["functions.get_time:1", { name: "get_time", arguments: "" }],
    ],
  );
  assert.deepEqual(completion.usage, {
    prompt_tokens: FAKE_USAGE.prompt_tokens,
    completion_tokens: FAKE_USAGE.completion_tokens,
    total_tokens: FAKE_USAGE.total_tokens,
    prompt_tokens_details: { cached_tokens: 1024 },
  });
  await upstream.nextRequest();

  const answer = await openai.chat.completions.create({
    model: "gpt-fake-1",
    messages: [
      { role: "user", content: "weather and time?" },
      completion.choices[0].message,
      { role: "tool", tool_call_id: "call_fake_0001", content: "sunny" },
      { role: "tool", tool_call_id: "functions.get_time:1", content: "noon" },
    ],
    tools: TOOLS,
  });
  assert.equal(answer.choices[0].message.content, FAKE_TEXT.join(""));
  const sent = JSON.parse(new TextDecoder().decode((await upstream.nextRequest()).body));
  assert.deepEqual(sent.messages.slice(2).map((message: { tool_call_id?: string }) => message.tool_call_id), [
    "call_fake_0001",
    "functions.get_time:1",
  ]);
  await upstream.close();
});

Deno.test("an OpenAI upstream's error chunk reaches the OpenAI client as an error chunk that ends the stream", async () => {
  const stream = controlledStream();
  const upstream = startFakeOpenAI(() => stream.response());
  const provider = createOpenAIProvider({ name: "openai", baseUrl: `${upstream.url}/v1` });
  await using relay = startTestRelay({ provider, keys: [FAKE_OPENAI_KEY], tokens: [TOKEN] });
  const response = await fetch(`${relay.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-fake-1", messages: [{ role: "user", content: "hi" }], stream: true }),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  stream.push(`data: ${JSON.stringify(chunk({ role: "assistant", content: "" }))}\n\n`);
  stream.push(`data: ${JSON.stringify(chunk({ content: "partial" }))}\n\n`);
  stream.push(`data: ${JSON.stringify({ error: { message: "model crashed", type: "server_error" } })}\n\n`);
  const text = await response.text();
  const lines = text.split("\n\n").filter(Boolean);
  assert.equal(lines.length, 3, text);
  assert.deepEqual(JSON.parse(lines[0].slice(6)).choices[0].delta, { role: "assistant", content: "" });
  assert.deepEqual(JSON.parse(lines[1].slice(6)).choices[0].delta, { content: "partial" });
  assert.deepEqual(JSON.parse(lines[2].slice(6)), {
    error: { message: "model crashed", type: "api_error", param: null, code: null },
  });
  await stream.cancelled;
  await upstream.close();
});

Deno.test("a non-streamed answer from an OpenAI upstream comes back as a chat.completion", async () => {
  const upstream = startFakeOpenAI(() =>
    openaiStream([chunk({ role: "assistant", content: "" }), chunk({ content: "only" }, "length"), "[DONE]"])
  );
  const provider = createOpenAIProvider({ name: "openai", baseUrl: `${upstream.url}/v1` });
  await using relay = startTestRelay({ provider, keys: [FAKE_OPENAI_KEY], tokens: [TOKEN] });
  const completion = await client(relay).chat.completions.stream({
    model: "gpt-fake-1",
    messages: [{ role: "user", content: "hi" }],
  }).finalChatCompletion();
  assert.equal(completion.choices[0].finish_reason, "length");
  assert.equal(completion.choices[0].message.content, "only");
  await upstream.close();
});
