/**
 * relay with an OpenAI-compatible upstream, end to end over real HTTP: the official Anthropic SDK as the
 * client (it parses strictly), relay in-process with the `openai` provider, and a fake upstream that
 * streams realistic Chat Completions chunks.
 */
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { ConcurrencyLimiter } from "../../src/routing/concurrency.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { Router } from "../../src/routing/router.ts";
import { estimateTokens } from "../../src/routing/token_estimate.ts";
import { startServer } from "../../src/server/serve.ts";
import { createLogger } from "../../src/util/logger.ts";
import { SseDecoder, type SseEvent } from "../../src/stream/sse_decode.ts";
import { type ControlledStream, controlledStream } from "../_helpers/fake_upstream.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import {
  chunk,
  FAKE_OPENAI_KEY,
  FAKE_TEXT,
  FAKE_USAGE,
  openaiError,
  openaiStream,
  startFakeOpenAI,
  usageChunk,
} from "../_helpers/fake_openai.ts";
import { startTestRelay, TEST_ROUTING, TEST_TIMEOUTS } from "../_helpers/relay.ts";
import { assembleAnthropicStream, assembledResponse } from "../_helpers/anthropic_grammar.ts";

const TOOLS = [
  {
    name: "get_weather",
    description: "Weather for a city",
    input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
  },
  {
    name: "get_time",
    description: "The time here",
    input_schema: { type: "object" as const, properties: {} },
  },
];

function setup(handler?: Parameters<typeof startFakeOpenAI>[0]) {
  const upstream = startFakeOpenAI(handler);
  const provider = createOpenAIProvider({ name: "openai", baseUrl: `${upstream.url}/v1` });
  const relay = startTestRelay({ provider, keys: [FAKE_OPENAI_KEY], models: { "claude-*": "gpt-fake-1" } });
  const anthropic = new Anthropic({ baseURL: relay.url, apiKey: "unused", maxRetries: 0 });
  return {
    upstream,
    relay,
    anthropic,
    async [Symbol.asyncDispose]() {
      await relay[Symbol.asyncDispose]();
      await upstream.close();
    },
  };
}

const ASK = {
  model: "claude-sonnet-4-5",
  max_tokens: 256,
  messages: [{ role: "user" as const, content: "hi" }],
};

/** Asks a test's fake upstream to answer a stream whole, as servers that ignore `stream` do. */
const WHOLE_ANSWER = "x-test-whole-answer";

Deno.test("the Anthropic SDK streams text from an OpenAI upstream, usage with cached tokens included", async () => {
  await using s = setup();
  const message = await s.anthropic.messages.stream(ASK).finalMessage();
  assert.deepEqual(message.content, [{ type: "text", text: FAKE_TEXT.join("") }]);
  assert.equal(message.stop_reason, "end_turn");
  assert.equal(message.model, "gpt-fake-1");
  assert.equal(message.usage.input_tokens, 1200 - 1024);
  assert.equal(message.usage.cache_read_input_tokens, 1024);
  assert.equal(message.usage.output_tokens, FAKE_USAGE.completion_tokens);
  assert.equal((await s.relay.nextRequestLog()).usage_estimated, undefined, "the upstream's own figures");

  const seen = await s.upstream.nextRequest();
  assert.equal(seen.path, "/v1/chat/completions");
  assert.equal(seen.headers.get("authorization"), `Bearer ${FAKE_OPENAI_KEY}`);
  assert.equal(seen.headers.get("anthropic-version"), null, "Anthropic headers stay on relay's side");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(seen.body)), {
    model: "gpt-fake-1",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 256,
    stream: true,
    stream_options: { include_usage: true },
  });
});

