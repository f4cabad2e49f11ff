/**
 * A strict OpenAI-compatible server that refuses the `reasoning_content` relay sends thinking back as
 * (Cerebras, a gateway whose schema forbids extra fields): the request goes once more without it, and
 * the model's later requests go without it at once. DeepSeek's and Kimi's thinking modes, which ask for
 * it on a tool-calling message that came without: the request goes once more with it empty there, and so
 * do the model's later requests at once. A 400 saying anything else passes on untouched.
 */
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import {
  chunk,
  openaiError,
  openaiStream,
  recordingFetch,
  startFakeOpenAI,
  usageChunk,
} from "../_helpers/fake_openai.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";
import { providerRequest } from "../_helpers/provider_request.ts";
import { startOpenAIRelay } from "../_helpers/openai_relay.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

// deno-lint-ignore no-explicit-any
type _Json = any;

const IDLE_MS = 30_000;

/** Claude Code's tool loop with thinking on: its assistant turn carries the thinking relay made. */
function toolLoop(model = "qwen-3.8-27b", stream = true): string {
  return JSON.stringify({
    model,
    max_tokens: 64,
    stream,
    thinking: { type: "enabled", budget_tokens: 1024 },
    messages: [
      { role: "user", content: "list the files" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "Let me think.", signature: "" },
          { type: "tool_use", id: "call_1", name: "Bash", input: { command: "ls" } },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "a.txt" }] },
    ],
  });
}

/** The same loop as a client without thinking sends it: no thinking block, so no `reasoning_content`. */
const NO_THINKING = JSON.stringify({
  model: "qwen-3.8-27b",
  max_tokens: 64,
  stream: true,
  messages: [
    { role: "user", content: "list the files" },
    {
      role: "assistant",
      content: [{ type: "tool_use", id: "call_1", name: "Bash", input: { command: "ls" } }],
    },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "a.txt" }] },
  ],
});

const CEREBRAS_REFUSAL = {
  message:
    "messages.1.assistant.reasoning_content: property 'messages.1.assistant.reasoning_content' is unsupported",
  type: "invalid_request_error",
  param: "validation_error",
  code: "wrong_api_format",
};

function answer(): Response {
  return openaiStream([
    chunk({ role: "assistant", content: "" }),
    chunk({ content: "Done." }),
    chunk({}, "stop"),
    usageChunk({ prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 }),
    "[DONE]",
  ]);
}

/** Cerebras as its API answers: any message field it does not know is a 400 naming it. */
async function strictServer(request: Request): Promise<Response> {
  const body = await request.json();
  if (body.messages.some((message: _Json) => "reasoning_content" in message)) {
    return Response.json(CEREBRAS_REFUSAL, { status: 400 });
  }
  return answer();
}

function messagesOf(recorded: { body: Uint8Array }): _Json[] {
  return JSON.parse(new TextDecoder().decode(recorded.body)).messages;
}

