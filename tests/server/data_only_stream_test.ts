/**
 * Anthropic streams without `event:` lines, as some Anthropic-compatible gateways send them: every
 * event's name is then its data's `type`, for relay's commit, its end of stream and its usage alike.
 */
import assert from "node:assert/strict";
import { createAnthropicProvider } from "../../src/providers/anthropic.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import type { Route } from "../../src/routing/router.ts";
import { maskSecret } from "../../src/util/mask.ts";
import { assembledResponse } from "../_helpers/anthropic_grammar.ts";
import { sseChunks, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { loadGolden } from "../_helpers/golden.ts";
import { startTestRelay, TEST_TIMEOUTS } from "../_helpers/relay.ts";

const MESSAGES =
  '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}';

function post(url: string, body = MESSAGES) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body,
  });
}

/** `bytes` as a gateway that writes no `event:` lines sends it. */
function dataOnly(bytes: Uint8Array): Uint8Array {
  return new TextEncoder().encode(new TextDecoder().decode(bytes).replace(/^event: .*\n/gm, ""));
}

function routeTo(name: string, url: string): Route {
  return {
    provider: createAnthropicProvider({ name, type: "anthropic", baseUrl: url, authHeader: "x-api-key" }),
    keys: [{ secret: `sk-${name}-key-000000000000`, label: maskSecret(`sk-${name}-key-000000000000`) }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
}

Deno.test("a stream without event: lines that reaches its message_stop is relayed as it came, complete, with its usage, at both doors", async (t) => {
  const stream = dataOnly(await loadGolden("cached"));
  const upstream = startFakeUpstream(() => sseChunks([stream.subarray(0, 333), stream.subarray(333)]));
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  await t.step("/v1/messages", async () => {
    const response = await post(`${relay.url}/v1/messages`);
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), stream, "no error event added");
    const log = await relay.nextRequestLog();
    assert.deepEqual(
      [log.outcome, log.input_tokens, log.output_tokens, log.cache_read_tokens, log.cache_write_tokens],
      ["complete", 4, 73, 14_207, 1_832],
    );
    assert.equal(log.usage_estimated, undefined);
  });
  await t.step("/v1/chat/completions", async () => {
    const response = await post(
      `${relay.url}/v1/chat/completions`,
      JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "hi" }] }),
    );
    const chunks = (await response.text()).split("\n\n").filter(Boolean);
    assert.equal(chunks.at(-1), "data: [DONE]");
    assert.ok(!chunks.some((chunk) => chunk.includes('"error"')), "no error chunk");
    const log = await relay.nextRequestLog();
    assert.deepEqual([log.path, log.outcome, log.output_tokens], ["/v1/messages", "complete", 73]);
  });
  await upstream.close();
});

Deno.test("an error without an event: line before the answer, after pings without one, is retried like a 529", async () => {
  const flaky = startFakeUpstream(() =>
    sseChunks([
      'data: {"type": "ping"}\n\n',
      'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    ])
  );
  const up = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [routeTo("flaky", flaky.url), routeTo("up", up.url)],
    retry: { maxAttempts: 3, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 }, maxWaitMs: 0 },
  });
  const response = await post(`${relay.url}/v1/messages`);
  assert.equal((await assembledResponse(response)).message.stop_reason, "end_turn");
  assert.deepEqual([flaky.requests.length, up.requests.length], [1, 1]);
  await Promise.all([flaky.close(), up.close()]);
});