Deno.test("parallel tool calls arrive as tool_use blocks whose ids map back to the upstream's", async () => {
  await using s = setup();
  const message = await s.anthropic.beta.messages.stream({ ...ASK, tools: TOOLS }).finalMessage();
  assert.equal(message.stop_reason, "tool_use");
  assert.deepEqual(
    message.content.map((block) => block.type === "tool_use" ? [block.name, block.input] : block.type),
    [["get_weather", { city: "Paris" }], ["get_time", {}]],
  );
  const ids = message.content.map((block) => block.type === "tool_use" ? block.id : "");
  assert.equal(ids[0], "call_fake_0001", "an id Anthropic accepts passes unchanged");
  assert.match(ids[1], /^toolu_oa_[A-Za-z0-9_-]+$/, "functions.get_time:1 is encoded");
  await s.upstream.nextRequest();

  // Claude Code answers the calls; the upstream must see its own ids again.
  const followUp = await s.anthropic.messages.create({
    ...ASK,
    tools: TOOLS,
    messages: [
      ...ASK.messages,
      { role: "assistant", content: message.content.filter((block) => block.type === "tool_use") },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: ids[0], content: "sunny" },
          { type: "tool_result", tool_use_id: ids[1], content: "12:00", is_error: false },
          { type: "text", text: "thanks" },
        ],
      },
    ],
  });
  assert.equal(followUp.stop_reason, "end_turn");
  const history = JSON.parse(new TextDecoder().decode((await s.upstream.nextRequest()).body)).messages;
  assert.deepEqual(history.slice(1), [
    {
      role: "assistant",
      content: null,
      tool_calls: [
        {
          id: "call_fake_0001",
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Paris"}' },
        },
        { id: "functions.get_time:1", type: "function", function: { name: "get_time", arguments: "{}" } },
      ],
    },
    { role: "tool", tool_call_id: "call_fake_0001", content: "sunny" },
    { role: "tool", tool_call_id: "functions.get_time:1", content: "12:00" },
    { role: "user", content: "thanks" },
  ]);
});

Deno.test("an unstreamed request gets an Anthropic Message; count_tokens is a 404 not_found_error", async () => {
  await using s = setup();
  const message = await s.anthropic.messages.create({ ...ASK, tools: TOOLS });
  assert.equal(message.stop_reason, "tool_use");
  assert.equal(message.content.length, 2);
  await assert.rejects(
    () => s.anthropic.messages.countTokens({ model: ASK.model, messages: ASK.messages }),
    (error: unknown) => error instanceof Anthropic.NotFoundError,
  );
});

