/**
 * An OpenAI-compatible upstream's token-limit refusals reach the client, over real HTTP through relay, in
 * the words Claude Code acts on: it lowers `max_tokens` and resends only on Anthropic's wordings, which
 * its own patterns below read.
 */
import assert from "node:assert/strict";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { FAKE_OPENAI_KEY, openaiStream, startFakeOpenAI } from "../_helpers/fake_openai.ts";
import { startTestRelay } from "../_helpers/relay.ts";
import { CLAUDE_CODE_CONTEXT_LIMIT, CLAUDE_CODE_OUTPUT_CAP } from "../_helpers/claude_code_wording.ts";

const OPENAI_CAP =
  "max_tokens is too large: 32000. This model supports at most 16384 completion tokens, whereas you provided 32000.";
const VLLM_WINDOW =
  "'max_tokens' or 'max_completion_tokens' is too large: 32000. This model's maximum context length is 32768 tokens and your request has 12396 input tokens (32000 > 32768 - 12396). None";

/** Claude Code's request: streamed, with the `max_tokens` it sends a model it does not know. */
const ASK = {
  model: "claude-sonnet-4-5",
  max_tokens: 32000,
  stream: true,
  messages: [{ role: "user", content: "hi" }],
};

/** The client's status and error message for {@linkcode ASK}, from a JSON error or the stream's `event: error`. */
async function ask(answer: () => Response): Promise<{ status: number; message: string }> {
  const upstream = startFakeOpenAI(answer);
  const provider = createOpenAIProvider({ name: "openai", baseUrl: `${upstream.url}/v1` });
  await using relay = startTestRelay({
    provider,
    keys: [FAKE_OPENAI_KEY],
    models: { "claude-*": "gpt-fake-1" },
  });
  try {
    const response = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(ASK),
    });
    const text = await response.text();
    const error = /^event: error\ndata: (.*)$/m.exec(text)?.[1] ?? text;
    const body = JSON.parse(error);
    assert.equal(body.error?.type, "invalid_request_error", text);
    return { status: response.status, message: body.error.message };
  } finally {
    await upstream.close();
  }
}

Deno.test("an OpenAI output cap reaches the client as Anthropic's 400, which Claude Code lowers max_tokens on", async () => {
  const { status, message } = await ask(() =>
    Response.json({
      error: { message: OPENAI_CAP, type: "invalid_request_error", param: "max_tokens", code: null },
    }, { status: 400 })
  );
  assert.equal(status, 400);
  assert.equal(CLAUDE_CODE_OUTPUT_CAP.exec(message)?.[1], "16384", message);
  assert.ok(message.includes(OPENAI_CAP), message);
});

Deno.test("vLLM's max_tokens over the window reaches the client as Anthropic's context limit, not a prompt too long", async () => {
  const { status, message } = await ask(() =>
    Response.json(
      { object: "error", message: VLLM_WINDOW, type: "BadRequestError", param: null, code: 400 },
      { status: 400 },
    )
  );
  assert.equal(status, 400);
  assert.deepEqual(
    CLAUDE_CODE_CONTEXT_LIMIT.exec(message)?.slice(1).map(Number),
    [12396, 32000, 32768],
    message,
  );
  assert.doesNotMatch(message, /prompt is too long/);
  assert.ok(message.includes(VLLM_WINDOW), message);
});

Deno.test("an output cap as a stream's first chunk ends the stream in an error event Claude Code acts on", async () => {
  const { message } = await ask(() =>
    openaiStream([{ error: { message: OPENAI_CAP, type: "invalid_request_error", param: "max_tokens" } }])
  );
  assert.equal(CLAUDE_CODE_OUTPUT_CAP.exec(message)?.[1], "16384", message);
  assert.ok(message.includes(OPENAI_CAP), message);
});

Deno.test("DeepSeek's output cap, which names only its range, is completed with the max_tokens relay sent", async () => {
  const deepseek = "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]";
  const { status, message } = await ask(() =>
    Response.json({
      error: { message: deepseek, type: "invalid_request_error", param: null, code: "invalid_request_error" },
    }, { status: 400 })
  );
  assert.equal(status, 400);
  assert.match(message, /^max_tokens: 32000 > 8192, /);
  assert.equal(CLAUDE_CODE_OUTPUT_CAP.exec(message)?.[1], "8192", message);
  assert.ok(message.includes(deepseek), message);
});
