import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { createProvider } from "../../src/providers/registry.ts";
import { RelayError } from "../../src/server/errors.ts";
import { UnservableError } from "../../src/providers/types.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";
import { chunk, openaiError, openaiStream } from "../_helpers/fake_openai.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";
import { largeBody } from "../_helpers/large_body.ts";
import { providerRequest } from "../_helpers/provider_request.ts";

const KEY = { secret: "sk-proj-unit-test-key-00000000", label: "sk-proj-...0000" };
const ASK =
  '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}';

/** A provider whose fetch records the request and answers with `answer`. */
function recording(answer: () => Response, baseUrl = "http://127.0.0.1:1234/v1/") {
  const calls: { url: string; init: RequestInit }[] = [];
  const provider = createOpenAIProvider({
    name: "local",
    baseUrl,
    fetch: (input, init) => {
      calls.push({ url: String(input), init: init! });
      return Promise.resolve(answer());
    },
    newMessageId: () => "msg_unit",
    newToolId: () => "toolu_unit",
  });
  return { provider, calls };
}

const CLIENT_HEADERS = {
  "content-type": "application/json",
  accept: "application/json",
  "anthropic-beta": "claude-code-20250219",
  "anthropic-version": "2023-06-01",
  "openai-organization": "org_client",
  "openai-project": "proj_abc",
  "http-referer": "https://example.com/app",
  "x-title": "My App",
  "user-agent": "MyClient/1.0",
};

Deno.test("requests go to {base_url}/chat/completions with the key as a bearer token, and the client's own headers but Anthropic's and its organisation's", async () => {
  const { provider, calls } = recording(() => openaiStream([chunk({ content: "hi" }, "stop"), "[DONE]"]));
  const request = providerRequest(ASK, {
    upstreamModel: "qwen3-coder",
    headers: new Headers(CLIENT_HEADERS),
  });
  const response = await provider.send(request, KEY);
  assert.equal(calls[0].url, "http://127.0.0.1:1234/v1/chat/completions");
  const headers = new Headers(calls[0].init.headers);
  assert.deepEqual(Object.fromEntries(headers), {
    accept: "text/event-stream",
    authorization: `Bearer ${KEY.secret}`,
    "content-type": "application/json",
    "http-referer": "https://example.com/app",
    "user-agent": "MyClient/1.0",
    "x-title": "My App",
  });
  assert.equal(calls[0].init.redirect, "manual");
  assert.equal(calls[0].init.signal, request.signal, "a client disconnect aborts the upstream request");
  const body = JSON.parse(String(calls[0].init.body));
  assert.equal(body.model, "qwen3-coder", "the mapped model");
  assert.equal(body.max_tokens, 64, "compatible servers get max_tokens");
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  assert.match(await response.text(), /"id":"msg_unit".*"text":"hi".*"stop_reason":"end_turn"/s);

  const keyless = recording(() => openaiStream(["[DONE]"]));
  await keyless.provider.send(providerRequest(ASK, { headers: new Headers(CLIENT_HEADERS) }), undefined);
  const keylessHeaders = new Headers(keyless.calls[0].init.headers);
  assert.equal(keylessHeaders.get("openai-project"), "proj_abc", "without relay's key, the client's own");
  assert.equal(
    keylessHeaders.get("authorization"),
    null,
    "local servers need no key",
  );
});

Deno.test("a stream answers message_start as soon as the upstream accepts, before its first chunk", async () => {
  const upstream = controlledStream();
  const { provider } = recording(() => upstream.response());
  const response = await provider.send(providerRequest(ASK), KEY);
  const reader = response.body!.getReader();
  const [first] = new SseDecoder().feed((await reader.read()).value!);
  assert.equal(first.event, "message_start", "the client's stream is open while the model is silent");
  const next = reader.read();
  upstream.push(`data: ${JSON.stringify(chunk({ content: "late" }, "stop"))}\n\ndata: [DONE]\n\n`);
  assert.match(new TextDecoder().decode((await next).value), /content_block_start/);
  await reader.cancel();
  await upstream.cancelled;
});

