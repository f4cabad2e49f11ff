/**
 * How relay's app hands the OpenAI front door's translation to its own `/v1/messages`: parsed once, the
 * serialised bytes still going upstream, and a client's own Messages request parsed and checked as ever.
 */
import assert from "node:assert/strict";
import { anthropicRequestFor } from "../../src/stream/openai_to_anthropic_request.ts";
import { MESSAGE_ANSWER, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { startTestRelay } from "../_helpers/relay.ts";

/** An upstream that answers without parsing what it got, so only relay's parses are counted. */
const answerWithoutParsing = () => Response.json(MESSAGE_ANSWER);

/** Runs `run`, counting the `JSON.parse` calls on texts holding `marker`. */
async function parsesOf<T>(marker: string, run: () => Promise<T>): Promise<{ result: T; parses: number }> {
  const parse = JSON.parse;
  let parses = 0;
  JSON.parse = (text, reviver) => {
    if (typeof text === "string" && text.includes(marker)) parses++;
    return parse(text, reviver);
  };
  try {
    return { result: await run(), parses };
  } finally {
    JSON.parse = parse;
  }
}

Deno.test("a 400 KiB chat completion is parsed once, and the upstream gets its translation's JSON byte for byte", async () => {
  const upstream = startFakeUpstream(answerWithoutParsing);
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const marker = crypto.randomUUID();
  const chat = {
    model: "claude-sonnet-4-5",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: `${marker} ${"caf\u00e9 \ud83c\udf89 lorem ipsum ".repeat(20_000)}` },
    ],
    max_tokens: 64,
  };
  const { result: response, parses } = await parsesOf(
    marker,
    () =>
      fetch(`${relay.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(chat),
      }),
  );
  assert.equal(response.status, 200);
  assert.equal((await response.json()).choices[0].message.content, "ok");
  assert.equal(parses, 1, "the chat body is parsed; its translation is handed over, not parsed again");
  const sent = await upstream.nextRequest();
  assert.ok(sent.body.byteLength > 400 * 1024);
  assert.deepEqual(sent.body, new TextEncoder().encode(JSON.stringify(anthropicRequestFor(chat))));
  assert.equal((await relay.nextRequestLog()).model, "claude-sonnet-4-5");
  await upstream.close();
});

Deno.test("beside the front door, a client's own /v1/messages is parsed from its bytes and checked as before", async () => {
  const upstream = startFakeUpstream(answerWithoutParsing);
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const post = (body: string) =>
    fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body,
    });
  for (
    const [body, message] of [
      ['{"model": ', "request body is not valid JSON: Unexpected end of JSON input"],
      ['{"model": 7}', "model: field required (a non-empty string), got a number"],
      ['{"model": "claude-sonnet-4-5", "stream": "yes"}', "stream: expected a boolean, got a string"],
    ]
  ) {
    const response = await post(body);
    assert.equal(response.status, 400, body);
    assert.deepEqual(await response.json(), {
      type: "error",
      error: { type: "invalid_request_error", message },
    });
  }
  assert.equal(upstream.requests.length, 0, "nothing bad reached the upstream");

  const marker = crypto.randomUUID();
  const body = JSON.stringify({
    model: "claude-sonnet-4-5",
    max_tokens: 64,
    messages: [{ role: "user", content: marker }],
  });
  const { result: response, parses } = await parsesOf(marker, () => post(body));
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), MESSAGE_ANSWER);
  assert.equal(parses, 1, "a client's bytes are parsed, having no hand-over");
  assert.deepEqual((await upstream.nextRequest()).body, new TextEncoder().encode(body));
  await upstream.close();
});

const TOKEN = "rly_app_test_token_000000000001";

/** The access lines relay wrote, in order, with the fields these tests look at. */
function accessLines(logs: Record<string, unknown>[]) {
  return logs.filter((line) => line.msg === "request").map(({ path, status, outcome, error }) => ({
    path,
    status,
    outcome,
    error,
  }));
}

/** The access line, as `accessLines` gives it, of a request relay refused itself. */
function refusedLine(path: string, status: number, error: string) {
  return { path, status, outcome: "relay_error", error };
}

Deno.test("a missing or wrong client token is a 401 that tells clients not to retry it, on both front doors", async () => {
  const upstream = startFakeUpstream(answerWithoutParsing);
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  for (const path of ["/v1/messages", "/v1/chat/completions"]) {
    for (const headers of [{}, { "x-api-key": "rly_not_the_token_0000" }] as Record<string, string>[]) {
      const response = await fetch(`${relay.url}${path}`, { method: "POST", body: "{}", headers });
      await response.body?.cancel();
      assert.deepEqual([response.status, response.headers.get("x-should-retry")], [401, "false"], path);
    }
  }
  assert.equal(upstream.requests.length, 0);
  await upstream.close();
});

Deno.test("relay's own refusals (a missing token, a wrong method, no route) are in the route's error shape, each with an access line", async () => {
  const upstream = startFakeUpstream(answerWithoutParsing);
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${relay.url}${path}`, init);
    return [response.status, await response.json()];
  };
  const post = { method: "POST", body: "{}" };
  const missing = "missing client token: send it as x-api-key or Authorization: Bearer";
  assert.deepEqual(await call("/v1/chat/completions", post), [401, {
    error: { message: missing, type: "authentication_error", param: null, code: null },
  }]);
  assert.deepEqual(await call("/v1/messages", post), [401, {
    type: "error",
    error: { type: "authentication_error", message: missing },
  }]);
  const authorised = { headers: { "x-api-key": TOKEN } };
  assert.deepEqual(await call("/v1/chat/completions", authorised), [405, {
    error: {
      message: "/v1/chat/completions takes POST, not GET",
      type: "invalid_request_error",
      param: null,
      code: null,
    },
  }]);
  const wrongMethod = await fetch(`${relay.url}/v1/messages`, authorised);
  assert.equal(wrongMethod.headers.get("allow"), "POST");
  assert.deepEqual([wrongMethod.status, await wrongMethod.json()], [405, {
    type: "error",
    error: { type: "invalid_request_error", message: "/v1/messages takes POST, not GET" },
  }]);
  assert.deepEqual(await call("/v1/models", { ...authorised, method: "POST" }), [405, {
    type: "error",
    error: { type: "invalid_request_error", message: "/v1/models takes GET, HEAD, not POST" },
  }]);
  assert.deepEqual(await call("/nope"), [404, {
    type: "error",
    error: { type: "not_found_error", message: "no route for GET /nope" },
  }]);
  assert.deepEqual(accessLines(relay.logs), [
    refusedLine("/v1/chat/completions", 401, missing),
    refusedLine("/v1/messages", 401, missing),
    refusedLine("/v1/chat/completions", 405, "/v1/chat/completions takes POST, not GET"),
    refusedLine("/v1/messages", 405, "/v1/messages takes POST, not GET"),
    refusedLine("/v1/models", 405, "/v1/models takes GET, HEAD, not POST"),
    refusedLine("/nope", 404, "no route for GET /nope"),
  ]);
  await upstream.close();
});