Deno.test("a server refusing reasoning_content gets the request once more without it, and the model's next request goes without it at once", async () => {
  const upstream = startFakeOpenAI(strictServer);
  const clock = new FakeClock();
  const refusals: [string, string][] = [];
  const provider = createOpenAIProvider({
    name: "cerebras",
    baseUrl: `${upstream.url}/v1`,
    timers: clock,
    onFieldRefused: (model, field) => void refusals.push([model, field]),
  });
  try {
    const first = await provider.send(providerRequest(toolLoop(), { idleMs: IDLE_MS }), undefined);
    assert.equal(first.status, 200);
    assert.match(await first.text(), /Done\./);
    assert.equal(upstream.requests.length, 2, "sent once more");
    assert.equal(messagesOf(upstream.requests[0])[1].reasoning_content, "Let me think.");
    const resent = messagesOf(upstream.requests[1]);
    assert.equal("reasoning_content" in resent[1], false);
    assert.deepEqual(resent[1].tool_calls.map((call: _Json) => call.id), ["call_1"], "the rest as it was");
    assert.deepEqual(refusals, [["qwen-3.8-27b", "reasoning_content"]]);

    const second = await provider.send(providerRequest(toolLoop(), { idleMs: IDLE_MS }), undefined);
    assert.equal(second.status, 200);
    await second.body?.cancel();
    assert.equal(upstream.requests.length, 3, "one request only");
    assert.equal("reasoning_content" in messagesOf(upstream.requests[2])[1], false);
    assert.equal(refusals.length, 1, "told once");

    // Another model behind the same server is learnt of on its own (a gateway may route it elsewhere).
    const other = await provider.send(
      providerRequest(toolLoop("gpt-oss-120b"), { idleMs: IDLE_MS }),
      undefined,
    );
    await other.body?.cancel();
    assert.equal(upstream.requests.length, 5);
    assert.deepEqual(refusals[1], ["gpt-oss-120b", "reasoning_content"]);
  } finally {
    await upstream.close();
  }
});

Deno.test("an unstreamed request refused for reasoning_content is answered by the resend", async () => {
  const upstream = startFakeOpenAI(async (request) => {
    const body = await request.json();
    if (body.messages.some((message: _Json) => "reasoning_content" in message)) {
      return Response.json(CEREBRAS_REFUSAL, { status: 400 });
    }
    return Response.json({
      id: "chatcmpl-1",
      object: "chat.completion",
      model: "qwen-3.8-27b",
      choices: [{ index: 0, message: { role: "assistant", content: "Done." }, finish_reason: "stop" }],
      usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
    });
  });
  const provider = createOpenAIProvider({
    name: "cerebras",
    baseUrl: `${upstream.url}/v1`,
    timers: new FakeClock(),
  });
  try {
    const response = await provider.send(
      providerRequest(toolLoop("qwen-3.8-27b", false), { stream: false, idleMs: IDLE_MS }),
      undefined,
    );
    assert.equal(response.status, 200);
    const message = await response.json();
    assert.deepEqual(message.content, [{ type: "text", text: "Done." }]);
    assert.equal(upstream.requests.length, 2);
  } finally {
    await upstream.close();
  }
});

/** How many requests a provider sent for one tool loop answered first with `refusal`, and what the client got. */
async function afterRefusal(refusal: Response, body = toolLoop()) {
  const { sent, fetch } = recordingFetch((sent) => sent.length === 1 ? refusal : answer());
  const clock = new FakeClock();
  const provider = createOpenAIProvider({
    name: "upstream",
    baseUrl: "http://127.0.0.1:9/v1",
    timers: clock,
    fetch,
  });
  const response = await provider.send(providerRequest(body, { idleMs: IDLE_MS }), undefined);
  return { sent, response, clock };
}