Deno.test("an upstream that reports no usage is answered and logged with relay's estimate, said to be one", async () => {
  const words = "x".repeat(70);
  const args = '{"city":"Paris"}';
  const call = {
    index: 0,
    id: "call_1",
    type: "function",
    function: { name: "get_weather", arguments: args },
  };
  await using s = setup(async (request) => {
    const { stream } = JSON.parse(new TextDecoder().decode(await request.bytes()));
    if (!stream) {
      return Response.json({
        id: "chatcmpl-1",
        object: "chat.completion",
        choices: [{
          index: 0,
          message: { role: "assistant", content: words, tool_calls: [call] },
          finish_reason: "tool_calls",
        }],
      });
    }
    return openaiStream([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: words }),
      chunk({ tool_calls: [call] }),
      chunk({}, "tool_calls"),
      "[DONE]",
    ]);
  });
  const body = { ...ASK, tools: TOOLS };
  const input = estimateTokens(body).input;
  // 70 characters, the tool's name and its arguments, at 3.5 characters a token.
  const output = Math.ceil((words.length + "get_weather".length + args.length) / 3.5);
  const expected = {
    input_tokens: input,
    output_tokens: output,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
  };
  const post = (stream: boolean) =>
    fetch(`${s.relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...body, stream }),
    });

  const streamed = await assembledResponse(await post(true));
  assert.deepEqual(streamed.message.usage, expected);
  const unstreamed = await (await post(false)).json();
  assert.deepEqual(unstreamed.usage, expected);
  for (let answer = 0; answer < 2; answer++) {
    const line = await s.relay.nextRequestLog();
    assert.deepEqual([line.input_tokens, line.output_tokens, line.usage_estimated], [input, output, true]);
  }
});

Deno.test("a model whose stream was answered with a whole completion has its next streams waited for under first_byte, not connect", async () => {
  const completion = () =>
    Response.json({
      id: "chatcmpl-1",
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello" }, finish_reason: "stop" }],
      usage: FAKE_USAGE,
    });
  const held = Promise.withResolvers<Response>();
  const arrived = Promise.withResolvers<void>();
  let calls = 0;
  const upstream = startFakeOpenAI(() => {
    if (++calls === 1) return completion();
    arrived.resolve();
    return held.promise;
  });
  const clock = new FakeClock();
  await using relay = startTestRelay({
    provider: createOpenAIProvider({ name: "openai", baseUrl: `${upstream.url}/v1` }),
    keys: [FAKE_OPENAI_KEY],
    models: { "claude-*": "gpt-fake-1" },
    timeouts: { connect: 50 },
    clock,
  });
  const anthropic = new Anthropic({ baseURL: relay.url, apiKey: "unused", maxRetries: 0 });
  await anthropic.messages.stream(ASK).finalMessage();
  await relay.nextRequestLog();

  // The server writes the whole completion before its headers: longer than timeouts.connect.
  const pending = anthropic.messages.stream(ASK).finalMessage();
  await arrived.promise;
  clock.advance(50);
  held.resolve(completion());
  const message = await pending;
  assert.deepEqual(message.content, [{ type: "text", text: "Hello" }]);
  assert.equal((await relay.nextRequestLog()).outcome, "complete");
  await upstream.close();
});

Deno.test("a legacy function_call reaches Claude Code as a tool_use with relay's id, however it is answered", async () => {
  const args = '{"city":"Paris"}';
  let wholeAnswers = 0;
  await using s = setup(async (request) => {
    const { stream } = JSON.parse(new TextDecoder().decode(await request.bytes()));
    const answer = { content: null, function_call: { name: "get_weather", arguments: args } };
    if (!stream || request.headers.get(WHOLE_ANSWER) === "yes") {
      wholeAnswers++;
      return Response.json({
        id: "chatcmpl-1",
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", ...answer }, finish_reason: "function_call" }],
        usage: FAKE_USAGE,
      });
    }
    return openaiStream([
      chunk({ role: "assistant", content: null }),
      chunk({ function_call: { name: "get_weather", arguments: args.slice(0, 8) } }),
      chunk({ function_call: { arguments: args.slice(8) } }),
      chunk({}, "function_call"),
      usageChunk(FAKE_USAGE),
      "[DONE]",
    ]);
  });
  const body = { ...ASK, tools: TOOLS };
  const answers = [
    await s.anthropic.messages.stream(body).finalMessage(),
    await s.anthropic.messages.create(body),
    await s.anthropic.messages.stream(body, { headers: { [WHOLE_ANSWER]: "yes" } }).finalMessage(),
  ];
  assert.equal(wholeAnswers, 2, "unstreamed, and a stream answered whole");
  for (const message of answers) {
    assert.equal(message.stop_reason, "tool_use");
    assert.equal(message.content.length, 1);
    const [block] = message.content;
    assert.ok(block.type === "tool_use");
    assert.match(block.id, /^toolu_[A-Za-z0-9]{24}$/);
    assert.deepEqual([block.name, block.input], ["get_weather", { city: "Paris" }]);
    assert.equal(message.usage.output_tokens, FAKE_USAGE.completion_tokens);
  }
});

Deno.test("Moonshot's usage inside choice 0 is the answer's and the log's, not relay's estimate", async () => {
  const usage = { prompt_tokens: 1200, completion_tokens: 42, total_tokens: 1242 };
  await using s = setup(async (request) => {
    const { stream } = JSON.parse(new TextDecoder().decode(await request.bytes()));
    if (!stream || request.headers.get(WHOLE_ANSWER) === "yes") {
      return Response.json({
        id: "chatcmpl-1",
        object: "chat.completion",
        choices: [{
          index: 0,
          message: { role: "assistant", content: "Hello" },
          finish_reason: "stop",
          usage,
        }],
      });
    }
    return openaiStream([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hello" }),
      { ...chunk({}, "stop"), choices: [{ index: 0, delta: {}, finish_reason: "stop", usage }] },
      "[DONE]",
    ]);
  });
  const answers = [
    await s.anthropic.messages.stream(ASK).finalMessage(),
    await s.anthropic.messages.create(ASK),
    await s.anthropic.messages.stream(ASK, { headers: { [WHOLE_ANSWER]: "yes" } }).finalMessage(),
  ];
  for (const message of answers) {
    assert.deepEqual([message.usage.input_tokens, message.usage.output_tokens], [1200, 42]);
    const line = await s.relay.nextRequestLog();
    assert.deepEqual([line.input_tokens, line.output_tokens, line.usage_estimated], [1200, 42, undefined]);
  }
});

Deno.test("an OpenAI upstream's stream cut before its usage counts relay's flagged estimate, not zero tokens", async () => {
  const text = "Hello from a stream that will not finish";
  // No finish, no usage: the stream is cut after its text (a hunter's client left here, charged nothing).
  await using s = setup(() =>
    openaiStream([chunk({ role: "assistant", content: "" }), chunk({ content: text })])
  );
  await (await fetch(`${s.relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...ASK, stream: true }),
  })).text();
  const line = await s.relay.nextRequestLog();
  assert.equal(line.outcome, "upstream_failed");
  assert.deepEqual(
    [line.input_tokens, line.output_tokens, line.usage_estimated],
    [estimateTokens({ ...ASK, stream: true }).input, Math.ceil(text.length / 3.5), true],
  );
});

