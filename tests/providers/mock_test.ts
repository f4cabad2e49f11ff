import assert from "node:assert/strict";
import { createMockProvider, mockHandler, type MockRequest, mockRespond } from "../../src/providers/mock.ts";
import { type MockOptions, mockOptionsSchema } from "../../src/providers/mock_options.ts";
import { SseDecoder, type SseEvent } from "../../src/stream/sse_decode.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";

const defaults: MockOptions = mockOptionsSchema.parse({});
const options = (input: Record<string, unknown>) => mockOptionsSchema.parse(input);

const hello = { model: "claude-sonnet-4-5", max_tokens: 1024, messages: [{ role: "user", content: "Hi" }] };
const weatherTool = {
  name: "get_weather",
  description: "Current weather",
  input_schema: {
    type: "object",
    properties: { location: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
    required: ["location", "unit"],
  },
};

function request(body: unknown, init: Partial<MockRequest> = {}): MockRequest {
  return {
    path: "/v1/messages",
    method: "POST",
    headers: new Headers(),
    signal: new AbortController().signal,
    body,
    ...init,
  };
}

const streamed = (body: object) => ({ ...body, stream: true });

async function readEvents(response: Response): Promise<SseEvent[]> {
  const decoder = new SseDecoder();
  const events: SseEvent[] = [];
  for await (const chunk of response.body!) events.push(...decoder.feed(chunk));
  return events;
}

async function readChunks(response: Response): Promise<Uint8Array[]> {
  return await Array.fromAsync(response.body!);
}

const text = (chunks: Uint8Array[]) =>
  new TextDecoder().decode(new Uint8Array(chunks.flatMap((chunk) => [...chunk])));

/**
 * Runs `body` with the global timers wrapped, and returns how many it left armed (then clears them).
 * Deno's test sanitizers do not report leaked timers, so the mock's clean-up is checked here.
 * `nextTimer()` resolves when the code under test next arms one.
 */
async function timersLeftBy(body: (nextTimer: () => Promise<void>) => Promise<void>): Promise<number> {
  const live = new Set<unknown>();
  const waiting: (() => void)[] = [];
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  const set = (callback: () => void, ms?: number) => {
    const id = realSet(() => {
      live.delete(id);
      callback();
    }, ms);
    live.add(id);
    waiting.splice(0).forEach((wake) => wake());
    return id;
  };
  const clear = (id: ReturnType<typeof realSet>) => {
    live.delete(id);
    realClear(id);
  };
  globalThis.setTimeout = set as unknown as typeof setTimeout;
  globalThis.clearTimeout = clear as unknown as typeof clearTimeout;
  try {
    await body(() => new Promise((wake) => waiting.push(wake)));
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
  for (const id of live) realClear(id as ReturnType<typeof realSet>);
  return live.size;
}

Deno.test("mock stream: a complete Anthropic stream, one event per chunk, with SSE headers", async () => {
  const response = await mockRespond(request(streamed(hello)), defaults);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  assert.equal(response.headers.get("cache-control"), "no-cache");
  assert.match(response.headers.get("request-id")!, /^req_mock_[0-9a-f]+$/);
  const chunks = await readChunks(response);
  const events = new SseDecoder().feed(new TextEncoder().encode(text(chunks)));
  assert.equal(chunks.length, events.length, "each event is its own chunk");
  assert.deepEqual(events.slice(0, 2).map((event) => event.event), ["message_start", "ping"]);
  assert.ok(text(chunks).endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n'));
  const { message } = assembleAnthropicStream(events);
  assert.match(message.id, /^msg_mock_[0-9a-f]{24}$/);
  assert.equal(message.model, "claude-sonnet-4-5");
  assert.deepEqual(message.content, [{ type: "text", text: "Hello from relay's mock: café naïve 中文 🎉" }]);
  assert.equal(message.stop_reason, "end_turn");
  assert.equal(message.usage.output_tokens, 8);
  assert.equal(JSON.parse(events[0].data).message.usage.output_tokens, 1);
});

Deno.test("mock stream: `events` sets the number of text deltas", async () => {
  const events = await readEvents(await mockRespond(request(streamed(hello)), options({ events: 20 })));
  assert.equal(events.filter((event) => event.event === "content_block_delta").length, 20);
  assert.equal(assembleAnthropicStream(events).message.usage.output_tokens, 20);
});

Deno.test("mock: the same body gives the same bytes, another body another id", async () => {
  const first = text(await readChunks(await mockRespond(request(streamed(hello)), defaults)));
  const again = text(await readChunks(await mockRespond(request(streamed(hello)), defaults)));
  assert.equal(first, again);
  const other = await mockRespond(request(streamed({ ...hello, max_tokens: 5 })), defaults);
  const otherId = assembleAnthropicStream(await readEvents(other)).message.id;
  assert.notEqual(
    otherId,
    assembleAnthropicStream(new SseDecoder().feed(new TextEncoder().encode(first))).message.id,
  );
});

Deno.test("mock: the non-streaming Message has the stream's content and usage", async () => {
  for (
    const body of [hello, {
      ...hello,
      thinking: { type: "enabled", budget_tokens: 2048 },
      tools: [weatherTool],
    }]
  ) {
    const response = await mockRespond(request(body), defaults);
    assert.equal(response.headers.get("content-type"), "application/json");
    const message = await response.json();
    const stream = assembleAnthropicStream(
      await readEvents(await mockRespond(request(streamed(body)), defaults)),
    );
    assert.deepEqual(message, stream.message);
    assert.deepEqual(Object.keys(message), [
      "id",
      "type",
      "role",
      "model",
      "content",
      "stop_reason",
      "stop_sequence",
      "usage",
    ]);
  }
});

Deno.test("mock: count_tokens agrees with the Message's input_tokens", async () => {
  const counted = await (await mockRespond(request(hello, { path: "/v1/messages/count_tokens" }), defaults))
    .json();
  const message = await (await mockRespond(request(hello), defaults)).json();
  assert.deepEqual(Object.keys(counted), ["input_tokens"]);
  assert.ok(counted.input_tokens > 0);
  assert.equal(message.usage.input_tokens, counted.input_tokens);
});

Deno.test("mock: offered tools get a tool_use block streamed as JSON fragments", async () => {
  const body = streamed({ ...hello, tools: [weatherTool] });
  const events = await readEvents(await mockRespond(request(body), defaults));
  const { message } = assembleAnthropicStream(events);
  assert.equal(message.stop_reason, "tool_use");
  assert.deepEqual(message.content.map((block: { type: string }) => block.type), ["text", "tool_use"]);
  const tool = message.content[1];
  assert.match(tool.id, /^toolu_mock_[A-Za-z0-9_-]+$/);
  assert.equal(tool.name, "get_weather");
  assert.deepEqual(tool.input, { location: "mock", unit: "celsius" });
  const fragments = events.map((event) => JSON.parse(event.data))
    .filter((data) => data.delta?.type === "input_json_delta").map((data) => data.delta.partial_json);
  assert.equal(fragments[0], "");
  assert.ok(fragments.length > 2, "the input arrives in several pieces");
});

Deno.test("mock: tool_choice and tool results decide whether a tool is called", async () => {
  const toolCalled = async (body: object) =>
    (await (await mockRespond(
      request({ ...hello, tools: [weatherTool, { name: "get_time" }], ...body }),
      defaults,
    ))
      .json()).content.find((block: { type: string }) => block.type === "tool_use")?.name;
  assert.equal(await toolCalled({}), "get_weather");
  assert.equal(await toolCalled({ tool_choice: { type: "none" } }), undefined);
  assert.equal(await toolCalled({ tool_choice: { type: "tool", name: "get_time" } }), "get_time");
  const answered = [
    ...hello.messages,
    { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: {} }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny" }] },
  ];
  assert.equal(await toolCalled({ messages: answered }), undefined, "auto: the result gets a text answer");
  assert.equal(await toolCalled({ messages: answered, tool_choice: { type: "any" } }), "get_weather");
});

Deno.test("mock: an agent's tool set, or a conversation with a tool result, gets text in auto mode, as Claude Code needs", async () => {
  const toolNamed = (name: string) => ({ ...weatherTool, name });
  const toolCalled = async (body: object) =>
    (await (await mockRespond(request({ ...hello, ...body }), defaults)).json()).content
      .find((block: { type: string }) => block.type === "tool_use")?.name;
  const four = ["Agent", "Bash", "Read", "Edit"].map(toolNamed);
  assert.equal(await toolCalled({ tools: four }), "Agent", "a hand-made set: its first tool");
  assert.equal(await toolCalled({ tools: [...four, toolNamed("Write")] }), undefined, "an agent's set");
  assert.equal(
    await toolCalled({ tools: [...four, toolNamed("Write")], tool_choice: { type: "any" } }),
    "Agent",
    "asked for, whatever the set",
  );
  // Claude Code follows a tool result with a system turn, and later a user turn (a subagent's notice).
  const afterResult = [
    ...hello.messages,
    { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "Agent", input: {} }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "started" }] },
    { role: "system", content: [{ type: "text", text: "Available agent types: ..." }] },
    { role: "assistant", content: [{ type: "text", text: "Started." }] },
    { role: "user", content: [{ type: "text", text: "The agent finished." }] },
  ];
  assert.equal(await toolCalled({ tools: [weatherTool], messages: afterResult }), undefined);
});