Deno.test("OpenAI itself gets max_completion_tokens, which its reasoning models require", async () => {
  const { provider, calls } = recording(() => openaiStream(["[DONE]"]), "https://api.openai.com/v1");
  await provider.send(providerRequest(ASK), KEY);
  const body = JSON.parse(String(calls[0].init.body));
  assert.equal(body.max_completion_tokens, 64);
  assert.equal(body.max_tokens, undefined);
});

Deno.test("OpenAI's data-residency hosts get max_completion_tokens too; look-alike hosts and Azure get max_tokens", async () => {
  const fieldFor = async (baseUrl: string) => {
    const { provider, calls } = recording(() => openaiStream(["[DONE]"]), baseUrl);
    await provider.send(providerRequest(ASK), KEY);
    return Object.keys(JSON.parse(String(calls[0].init.body))).filter((name) => name.startsWith("max_"));
  };
  for (
    const host of [
      "eu.api.openai.com",
      "us.api.openai.com",
      "au.api.openai.com",
      "API.OpenAI.com",
      "api.openai.com.",
    ]
  ) {
    assert.deepEqual(await fieldFor(`https://${host}/v1`), ["max_completion_tokens"], host);
  }
  for (const host of ["notapi.openai.com", "api.openai.com.example.net", "my-resource.openai.azure.com"]) {
    assert.deepEqual(await fieldFor(`https://${host}/v1`), ["max_tokens"], host);
  }
});

