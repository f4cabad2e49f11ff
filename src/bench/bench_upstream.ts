/**
 * The upstream of a loopback bench: the built-in mock, plus one scripted answer the mock cannot give,
 * two tool calls in one turn (the shape of `tests/stream/golden/parallel_tools.sse`), for the
 * `parallel_tools` scenario.
 */
import { mockHandler } from "../providers/mock.ts";
import { type MockOptions, mockOptionsSchema } from "../providers/mock_options.ts";
import { encodeSseEvent } from "../stream/sse_encode.ts";
import { anthropicAnswerHeaders } from "./claude_code_headers.ts";
import { SCENARIO_HEADER } from "./scenarios.ts";

/**
 * A handler that answers like the mock, except a request with `x-relay-bench-scenario:
 * parallel_tools`, which gets {@linkcode parallelToolsResponse}; every answer carries Anthropic's
 * headers.
 *
 * @example
 * ```ts
 * const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0 }, benchUpstreamHandler());
 * ```
 */
export function benchUpstreamHandler(
  options: MockOptions = mockOptionsSchema.parse({}),
): (request: Request) => Promise<Response> {
  const mock = mockHandler(options);
  return async (request) => {
    const answer = request.headers.get(SCENARIO_HEADER) === "parallel_tools"
      ? parallelToolsResponse()
      : await mock(request);
    // Answered as api.anthropic.com answers, with its two dozen headers for relay to filter and read.
    for (const [name, value] of Object.entries(anthropicAnswerHeaders(Date.now()))) {
      if (!answer.headers.has(name)) answer.headers.set(name, value);
    }
    return answer;
  };
}

/**
 * A recorded answer with a text block and two `tool_use` blocks, one event per chunk as
 * api.anthropic.com writes them, ping and all.
 *
 * @example
 * ```ts
 * const events = new SseDecoder().feed(new Uint8Array(await parallelToolsResponse().arrayBuffer()));
 * ```
 */
export function parallelToolsResponse(): Response {
  // Copies: a body's chunks are handed to the server, which need not leave them as they were.
  return new Response(ReadableStream.from(_PARALLEL_TOOLS.map((chunk) => chunk.slice())), {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}

function _tool(index: number, id: string, name: string, fragments: string[]): [string, unknown][] {
  return [
    ["content_block_start", {
      type: "content_block_start",
      index,
      content_block: { type: "tool_use", id, name, input: {} },
    }],
    ...fragments.map((partial_json): [string, unknown] => [
      "content_block_delta",
      { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json } },
    ]),
    ["content_block_stop", { type: "content_block_stop", index }],
  ];
}

const _PARALLEL_TOOLS: Uint8Array[] = ([
  ["message_start", {
    type: "message_start",
    message: {
      id: "msg_01AsjfhCMaDqEtTu8VN9fvu5",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5-20250929",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: 712,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 1,
        service_tier: "standard",
      },
    },
  }],
  ["content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  }],
  ["ping", { type: "ping" }],
  ["content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "I'll look up both cities at once." },
  }],
  ["content_block_stop", { type: "content_block_stop", index: 0 }],
  ..._tool(1, "toolu_01Ah7LbWzHY8rnAXjKUZKf3w", "get_weather", ["", '{"location":', ' "Tokyo"}']),
  ..._tool(2, "toolu_01VhkXjz3pNMfaT2EbY6sFbo", "get_time", ["", '{"timezone": "Europe/', 'Paris"}']),
  ["message_delta", {
    type: "message_delta",
    delta: { stop_reason: "tool_use", stop_sequence: null },
    usage: { output_tokens: 131 },
  }],
  ["message_stop", { type: "message_stop" }],
] as [string, unknown][]).map(([event, data]) => encodeSseEvent(event, data));