Deno.test("mock: thinking comes first, with thinking deltas and one signature just before its stop", async () => {
  const body = streamed({ ...hello, thinking: { type: "enabled", budget_tokens: 2048 } });
  const events = await readEvents(await mockRespond(request(body), defaults));
  const { message } = assembleAnthropicStream(events);
  assert.deepEqual(message.content.map((block: { type: string }) => block.type), ["thinking", "text"]);
  assert.ok(message.content[0].thinking.length > 0);
  assert.match(message.content[0].signature, /^[A-Za-z0-9+/]+=*$/);
  const kinds = events.map((event) => JSON.parse(event.data)).filter((data) => data.index === 0)
    .map((data) => data.delta?.type ?? data.type);
  assert.deepEqual(kinds.slice(-2), ["signature_delta", "content_block_stop"]);
  assert.ok(kinds.filter((kind) => kind === "thinking_delta").length > 1);
});

Deno.test("mock faults before the body: 529, 429 with retry-after, 500", async () => {
  const cases = [
    ["overloaded", 529, "overloaded_error"],
    ["rate_limit", 429, "rate_limit_error"],
    ["server_error", 500, "api_error"],
  ] as const;
  for (const [fault, status, type] of cases) {
    for (const body of [hello, streamed(hello)]) {
      const response = await mockRespond(request(body), options({ fault }));
      assert.equal(response.status, status);
      const error = await response.json();
      assert.equal(error.type, "error");
      assert.equal(error.error.type, type);
      assert.equal(error.request_id, response.headers.get("request-id"));
      assert.equal(response.headers.get("retry-after"), fault === "rate_limit" ? "1" : null);
    }
  }
  const overloaded = await (await mockRespond(request(hello), options({ fault: "overloaded" }))).json();
  assert.deepEqual(overloaded.error, { type: "overloaded_error", message: "Overloaded" });
});