/** Whether `sending` rejects as a request the provider cannot serve, with `status` and a message matching `message`. */
async function assertUnservable(sending: Promise<Response>, status: number, message: RegExp): Promise<void> {
  await assert.rejects(sending, (error: unknown) => {
    assert.ok(error instanceof UnservableError);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("count_tokens and models cannot be served: a 404 for the next provider, without calling the upstream", async () => {
  const { provider, calls } = recording(() => new Response());
  for (const path of ["/v1/messages/count_tokens", "/v1/models"]) {
    const request = providerRequest(ASK, { path, method: path === "/v1/models" ? "GET" : "POST" });
    await assertUnservable(provider.send(request, KEY), 404, /serve \/v1\/messages only/);
  }
  assert.equal(calls.length, 0);
});

Deno.test("upstream HTTP errors become Anthropic errors with the same status, text and rate-limit headers", async () => {
  let answer = () =>
    openaiError(429, "Rate limit reached", "requests", { "retry-after": "20", "x-request-id": "req_o1" });
  const { provider } = recording(() => answer());
  const limited = await provider.send(providerRequest(ASK), KEY);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "20");
  assert.equal(limited.headers.get("request-id"), "req_o1", "logged beside relay's own id");
  assert.deepEqual(await limited.json(), {
    type: "error",
    error: { type: "rate_limit_error", message: "Rate limit reached" },
  });

  answer = () => new Response(null, { status: 301, headers: { location: "https://elsewhere/" } });
  const redirected = await provider.send(providerRequest(ASK), KEY);
  assert.equal(redirected.status, 301, "left to relay, which refuses every upstream's redirect");
});

Deno.test("unstreamed: a completion becomes a Message; a 200 carrying an error or no JSON is an error", async () => {
  let answer = () =>
    Response.json({
      id: "chatcmpl-1",
      choices: [{ index: 0, message: { role: "assistant", content: "Hi" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 1 },
    });
  const { provider } = recording(() => answer());
  const unstreamed = providerRequest(ASK.replace('"stream":true', '"stream":false'), { stream: false });
  const ok = await provider.send(unstreamed, KEY);
  assert.equal(ok.headers.get("content-type"), "application/json");
  assert.deepEqual((await ok.json()).content, [{ type: "text", text: "Hi" }]);

  answer = () => Response.json({ error: { message: "model not loaded", code: 503 } });
  const failed = await provider.send(unstreamed, KEY);
  assert.equal(failed.status, 503);
  assert.equal((await failed.json()).error.message, "model not loaded");

  answer = () => new Response("<html>gateway</html>");
  await assert.rejects(
    provider.send(unstreamed, KEY),
    unreadable(/^upstream local answered 200 without a JSON body/),
  );
});

/**
 * What a 200 relay cannot read fails with: relay's own 502 `api_error`, thrown as a broken connection
 * is, not an answer relay would log as the upstream's 502.
 */
function unreadable(message: RegExp | string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof RelayError, String(error));
    assert.deepEqual([error.status, error.type], [502, "api_error"]);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  };
}

Deno.test("a 200 relay cannot read fails as relay's 502, streamed or not, with the key it quotes masked", async () => {
  const answers: [string, () => Response, RegExp][] = [
    ["a body cut short", () => new Response('{"choices":[{"ind'), /without a JSON body/],
    ["HTML", () => new Response(`<html>bad key ${KEY.secret}</html>`), /without a JSON body/],
    [
      "no choice",
      () => Response.json({ detail: `bad key ${KEY.secret}` }),
      /without a choice: \{"detail":"bad key sk-proj-\.\.\.0000"\}$/,
    ],
  ];
  for (const [what, answer, message] of answers) {
    for (const stream of [false, true]) {
      const { provider } = recording(() => {
        const response = answer();
        response.headers.set("content-type", "application/json");
        return response;
      });
      const request = stream
        ? providerRequest(ASK)
        : providerRequest(ASK.replace('"stream":true', '"stream":false'), { stream: false });
      const failing = async () => await (await provider.send(request, KEY)).bytes();
      await assert.rejects(failing, unreadable(message), `${what}, ${stream ? "streamed" : "unstreamed"}`);
      await assert.rejects(failing, (error: unknown) => !String(error).includes(KEY.secret), "masked");
    }
  }
});

Deno.test("a stream answered with JSON: a completion streams, an error is an error event before message_start", async () => {
  let answer = () => Response.json({ error: { message: "Rate limit reached", code: "rate_limit_exceeded" } });
  const { provider } = recording(() => answer());
  const limited = await provider.send(providerRequest(ASK), KEY);
  assert.equal(limited.status, 200);
  assert.deepEqual(new SseDecoder().feed(await limited.bytes()), [{
    event: "error",
    data: JSON.stringify({
      type: "error",
      error: { type: "rate_limit_error", message: "Rate limit reached" },
    }),
  }], "relay retries it as the 429 its type stands for");

  answer = () =>
    Response.json({
      choices: [{
        index: 0,
        message: {
          content: "Writing both.",
          tool_calls: [
            { id: "call_a", type: "function", function: { name: "write", arguments: '{"path":"a"}' } },
            { id: "call_b", type: "function", function: { name: "write", arguments: '{"path":"b"}' } },
          ],
        },
        finish_reason: "tool_calls",
      }],
      usage: { prompt_tokens: 7, completion_tokens: 3 },
    }, { headers: { "content-type": "application/json; charset=utf-8", "x-request-id": "req_o2" } });
  const whole = await provider.send(providerRequest(ASK), KEY);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get("content-type"), "text/event-stream");
  assert.equal(whole.headers.get("request-id"), "req_o2");
  const { message, error } = assembleAnthropicStream(new SseDecoder().feed(await whole.bytes()));
  assert.equal(error, undefined);
  assert.deepEqual(message.content, [
    { type: "text", text: "Writing both." },
    { type: "tool_use", id: "call_a", name: "write", input: { path: "a" } },
    { type: "tool_use", id: "call_b", name: "write", input: { path: "b" } },
  ]);
  assert.deepEqual([message.id, message.stop_reason, message.usage.input_tokens], [
    "msg_unit",
    "tool_use",
    7,
  ]);

  answer = () => Response.json({ choices: [] });
  const empty = await provider.send(providerRequest(ASK), KEY);
  assert.equal(empty.status, 200, "told only once its body is read");
  await assert.rejects(empty.bytes(), unreadable(/^upstream local answered 200 without a choice/));
});

Deno.test("a stream's answer labelled other than SSE is told by its first bytes: SSE streams, a page is relay's 502", async (t) => {
  const stream = () => openaiStream([chunk({ content: "Streamed." }, "stop"), "[DONE]"]);
  for (const label of ["text/plain", "application/json", null]) {
    await t.step(`OpenAI's SSE labelled ${label ?? "nothing"} is translated as a stream`, async () => {
      const { provider } = recording(() => {
        const response = stream();
        if (label) response.headers.set("content-type", label);
        else response.headers.delete("content-type");
        return response;
      });
      const answer = await provider.send(providerRequest(ASK), KEY);
      assert.equal(answer.headers.get("content-type"), "text/event-stream");
      const { message, error } = assembleAnthropicStream(new SseDecoder().feed(await answer.bytes()));
      assert.equal(error, undefined);
      assert.deepEqual(message.content, [{ type: "text", text: "Streamed." }]);
    });
  }
  await t.step("a gateway's HTML page fails the stream before anything of it, naming its type", async () => {
    const { provider } = recording(() =>
      new Response(`<html><body>bad key ${KEY.secret}</body></html>`, {
        headers: { "content-type": "text/html; charset=utf-8" },
      })
    );
    const answer = await provider.send(providerRequest(ASK), KEY);
    await assert.rejects(
      answer.bytes(),
      unreadable(
        "upstream local answered a stream with a body (text/html; charset=utf-8) that is neither SSE nor " +
          "JSON: Unexpected token '<'",
      ),
    );
  });
});

Deno.test("a model whose stream was answered whole has its next streams' headers told in as sent, until one streams again", async () => {
  let answer = () =>
    Response.json({ choices: [{ index: 0, message: { content: "hi" }, finish_reason: "stop" }] });
  const { provider } = recording(() => answer());
  let told = 0;
  const send = async () =>
    await (await provider.send(providerRequest(ASK, { onHeaders: () => told++ }), KEY)).arrayBuffer();
  await send();
  assert.equal(told, 0, "nothing known before: connect's wait");
  await send();
  assert.equal(told, 1, "answered whole once: told as it is sent");
  answer = () => openaiStream([chunk({ content: "hi" }, "stop"), "[DONE]"]);
  await send();
  assert.equal(told, 2, "still known as the request went");
  await send();
  assert.equal(told, 2, "answered as a stream: back under connect's wait");
});

Deno.test("a JSON answer's body, to a stream or an error, is read only as relay reads the answer, a live chunk at a time", async (t) => {
  /** The answer `send` gives for an upstream answer whose body the test feeds. */
  const answered = async (init: ResponseInit) => {
    const upstream = controlledStream();
    const { provider } = recording(() => upstream.response(init));
    // Read inside `send`, the body would fall under relay's timeouts.connect, which `send` runs under.
    const sent = provider.send(providerRequest(ASK), KEY);
    const first = await Promise.race([
      sent.then(() => "answered"),
      upstream.whenRead().then(() => "body read"),
    ]);
    assert.equal(first, "answered");
    const response = await sent;
    return { upstream, status: response.status, reader: response.body!.getReader() };
  };
  const completion = JSON.stringify({
    choices: [{ index: 0, message: { content: "Late." }, finish_reason: "stop" }],
  });

  await t.step(
    "a completion: each chunk read is an empty one (a sign of life), then the stream",
    async () => {
      const { upstream, reader } = await answered({ headers: { "content-type": "application/json" } });
      upstream.push(completion.slice(0, 20));
      assert.deepEqual(await reader.read(), { done: false, value: new Uint8Array() });
      upstream.push(completion.slice(20));
      upstream.end();
      const chunks: Uint8Array[] = [];
      for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
      const { message, error } = assembleAnthropicStream(new SseDecoder().feed(concatBytes(chunks)));
      assert.equal(error, undefined);
      assert.deepEqual(message.content, [{ type: "text", text: "Late." }]);
    },
  );
  // (A 400, 413 or 422 is looked into before it is answered, for a refused field or token limit.)
  await t.step("an error answer keeps its status; its body fails as the upstream's did", async () => {
    const { upstream, status, reader } = await answered({
      status: 500,
      headers: { "content-type": "application/json" },
    });
    assert.equal(status, 500);
    upstream.push('{"error":{"message":"bad');
    assert.deepEqual(await reader.read(), { done: false, value: new Uint8Array() });
    upstream.fail(new Error("connection reset"));
    await assert.rejects(reader.read(), /connection reset/);
  });
  await t.step("cancelling the answer cancels the upstream's body", async () => {
    const { upstream, reader } = await answered({ headers: { "content-type": "application/json" } });
    await reader.cancel("client gone");
    assert.equal(await upstream.cancelled, "client gone");
  });
});

Deno.test("a 200 JSON answer over 32 MiB is relay's 502 api_error, streamed or not, and read no further", async (t) => {
  /** A well-formed completion, 33 MiB of content long. */
  const large = () =>
    largeBody(33, {
      head: '{"choices":[{"index":0,"message":{"content":"',
      tail: '"},"finish_reason":"stop"}]}',
    });
  const over = /^upstream local answered 200 with a body over 32 MiB, more than relay reads whole$/;

  await t.step("unstreamed", async () => {
    const completion = large();
    const { provider } = recording(() =>
      new Response(completion.body, { headers: { "content-type": "application/json" } })
    );
    const unstreamed = providerRequest(ASK.replace('"stream":true', '"stream":false'), { stream: false });
    await assert.rejects(provider.send(unstreamed, KEY), unreadable(over));
    assert.ok(completion.cancelled && completion.unread > 0, "the rest of the body is never read");
  });
  await t.step("streamed: the stream fails before anything of it, which relay can retry", async () => {
    const completion = large();
    const { provider } = recording(() =>
      new Response(completion.body, { headers: { "content-type": "application/json" } })
    );
    const response = await provider.send(providerRequest(ASK), KEY);
    await assert.rejects(response.bytes(), unreadable(over));
    assert.ok(completion.cancelled && completion.unread > 0, "the rest of the body is never read");
  });
});

Deno.test("unstreamed: a completion of an unexpected shape is a 502 that blames the upstream", async () => {
  const unstreamed = providerRequest(ASK.replace('"stream":true', '"stream":false'), { stream: false });
  for (const calls of [[null], { id: "c", function: { name: "f" } }]) {
    const completion = { choices: [{ index: 0, message: { content: "Hi", tool_calls: calls } }] };
    const { provider } = recording(() => Response.json(completion));
    await assert.rejects(
      provider.send(unstreamed, KEY),
      unreadable(/^upstream local answered 200 with a malformed completion \(tool_calls/),
    );
  }
});

Deno.test("unstreamed: a 200 without a choice is a 502 api_error, not an empty finished Message", async () => {
  const unstreamed = providerRequest(ASK.replace('"stream":true', '"stream":false'), { stream: false });
  const empty = [
    { id: "chatcmpl-1", object: "chat.completion", choices: [] },
    {},
    { id: "chatcmpl-2", choices: null, usage: { prompt_tokens: 3, completion_tokens: 0 } },
    { choices: [{ index: 1, message: { content: "not the one asked for" } }] },
    { choices: [null] },
    [],
    null,
  ];
  for (const completion of empty) {
    const { provider } = recording(() => Response.json(completion));
    await assert.rejects(
      provider.send(unstreamed, KEY),
      unreadable(`upstream local answered 200 without a choice: ${JSON.stringify(completion)}`),
      JSON.stringify(completion),
    );
  }

  // A choice with nothing in it is the model's answer, and stays one.
  const { provider } = recording(() =>
    Response.json({
      choices: [{ index: 0, message: { role: "assistant", content: "" }, finish_reason: "stop" }],
    })
  );
  const nothingSaid = await provider.send(unstreamed, KEY);
  assert.equal(nothingSaid.status, 200);
  assert.deepEqual((await nothingSaid.json()).content, []);
});

Deno.test("a 200 whose choice finished with error (OpenRouter's mark) is a failure, streamed or not, not a finished answer", async () => {
  const unstreamed = providerRequest(ASK.replace('"stream":true', '"stream":false'), { stream: false });
  const failed = { choices: [{ index: 0, message: { content: "half an ans" }, finish_reason: "error" }] };
  const { provider } = recording(() => Response.json(failed));
  const response = await provider.send(unstreamed, KEY);
  assert.equal(response.status, 502);
  assert.deepEqual((await response.json()).error, {
    type: "api_error",
    message: 'upstream ended the answer with finish_reason "error", without saying what went wrong',
  });
  // Streamed, it is an error event before message_start: relay can still retry it.
  const [event, ...rest] = new SseDecoder().feed(
    await (await provider.send(providerRequest(ASK), KEY)).bytes(),
  );
  assert.equal(event.event, "error");
  assert.equal(JSON.parse(event.data).error.type, "api_error");
  assert.deepEqual(rest, []);
});

Deno.test("a 200 that finished with tool_calls but holds no call is an end_turn, not a tool use without a block", async () => {
  const unstreamed = providerRequest(ASK.replace('"stream":true', '"stream":false'), { stream: false });
  const { provider } = recording(() =>
    Response.json({ choices: [{ index: 0, message: { content: "done" }, finish_reason: "tool_calls" }] })
  );
  const message = await (await provider.send(unstreamed, KEY)).json();
  assert.deepEqual([message.stop_reason, message.content], ["end_turn", [{ type: "text", text: "done" }]]);
});

Deno.test("a request Chat Completions cannot carry cannot be served: a 400 for the next provider, before any upstream call", async () => {
  const { provider, calls } = recording(() => new Response());
  await assertUnservable(
    provider.send(providerRequest('{"model":"m","max_tokens":1,"messages":{}}'), KEY),
    400,
    /messages/,
  );
  const document = { type: "document", source: { type: "url", url: "https://example.com/report.pdf" } };
  const linked = JSON.stringify({
    model: "m",
    max_tokens: 1,
    messages: [{ role: "user", content: [document] }],
  });
  await assertUnservable(
    provider.send(providerRequest(linked), KEY),
    400,
    /^messages\.0\.content\.0\.source: a document/,
  );
  assert.equal(calls.length, 0);
});

Deno.test("config: type openai defaults to OpenAI's /v1 root, takes no auth_header, and needs no key", () => {
  const parse = (provider: Record<string, unknown>) =>
    configSchema.safeParse({ providers: [{ name: "o", type: "openai", ...provider }] });
  const parsed = parse({});
  assert.ok(parsed.success);
  assert.deepEqual(parsed.data.providers[0], {
    name: "o",
    type: "openai",
    keys: [],
    timeouts: {},
    base_url: "https://api.openai.com/v1",
    auth_header: "bearer",
  });
  const refused = parse({ auth_header: "x-api-key" });
  assert.ok(!refused.success);
  assert.match(refused.error.issues[0].message, /`auth_header` applies to providers of type .* not openai/);

  const local = parse({ base_url: "http://127.0.0.1:8080/v1" });
  assert.ok(local.success);
  const provider = createProvider(local.data.providers[0], {
    env: () => undefined,
    readFile: () => undefined,
  });
  assert.deepEqual([provider.name, provider.type], ["o", "openai"]);
});
