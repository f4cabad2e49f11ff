/**
 * `POST /v1/responses` end to end: OpenAI's own SDK (the Responses API Codex speaks) against relay, with
 * an Anthropic-format upstream behind it (relay's mock, or one the test scripts).
 */
import OpenAI from "openai";
import assert from "node:assert/strict";
import {
  controlledStream,
  messageStartEvent,
  sseChunks,
  sseEvent,
  startFakeUpstream,
  textAnswerStream,
} from "../_helpers/fake_upstream.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";
import { startTestRelay, type TestRelay } from "../_helpers/relay.ts";
import { messageAsSse } from "../../src/stream/message_as_sse.ts";
import { thinkingBlockOf } from "../../src/stream/thinking_items.ts";

const TOKEN = "rly_responses_client_token_01";

const WEATHER: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_weather",
  description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

function client(relay: TestRelay, headers: Record<string, string> = {}) {
  return new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: TOKEN, maxRetries: 0, defaultHeaders: headers });
}

function sentBody(request: { body: Uint8Array }) {
  return JSON.parse(new TextDecoder().decode(request.body));
}

Deno.test("the OpenAI SDK's Responses API through relay to an Anthropic-format upstream", async (t) => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const openai = client(relay);

  await t.step("unstreamed: the whole response, its text and usage", async () => {
    const response = await openai.responses.create({
      model: "claude-sonnet-4-5",
      instructions: "Be brief.",
      input: "hello",
      max_output_tokens: 300,
    });
    assert.equal(response.object, "response");
    assert.match(response.id, /^resp_/);
    assert.equal(response.status, "completed");
    assert.match(response.output_text, /^Hello from relay's mock/);
    assert.equal(response.output.length, 1);
    assert.ok(response.usage && response.usage.input_tokens > 0 && response.usage.output_tokens > 0);
    assert.equal(response.usage.total_tokens, response.usage.input_tokens + response.usage.output_tokens);
    const sent = sentBody(await upstream.nextRequest());
    assert.deepEqual(
      [sent.system, sent.max_tokens, sent.messages, sent.stream],
      ["Be brief.", 300, [{ role: "user", content: [{ type: "text", text: "hello" }] }], undefined],
    );
  });

  await t.step("streamed: OpenAI's events in order, numbered, text deltas adding up", async () => {
    const stream = await openai.responses.create({
      model: "claude-sonnet-4-5",
      input: "hello",
      stream: true,
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = [...new Set(events.map((event) => event.type))];
    assert.deepEqual(types, [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    assert.deepEqual(events.map((event) => event.sequence_number), events.map((_, index) => index));
    const text = events.flatMap((event) => event.type === "response.output_text.delta" ? [event.delta] : []);
    const last = events.at(-1);
    assert.ok(last?.type === "response.completed");
    const item = last.response.output[0];
    assert.ok(item.type === "message" && item.content[0].type === "output_text");
    assert.equal(item.content[0].text, text.join(""));
    await upstream.nextRequest();
  });

  await t.step("a function call, then the answer once the client returns its output", async () => {
    const first = await openai.responses.stream({
      model: "claude-sonnet-4-5",
      input: "weather in Paris?",
      tools: [WEATHER],
    }).finalResponse();
    const call = first.output.find((item) => item.type === "function_call");
    assert.ok(call?.type === "function_call");
    assert.equal(call.name, "get_weather");
    assert.match(call.call_id, /^toolu_mock_/);
    assert.deepEqual(JSON.parse(call.arguments), { city: "mock" });
    assert.equal(sentBody(await upstream.nextRequest()).tools[0].name, "get_weather");

    const second = await openai.responses.create({
      model: "claude-sonnet-4-5",
      input: [
        { role: "user", content: "weather in Paris?" },
        ...first.output as OpenAI.Responses.ResponseInputItem[],
        { type: "function_call_output", call_id: call.call_id, output: "sunny" },
      ],
      tools: [WEATHER],
    });
    assert.equal(second.status, "completed");
    assert.ok(second.output_text.length > 0);
    const sent = sentBody(await upstream.nextRequest());
    assert.deepEqual(
      sent.messages.slice(1).map((message: { content: { type: string }[] }) => message.content),
      [
        [
          ...first.output.flatMap((item) =>
            item.type === "message" && item.content[0].type === "output_text"
              ? [{ type: "text", text: item.content[0].text }]
              : []
          ),
          { type: "tool_use", id: call.call_id, name: "get_weather", input: { city: "mock" } },
        ],
        [{ type: "tool_result", tool_use_id: call.call_id, content: "sunny" }],
      ],
    );
  });

  await t.step("an error mid-stream ends the stream with response.failed", async () => {
    const stream = await client(relay, { "x-relay-mock": "fault=mid_stream_error, fault_after=4" }).responses
      .create({ model: "claude-sonnet-4-5", input: "hi", stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const last = events.at(-1);
    assert.ok(last?.type === "response.failed", JSON.stringify(last));
    assert.equal(last.response.status, "failed");
    assert.equal(last.response.error?.code, "server_error", "a code Codex retries on");
    assert.ok(events.some((event) => event.type === "response.output_text.delta"), "the text before it came");
    await upstream.nextRequest();
  });

  await t.step("relay's own refusals are 400s in OpenAI's shape, naming the Responses field", async () => {
    await assert.rejects(
      () =>
        openai.responses.create({ model: "claude-sonnet-4-5", input: "hi", previous_response_id: "resp_1" }),
      (error: unknown) =>
        error instanceof OpenAI.BadRequestError && error.param === "previous_response_id" &&
        /send the whole conversation in input/.test(error.message),
    );
    const response = await fetch(`${relay.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", input: [{ role: "user", content: "  " }] }),
    });
    assert.equal(response.status, 400);
    const { error } = await response.json();
    assert.equal(
      error.param,
      "input[0].content",
      "the chat translation's messages[0], told as the input item",
    );
    assert.match(error.message, /^input\[0\]\.content: a user message must not be empty/);
    // Written before the answer went out, as the access line of a request relay answers itself.
    const logged = relay.logs.findLast((line) => line.msg === "request" && line.path === "/v1/responses")!;
    assert.deepEqual(
      [logged.path, logged.status, logged.outcome, logged.error],
      ["/v1/responses", 400, "relay_error", error.message],
      "relay's access line names the route the client called",
    );
  });

  await t.step(
    "a wrong token is a 401, an upstream's 429 keeps status and headers, in OpenAI's shape",
    async () => {
      const refused = await fetch(`${relay.url}/v1/responses`, {
        method: "POST",
        headers: { authorization: "Bearer rly_wrong_token_000", "content-type": "application/json" },
        body: JSON.stringify({ model: "claude-sonnet-4-5", input: "hi" }),
      });
      assert.equal(refused.status, 401);
      const { error } = await refused.json();
      assert.deepEqual([error.type, error.param, error.code], ["authentication_error", null, null]);
      await assert.rejects(
        () =>
          new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: "rly_wrong_token_000", maxRetries: 0 }).responses
            .create({ model: "claude-sonnet-4-5", input: "hi" }),
        (error: unknown) => error instanceof OpenAI.AuthenticationError,
      );
      await assert.rejects(
        () =>
          client(relay, { "x-relay-mock": "fault=rate_limit" }).responses.create({
            model: "claude-sonnet-4-5",
            input: "hi",
          }),
        (error: unknown) =>
          error instanceof OpenAI.RateLimitError && error.type === "rate_limit_error" &&
          error.headers?.get("retry-after") === "1",
      );
      await upstream.nextRequest();
    },
  );
  await upstream.close();
});

Deno.test("an upstream stalled mid-event: the Responses stream's keep-alives are keepalive events, in sequence (Codex counts no comments)", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response());
  const clock = new FakeClock();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN], clock, keepaliveMs: 300 });
  const answer = fetch(`${relay.url}/v1/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", input: "hi", stream: true }),
  });
  const start =
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"m"}}\n\n';
  stream.push(start + "event: content_block_st");
  const reader = (await answer).body!.pipeThrough(new TextDecoderStream()).getReader();
  assert.match((await reader.read()).value ?? "", /^event: response\.created\n/);
  assert.match((await reader.read()).value ?? "", /^event: response\.in_progress\n/);
  assert.ok(await settlesWithin(clock.whenArmed(300, 2), 5_000), "the front door keeps the stream alive");
  clock.advance(300);
  assert.equal(
    (await reader.read()).value,
    'event: keepalive\ndata: {"type":"keepalive","sequence_number":2}\n\n',
  );
  stream.end();
  let text = "";
  for (let read = await reader.read(); !read.done; read = await reader.read()) text += read.value;
  assert.match(text, /event: response\.failed\n/);
  await upstream.close();
});

Deno.test("a prompt too long is a failed stream saying context_length_exceeded, on which Codex compacts; unstreamed, a 400 with that code", async () => {
  const overflows: [number, string, string][] = [
    [400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"],
    [
      400,
      "invalid_request_error",
      "input length and `max_tokens` exceed context limit: 195000 + 8192 > 200000, decrease input length or `max_tokens` and try again",
    ],
    // A gateway's 413, as relay words an OpenAI-compatible upstream's.
    [413, "request_too_large", "prompt is too long: This model's maximum context length is 8192 tokens."],
  ];
  for (const [status, type, overflow] of overflows) {
    const refusal = { type: "error", error: { type, message: overflow } };
    const upstream = startFakeUpstream(() => Response.json(refusal, { status }));
    await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
    const stream = await client(relay).responses.create({
      model: "claude-sonnet-4-5",
      input: "hi",
      stream: true,
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    assert.deepEqual(
      events.map((event) => event.type),
      ["response.created", "response.in_progress", "response.failed"],
    );
    const failed = events.at(-1) as OpenAI.Responses.ResponseFailedEvent;
    assert.equal(failed.response.error?.code, "context_length_exceeded", overflow);
    assert.equal(failed.response.error?.message, overflow);
    assert.equal(
      failed.response.model,
      "claude-sonnet-4-5",
      "the model asked for, no answer having named one",
    );
    assert.match(failed.response.id, /^resp_relay_[0-9a-f]{32}$/, "an id of its own");

    await assert.rejects(
      () => client(relay).responses.create({ model: "claude-sonnet-4-5", input: "hi" }),
      (error: unknown) =>
        error instanceof OpenAI.APIError && error.status === status &&
        error.code === "context_length_exceeded",
    );
    await upstream.close();
  }
});

Deno.test("a request with a prompt_cache_key gets Anthropic's cache breakpoints, as OpenAI caches by itself", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const ask = (extra: Record<string, unknown>) =>
    client(relay).responses.create({
      model: "claude-sonnet-4-5",
      instructions: "You are Codex.",
      input: [{ role: "user", content: "run ls" }],
      tools: [WEATHER],
      ...extra,
    });
  await ask({ prompt_cache_key: "session-1" });
  const cached = sentBody(await upstream.nextRequest());
  assert.deepEqual(cached.system, [{
    type: "text",
    text: "You are Codex.",
    cache_control: { type: "ephemeral" },
  }]);
  assert.deepEqual(cached.tools.at(-1).cache_control, { type: "ephemeral" });
  assert.deepEqual(cached.messages.at(-1).content.at(-1).cache_control, { type: "ephemeral" });
  await ask({});
  const plain = sentBody(await upstream.nextRequest());
  assert.equal(plain.system, "You are Codex.", "without a key, nothing asked to be cached");
  await upstream.close();
});

Deno.test("the images parallel tool calls returned (Codex's view_image) go inside each call's own tool_result", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const call = (call_id: string): OpenAI.Responses.ResponseInputItem => ({
    type: "function_call",
    call_id,
    name: "view_image",
    arguments: "{}",
  });
  const output = (call_id: string): OpenAI.Responses.ResponseInputItem => ({
    type: "function_call_output",
    call_id,
    output: [{ type: "input_image", image_url: `https://example.com/${call_id}.png`, detail: "auto" }],
  });
  await client(relay).responses.create({
    model: "claude-sonnet-4-5",
    input: [{ role: "user", content: "look" }, call("a"), call("b"), output("a"), output("b")],
  });
  const image = (name: string) => ({
    type: "image",
    source: { type: "url", url: `https://example.com/${name}` },
  });
  assert.deepEqual(sentBody(await upstream.nextRequest()).messages.at(-1), {
    role: "user",
    content: [
      { type: "tool_result", tool_use_id: "a", content: [image("a.png")] },
      { type: "tool_result", tool_use_id: "b", content: [image("b.png")] },
    ],
  });
  await upstream.close();
});

Deno.test("an input with no message to answer is relay's own 400 naming input, and goes nowhere", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const reasoning = { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAAA" };
  for (const input of [[], [reasoning]]) {
    await assert.rejects(
      () => client(relay).responses.create({ model: "claude-sonnet-4-5", input: input as never }),
      (error: unknown) =>
        error instanceof OpenAI.BadRequestError && error.param === "input" &&
        error.message === "400 input: at least one message is required",
      JSON.stringify(input),
    );
  }
  assert.equal(upstream.requests.length, 0);
  await upstream.close();
});

Deno.test("reasoning.effort is Anthropic's thinking, whose blocks go to Codex as reasoning items and come back signed", async () => {
  const event = (name: string, fields: Record<string, unknown>) => sseEvent(name, { type: name, ...fields });
  const thinkingThenCall = [
    messageStartEvent("msg_think", { input_tokens: 20, output_tokens: 1 }),
    event("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "" } }),
    event("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "Ask the tool." } }),
    event("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: "EqSig==" } }),
    event("content_block_stop", { index: 0 }),
    event("content_block_start", {
      index: 1,
      content_block: { type: "tool_use", id: "toolu_01A", name: "get_weather", input: {} },
    }),
    event("content_block_delta", {
      index: 1,
      delta: { type: "input_json_delta", partial_json: '{"city":"Paris"}' },
    }),
    event("content_block_stop", { index: 1 }),
    event("message_delta", {
      delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { output_tokens: 9 },
    }),
    event("message_stop", {}),
  ];
  const answer = textAnswerStream({
    id: "msg_answer",
    text: "18°C.",
    startUsage: { input_tokens: 30, output_tokens: 1 },
    endUsage: { output_tokens: 4 },
  });
  let answered = 0;
  const upstream = startFakeUpstream(() => sseChunks(answered++ === 0 ? thinkingThenCall : [answer]));
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const openai = client(relay);
  const asked = {
    model: "claude-sonnet-4-5",
    tools: [WEATHER],
    reasoning: { effort: "high" as const },
    store: false,
  };
  const question: OpenAI.Responses.ResponseInputItem = { role: "user", content: "Weather in Paris?" };
  const first = await openai.responses.stream({ ...asked, input: [question] }).finalResponse();

  const firstSent = sentBody(await upstream.nextRequest());
  assert.deepEqual([firstSent.max_tokens, firstSent.thinking], [32_000, {
    type: "enabled",
    budget_tokens: 23_808,
  }]);
  const [reasoning, call] = first.output;
  assert.ok(reasoning.type === "reasoning" && call.type === "function_call");
  assert.deepEqual(reasoning.summary, [{ type: "summary_text", text: "Ask the tool." }]);

  const output: OpenAI.Responses.ResponseInputItem = {
    type: "function_call_output",
    call_id: call.call_id,
    output: "18°C",
  };
  const second = await openai.responses.stream({ ...asked, input: [question, reasoning, call, output] })
    .finalResponse();
  assert.equal(second.output_text, "18°C.");
  const secondSent = sentBody(await upstream.nextRequest());
  assert.deepEqual(secondSent.messages[1], {
    role: "assistant",
    content: [
      { type: "thinking", thinking: "Ask the tool.", signature: "EqSig==" },
      { type: "tool_use", id: "toolu_01A", name: "get_weather", input: { city: "Paris" } },
    ],
  });
  assert.deepEqual(
    secondSent.thinking,
    { type: "enabled", budget_tokens: 23_808 },
    "the tool loop thinks on",
  );
  await upstream.close();
});

Deno.test("thinking in the form the model refuses goes once more in the other, which the model's next requests take at once", async () => {
  const refusals = {
    // Claude Opus 4.7 and the Claude 5 models take adaptive thinking only.
    budget:
      '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.',
    // Models before Claude 4.6 take budgets only.
    adaptive:
      "thinking: Input tag 'adaptive' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'",
  };
  for (const [model, takes] of [["my-alias", "adaptive"], ["claude-sonnet-4-6", "budget"]] as const) {
    const upstream = startFakeUpstream(async (request) => {
      const { thinking } = await request.json();
      const form = thinking.type === "adaptive" ? "adaptive" : "budget";
      return form === takes
        ? sseChunks([textAnswerStream({
          id: "msg_1",
          text: "Thought it through.",
          startUsage: { input_tokens: 5, output_tokens: 1 },
          endUsage: { output_tokens: 4 },
        })])
        : Response.json(
          { type: "error", error: { type: "invalid_request_error", message: refusals[form] } },
          {
            status: 400,
          },
        );
    });
    await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
    const ask = () =>
      client(relay).responses.stream({ model, input: "think", reasoning: { effort: "medium" }, store: false })
        .finalResponse();
    assert.equal((await ask()).output_text, "Thought it through.", model);
    const forms = async (count: number) => {
      const sent = [];
      for (let index = 0; index < count; index++) sent.push(sentBody(await upstream.nextRequest()));
      return sent.map(({ thinking, output_config }) => [thinking.type, output_config?.effort]);
    };
    const adaptive = ["adaptive", "medium"];
    const budget = ["enabled", undefined];
    assert.deepEqual(await forms(2), takes === "adaptive" ? [budget, adaptive] : [adaptive, budget], model);
    assert.equal((await ask()).output_text, "Thought it through.");
    assert.deepEqual(await forms(1), [takes === "adaptive" ? adaptive : budget], "learnt: one request");
    await upstream.close();
  }
});

Deno.test("a reasoning item names the model asked for, streamed or whole, so its thinking goes back to that model only", async () => {
  const thought = { type: "thinking", thinking: "Hm.", signature: "EqSig" };
  const whole = {
    id: "msg_whole",
    type: "message",
    role: "assistant",
    model: "claude-opus-4-7-20260101",
    content: [thought, { type: "text", text: "Done." }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 3 },
  };
  const upstream = startFakeUpstream(async (request) =>
    (await request.json()).stream ? sseChunks(messageAsSse(whole)) : Response.json(whole)
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const asked = { model: "claude-opus-4-7", input: "think", store: false } as const;
  const unstreamed = await client(relay).responses.create(asked);
  const streamed = await client(relay).responses.stream(asked).finalResponse();
  for (const response of [unstreamed, streamed]) {
    const [reasoning] = response.output;
    assert.ok(reasoning.type === "reasoning");
    assert.deepEqual(thinkingBlockOf(reasoning.encrypted_content, "claude-opus-4-7"), thought);
    assert.equal(thinkingBlockOf(reasoning.encrypted_content, "claude-sonnet-4-5"), undefined);
  }
  await upstream.close();
});