Deno.test("mock fault mid_stream_error: `event: error` after fault_after events, then the end", async () => {
  const events = await readEvents(
    await mockRespond(request(streamed(hello)), options({ fault: "mid_stream_error" })),
  );
  assert.deepEqual(events.map((event) => event.event), ["message_start", "ping", "error"]);
  assert.deepEqual(JSON.parse(events[2].data), {
    type: "error",
    error: { type: "overloaded_error", message: "Overloaded" },
  });
  const late = await readEvents(
    await mockRespond(request(streamed(hello)), options({ fault: "mid_stream_error", fault_after: 999 })),
  );
  assert.deepEqual(
    late.slice(-2).map((event) => event.event),
    ["message_delta", "error"],
    "never later than message_stop",
  );
  assert.deepEqual(assembleAnthropicStream(late).error.type, "overloaded_error");
  const nonStreaming = await mockRespond(request(hello), options({ fault: "mid_stream_error" }));
  assert.equal(nonStreaming.status, 529);
});

Deno.test("mock fault disconnect: the body fails after fault_after events, without message_stop", async () => {
  const response = await mockRespond(
    request(streamed(hello)),
    options({ fault: "disconnect", fault_after: 4 }),
  );
  const decoder = new SseDecoder();
  const events: SseEvent[] = [];
  await assert.rejects(async () => {
    for await (const chunk of response.body!) events.push(...decoder.feed(chunk));
  }, /disconnect/);
  assert.equal(events.length, 4);
  assert.ok(!events.some((event) => event.event === "message_stop"));

  const json = await mockRespond(request(hello), options({ fault: "disconnect" }));
  assert.equal(json.status, 200);
  const reader = json.body!.getReader();
  const half = await reader.read();
  assert.ok(new TextDecoder().decode(half.value).startsWith('{"id":"msg_mock_'));
  await assert.rejects(reader.read(), /disconnect/);
});