Deno.test("no route under an OpenAI route (a stored response, a final slash) is a 404 in OpenAI's shape", async () => {
  await using relay = startTestRelay({ upstreamUrl: "http://127.0.0.1:9", tokens: [TOKEN] });
  const headers = { "x-api-key": TOKEN };
  for (
    const [method, path] of [
      ["GET", "/v1/responses/resp_1"],
      ["POST", "/v1/responses/"],
      ["POST", "/v1/chat/completions/"],
    ]
  ) {
    const response = await fetch(`${relay.url}${path}`, {
      method,
      headers,
      body: method === "POST" ? "{}" : null,
    });
    assert.deepEqual([response.status, await response.json()], [404, {
      error: {
        message: `no route for ${method} ${path}`,
        type: "not_found_error",
        param: null,
        code: null,
      },
    }]);
  }
  const beside = await fetch(`${relay.url}/v1/responses_x`, { headers });
  assert.equal((await beside.json()).type, "error", "a path that only begins as one is Anthropic's");
});

Deno.test("a wrong method on /health is 405 naming GET and HEAD, with no token asked", async () => {
  await using relay = startTestRelay({ upstreamUrl: "http://127.0.0.1:9", tokens: [TOKEN] });
  const response = await fetch(`${relay.url}/health`, { method: "POST" });
  assert.equal(response.headers.get("allow"), "GET, HEAD");
  assert.deepEqual([response.status, await response.json()], [405, {
    type: "error",
    error: { type: "invalid_request_error", message: "/health takes GET, HEAD, not POST" },
  }]);
});

Deno.test("a relayed request has one access line, a front-door request too, whether relayed or refused", async () => {
  const upstream = startFakeUpstream(answerWithoutParsing);
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const post = (path: string, body: string) =>
    fetch(`${relay.url}${path}`, { method: "POST", headers: { "x-api-key": TOKEN }, body });
  await (await post("/v1/messages", '{"model":"m","max_tokens":8,"messages":[]}')).arrayBuffer();
  await (await post("/v1/chat/completions", '{"model":"m","messages":[{"role":"user","content":"hi"}]}'))
    .arrayBuffer();
  await (await post("/v1/chat/completions", '{"model":"m","messages":[],"stream":"yes"}')).arrayBuffer();
  assert.deepEqual(accessLines(relay.logs), [
    { path: "/v1/messages", status: 200, outcome: "complete", error: undefined },
    { path: "/v1/messages", status: 200, outcome: "complete", error: undefined },
    refusedLine("/v1/chat/completions", 400, "stream: expected a boolean, got a string"),
  ]);
  await upstream.close();
});
