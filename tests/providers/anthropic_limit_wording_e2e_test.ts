/**
 * Anthropic-format upstreams other than Anthropic's own API refusing a token limit in their own words,
 * end to end over real HTTP: relay in-process with providers built from config as `relay serve` builds
 * them, a fake upstream on a loopback port, and Claude Code's own patterns reading what the client gets.
 */
import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { createProvider } from "../../src/providers/registry.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import type { Route } from "../../src/routing/router.ts";
import { maskSecret } from "../../src/util/mask.ts";
import { type FakeUpstream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { startTestRelay, TEST_TIMEOUTS } from "../_helpers/relay.ts";
import { CLAUDE_CODE_CONTEXT_LIMIT, CLAUDE_CODE_OUTPUT_CAP } from "../_helpers/claude_code_wording.ts";

const DEEPSEEK_WINDOW =
  "This model's maximum context length is 131072 tokens. However, you requested 140550 tokens (12550 in the messages, 128000 in the completion). Please reduce the length of the messages or completion.";

/** DeepSeek's /anthropic endpoint: OpenAI's error nesting, under a 400. */
const DEEPSEEK_BODY = JSON.stringify({
  error: {
    message: DEEPSEEK_WINDOW,
    type: "invalid_request_error",
    param: null,
    code: "invalid_request_error",
  },
});

/** The same words in Anthropic's envelope, as other Anthropic-format servers send theirs. */
const ENVELOPED_BODY = JSON.stringify({
  type: "error",
  error: { type: "invalid_request_error", message: DEEPSEEK_WINDOW },
  request_id: "req_up_7",
});

/** What Claude Code sends, in short: a stream with its 128000 `max_tokens`. */
const CLAUDE_CODE_ASK = {
  model: "deepseek-v4-pro",
  max_tokens: 128000,
  stream: true,
  messages: [{ role: "user", content: "create hello.txt" }],
};

/** A provider of `type` at `url`, built from config as relay builds it. */
function routeFor(type: string, url: string): Route {
  const key = `sk-${type}-key-000000000000`;
  const { providers } = configSchema.parse({
    providers: [{ name: type, type, base_url: url, keys: [{ key }] }],
  });
  return {
    provider: createProvider(providers[0], { env: () => undefined, readFile: () => undefined }),
    keys: [{ secret: key, label: maskSecret(key) }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
}

/** An upstream answering every request with `body` under `status`. */
function refusing(body: string, status = 400): FakeUpstream {
  return startFakeUpstream(() =>
    new Response(body, { status, headers: { "content-type": "application/json", "request-id": "req_up_7" } })
  );
}

/** What a client gets from relay in front of a provider of `type` at `url`, for Claude Code's ask. */
async function answerThrough(
  type: string,
  url: string,
): Promise<{ status: number; bytes: Uint8Array; headers: Headers }> {
  await using relay = startTestRelay({ routes: [routeFor(type, url)] });
  const answer = await fetch(`${relay.url}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify(CLAUDE_CODE_ASK),
  });
  const bytes = new Uint8Array(await answer.arrayBuffer());
  await relay.nextRequestLog();
  return { status: answer.status, bytes, headers: answer.headers };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const encoded = (body: string) => new TextEncoder().encode(body);

/** The context-limit numbers Claude Code reads from an answer's `error.message`, if it finds its words. */
function contextLimitOf(bytes: Uint8Array): number[] | undefined {
  return CLAUDE_CODE_CONTEXT_LIMIT.exec(JSON.parse(text(bytes)).error.message)?.slice(1).map(Number);
}

Deno.test("a compatible's window refusal in its own words reaches Claude Code as Anthropic's context limit, numbers right", async () => {
  const upstream = refusing(DEEPSEEK_BODY);
  const { status, bytes, headers } = await answerThrough("anthropic-compatible", upstream.url);
  assert.equal(status, 400);
  assert.equal(headers.get("request-id"), "req_up_7", "the upstream's headers stay");
  const { error, ...rest } = JSON.parse(text(bytes));
  assert.deepEqual(rest, {}, "the envelope as it came");
  const { message, ...members } = error;
  assert.deepEqual(members, { type: "invalid_request_error", param: null, code: "invalid_request_error" });
  assert.deepEqual(CLAUDE_CODE_CONTEXT_LIMIT.exec(message)?.slice(1).map(Number), [12550, 128000, 131072]);
  assert.ok(message.endsWith(`(upstream said: ${DEEPSEEK_WINDOW})`), message);
  assert.equal(upstream.requests.length, 1);
  await upstream.close();
});

Deno.test("zai and ollama providers' refusals in Anthropic's envelope are reworded too, the cap completed with what was asked", async () => {
  const enveloped = refusing(ENVELOPED_BODY);
  for (const type of ["zai", "ollama"]) {
    const { status, bytes } = await answerThrough(type, enveloped.url);
    assert.equal(status, 400, type);
    const body = JSON.parse(text(bytes));
    assert.deepEqual([body.type, body.request_id, body.error.type], [
      "error",
      "req_up_7",
      "invalid_request_error",
    ]);
    assert.deepEqual(contextLimitOf(bytes), [12550, 128000, 131072], type);
  }
  // Z.AI names only its cap: relay completes it with the client's max_tokens.
  const zaiCap =
    "`max_tokens` must be less than or equal to `98304`, the maximum value for `max_tokens` is less " +
    "than the `context_window` for this model";
  const capped = refusing(
    JSON.stringify({ type: "error", error: { type: "invalid_request_error", message: zaiCap } }),
  );
  const { bytes } = await answerThrough("zai", capped.url);
  const { message } = JSON.parse(text(bytes)).error;
  assert.equal(CLAUDE_CODE_OUTPUT_CAP.exec(message)?.[1], "98304", message);
  assert.match(message, /^max_tokens: 128000 > 98304, /);
  await Promise.all([enveloped.close(), capped.close()]);
});

Deno.test("Anthropic's own API's 400 passes byte for byte, where a compatible's same bytes are reworded", async () => {
  for (const body of [DEEPSEEK_BODY, ENVELOPED_BODY]) {
    const upstream = refusing(body);
    const own = await answerThrough("anthropic", upstream.url);
    assert.equal(own.status, 400);
    assert.deepEqual(own.bytes, encoded(body), "Anthropic's own answer, untouched");
    const compatible = await answerThrough("anthropic-compatible", upstream.url);
    assert.deepEqual(contextLimitOf(compatible.bytes), [12550, 128000, 131072]);
    await upstream.close();
  }
});

Deno.test("a compatible's 400 with no token-limit wording passes byte for byte, where one with it is reworded", async () => {
  const plain = '{"type":"error", "error":{"type":"invalid_request_error","message":"messages.0.content: ' +
    'Field required"},  "request_id":"req_up_7"}\n';
  const upstream = startFakeUpstream((_request, recorded) =>
    new Response(recorded.url.includes("limit") ? ENVELOPED_BODY : plain, {
      status: 400,
      headers: { "content-type": "application/json" },
    })
  );
  const refused = await answerThrough("anthropic-compatible", upstream.url);
  assert.equal(refused.status, 400);
  assert.deepEqual(refused.bytes, encoded(plain));
  const limited = await answerThrough("anthropic-compatible", `${upstream.url}/limit`);
  assert.deepEqual(contextLimitOf(limited.bytes), [12550, 128000, 131072]);
  await upstream.close();
});

Deno.test("a compatible's 429 that speaks of a context window passes untouched, where the same words in a 400 are reworded", async () => {
  const limited = JSON.stringify({
    type: "error",
    error: { type: "rate_limit_error", message: `Rate limit reached. ${DEEPSEEK_WINDOW}` },
  });
  const upstream = startFakeUpstream((_request, recorded) =>
    new Response(limited, {
      status: recorded.url.includes("refused") ? 400 : 429,
      headers: { "content-type": "application/json", "retry-after": "20" },
    })
  );
  const throttled = await answerThrough("anthropic-compatible", upstream.url);
  assert.equal(throttled.status, 429);
  assert.deepEqual(throttled.bytes, encoded(limited));
  const refused = await answerThrough("anthropic-compatible", `${upstream.url}/refused`);
  assert.equal(refused.status, 400);
  assert.deepEqual(contextLimitOf(refused.bytes), [12550, 128000, 131072]);
  await upstream.close();
});