Deno.test("an OpenAI upstream's redirect is relay's 502 naming it, as for every upstream", async () => {
  await using s = setup(() =>
    new Response(null, { status: 308, headers: { location: "https://moved.example/v1" } })
  );
  await assert.rejects(
    () => s.anthropic.messages.create({ ...ASK, stream: false }),
    (error: unknown) =>
      error instanceof Anthropic.APIError && error.status === 502 &&
      /upstream openai redirected \(308\) to https:\/\/moved\.example\/v1; relay does not follow/.test(
        error.message,
      ),
  );
});

Deno.test("upstream errors reach the Anthropic SDK with their status and text: before and inside the stream", async (t) => {
  let answer: () => Response = () => new Response();
  await using s = setup(() => answer());

  await t.step("an error chunk mid-stream becomes an error event", async () => {
    answer = () =>
      openaiStream([
        chunk({ role: "assistant", content: "" }),
        chunk({ content: "partial" }),
        {
          error: { message: "The server had an error while processing your request.", type: "server_error" },
        },
      ]);
    await assert.rejects(
      () => s.anthropic.messages.stream(ASK).finalMessage(),
      (error: unknown) =>
        error instanceof Anthropic.APIError && /api_error/.test(error.message) &&
        /The server had an error/.test(error.message),
    );
  });

  await t.step("a context overflow reads 'prompt is too long', so Claude Code compacts", async () => {
    answer = () =>
      openaiError(400, "This model's maximum context length is 8192 tokens.", "invalid_request_error");
    await assert.rejects(
      () => s.anthropic.messages.create(ASK),
      (error: unknown) =>
        error instanceof Anthropic.BadRequestError && /prompt is too long/.test(error.message),
    );
  });

  await t.step("a stream cut before its finish ends in an error event, not a silent success", async () => {
    answer = () => openaiStream([chunk({ role: "assistant", content: "" }), chunk({ content: "half" })]);
    await assert.rejects(
      () => s.anthropic.messages.stream(ASK).finalMessage(),
      (error: unknown) =>
        error instanceof Anthropic.APIError && /before the answer was finished/.test(error.message),
    );
  });

  await t.step(
    "a 429 keeps its status, retry-after and text (last: relay rests the key after)",
    async () => {
      answer = () =>
        openaiError(429, "Rate limit reached for gpt-fake-1", "requests", { "retry-after": "3" });
      const response = await fetch(`${s.relay.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...ASK, stream: true }),
      });
      assert.equal(response.status, 429);
      assert.equal(response.headers.get("retry-after"), "3");
      assert.deepEqual(await response.json(), {
        type: "error",
        error: { type: "rate_limit_error", message: "Rate limit reached for gpt-fake-1" },
      });
    },
  );
});

Deno.test("a stream answered with a JSON error is retried by its status: a rate limit moves to the next key", async () => {
  const answers = [
    () => Response.json({ error: { message: "Rate limit reached", code: "rate_limit_exceeded" } }),
    () => Response.json({ choices: [{ index: 0, message: { content: "Whole." }, finish_reason: "stop" }] }),
  ];
  const upstream = startFakeOpenAI(() => answers.shift()!());
  const provider = createOpenAIProvider({ name: "openai", baseUrl: `${upstream.url}/v1` });
  await using relay = startTestRelay({
    provider,
    keys: [FAKE_OPENAI_KEY, `${FAKE_OPENAI_KEY}2`],
    retry: { maxAttempts: 2 },
  });
  const anthropic = new Anthropic({ baseURL: relay.url, apiKey: "unused", maxRetries: 0 });
  const message = await anthropic.messages.stream(ASK).finalMessage();
  assert.deepEqual(message.content, [{ type: "text", text: "Whole." }]);
  assert.equal((await relay.logged("attempt failed")).next, "retry_next_key");
  assert.deepEqual(
    [(await upstream.nextRequest()).headers, (await upstream.nextRequest()).headers].map((headers) =>
      headers.get("authorization")
    ),
    [`Bearer ${FAKE_OPENAI_KEY}`, `Bearer ${FAKE_OPENAI_KEY}2`],
  );
  await upstream.close();
});

Deno.test("a slow local model: the stream opens at once and keep-alives fill the silence, for both kinds of client", async (t) => {
  const streams: ControlledStream[] = [];
  const upstream = startFakeOpenAI(() => {
    streams.push(controlledStream());
    return streams.at(-1)!.response();
  });
  const provider = createOpenAIProvider({ name: "local", baseUrl: `${upstream.url}/v1` });
  const route = { provider, keys: [], timeouts: TEST_TIMEOUTS, models: new ModelMap(undefined) };
  // startServer itself, so the keep-alive interval can be short.
  const server = startServer({
    hostname: "127.0.0.1",
    port: 0,
    router: new Router([route], TEST_ROUTING),
    logger: createLogger({ level: "error", write: () => {} }),
    tokens: [],
    maxBodyBytes: 1 << 20,
    limiter: new ConcurrencyLimiter({ max: 4, maxQueue: 4 }),
    queueTimeoutMs: 10_000,
    retry: { maxAttempts: 1, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 }, maxWaitMs: 0 },
    keepaliveMs: 20,
  });
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  /** The model finally answers. */
  const answer = (stream: ControlledStream) => {
    stream.push(`data: ${JSON.stringify(chunk({ role: "assistant", content: "" }))}\n\n`);
    stream.push(`data: ${JSON.stringify(chunk({ content: "done thinking" }, "stop"))}\n\n`);
    stream.push(`data: ${JSON.stringify(usageChunk(FAKE_USAGE))}\n\ndata: [DONE]\n\n`);
    stream.end();
  };
  try {
    await t.step("Anthropic client: message_start before the first token, then ping events", async () => {
      const response = await post("/v1/messages", { ...ASK, stream: true });
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      const decoder = new SseDecoder();
      const events: SseEvent[] = [];
      /** Reads until at least one more event is complete; resolves with the last one's name (or "end"). */
      const next = async () => {
        while (true) {
          const { value, done } = await reader.read();
          if (done) return "end";
          const parsed = decoder.feed(value);
          events.push(...parsed);
          if (parsed.length > 0) return parsed.at(-1)!.event;
        }
      };
      assert.equal(await next(), "message_start", "sent before the upstream's first chunk");
      assert.equal(await next(), "ping");
      assert.equal(await next(), "ping", "and again while the model stays silent");
      answer(streams[0]);
      while (await next() !== "end");
      const { message } = assembleAnthropicStream(events);
      assert.deepEqual(message.content, [{ type: "text", text: "done thinking" }]);
      assert.equal(message.usage.output_tokens, FAKE_USAGE.completion_tokens);
    });

    await t.step(
      "OpenAI client on /v1/chat/completions: the role chunk at once, then `: ping` comments",
      async () => {
        const response = await post("/v1/chat/completions", {
          model: "local-model",
          messages: [{ role: "user", content: "hi" }],
          stream: true,
        });
        assert.equal(response.status, 200);
        const reader = response.body!.getReader();
        let text = "";
        while (!text.includes(": ping\n\n: ping\n\n")) {
          text += new TextDecoder().decode((await reader.read()).value);
        }
        const [first, ...rest] = text.split("\n\n").filter(Boolean);
        assert.deepEqual(JSON.parse(first.slice("data: ".length)).choices[0].delta, {
          role: "assistant",
          content: "",
        });
        assert.ok(rest.every((part) => part === ": ping"), "then only comments while the model is silent");
        answer(streams[1]);
        for (let part = await reader.read(); !part.done; part = await reader.read()) {
          text += new TextDecoder().decode(part.value);
        }
        assert.match(text, /"content":"done thinking"/);
        assert.ok(text.endsWith("data: [DONE]\n\n"));
      },
    );
  } finally {
    await server.shutdown(0);
    await upstream.close();
  }
});
