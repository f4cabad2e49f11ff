/**
 * An OpenAI-compatible upstream's token-limit refusals, over real HTTP through relay: a `max_tokens` over
 * the model's output cap, or over what its window leaves, goes once more at what fits, the cap learnt for
 * the model's later requests; what reaches the client is in the words Claude Code acts on (it lowers
 * `max_tokens` and resends only on Anthropic's wordings, which its own patterns below read).
 */
import assert from "node:assert/strict";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { chunk, openaiStream, recordingFetch } from "../_helpers/fake_openai.ts";
import { providerRequest } from "../_helpers/provider_request.ts";
import { startOpenAIRelay } from "../_helpers/openai_relay.ts";
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
  await using setup = startOpenAIRelay(answer, "gpt-fake-1", { name: "openai" });
  const { relay } = setup;
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
}

/**
 * `ASK` sent twice through relay to an upstream that refuses a `max_tokens` over what `allowed` says, in
 * `words` naming what it was sent: the `max_tokens` each upstream request had, the client's statuses, and
 * what relay logged.
 */
async function askTwice(allowed: number, words: (sent: number) => string) {
  const refusing = async (request: Request) => {
    const sent = (await request.json()).max_tokens;
    if (sent <= allowed) return openaiStream([chunk({ role: "assistant", content: "ok" }, "stop"), "[DONE]"]);
    const error = { message: words(sent), type: "invalid_request_error", param: "max_tokens", code: null };
    return Response.json({ error }, { status: 400 });
  };
  const capped: [string, number][] = [];
  await using setup = startOpenAIRelay(refusing, "gpt-fake-1", {
    name: "openai",
    onMaxTokensCapped: (model, cap) => void capped.push([model, cap]),
  });
  const { upstream, relay } = setup;
  const statuses: number[] = [];
  for (let i = 0; i < 2; i++) {
    const response = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(ASK),
    });
    statuses.push(response.status);
    await response.body?.cancel();
  }
  const sent = upstream.requests.map((recorded) =>
    JSON.parse(new TextDecoder().decode(recorded.body)).max_tokens
  );
  return { sent, statuses, capped };
}

Deno.test("an OpenAI output cap is learnt: the request goes once more at the cap, and the model's next asks no more", async () => {
  const { sent, statuses, capped } = await askTwice(
    16384,
    (sent) =>
      `max_tokens is too large: ${sent}. This model supports at most 16384 completion tokens, whereas you provided ${sent}.`,
  );
  assert.deepEqual(statuses, [200, 200]);
  assert.deepEqual(sent, [32000, 16384, 16384]);
  assert.deepEqual(capped, [["gpt-fake-1", 16384]]);
});

Deno.test("DeepSeek's output cap, which names only its range, is learnt the same way", async () => {
  const { sent, statuses } = await askTwice(
    8192,
    () => "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]",
  );
  assert.deepEqual(statuses, [200, 200]);
  assert.deepEqual(sent, [32000, 8192, 8192]);
});

Deno.test("vLLM's max_tokens over the window goes once more with what the input leaves, for that request only", async () => {
  const { sent, statuses, capped } = await askTwice(
    32768 - 12396,
    (sent) =>
      `'max_tokens' or 'max_completion_tokens' is too large: ${sent}. This model's maximum context length is ` +
      `32768 tokens and your request has 12396 input tokens (${sent} > 32768 - 12396). None`,
  );
  assert.deepEqual(statuses, [200, 200]);
  assert.deepEqual(sent, [32000, 20372, 32000, 20372], "a window's room depends on the input");
  assert.deepEqual(capped, []);
});

Deno.test("a window that leaves less than 3000 tokens of room is told to the client, as Claude Code compacts then", async () => {
  const window = (room: number) => (sent: number) =>
    `'max_tokens' or 'max_completion_tokens' is too large: ${sent}. This model's maximum context length is ` +
    `32768 tokens and your request has ${32768 - room} input tokens (${sent} > 32768 - ${
      32768 - room
    }). None`;
  const short = await askTwice(2999, window(2999));
  assert.deepEqual(short.statuses, [400, 400]);
  assert.deepEqual(short.sent, [32000, 32000], "no resend for 2999 tokens of room");
  const enough = await askTwice(3000, window(3000));
  assert.deepEqual(enough.statuses, [200, 200]);
  assert.deepEqual(enough.sent, [32000, 3000, 32000, 3000], "3000 tokens of room are worth a resend");
});

Deno.test("a token limit refused again after the resend reaches the client in Claude Code's words", async () => {
  const { status, message } = await ask(() =>
    Response.json({
      error: { message: OPENAI_CAP, type: "invalid_request_error", param: "max_tokens", code: null },
    }, { status: 400 })
  );
  assert.equal(status, 400);
  assert.equal(CLAUDE_CODE_OUTPUT_CAP.exec(message)?.[1], "16384", message);
  assert.ok(message.includes(OPENAI_CAP), message);
  const window = await ask(() =>
    Response.json(
      { object: "error", message: VLLM_WINDOW, type: "BadRequestError", param: null, code: 400 },
      { status: 400 },
    )
  );
  assert.deepEqual(
    CLAUDE_CODE_CONTEXT_LIMIT.exec(window.message)?.slice(1).map(Number),
    [12396, 32000, 32768],
    window.message,
  );
  assert.doesNotMatch(window.message, /prompt is too long/);
});

Deno.test("an output cap as a stream's first chunk ends the stream in an error event Claude Code acts on", async () => {
  const { message } = await ask(() =>
    openaiStream([{ error: { message: OPENAI_CAP, type: "invalid_request_error", param: "max_tokens" } }])
  );
  assert.equal(CLAUDE_CODE_OUTPUT_CAP.exec(message)?.[1], "16384", message);
  assert.ok(message.includes(OPENAI_CAP), message);
});

Deno.test("a cap is read only from the error's own message, about the max_tokens sent, and never asks for more", async () => {
  const refusals = [
    // A cap for another max_tokens than the one sent.
    {
      error: {
        message: "max_tokens is too large: 64000. This model supports at most 16384 completion tokens.",
      },
    },
    // A cap-only wording in what the body quotes of a prompt, not in its message.
    { error: { message: "Invalid request" }, prompt: "the valid range of max_tokens is [1, 5]" },
    // A cap above what was sent.
    { error: { message: "Invalid max_tokens value, the valid range of max_tokens is [1, 65536]" } },
  ];
  for (const refusal of refusals) {
    const { sent, fetch } = recordingFetch(() => Response.json(refusal, { status: 400 }));
    const capped: number[] = [];
    const provider = createOpenAIProvider({
      name: "openai",
      baseUrl: "http://127.0.0.1:9/v1",
      fetch,
      onMaxTokensCapped: (_, cap) => void capped.push(cap),
    });
    const response = await provider.send(providerRequest(JSON.stringify(ASK)), undefined);
    assert.equal(response.status, 400, JSON.stringify(refusal));
    await response.body?.cancel();
    assert.deepEqual(sent.map((body) => body.max_tokens), [32000], JSON.stringify(refusal));
    assert.deepEqual(capped, []);
  }
});