Deno.test("mock fault hang: message_start, then nothing until the request is aborted", async () => {
  const abort = new AbortController();
  const response = await mockRespond(
    request(streamed(hello), { signal: abort.signal }),
    options({ fault: "hang" }),
  );
  const reader = response.body!.getReader();
  const first = new SseDecoder().feed((await reader.read()).value!);
  assert.deepEqual(first.map((event) => event.event), ["message_start"]);
  const stuck = reader.read();
  abort.abort(new Error("client gave up"));
  await assert.rejects(stuck, /client gave up/);

  const silent = new AbortController();
  const pending = mockRespond(request(hello, { signal: silent.signal }), options({ fault: "hang" }));
  silent.abort(new Error("connect timeout"));
  await assert.rejects(pending, /connect timeout/);
});

Deno.test("mock: an abort during ttfb rejects at once and leaves no timer", async () => {
  const left = await timersLeftBy(async (nextTimer) => {
    const abort = new AbortController();
    const armed = nextTimer();
    const pending = mockRespond(request(hello, { signal: abort.signal }), options({ ttfb: "1h" }));
    await armed;
    abort.abort(new DOMException("aborted", "AbortError"));
    await assert.rejects(pending, (error) => error instanceof DOMException && error.name === "AbortError");
    const late = new AbortController();
    late.abort(new Error("already gone"));
    await assert.rejects(
      mockRespond(request(hello, { signal: late.signal }), options({ ttfb: "1h" })),
      /already gone/,
    );
  });
  assert.equal(left, 0, "no timer left armed");
});

Deno.test("mock: ttfb delays the headers and chunk_delay the events after the first", async () => {
  const started = performance.now();
  const response = await mockRespond(
    request(streamed(hello)),
    options({ ttfb: "5ms", chunk_delay: "1ms", events: 2 }),
  );
  assert.ok(performance.now() - started >= 4, "headers after about ttfb");
  assembleAnthropicStream(await readEvents(response));
});

Deno.test("mock: cancelling the stream stops generation and clears the chunk_delay timer", async () => {
  const left = await timersLeftBy(async (nextTimer) => {
    const response = await mockRespond(request(streamed(hello)), options({ chunk_delay: "1h" }));
    const reader = response.body!.getReader();
    await reader.read();
    const armed = nextTimer();
    const waiting = reader.read();
    await armed;
    await reader.cancel("client left");
    assert.equal((await waiting).done, true);
  });
  assert.equal(left, 0, "no timer left armed");
});

Deno.test("mock: an abort during chunk_delay fails the stream the way an aborted fetch does", async () => {
  const left = await timersLeftBy(async (nextTimer) => {
    const abort = new AbortController();
    const response = await mockRespond(
      request(streamed(hello), { signal: abort.signal }),
      options({ chunk_delay: "1h" }),
    );
    const reader = response.body!.getReader();
    await reader.read();
    const armed = nextTimer();
    const waiting = reader.read();
    await armed;
    abort.abort(new Error("relay timeout"));
    await assert.rejects(waiting, /relay timeout/);
  });
  assert.equal(left, 0, "no timer left armed");
});

