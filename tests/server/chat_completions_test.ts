/**
 * relay's `/v1/chat/completions` with the official `openai` SDK as the client (its ChatCompletionStream
 * checks roles, finish reasons and tool call shapes strictly), served by an Anthropic-format upstream
 * (the mock behind a real port) and by an OpenAI-compatible one (the fake, through the `openai`
 * provider, so the answer crosses both translations).
 */
import OpenAI from "openai";
import assert from "node:assert/strict";
import { rawHttp } from "../_helpers/raw_http.ts";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import type { Provider } from "../../src/providers/types.ts";
import { DEFAULT_MAX_TOKENS } from "../../src/stream/openai_to_anthropic_request.ts";
import { controlledStream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import {
  chunk,
  FAKE_OPENAI_KEY,
  FAKE_TEXT,
  FAKE_USAGE,
  openaiStream,
  startFakeOpenAI,
} from "../_helpers/fake_openai.ts";
import type { LedgerEntry } from "../../src/ledger/entry.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";
import { largeBody } from "../_helpers/large_body.ts";
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
    assert.equal(sent.max_tokens, DEFAULT_MAX_TOKENS, "a default, since Anthropic requires one");
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
        param: "messages",
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
      // Called without arguments upstream: `{}`, as OpenAI sends it, for clients that parse them.
      ["functions.get_time:1", { name: "get_time", arguments: "{}" }],
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

/** A raw `POST /v1/chat/completions`, for what the SDK would hide: statuses, bodies, the stream's end. */
function postChat(relay: TestRelay, body: BodyInit | object, signal?: AbortSignal): Promise<Response> {
  return fetch(`${relay.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: typeof body === "string" || body instanceof Uint8Array ? body as BodyInit : JSON.stringify(body),
    signal,
  });
}

const HELLO = { model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }], stream: true };

Deno.test("a streamed answer read to its end is logged and recorded as complete", async () => {
  const upstream = startFakeUpstream();
  const recorded: LedgerEntry[] = [];
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    tokens: [TOKEN],
    ledger: { record: (entry) => void recorded.push(entry) },
  });
  const text = await (await postChat(relay, HELLO)).text();
  assert.ok(text.endsWith("data: [DONE]\n\n"), text);
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.path, log.status, log.outcome], ["/v1/messages", 200, "complete"]);
  assert.deepEqual(recorded.map((entry) => entry.outcome), ["complete"]);
  await upstream.close();
});

Deno.test("the OpenAI stream ends with relay's answer at [DONE], complete, though the upstream keeps its connection open", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response());
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const answer = postChat(relay, HELLO);
  stream.push(ANSWER_EVENTS);
  const reader = (await answer).body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.endsWith("data: [DONE]\n\n")) text += (await reader.read()).value;
  assert.deepEqual(await reader.read(), { done: true, value: undefined });
  await stream.cancelled;
  assert.equal((await relay.nextRequestLog()).outcome, "complete");
  await upstream.close();
});

Deno.test("an upstream stalled mid-event: the front door's own keep-alive fills the silence between chunks", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response());
  const clock = new FakeClock();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN], clock, keepaliveMs: 300 });
  const answer = postChat(relay, HELLO);
  const firstEvent = ANSWER_EVENTS.indexOf("\n\n") + 2;
  // message_start, then half of the next event: relay's /v1/messages cannot ping in the middle of it.
  stream.push(ANSWER_EVENTS.slice(0, firstEvent + 10));
  const reader = (await answer).body!.pipeThrough(new TextDecoderStream()).getReader();
  assert.match((await reader.read()).value ?? "", /"role":"assistant"/);
  // Both wait for more: relay's /v1/messages for the upstream, the front door for its translation.
  assert.ok(
    await settlesWithin(clock.whenArmed(300, 2), 5_000),
    "the front door keeps the stream alive itself",
  );
  clock.advance(300);
  assert.equal((await reader.read()).value, ": ping\n\n");
  stream.push(ANSWER_EVENTS.slice(firstEvent + 10));
  stream.end();
  let text = "";
  for (let read = await reader.read(); !read.done; read = await reader.read()) text += read.value;
  assert.ok(text.endsWith("data: [DONE]\n\n"));
  assert.equal((await relay.nextRequestLog()).outcome, "complete");
  await upstream.close();
});

Deno.test("a client that leaves before its unstreamed answer is whole is logged as client_closed, not an upstream failure", async () => {
  // The upstream sends message_start, then nothing: relay has committed once it asks for more.
  const stream = controlledStream();
  stream.push(ANSWER_EVENTS.slice(0, ANSWER_EVENTS.indexOf("\n\n") + 2));
  const provider: Provider = { name: "stalls", type: "test", send: () => Promise.resolve(stream.response()) };
  await using relay = startTestRelay({ provider, tokens: [TOKEN] });
  const client = new AbortController();
  const answer = postChat(relay, { ...HELLO, stream: false }, client.signal);
  await stream.whenRead();
  client.abort();
  await assert.rejects(answer);
  const line = await relay.nextRequestLog();
  assert.deepEqual([line.outcome, line.errorType], ["client_closed", undefined]);
  await stream.cancelled;
});

Deno.test("a client that leaves mid-stream is logged as client_closed and the upstream is cancelled", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response());
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const client = new AbortController();
  const answer = postChat(relay, HELLO, client.signal);
  stream.push(ANSWER_EVENTS.slice(0, ANSWER_EVENTS.indexOf("event: message_delta")));
  const reader = (await answer).body!.pipeThrough(new TextDecoderStream()).getReader();
  assert.match((await reader.read()).value ?? "", /"role":"assistant"/);
  client.abort();
  await stream.cancelled;
  assert.equal((await relay.nextRequestLog()).outcome, "client_closed");
  await upstream.close();
});

Deno.test("an upstream error whose body breaks off keeps its status, in OpenAI's shape, and is logged once", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() =>
    stream.response({ status: 400, headers: { "content-type": "application/json" } })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  stream.push('{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too');
  const answer = postChat(relay, { ...HELLO, stream: false });
  await stream.whenRead();
  stream.fail(new Error("connection reset"));
  const response = await answer;
  assert.equal(response.status, 400);
  const { error } = await response.json();
  assert.equal(error.type, "invalid_request_error");
  assert.match(error.message, /^upstream answered HTTP 400, but its error body was cut off: /);
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.status, log.outcome], [400, "upstream_failed"]);
  assert.deepEqual(relay.logs.filter((line) => line.msg === "unhandled"), []);
  await upstream.close();
});

Deno.test("an unstreamed answer that breaks off is a 502 saying it was cut off", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() =>
    stream.response({ headers: { "content-type": "application/json" } })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  stream.push('{"id":"msg_1","type":"message","content":[{"type":"text","text":"Hel');
  const answer = postChat(relay, { ...HELLO, stream: false });
  await stream.whenRead();
  stream.fail(new Error("connection reset"));
  const response = await answer;
  assert.equal(response.status, 502);
  const { error } = await response.json();
  assert.match(error.message, /^the upstream's answer was cut off: upstream upstream failed: /);
  assert.deepEqual(relay.logs.filter((line) => line.msg === "unhandled"), []);
  await upstream.close();
});

Deno.test("an event too large to translate ends the stream with an error chunk and ends relay's own request", async () => {
  const event = ANSWER_EVENTS.split("\n\n").find((line) => line.includes("text_delta"))!;
  const answer = largeBody(40, {
    head: ANSWER_EVENTS.slice(0, ANSWER_EVENTS.indexOf(event)) + event.replace('"Hi"', '"'),
  });
  await using relay = startTestRelay({
    provider: {
      name: "large",
      type: "test",
      send: () =>
        Promise.resolve(new Response(answer.body, { headers: { "content-type": "text/event-stream" } })),
    },
    tokens: [TOKEN],
  });
  const text = await (await postChat(relay, HELLO)).text();
  const last = JSON.parse(text.trimEnd().split("\n\n").at(-1)!.slice("data: ".length));
  assert.equal(last.error.type, "api_error");
  assert.match(last.error.message, /^relay could not read the answer: .*max buffer size/);
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.path, log.outcome], ["/v1/messages", "relay_error"], "its slot is free again");
  assert.match(
    String(log.error),
    /^relay could not read the answer: .*max buffer size/,
    "relay broke it off",
  );
  assert.ok(answer.cancelled && answer.unread > 0, "the upstream's answer is never read to its end");
  assert.deepEqual(relay.logs.filter((line) => line.msg === "unhandled"), []);
});

Deno.test("an unstreamed answer over 32 MiB is a 502 saying so, read no further", async () => {
  const answer = largeBody(33, {
    head: '{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"',
    tail: '"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}',
  });
  await using relay = startTestRelay({
    provider: {
      name: "large",
      type: "test",
      send: () =>
        Promise.resolve(new Response(answer.body, { headers: { "content-type": "application/json" } })),
    },
    tokens: [TOKEN],
  });
  const response = await postChat(relay, { ...HELLO, stream: false });
  const { error } = await response.json();
  assert.equal(response.status, 502);
  assert.deepEqual(error, {
    message: "the upstream's answer is over 32 MiB, more than relay translates",
    type: "api_error",
    param: null,
    code: null,
  });
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.error], [
    "relay_error",
    "the answer is over 32 MiB, more than relay reads whole",
  ], "relay broke it off, not its client");
  assert.ok(answer.cancelled && answer.unread > 0, "the upstream's answer is never read to its end");
});

/** A whole Anthropic Message, as a server that ignores `stream` answers a streamed request. */
const WHOLE_MESSAGE = {
  id: "msg_9",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-5",
  content: [
    { type: "text", text: "Checking." },
    { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } },
  ],
  stop_reason: "tool_use",
  stop_sequence: null,
  usage: { input_tokens: 5, output_tokens: 6 },
};

Deno.test("a streamed request answered with a whole Message gets the chunks its stream would have, logged complete", async () => {
  const upstream = startFakeUpstream(() => Response.json(WHOLE_MESSAGE));
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const stream = client(relay).chat.completions.stream({
    model: "claude-sonnet-4-5",
    messages: [{ role: "user", content: "weather in Paris?" }],
    tools: TOOLS,
    stream_options: { include_usage: true },
  });
  const roles: unknown[] = [];
  stream.on("chunk", (part) => part.choices[0]?.delta.role && roles.push(part.choices[0].delta.role));
  const completion = await stream.finalChatCompletion();
  assert.deepEqual(roles, ["assistant"]);
  assert.equal(completion.id, "chatcmpl-msg_9");
  assert.equal(completion.choices[0].finish_reason, "tool_calls");
  assert.equal(completion.choices[0].message.content, "Checking.");
  assert.deepEqual(completion.choices[0].message.tool_calls, [
    { id: "toolu_01", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
  ]);
  assert.deepEqual(completion.usage, {
    prompt_tokens: 5,
    completion_tokens: 6,
    total_tokens: 11,
    prompt_tokens_details: { cached_tokens: 0 },
  });
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.path, log.status, log.outcome], ["/v1/messages", 200, "complete"]);
  await upstream.close();
});

Deno.test("an unstreamed request answered 200 with an Anthropic error body gets that error in OpenAI's shape, with its status", async () => {
  const overloaded = { type: "error", error: { type: "overloaded_error", message: "Overloaded" } };
  await using relay = startTestRelay({
    provider: { name: "whole", type: "test", send: () => Promise.resolve(Response.json(overloaded)) },
    tokens: [TOKEN],
  });
  const response = await postChat(relay, { ...HELLO, stream: false });
  assert.equal(response.status, 529);
  assert.deepEqual(await response.json(), {
    error: { message: "Overloaded", type: "overloaded_error", param: null, code: null },
  });
});

Deno.test("a whole Message to a streamed request that breaks off ends the stream with an error chunk saying so", async () => {
  // A provider that passes such an answer on as it came (Bedrock's, Vertex's): the Anthropic-format
  // adapter reads it whole itself, so one broken off is a failure before the answer.
  const stream = controlledStream();
  const upstream: Provider = {
    name: "upstream",
    type: "test",
    send: () => Promise.resolve(stream.response({ headers: { "content-type": "application/json" } })),
  };
  await using relay = startTestRelay({ provider: upstream, tokens: [TOKEN] });
  stream.push(JSON.stringify(WHOLE_MESSAGE).slice(0, 60));
  const answer = postChat(relay, HELLO);
  await stream.whenRead();
  stream.fail(new Error("connection reset"));
  const response = await answer;
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const parts = (await response.text()).split("\n\n").filter(Boolean);
  assert.equal(parts.length, 1, "nothing of half a Message");
  const { error } = JSON.parse(parts[0].slice("data: ".length));
  assert.equal(error.type, "api_error");
  assert.match(error.message, /^upstream upstream failed: /);
  assert.equal((await relay.nextRequestLog()).outcome, "upstream_failed");
  assert.deepEqual(relay.logs.filter((line) => line.msg === "unhandled"), []);
});

Deno.test("a whole Message to a streamed request that is not JSON, or over 32 MiB, ends the stream with an error chunk", async () => {
  const answers = [
    () => new Response('{"id":"msg_1",', { headers: { "content-type": "application/json" } }),
    () =>
      new Response(largeBody(33, { head: '{"id":"msg_1","content":[{"type":"text","text":"' }).body, {
        headers: { "content-type": "application/json" },
      }),
  ];
  for (
    const [answer, message] of [
      [answers[0], /^upstream whole ended its answer before its JSON was whole$/],
      [answers[1], /^the upstream's answer is over 32 MiB, more than relay translates$/],
    ] as const
  ) {
    await using relay = startTestRelay({
      provider: { name: "whole", type: "test", send: () => Promise.resolve(answer()) },
      tokens: [TOKEN],
    });
    const parts = (await (await postChat(relay, HELLO)).text()).split("\n\n").filter(Boolean);
    assert.equal(parts.length, 1);
    const { error } = JSON.parse(parts[0].slice("data: ".length));
    assert.equal(error.type, "api_error");
    assert.match(error.message, message);
  }
});

/** A whole Anthropic answer, as one chunk. */
const ANSWER_EVENTS = [
  ["message_start", {
    type: "message_start",
    message: {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [],
      stop_reason: null,
      usage: { input_tokens: 3, output_tokens: 1 },
    },
  }],
  ["content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  }],
  ["content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "Hi" },
  }],
  ["content_block_stop", { type: "content_block_stop", index: 0 }],
  ["message_delta", {
    type: "message_delta",
    delta: { stop_reason: "end_turn" },
    usage: { output_tokens: 2 },
  }],
  ["message_stop", { type: "message_stop" }],
].map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("");

Deno.test("a field the front door reads with the wrong type is a 400 naming it, in OpenAI's shape", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const user = (content: unknown) => ({ messages: [{ role: "user", content }] });
  const assistant = (fields: Record<string, unknown>) => ({ messages: [{ role: "assistant", ...fields }] });
  const call = (fields: Record<string, unknown>) => assistant({ tool_calls: [{ id: "call_1", ...fields }] });
  const tool = (fn: Record<string, unknown>) => ({
    tools: [{ type: "function", function: { name: "f", ...fn } }],
  });
  const cases: [Record<string, unknown>, string, string][] = [
    [{ model: 5 }, "model", "model: field required (a non-empty string)"],
    [{ messages: "hi" }, "messages", "messages: field required (an array)"],
    [{ stream: "yes" }, "stream", "stream: expected a boolean, got a string"],
    [{ stream_options: true }, "stream_options", "stream_options: expected an object, got true"],
    [
      { stream: true, stream_options: { include_usage: "yes" } },
      "stream_options.include_usage",
      "stream_options.include_usage: expected a boolean, got a string",
    ],
    [{ temperature: "hot" }, "temperature", "temperature: expected a number, got a string"],
    [{ top_p: [0.9] }, "top_p", "top_p: expected a number, got an array"],
    [{ stop: 5 }, "stop", "stop: expected a string or an array of strings, got 5"],
    [{ stop: ["END", 5] }, "stop", "stop: expected a string or an array of strings, got an array"],
    [{ user: 42 }, "user", "user: expected a string, got 42"],
    [{ max_tokens: "10" }, "max_tokens", "max_tokens: expected a positive integer, got a string"],
    [
      { max_completion_tokens: 1.5, max_tokens: 10 },
      "max_completion_tokens",
      "max_completion_tokens: expected a positive integer, got 1.5",
    ],
    [
      { max_completion_tokens: 10, max_tokens: 0 },
      "max_tokens",
      "max_tokens: expected a positive integer, got 0",
    ],
    [{ tools: "x" }, "tools", "tools: expected an array, got a string"],
    [tool({ name: 5 }), "tools[0].function.name", "tools[0].function.name: expected a string, got 5"],
    [
      tool({ description: ["a"] }),
      "tools[0].function.description",
      "tools[0].function.description: expected a string, got an array",
    ],
    [
      tool({ parameters: "{}" }),
      "tools[0].function.parameters",
      "tools[0].function.parameters: expected an object, got a string",
    ],
    [
      { tool_choice: "sometimes" },
      "tool_choice",
      'tool_choice: expected "none", "auto", "required" or {type: "function", function: {name}}, got "sometimes"',
    ],
    [
      { tool_choice: { type: "function", function: { name: 5 } } },
      "tool_choice",
      'tool_choice: expected "none", "auto", "required" or {type: "function", function: {name}}, got an object',
    ],
    [
      { parallel_tool_calls: "no" },
      "parallel_tool_calls",
      "parallel_tool_calls: expected a boolean, got a string",
    ],
    [{ messages: [5] }, "messages[0]", "messages[0]: expected an object, got 5"],
    [
      { messages: [{ content: "hi" }] },
      "messages[0].role",
      "messages[0].role: expected a string, got nothing",
    ],
    [
      user(5),
      "messages[0].content",
      "messages[0].content: expected a string or an array of parts, got 5",
    ],
    [
      user([{ type: "text", text: 5 }]),
      "messages[0].content[0].text",
      "messages[0].content[0].text: expected a string, got 5",
    ],
    [
      user([{ type: "image_url", image_url: "https://example.com/cat.png" }]),
      "messages[0].content[0].image_url",
      "messages[0].content[0].image_url: expected an object, got a string",
    ],
    [
      user([{ type: "image_url", image_url: { url: null } }]),
      "messages[0].content[0].image_url.url",
      "messages[0].content[0].image_url.url: expected a string, got null",
    ],
    [
      user([{ type: "file", file: { file_data: 5 } }]),
      "messages[0].content[0].file.file_data",
      "messages[0].content[0].file.file_data: expected a string, got 5",
    ],
    [
      { messages: [{ role: "system", content: [{ type: "text", text: {} }] }] },
      "messages[0].content[0].text",
      "messages[0].content[0].text: expected a string, got an object",
    ],
    [
      assistant({ content: "ok", tool_calls: {} }),
      "messages[0].tool_calls",
      "messages[0].tool_calls: expected an array, got an object",
    ],
    [
      assistant({ tool_calls: [{ function: { name: "f" } }] }),
      "messages[0].tool_calls[0].id",
      "messages[0].tool_calls[0].id: expected a string, got nothing",
    ],
    [
      call({ function: { name: "f", arguments: { city: "Paris" } } }),
      "messages[0].tool_calls[0].function.arguments",
      "messages[0].tool_calls[0].function.arguments: expected a string, got an object",
    ],
    [
      { messages: [{ role: "tool", tool_call_id: 7, content: "sunny" }] },
      "messages[0].tool_call_id",
      "messages[0].tool_call_id: expected a string, got 7",
    ],
  ];
  for (const [fields, param, message] of cases) {
    const response = await postChat(relay, { ...HELLO, stream: false, ...fields });
    assert.equal(response.status, 400, JSON.stringify(fields));
    assert.deepEqual(await response.json(), {
      error: { message, type: "invalid_request_error", param, code: null },
    }, JSON.stringify(fields));
  }
  assert.equal(upstream.requests.length, 0, "nothing was sent on");
  await upstream.close();
});

Deno.test("a user message with no text is a 400 naming it, in OpenAI's shape, and goes nowhere", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const history = [{ role: "user", content: "a" }, { role: "assistant", content: "b" }];
  for (const content of ["", [{ type: "text", text: "" }]]) {
    const response = await postChat(relay, { ...HELLO, messages: [...history, { role: "user", content }] });
    assert.equal(response.status, 400, JSON.stringify(content));
    assert.deepEqual(await response.json(), {
      error: {
        message:
          "messages[2].content: a user message must not be empty or blank (Anthropic refuses text without non-whitespace characters)",
        type: "invalid_request_error",
        param: "messages[2].content",
        code: null,
      },
    });
  }
  assert.equal(upstream.requests.length, 0);
  await upstream.close();
});

Deno.test("no message at all is relay's own 400 naming messages, in OpenAI's shape, and goes nowhere", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const response = await postChat(relay, { ...HELLO, messages: [] });
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), {
    error: {
      message: "messages: at least one message is required",
      type: "invalid_request_error",
      param: "messages",
      code: null,
    },
  });
  assert.equal(upstream.requests.length, 0);
  await upstream.close();
});

Deno.test("a body that is not UTF-8 is a 400, as on /v1/messages, and goes nowhere", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const json = new TextEncoder().encode(
    JSON.stringify({ ...HELLO, messages: [{ role: "user", content: "é" }] }),
  );
  // "é" is C3 A9; a lone C3 is no UTF-8 at all.
  const body = json.filter((byte) => byte !== 0xa9);
  const response = await postChat(relay, body);
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), {
    error: {
      message: "request body is not valid JSON: it is not valid UTF-8",
      type: "invalid_request_error",
      param: null,
      code: null,
    },
  });
  assert.equal(upstream.requests.length, 0);
  await upstream.close();
});

Deno.test("a body over server.max_body_size is a 413 of type request_too_large, as on /v1/messages", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN], maxBodyBytes: 1024 });
  const response = await postChat(relay, {
    ...HELLO,
    messages: [{ role: "user", content: "x".repeat(2048) }],
  });
  assert.equal(response.status, 413);
  const { error } = await response.json();
  assert.equal(error.type, "request_too_large");
  assert.match(error.message, /^request body is over 1 KiB \(server\.max_body_size\)/);
  assert.equal(upstream.requests.length, 0);
  await upstream.close();
});

Deno.test("a model name no model has is a 400 naming the model field, as a missing one is", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  for (const model of ["a\u0001b", "x".repeat(300), "claude-\ud800", ""]) {
    const response = await postChat(relay, { ...HELLO, model });
    assert.equal(response.status, 400, JSON.stringify(model));
    assert.equal((await response.json()).error.param, "model", JSON.stringify(model));
  }
  assert.equal(upstream.requests.length, 0);
  await upstream.close();
});

Deno.test("a body of exactly server.max_body_size is served, though its translation is a few bytes more", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN], maxBodyBytes: 1024 });
  const shell = JSON.stringify({ ...HELLO, messages: [{ role: "user", content: "" }] });
  const body = JSON.stringify({
    ...HELLO,
    messages: [{ role: "user", content: "x".repeat(1024 - shell.length) }],
  });
  assert.equal(body.length, 1024);
  const response = await postChat(relay, body);
  assert.equal(response.status, 200, await response.clone().text());
  await response.body?.cancel();
  assert.ok((await upstream.nextRequest()).body.byteLength > 1024, "the translation was over the limit");
  await upstream.close();
});

Deno.test("a body that is not JSON is a 400 that quotes none of it, to the client or in the log", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  // V8 quotes a short body whole, and a longer one around the fault.
  for (const body of ["hunter2", '{"model":"m","messages":[],"password": hunter2 and more}']) {
    const response = await postChat(relay, body);
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: {
        message: "request body is not valid JSON: Unexpected token 'h'",
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
  }
  assert.doesNotMatch(JSON.stringify(relay.logs), /hunter2/);
  await upstream.close();
});

Deno.test("a Host header that is no valid authority is served as /v1/messages serves it, not a 500", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const body = JSON.stringify({ ...HELLO, stream: false });
  // `fetch` sets a valid Host of its own: only a raw connection sends these.
  const send = (host: string) =>
    rawHttp(
      relay.url,
      `POST /v1/chat/completions HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${TOKEN}\r\n` +
        `content-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );
  // A loopback name, which relay on 127.0.0.1 answers to, with a port no URL takes.
  for (const host of ["localhost:99999", "localhost:abc", "[::1]:abc", "127.0.0.1:%zz"]) {
    const answer = await send(host);
    assert.match(answer, /^HTTP\/1\.1 200 /, host);
    assert.match(answer, /"object":"chat\.completion"/, host);
    const log = await relay.nextRequestLog();
    assert.deepEqual([log.path, log.status, log.outcome], ["/v1/messages", 200, "complete"]);
  }
  // Any other name is refused before the front door (see host_guard_test.ts), in OpenAI's shape.
  for (const host of ["a b", "x:99999", "[::1", "x:abc", "%zz"]) {
    const answer = await send(host);
    assert.match(answer, /^HTTP\/1\.1 403 /, host);
    assert.match(answer, /"param":null/, host);
  }
  assert.deepEqual(relay.logs.filter((line) => line.msg === "unhandled"), []);
  await upstream.close();
});
