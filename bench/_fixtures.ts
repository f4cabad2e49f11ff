/**
 * Inputs shared by the microbenchmarks: streams, headers and bodies shaped like the ones relay carries
 * between Claude Code and api.anthropic.com, built once per bench file.
 */
import { anthropicAnswerHeaders, CLAUDE_CODE_HEADERS } from "../src/bench/claude_code_headers.ts";
import { mockRespond } from "../src/providers/mock.ts";
import { mockOptionsSchema } from "../src/providers/mock_options.ts";
import { GOLDEN_NAMES, loadGolden } from "../tests/_helpers/golden.ts";

/** How many SSE events {@linkcode mockStreamChunks} yields. */
export const STREAM_EVENTS = 200;

/** The events around a text answer's deltas: message start, ping, block start and stop, delta, stop. */
const _ENVELOPE_EVENTS = 6;

/**
 * A {@linkcode STREAM_EVENTS}-event text answer from the mock provider, one chunk per event: the way
 * api.anthropic.com writes a stream, and so the way relay reads it off the socket.
 */
export async function mockStreamChunks(): Promise<Uint8Array[]> {
  const response = await mockRespond({
    path: "/v1/messages",
    method: "POST",
    headers: new Headers(),
    signal: new AbortController().signal,
    body: { model: "mock-1", max_tokens: 1024, stream: true, messages: [{ role: "user", content: "hi" }] },
  }, mockOptionsSchema.parse({ events: STREAM_EVENTS - _ENVELOPE_EVENTS }));
  const chunks = await Array.fromAsync(response.body!);
  if (chunks.length !== STREAM_EVENTS) {
    throw new Error(`mock stream has ${chunks.length} events, not ${STREAM_EVENTS}`);
  }
  return chunks;
}

/** Every golden stream of `tests/stream/golden/`, each as one buffer. */
export function goldenStreams(): Promise<Uint8Array[]> {
  return Promise.all(GOLDEN_NAMES.map(loadGolden));
}

/** Reads `stream` to its end, chunk by chunk, as relay's client would. */
export async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  const reader = stream.getReader();
  while (!(await reader.read()).done);
}

/** The headers Claude Code sends on `POST /v1/messages`, as Deno.serve hands them to relay. */
export function claudeCodeRequestHeaders(): Headers {
  return new Headers({
    "host": "127.0.0.1:8787",
    "connection": "keep-alive",
    "content-length": "409600",
    "content-type": "application/json",
    "accept-encoding": "gzip, deflate, br, zstd",
    ...CLAUDE_CODE_HEADERS,
  });
}

/** The headers api.anthropic.com answers a streamed request with, as Deno's fetch hands them to relay. */
export function anthropicResponseHeaders(): Headers {
  return new Headers({
    "date": "Tue, 25 Nov 2025 13:00:00 GMT",
    "content-type": "text/event-stream; charset=utf-8",
    "transfer-encoding": "chunked",
    "connection": "keep-alive",
    ...anthropicAnswerHeaders(Date.UTC(2025, 10, 25, 13)),
  });
}

/**
 * A Messages request body of at least `minBytes`, shaped like a long Claude Code session: a system
 * prompt, a dozen tools with schemas, and turn after turn of tool calls whose results hold file text.
 */
export function claudeCodeBody(minBytes: number): Uint8Array<ArrayBuffer> {
  const tools = Array.from({ length: 12 }, (_, i) => ({
    name: `tool_${i}`,
    description: `Tool ${i}: reads, edits or searches files in the workspace. `.repeat(8),
    input_schema: {
      type: "object",
      properties: { path: { type: "string" }, pattern: { type: "string" }, limit: { type: "integer" } },
      required: ["path"],
    },
  }));
  const body = {
    model: "claude-sonnet-4-5",
    max_tokens: 32000,
    stream: true,
    system: [{ type: "text", text: "You are Claude Code, an interactive CLI tool. ".repeat(200) }],
    tools,
    messages: [] as unknown[],
  };
  const fileText = "export function example(value: number): string { return `café ${value} 🎉`; }\n".repeat(
    40,
  );
  for (let turn = 0; JSON.stringify(body).length < minBytes; turn++) {
    const id = `toolu_${String(turn).padStart(24, "0")}`;
    body.messages.push(
      {
        role: "assistant",
        content: [{ type: "tool_use", id, name: "tool_0", input: { path: `src/f${turn}.ts` } }],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: fileText }] },
    );
  }
  body.messages.push({ role: "user", content: "Now refactor it." });
  return new TextEncoder().encode(JSON.stringify(body));
}

/**
 * A Chat Completions stream of `deltas` content deltas, as OpenAI writes one: a role chunk, the
 * deltas, the finish chunk, the usage chunk and `[DONE]`, one chunk each.
 */
export function openaiStreamChunks(deltas: number): Uint8Array[] {
  const head = {
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created: 1767225600,
    model: "gpt-4.1",
  };
  const chunk = (delta: object, finish_reason: string | null = null, usage: object | null = null) => ({
    ...head,
    choices: [{ index: 0, delta, logprobs: null, finish_reason }],
    usage,
  });
  const payloads = [
    chunk({ role: "assistant", content: "" }),
    ...Array.from({ length: deltas }, (_, i) => chunk({ content: ` word${i}` })),
    chunk({}, "stop"),
    {
      ...head,
      choices: [],
      usage: { prompt_tokens: 12, completion_tokens: deltas, total_tokens: 12 + deltas },
    },
  ];
  const encoder = new TextEncoder();
  return [...payloads.map((payload) => JSON.stringify(payload)), "[DONE]"]
    .map((data) => encoder.encode(`data: ${data}\n\n`));
}