Deno.test("mock: x-relay-mock overrides the options for one request", async () => {
  const headers = new Headers({
    "x-relay-mock": "events=3, fault=mid_stream_error, fault_after=3, chunk_delay=0ms",
  });
  const events = await readEvents(await mockRespond(request(streamed(hello), { headers }), defaults));
  assert.deepEqual(events.map((event) => event.event), [
    "message_start",
    "ping",
    "content_block_start",
    "error",
  ]);
  const plain = await readEvents(await mockRespond(request(streamed(hello)), options({ events: 3 })));
  assert.equal(plain.filter((event) => event.event === "content_block_delta").length, 3);
});

Deno.test("mock: a bad x-relay-mock header is a 400 that names the problem", async () => {
  const cases: [string, RegExp][] = [
    ["events=0", /^x-relay-mock: events: /],
    ["fault=explode", /^x-relay-mock: fault: /],
    ["ttfb=soon", /^x-relay-mock: ttfb: .*not a duration/],
    ["speed=11", /^x-relay-mock: .*speed/],
    ["events", /^x-relay-mock: "events" is not key=value$/],
    ["__proto__=1", /^x-relay-mock: .*__proto__/],
  ];
  for (const [header, message] of cases) {
    const response = await mockRespond(
      request(hello, { headers: new Headers({ "x-relay-mock": header }) }),
      defaults,
    );
    assert.equal(response.status, 400, header);
    const error = await response.json();
    assert.equal(error.error.type, "invalid_request_error");
    assert.match(error.error.message, message);
  }
});

Deno.test("mock: count_tokens and the model list answer whatever x-relay-mock says: its knobs shape Messages only", async () => {
  const headers = new Headers({ "x-relay-mock": "events=0, fault=nope" });
  const counted = await mockRespond(request(hello, { path: "/v1/messages/count_tokens", headers }), defaults);
  assert.equal(counted.status, 200);
  assert.ok((await counted.json()).input_tokens > 0);
  const models = await mockRespond(
    request(undefined, { method: "GET", path: "/v1/models", headers }),
    defaults,
  );
  assert.equal(models.status, 200);
  assert.ok((await models.json()).data.length > 0);
});

Deno.test("mock: malformed Messages bodies get Anthropic's 400", async () => {
  const cases: [unknown, RegExp][] = [
    [undefined, /JSON object/],
    [[hello], /JSON object/],
    [{ messages: [] }, /^model: Field required$/],
    [{ model: 7, messages: [] }, /^model: /],
    [{ model: "m" }, /^messages: Field required$/],
    [{ model: "m", messages: "hi" }, /^messages: Input should be a valid list$/],
  ];
  for (const path of ["/v1/messages", "/v1/messages/count_tokens"]) {
    for (const [body, message] of cases) {
      const response = await mockRespond(request(body, { path }), options({ fault: "overloaded" }));
      assert.equal(response.status, 400, `${path} ${JSON.stringify(body)}`);
      const error = await response.json();
      assert.equal(error.error.type, "invalid_request_error");
      assert.match(error.error.message, message);
      assert.match(error.request_id, /^req_mock_/);
    }
  }
});

/** The 400 the mock gives `body` at `path`, read as Anthropic's error shape, or its status if not a 400. */
async function refusal(body: unknown, path = "/v1/messages"): Promise<string | number> {
  const response = await mockRespond(request(body, { path }), defaults);
  if (response.status !== 400) {
    await response.body?.cancel();
    return response.status;
  }
  const error = await response.json();
  assert.equal(error.type, "error");
  assert.equal(error.error.type, "invalid_request_error");
  assert.match(error.request_id, /^req_mock_/);
  return error.error.message;
}

