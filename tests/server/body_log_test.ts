import assert from "node:assert/strict";
import { maskSecret } from "../../src/util/mask.ts";
import { Hono } from "hono";
import { sseChunks } from "../_helpers/fake_upstream.ts";
import { liveConfig, postMessage, startLiveRelay, STREAM_BODY } from "../_helpers/live_relay.ts";
import { PROVIDER_KEY, TEST_ROUTING, TEST_TIMEOUTS } from "../_helpers/relay.ts";
import type { Provider } from "../../src/providers/types.ts";
import { ConcurrencyLimiter } from "../../src/routing/concurrency.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { Router } from "../../src/routing/router.ts";
import { MAX_LOGGED_BODY_BYTES } from "../../src/server/body_log.ts";
import { InFlight } from "../../src/server/in_flight.ts";
import { relay } from "../../src/server/relay.ts";
import { type RelayEnv, requestId } from "../../src/server/request_id.ts";
import { createLogger } from "../../src/util/logger.ts";

const KEY = "sk-ant-api03-AbCdEfGhIjKlMnOpQrSt0123";
const PATH = "/work/main/src/server/relay.ts";
const PROMPT = JSON.stringify({
  model: "claude-sonnet-4-5",
  max_tokens: 64,
  stream: true,
  messages: [{ role: "user", content: `read ${PATH}; my key is ${KEY}` }],
});
const ANSWER = [
  'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3}}}\n\n',
  `event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"use ${KEY}"}}\n\n`,
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
];

/** relay over a provider that gives every request `answer`, its log lines kept, parsed. */
function relayWithBodies(answer: () => Response, logBodies: boolean | undefined, key = PROVIDER_KEY) {
  const lines: Record<string, unknown>[] = [];
  const provider: Provider = { name: "up", type: "test", send: () => Promise.resolve(answer()) };
  const route = {
    provider,
    keys: [{ secret: key, label: maskSecret(key) }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
  const app = new Hono<RelayEnv>();
  app.use(requestId());
  app.post(
    "/v1/messages",
    relay({
      router: new Router([route], TEST_ROUTING),
      logger: createLogger({ write: (line) => lines.push(JSON.parse(line)) }),
      maxBodyBytes: 1024 * 1024,
      inFlight: new InFlight(),
      limiter: new ConcurrencyLimiter({ max: 4, maxQueue: 4 }),
      queueTimeoutMs: 1000,
      retry: { maxAttempts: 1, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 }, maxWaitMs: 0 },
      logBodies,
    }),
  );
  /** Sends `body` and reads the whole answer: its lines are written once it ended. */
  const call = async (body: string) => {
    const response = await app.fetch(new Request("http://relay/v1/messages", { method: "POST", body }));
    return { status: response.status, text: await response.text() };
  };
  const line = (msg: string) => lines.find((logged) => logged.msg === msg);
  return { call, lines, line };
}

Deno.test("log.bodies logs the request's body and the answer relay sent, keys masked, under the request's id", async () => {
  const { call, line } = relayWithBodies(() => sseChunks(ANSWER), true);
  const { text } = await call(PROMPT);
  assert.equal(text, ANSWER.join(""));
  const access = line("request")!;
  const request = line("request body")!;
  const response = line("response body")!;
  const masked = (text: string) => text.replaceAll(KEY, "sk-ant-...0123");
  assert.deepEqual(
    [request.level, request.request_id, request.bytes, request.truncated, request.body],
    ["info", access.request_id, PROMPT.length, undefined, masked(PROMPT)],
  );
  assert.deepEqual(
    [response.level, response.request_id, response.bytes, response.truncated, response.body],
    ["info", access.request_id, text.length, undefined, masked(text)],
  );
  assert.ok(String(request.body).includes(PATH), "only key-shaped tokens are masked");
});

Deno.test("log.bodies logs an upstream error passed on as the client got it", async () => {
  const error = '{"type":"error","error":{"type":"api_error","message":"boom"}}';
  const { call, line } = relayWithBodies(
    () => new Response(error, { status: 500, headers: { "content-type": "application/json" } }),
    true,
  );
  assert.deepEqual(await call(PROMPT), { status: 500, text: error });
  assert.equal(line("request")!.outcome, "upstream_error");
  assert.deepEqual([line("response body")!.body, line("response body")!.bytes], [error, error.length]);
});

Deno.test("log.bodies masks the key the answer quotes where its key-shaped masking would not (under 16 characters)", async () => {
  const key = "lmstudio-key-9";
  const error =
    `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key: ${key}"}}`;
  const { call, line } = relayWithBodies(
    () => new Response(error, { status: 400, headers: { "content-type": "application/json" } }),
    true,
    key,
  );
  await call(PROMPT);
  assert.equal(line("response body")!.body, error.replace(key, maskSecret(key)));
});

Deno.test("log.bodies keeps each body's first 64 KiB, counting the rest", async () => {
  const delta = (text: string) =>
    `event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"${text}"}}\n\n`;
  // The answer's 64 KiB run out in the middle of a chunk.
  const answer = [ANSWER[0], ...Array.from({ length: 5 }, () => delta("y".repeat(20_000))), ANSWER[2]];
  const { call, line } = relayWithBodies(() => sseChunks(answer), true);
  const prompt = JSON.stringify({
    model: "claude-sonnet-4-5",
    max_tokens: 64,
    messages: [{ role: "user", content: "x".repeat(100_000) }],
  });
  const { text } = await call(prompt);
  const request = line("request body")!;
  const response = line("response body")!;
  assert.deepEqual(
    [request.bytes, request.truncated, request.body],
    [prompt.length, true, prompt.slice(0, MAX_LOGGED_BODY_BYTES)],
  );
  assert.deepEqual(
    [response.bytes, response.truncated, response.body],
    [text.length, true, text.slice(0, MAX_LOGGED_BODY_BYTES)],
  );
});

Deno.test("without log.bodies no body is logged", async () => {
  for (const logBodies of [undefined, false]) {
    const { call, lines } = relayWithBodies(() => sseChunks(ANSWER), logBodies);
    await call(PROMPT);
    assert.deepEqual(lines.map((line) => line.msg), ["request"]);
  }
});

Deno.test("log.bodies logs no body of a request relay refuses: its reason is on the access line", async () => {
  const { call, lines } = relayWithBodies(() => sseChunks(ANSWER), true);
  assert.equal((await call("{bad")).status, 400);
  assert.equal((await call(JSON.stringify({ model: "m", max_tokens: 1, stream: "yes" }))).status, 400);
  assert.deepEqual(lines.map((line) => line.msg), ["request", "request"]);
});

Deno.test("a reload that sets log.bodies logs the bodies of the requests after it", async () => {
  const providers = "  - name: m1\n    type: mock\n";
  await using relay = await startLiveRelay(liveConfig(providers));
  /** Sends a request and waits for its access line, written after its bodies'. */
  const call = async () => {
    const response = await postMessage(relay.url);
    const text = await response.text();
    const id = response.headers.get("x-request-id");
    await relay.waitForLog((line) => line.msg === "request" && line.request_id === id);
    return { id, text };
  };
  const bodies = () =>
    relay.logs.filter((line) => String(line.msg).endsWith(" body"))
      .map((line) => [line.msg, line.request_id, line.body]);
  const before = await call();

  await relay.write(liveConfig(providers, "log:\n  bodies: true\n"));
  assert.equal((await relay.runtime.reload("test")).ok, true);
  const after = await call();
  assert.notEqual(before.id, after.id);
  assert.deepEqual(bodies(), [
    ["request body", after.id, STREAM_BODY],
    ["response body", after.id, after.text],
  ]);
});