Deno.test("each strict server's wording of a refused reasoning_content gets the resend", async () => {
  const refusals: [number, unknown][] = [
    [400, {
      error: {
        message:
          "'messages.1' : for 'role:assistant' the following must be satisfied[('messages.1' : property 'reasoning_content' is unsupported)]",
        type: "invalid_request_error",
      },
    }],
    [422, {
      object: "error",
      message: {
        detail: [{
          type: "extra_forbidden",
          loc: ["body", "messages", 1, "assistant", "reasoning_content"],
          msg: "Extra inputs are not permitted",
          input: "Let me think.",
        }],
      },
      type: "invalid_request_message_error",
    }],
    [400, {
      error: {
        message: "Additional properties are not allowed ('reasoning_content' was unexpected) - 'messages.1'",
        type: "invalid_request_error",
      },
    }],
    [400, {
      error: {
        message: "Unrecognized request argument supplied: reasoning_content",
        type: "invalid_request_error",
      },
    }],
    [400, {
      error: { message: "Unknown parameter: 'messages[1].reasoning_content'.", code: "unknown_parameter" },
    }],
    [400, {
      error: {
        code: 400,
        message:
          `Invalid JSON payload received. Unknown name "reasoning_content" at 'messages[1]': Cannot find field.`,
        status: "INVALID_ARGUMENT",
      },
    }],
    // A FastAPI server with pydantic v1, and one that words pydantic v2's error as text.
    [422, {
      detail: [{
        loc: ["body", "messages", 1, "reasoning_content"],
        msg: "extra fields not permitted",
        type: "value_error.extra",
      }],
    }],
    [400, {
      error: {
        message: "1 validation error for ChatCompletionRequest\nmessages.1.assistant.reasoning_content\n  " +
          "Extra inputs are not permitted [type=extra_forbidden, input_value='Let me think.', input_type=str]",
      },
    }],
    [400, {
      error: {
        message:
          "Extra inputs are not permitted, field: 'messages[1].reasoning_content', value: 'Let me think.'",
      },
    }],
  ];
  for (const [status, body] of refusals) {
    const { sent, response } = await afterRefusal(Response.json(body, { status }));
    assert.equal(response.status, 200, JSON.stringify(body));
    await response.body?.cancel();
    assert.equal(sent.length, 2, JSON.stringify(body));
    assert.equal("reasoning_content" in sent[1].messages[1], false);
  }
});

/** DeepSeek's and Kimi's wordings for a tool-calling message without `reasoning_content` in thinking mode. */
const MISSING_REASONING = [
  "Missing `reasoning_content` field in the assistant message at message index 1.",
  "thinking is enabled but reasoning_content is missing in assistant tool call message at index 1",
  "The reasoning_content in the thinking mode must be passed back to the API.",
];

/** DeepSeek in thinking mode (its default), as its API answers a tool-calling message without reasoning. */
function deepSeek(missing = MISSING_REASONING[0]) {
  return async (request: Request): Promise<Response> => {
    const body = await request.json();
    const lacking = body.messages.some((message: _Json) =>
      message.role === "assistant" && message.tool_calls && !("reasoning_content" in message)
    );
    return lacking ? openaiError(400, missing, "invalid_request_error") : answer();
  };
}

Deno.test("a tool loop without thinking that DeepSeek or Kimi asks reasoning_content of goes once more with it empty, and the model's next request carries it at once", async () => {
  for (const missing of MISSING_REASONING) {
    const upstream = startFakeOpenAI(deepSeek(missing));
    const clock = new FakeClock();
    const asked: [string, string][] = [];
    const provider = createOpenAIProvider({
      name: "deepseek",
      baseUrl: `${upstream.url}/v1`,
      timers: clock,
      onFieldAsked: (model, field) => void asked.push([model, field]),
    });
    try {
      const first = await provider.send(providerRequest(NO_THINKING, { idleMs: IDLE_MS }), undefined);
      assert.equal(first.status, 200, missing);
      assert.match(await first.text(), /Done\./);
      assert.equal(upstream.requests.length, 2, "sent once more");
      assert.equal("reasoning_content" in messagesOf(upstream.requests[0])[1], false);
      const resent = messagesOf(upstream.requests[1]);
      assert.equal(resent[1].reasoning_content, "");
      assert.deepEqual(resent[1].tool_calls.map((call: _Json) => call.id), ["call_1"], "the rest as it was");
      assert.deepEqual(
        messagesOf(upstream.requests[1]).map((message) => ({ ...message, reasoning_content: undefined })),
        messagesOf(upstream.requests[0]).map((message) => ({ ...message, reasoning_content: undefined })),
      );
      assert.deepEqual(asked, [["qwen-3.8-27b", "reasoning_content"]]);
      assert.deepEqual(clock.armed, [], "the look is over");

      const second = await provider.send(providerRequest(NO_THINKING, { idleMs: IDLE_MS }), undefined);
      assert.equal(second.status, 200);
      await second.body?.cancel();
      assert.equal(upstream.requests.length, 3, "one request only");
      assert.equal(messagesOf(upstream.requests[2])[1].reasoning_content, "");
      // A turn that reasoned sends its reasoning, not an empty one.
      await (await provider.send(providerRequest(toolLoop(), { idleMs: IDLE_MS }), undefined)).body?.cancel();
      assert.equal(messagesOf(upstream.requests[3])[1].reasoning_content, "Let me think.");
      assert.equal(asked.length, 1, "told once");
    } finally {
      await upstream.close();
    }
  }
});

