/**
 * Claude Code's history through relay to OpenAI-compatible servers, end to end over real HTTP: a tool
 * loop of a reasoning model behind a chat template that takes a system message only first (Qwen3.5/3.6
 * on llama.cpp, LM Studio, Ollama, vLLM) and that wants its reasoning back on the assistant's tool calls
 * (DeepSeek and Kimi in thinking mode).
 */
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import {
  chunk,
  FAKE_USAGE,
  openaiError,
  openaiStream,
  recordingFetch,
  usageChunk,
} from "../_helpers/fake_openai.ts";
import { providerRequest } from "../_helpers/provider_request.ts";
import { startOpenAIRelay } from "../_helpers/openai_relay.ts";

// deno-lint-ignore no-explicit-any
type _Json = any;

/**
 * A reasoning model as a strict server runs it: refuses what the Qwen3.5 template and DeepSeek refuse,
 * in their words; otherwise reasons, then calls Bash until a tool has answered, then says "Done.".
 */
async function strictReasoningServer(request: Request): Promise<Response> {
  const body = await request.json();
  const messages: _Json[] = body.messages;
  if (messages.some((message, index) => message.role === "system" && index > 0)) {
    return openaiError(400, "System message must be at the beginning.", "BadRequestError");
  }
  const bare = messages.findIndex((message) => message.tool_calls && !("reasoning_content" in message));
  if (bare >= 0) {
    return openaiError(
      400,
      `Missing \`reasoning_content\` field in the assistant message at message index ${bare}.`,
      "invalid_request_error",
    );
  }
  const answered = messages.some((message) => message.role === "tool");
  const answer = answered ? [chunk({ content: "Done." }), chunk({}, "stop")] : [
    chunk({ tool_calls: [{ index: 0, id: "call_00_bash", type: "function", function: { name: "Bash" } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"command":"ls"}' } }] }),
    chunk({}, "tool_calls"),
  ];
  return openaiStream([
    chunk({ role: "assistant", content: null, reasoning_content: "Let me " }),
    chunk({ reasoning_content: "think." }),
    ...answer,
    usageChunk(FAKE_USAGE),
    "[DONE]",
  ]);
}

const BASH = {
  name: "Bash",
  description: "Run a command",
  input_schema: {
    type: "object" as const,
    properties: { command: { type: "string" } },
    required: ["command"],
  },
};

// Claude Code's first request: its environment is a system message after the first user turn.
const FIRST_TURN = [
  { role: "user", content: [{ type: "text", text: "list the files" }] },
  { role: "system", content: [{ type: "text", text: "# Environment\n - Platform: linux" }] },
] as unknown as Anthropic.MessageParam[];

const ASK = {
  model: "claude-opus-5-5",
  max_tokens: 4096,
  system: "You are Claude Code.",
  thinking: { type: "enabled" as const, budget_tokens: 1024 },
  tools: [BASH],
};

Deno.test("a Claude Code tool loop passes a server that takes a system message only first and wants its reasoning back", async () => {
  await using setup = startOpenAIRelay(strictReasoningServer, "deepseek-v4", { name: "deepseek" });
  const { upstream, relay } = setup;
  const anthropic = new Anthropic({ baseURL: relay.url, apiKey: "unused", maxRetries: 0 });
  const first = await anthropic.messages.stream({ ...ASK, messages: FIRST_TURN }).finalMessage();
  assert.equal(first.stop_reason, "tool_use");
  assert.deepEqual(first.content.map((block) => block.type), ["thinking", "tool_use"]);
  const sent = JSON.parse(new TextDecoder().decode((await upstream.nextRequest()).body));
  assert.deepEqual(sent.messages.map((message: _Json) => message.role), ["system", "user"]);

  // Claude Code sends the thinking block relay made back in its history.
  const call = first.content.find((block) => block.type === "tool_use")!;
  const second = await anthropic.messages.stream({
    ...ASK,
    messages: [
      ...FIRST_TURN,
      { role: "assistant", content: first.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "a.txt" }] },
    ],
  }).finalMessage();
  assert.equal(second.stop_reason, "end_turn");
  assert.deepEqual(second.content.map((block) => block.type === "text" ? block.text : block.type), [
    "thinking",
    "Done.",
  ]);
  const history = JSON.parse(new TextDecoder().decode((await upstream.nextRequest()).body)).messages;
  // The prompt's start is the first request's, whole: a local server's prefix cache still holds it.
  assert.deepEqual(history.slice(0, 2), sent.messages);
  assert.deepEqual(history.slice(2), [
    {
      role: "assistant",
      content: null,
      reasoning_content: "Let me think.",
      tool_calls: [{
        id: "call_00_bash",
        type: "function",
        function: { name: "Bash", arguments: '{"command":"ls"}' },
      }],
    },
    { role: "tool", tool_call_id: "call_00_bash", content: "a.txt" },
  ]);
});

Deno.test("OpenAI's own hosts get no reasoning_content, and a system message between turns as a user's system reminder", async () => {
  const { sent, fetch } = recordingFetch(() => openaiStream(["[DONE]"]));
  const provider = createOpenAIProvider({ name: "openai", baseUrl: "https://api.openai.com/v1", fetch });
  const body = {
    model: "claude-opus-5-5",
    max_tokens: 64,
    stream: true,
    messages: [
      ...FIRST_TURN,
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "Let me think.", signature: "" },
          { type: "tool_use", id: "call_1", name: "Bash", input: { command: "ls" } },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "a.txt" }] },
    ],
  };
  const response = await provider.send(providerRequest(JSON.stringify(body)), {
    secret: "sk-proj-unit-test-key-00000000",
    label: "sk-proj-...0000",
  });
  await response.body?.cancel();
  assert.deepEqual(sent[0].messages, [
    {
      role: "user",
      content: [
        { type: "text", text: "list the files" },
        { type: "text", text: "<system-reminder>\n# Environment\n - Platform: linux\n</system-reminder>" },
      ],
    },
    {
      role: "assistant",
      content: null,
      tool_calls: [{
        id: "call_1",
        type: "function",
        function: { name: "Bash", arguments: '{"command":"ls"}' },
      }],
    },
    { role: "tool", tool_call_id: "call_1", content: "a.txt" },
  ]);
});

Deno.test("Groq and Mistral, which refuse unknown message fields, get no reasoning_content either; DeepSeek and Kimi do", async () => {
  const reasoningSentTo = async (baseUrl: string) => {
    const { sent, fetch } = recordingFetch(() => openaiStream(["[DONE]"]));
    const provider = createOpenAIProvider({ name: "upstream", baseUrl, fetch });
    const body = {
      model: "claude-opus-5-5",
      max_tokens: 64,
      stream: true,
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
    };
    await (await provider.send(providerRequest(JSON.stringify(body)), undefined)).body?.cancel();
    return sent[0].messages[1].reasoning_content;
  };
  for (
    const host of [
      "api.groq.com",
      "api.mistral.ai",
      "api.mistral.ai.",
      "api.cerebras.ai",
      "eu.api.openai.com",
    ]
  ) {
    assert.equal(await reasoningSentTo(`https://${host}/openai/v1`), undefined, host);
  }
  for (const host of ["api.deepseek.com", "api.moonshot.ai", "127.0.0.1:8080", "openrouter.ai"]) {
    assert.equal(await reasoningSentTo(`https://${host}/v1`), "Let me think.", host);
  }
});