Deno.test("mock: a Messages body without a valid max_tokens gets Anthropic's 400; count_tokens needs none", async () => {
  const { max_tokens: _, ...noMaxTokens } = hello;
  const cases: [unknown, string][] = [
    [noMaxTokens, "max_tokens: Field required"],
    [{ ...hello, max_tokens: "x" }, "max_tokens: Input should be a valid integer"],
    [{ ...hello, max_tokens: "1024" }, "max_tokens: Input should be a valid integer"],
    [{ ...hello, max_tokens: 1.5 }, "max_tokens: Input should be a valid integer"],
    [{ ...hello, max_tokens: null }, "max_tokens: Input should be a valid integer"],
    [{ ...hello, max_tokens: 0 }, "max_tokens: Input should be greater than or equal to 1"],
    [{ ...hello, max_tokens: -5 }, "max_tokens: Input should be greater than or equal to 1"],
  ];
  for (const [body, message] of cases) assert.equal(await refusal(body), message, JSON.stringify(body));
  assert.equal(await refusal({ ...hello, max_tokens: 1 }), 200);
  assert.equal(await refusal(noMaxTokens, "/v1/messages/count_tokens"), 200, "count_tokens takes none");
});

Deno.test("mock: a system turn between the others, as Claude Code sends them, is answered", async () => {
  const body = {
    ...hello,
    messages: [
      { role: "user", content: [{ type: "text", text: "Hi" }] },
      { role: "system", content: [{ type: "text", text: "Attribution for commits changed." }] },
    ],
  };
  for (const path of ["/v1/messages", "/v1/messages/count_tokens"]) {
    assert.equal(await refusal(body, path), 200, path);
  }
});

Deno.test("mock: an empty message list or a malformed message gets Anthropic's 400, from count_tokens too", async () => {
  const withMessages = (messages: unknown[]) => ({ ...hello, messages });
  const cases: [unknown, string][] = [
    [withMessages([]), "messages: at least one message is required"],
    [withMessages(["Hi"]), "messages.0: Input should be a valid dictionary"],
    [withMessages([...hello.messages, null]), "messages.1: Input should be a valid dictionary"],
    [withMessages([{ content: "Hi" }]), "messages.0.role: Field required"],
    [
      withMessages([{ role: "developer", content: "Be brief" }]),
      "messages.0.role: Input should be 'user', 'assistant' or 'system'",
    ],
    [
      withMessages([{ role: "User", content: "Hi" }]),
      "messages.0.role: Input should be 'user', 'assistant' or 'system'",
    ],
    [withMessages([{ role: "user" }]), "messages.0.content: Field required"],
    [
      withMessages([{ role: "user", content: { type: "text", text: "Hi" } }]),
      "messages.0.content: Input should be a valid list",
    ],
    [withMessages([{ role: "user", content: null }]), "messages.0.content: Input should be a valid list"],
  ];
  for (const path of ["/v1/messages", "/v1/messages/count_tokens"]) {
    for (const [body, message] of cases) {
      assert.equal(await refusal(body, path), message, `${path} ${JSON.stringify(body)}`);
    }
  }
  const blocks = withMessages([{ role: "user", content: [{ type: "text", text: "Hi" }] }]);
  assert.equal(await refusal(blocks), 200);
});

Deno.test("mock: temperature outside 0..1, or a sampling knob of the wrong type, gets Anthropic's 400", async () => {
  const cases: [unknown, string][] = [
    [{ ...hello, temperature: 1.5 }, "temperature: Input should be less than or equal to 1"],
    [{ ...hello, temperature: -0.1 }, "temperature: Input should be greater than or equal to 0"],
    [{ ...hello, temperature: "0.5" }, "temperature: Input should be a valid number"],
    [{ ...hello, top_p: "0.9" }, "top_p: Input should be a valid number"],
    [{ ...hello, top_k: 2.5 }, "top_k: Input should be a valid integer"],
    [{ ...hello, top_k: "5" }, "top_k: Input should be a valid integer"],
  ];
  for (const [body, message] of cases) assert.equal(await refusal(body), message, JSON.stringify(body));
  assert.equal(await refusal({ ...hello, temperature: 0, top_p: 0.9, top_k: 5 }), 200);
  assert.equal(await refusal({ ...hello, temperature: 1 }), 200);
});