/**
 * `body`'s tool loop sent twice through relay by the Anthropic SDK to `server`, its model mapped to
 * `upstreamModel`: the first costs one resend, the second none.
 */
async function loopTwiceThroughRelay(
  server: (request: Request) => Promise<Response>,
  upstreamModel: string,
  body: string,
): Promise<void> {
  await using setup = startOpenAIRelay(server, upstreamModel);
  const { upstream, relay } = setup;
  const anthropic = new Anthropic({ baseURL: relay.url, apiKey: "unused", maxRetries: 0 });
  const params = JSON.parse(body);
  delete params.stream;
  for (const expected of [2, 3]) {
    const message = await anthropic.messages.stream(params).finalMessage();
    assert.deepEqual(message.content, [{ type: "text", text: "Done." }]);
    assert.equal(upstream.requests.length, expected);
  }
}

Deno.test("a request refused for its max_tokens, then for its missing reasoning_content, gets both remedies in turn", async () => {
  const asked: number[] = [];
  const upstream = startFakeOpenAI(async (request) => {
    const body = await request.clone().json();
    asked.push(body.max_tokens);
    if (body.max_tokens > 8192) {
      return openaiError(
        400,
        "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]",
        "invalid_request_error",
      );
    }
    return await deepSeek()(request);
  });
  const provider = createOpenAIProvider({
    name: "deepseek",
    baseUrl: `${upstream.url}/v1`,
    timers: new FakeClock(),
  });
  try {
    const body = JSON.stringify({ ...JSON.parse(NO_THINKING), max_tokens: 32000 });
    const response = await provider.send(providerRequest(body, { idleMs: IDLE_MS }), undefined);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /Done\./);
    assert.deepEqual(asked, [32000, 8192, 8192], "the cap, then the reasoning, each once");
    assert.equal(messagesOf(upstream.requests[2])[1].reasoning_content, "");
  } finally {
    await upstream.close();
  }
});

Deno.test("Claude Code's tool loop without thinking passes DeepSeek's thinking mode, through relay", async () => {
  const body = JSON.stringify({ ...JSON.parse(NO_THINKING), model: "claude-sonnet-4-5" });
  await loopTwiceThroughRelay(deepSeek(), "deepseek-v4-flash", body);
});

Deno.test("DeepSeek's and Kimi's refusal of a missing reasoning_content passes on, not sent again, when every tool-calling message carried it", async () => {
  for (const message of MISSING_REASONING) {
    const { sent, response, clock } = await afterRefusal(openaiError(400, message, "invalid_request_error"));
    assert.equal(response.status, 400, message);
    assert.equal(sent.length, 1, message);
    assert.equal((await response.json()).error.message, message, "the body read to look is passed on whole");
    assert.deepEqual(clock.armed, [], "the look is over");
  }
});

