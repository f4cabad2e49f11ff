import assert from "node:assert/strict";
import { benchUpstreamHandler, parallelToolsResponse } from "../../src/bench/bench_upstream.ts";
import { CLAUDE_CODE_HEADERS } from "../../src/bench/claude_code_headers.ts";
import { compareEventStreams } from "../../src/bench/fidelity.ts";
import { SCENARIO_NAMES, scenarioRequest } from "../../src/bench/scenarios.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";
import { loadGolden } from "../_helpers/golden.ts";

const options = { model: "mock-1", maxTokens: 256, mockEvents: 3 };

async function answer(response: Response) {
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  return new SseDecoder().feed(new Uint8Array(await response.arrayBuffer()));
}

Deno.test("the scripted parallel-tools answer replays the golden stream, event for event", async () => {
  const golden = new SseDecoder().feed(await loadGolden("parallel_tools"));
  assert.deepEqual(compareEventStreams(golden, await answer(parallelToolsResponse())), []);
});

Deno.test("the scripted answer is the same on every request, and one event per chunk", async () => {
  const chunks = await Array.fromAsync(parallelToolsResponse().body!);
  const again = await Array.fromAsync(parallelToolsResponse().body!);
  assert.deepEqual(again, chunks);
  assert.equal(chunks.length, (await answer(parallelToolsResponse())).length);
});

Deno.test("each scenario's request gets the kind of answer it is there to check", async () => {
  const handler = benchUpstreamHandler();
  const blocks: Record<string, string[]> = {};
  for (const name of SCENARIO_NAMES) {
    const { body, headers } = scenarioRequest(name, options);
    const events = await answer(
      await handler(new Request("http://bench/v1/messages", { method: "POST", headers, body })),
    );
    const { message, error } = assembleAnthropicStream(events);
    assert.equal(error, undefined);
    blocks[name] = message.content.map((block: { type: string }) => block.type);
    if (name === "thinking") {
      assert.ok(message.content[0].signature.length > 0, "the thinking block is signed");
    }
  }
  assert.deepEqual(blocks, {
    text: ["text"],
    tool_use: ["text", "tool_use"],
    parallel_tools: ["text", "tool_use", "tool_use"],
    thinking: ["thinking", "text"],
  });
});

Deno.test("the mock streams as many text deltas as the scenario asks for", async () => {
  const handler = benchUpstreamHandler();
  const { body, headers } = scenarioRequest("text", { ...options, mockEvents: 11 });
  const events = await answer(
    await handler(new Request("http://bench/v1/messages", { method: "POST", headers, body })),
  );
  assert.equal(events.filter(({ data }) => data.includes("text_delta")).length, 11);
});

Deno.test("a real provider's scenario carries no mock header; the same options give the same bytes", () => {
  const real = scenarioRequest("text", { model: "claude-haiku-4-5", maxTokens: 16 });
  assert.equal(real.headers["x-relay-mock"], undefined);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(real.body)), {
    model: "claude-haiku-4-5",
    max_tokens: 16,
    stream: true,
    messages: [{ role: "user", content: "Say hello." }],
  });
  assert.deepEqual(scenarioRequest("thinking", options), scenarioRequest("thinking", options));
});

Deno.test("the loopback workload is a Claude Code exchange: its request headers, Anthropic's answer headers", async () => {
  // A client header that clashes with the request's own, so "the request's own headers win" is tested.
  const clientHeaders = { ...CLAUDE_CODE_HEADERS, "content-type": "text/plain" };
  const { body, headers } = scenarioRequest("text", { ...options, clientHeaders });
  assert.equal(headers["x-claude-code-session-id"], CLAUDE_CODE_HEADERS["x-claude-code-session-id"]);
  assert.equal(headers["content-type"], "application/json", "the request's own headers win");
  assert.ok(Object.keys(headers).length >= 18);
  for (const name of ["x-relay-bench-scenario", ""]) {
    const request = new Request("http://bench/v1/messages", {
      method: "POST",
      headers: name ? { ...headers, [name]: "parallel_tools" } : headers,
      body,
    });
    const response = await benchUpstreamHandler()(request);
    assert.equal(response.headers.get("anthropic-ratelimit-requests-limit"), "100000000");
    assert.equal(response.headers.get("content-type"), "text/event-stream", "the answer's own type stays");
    await response.body?.cancel();
  }
});