Deno.test("mock: models list, one model, an unknown one, an unknown route", async () => {
  const get = (path: string) => mockRespond(request(undefined, { path, method: "GET" }), defaults);
  const page = await (await get("/v1/models")).json();
  assert.equal(page.has_more, false);
  assert.ok(page.data.length >= 1);
  assert.equal(page.first_id, page.data[0].id);
  assert.equal(page.last_id, page.data.at(-1).id);
  for (const model of page.data) {
    assert.deepEqual(Object.keys(model), ["type", "id", "display_name", "created_at"]);
    assert.equal(model.type, "model");
    assert.deepEqual(await (await get(`/v1/models/${model.id}`)).json(), model);
  }
  assert.ok(page.data.some((model: { id: string }) => model.id === "mock-1"));
  const missing = await get("/v1/models/claude-9");
  assert.equal(missing.status, 404);
  assert.deepEqual((await missing.json()).error, { type: "not_found_error", message: "model: claude-9" });
  const nowhere = await mockRespond(request(undefined, { path: "/v1/complete" }), defaults);
  assert.equal(nowhere.status, 404);
  assert.equal((await nowhere.json()).error.type, "not_found_error");
});

Deno.test("createMockProvider answers ProviderRequests from their bytes and ignores keys", async () => {
  const provider = createMockProvider("demo", options({ events: 2 }));
  assert.equal(provider.name, "demo");
  assert.equal(provider.type, "mock");
  const send = (body: string | null, path = "/v1/messages") =>
    provider.send({
      path,
      search: "?beta=true",
      method: body === null ? "GET" : "POST",
      headers: new Headers(),
      body: body === null ? null : new TextEncoder().encode(body),
      model: undefined,
      upstreamModel: undefined,
      stream: false,
      signal: new AbortController().signal,
    }, { secret: "sk-ignored", label: "sk-...ored" });
  const message = await (await send(JSON.stringify(hello))).json();
  assert.equal(message.content[0].text, "Hello from");
  const broken = await send("{nope");
  assert.equal(broken.status, 400);
  assert.match((await broken.json()).error.message, /^request body is not valid JSON/);
  assert.equal((await send(null, "/v1/models")).status, 200);
});

Deno.test("mockHandler serves the mock over HTTP", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    mockHandler(options({ events: 3 })),
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const streamedAnswer = await fetch(`${base}/v1/messages?beta=true`, {
      method: "POST",
      body: JSON.stringify(streamed(hello)),
    });
    const events = await readEvents(streamedAnswer);
    assert.equal(assembleAnthropicStream(events).message.content[0].text, "Hello from relay's");
    const invalid = await fetch(`${base}/v1/messages`, { method: "POST", body: "[" });
    assert.equal(invalid.status, 400);
    await invalid.body?.cancel();
    const models = await fetch(`${base}/v1/models`);
    assert.equal((await models.json()).data[0].id, "mock-1");
    for (const path of ["/v1/models", "/v1/models/mock-1"]) {
      const head = await fetch(`${base}${path}`, { method: "HEAD" });
      assert.deepEqual([head.status, await head.text()], [200, ""], `HEAD ${path}: a GET without its body`);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("mockHandler stops generating when the HTTP client leaves", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, mockHandler(defaults));
  const left = await timersLeftBy(async (nextTimer) => {
    const leaving = new AbortController();
    const armed = nextTimer();
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/v1/messages`, {
      method: "POST",
      body: JSON.stringify(streamed(hello)),
      headers: { "x-relay-mock": "chunk_delay=1h" },
      signal: leaving.signal,
    });
    const reader = response.body!.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /^event: message_start/);
    await armed;
    leaving.abort();
    await assert.rejects(reader.read());
    // Resolves once the server has finished with the response, i.e. has cancelled its body.
    await server.shutdown();
  });
  assert.equal(left, 0, "the 1h chunk_delay timer was cleared");
});