Deno.test("a 400 that says nothing of reasoning_content passes on whole, not sent again, even when it quotes the request", async () => {
  const unrelated = [
    "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
    // A 422 that quotes the message it fails, reasoning and all, whose words would refuse a field.
    JSON.stringify({
      detail: [{
        type: "string_type",
        loc: ["body", "messages", 1, "content"],
        msg: "Input should be a valid string",
        input: {
          role: "assistant",
          reasoning_content: "This extra input is unsupported here, so an unknown field is not allowed.",
        },
      }],
    }),
    // The same quoted reasoning, as reasoning often is, naming the field in the words that refuse one.
    JSON.stringify({
      detail: [{
        type: "string_type",
        loc: ["body", "messages", 1, "content"],
        msg: "Input should be a valid string",
        input: { role: "assistant", reasoning_content: "So reasoning_content is unsupported: drop it." },
      }],
    }),
  ];
  for (const message of unrelated) {
    const { sent, response } = await afterRefusal(openaiError(400, message, "invalid_request_error"));
    assert.equal(response.status, 400);
    assert.equal(sent.length, 1, message);
    // Worded in Anthropic's terms where it has them (a context limit), the upstream's text still whole.
    assert.ok((await response.json()).error.message.endsWith(message), message);
  }
});

Deno.test("no look into an error answer unless its status is one a refused field comes with (400, 413, 422)", async () => {
  const cases: [string, Response][] = [
    ["a 500", Response.json(CEREBRAS_REFUSAL, { status: 500 })],
    ["a 429", Response.json(CEREBRAS_REFUSAL, { status: 429 })],
  ];
  for (const [what, upstreamAnswer] of cases) {
    let pulled = false;
    const watched = new ReadableStream<Uint8Array>({
      async pull(controller) {
        pulled = true;
        controller.enqueue(new Uint8Array(await upstreamAnswer.arrayBuffer()));
        controller.close();
      },
    }, { highWaterMark: 0 });
    const { sent, response, clock } = await afterRefusal(
      new Response(watched, { status: upstreamAnswer.status, headers: upstreamAnswer.headers }),
    );
    assert.equal(pulled, false, `${what}: not read before the answer goes to relay`);
    assert.equal(clock.timersSet, 0, what);
    assert.equal(sent.length, 1, what);
    assert.equal(response.status, upstreamAnswer.status, what);
    await response.body?.cancel();
  }
});

Deno.test("a refusal's body that stalls is looked at for no longer than idle, then passes on", async () => {
  const stream = controlledStream();
  stream.push('{"error":{"message":"This model\'s maximum context');
  const { sent, fetch } = recordingFetch(() => new Response(stream.body, { status: 400 }));
  const clock = new FakeClock();
  const provider = createOpenAIProvider({
    name: "upstream",
    baseUrl: "http://127.0.0.1:9/v1",
    timers: clock,
    fetch,
  });
  const sending = provider.send(providerRequest(toolLoop(), { idleMs: IDLE_MS }), undefined);
  assert.ok(await settlesWithin(clock.whenArmed(IDLE_MS), 5_000), "the look is bounded by idle");
  clock.advance(IDLE_MS);
  const response = await sending;
  assert.equal(response.status, 400);
  assert.equal(sent.length, 1);
  stream.push(' length is 8192 tokens."}}');
  stream.end();
  assert.match((await response.json()).error.message, /maximum context length is 8192 tokens/);
});

Deno.test("Claude Code's tool loop with thinking on passes a server refusing reasoning_content, through relay", async () => {
  await loopTwiceThroughRelay(strictServer, "qwen-3.8-27b", toolLoop("claude-opus-5-5"));
});

Deno.test("a refusal's body is looked into in time linear in its size, whatever it repeats", async () => {
  // 16 KiB, what a look reads, of the words a refusal begins with: once 2.9 s of stalled event loop.
  for (const repeated of ["extra_forbidden", "value_error.extra", "unknown field ", '"']) {
    const message = repeated.repeat(Math.ceil(16_384 / repeated.length)).slice(0, 16_384);
    const started = performance.now();
    const { sent, response } = await afterRefusal(openaiError(422, message, "invalid_request_error"));
    const elapsed = performance.now() - started;
    await response.body?.cancel();
    assert.equal(sent.length, 1, repeated);
    assert.ok(elapsed < 1_000, `${repeated}: ${elapsed} ms`);
  }
});
