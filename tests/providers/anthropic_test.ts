import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { createAnthropicProvider } from "../../src/providers/anthropic.ts";
import { createProvider } from "../../src/providers/registry.ts";
import { RelayError } from "../../src/server/errors.ts";
import { UnservableError } from "../../src/providers/types.ts";
import { messageAsSse } from "../../src/stream/message_as_sse.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { controlledStream, MESSAGE_ANSWER, textAnswerStream } from "../_helpers/fake_upstream.ts";
import { largeBody } from "../_helpers/large_body.ts";
import { providerRequest } from "../_helpers/provider_request.ts";

const STREAMED =
  '{"model":"glm-4.6","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}';
const KEY = { secret: "sk-compat-key-000000000000", label: "sk-...0000" };

/** An `anthropic-compatible` provider whose upstream answers every request with `answer()`. */
function compatible(answer: () => Response, countsTokens?: boolean) {
  return createAnthropicProvider({
    name: "glm",
    type: "anthropic-compatible",
    baseUrl: "https://compat.example",
    authHeader: "bearer",
    countsTokens,
    fetch: () => Promise.resolve(answer()),
  });
}

const json = (body: unknown, contentType = "application/json") =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), {
    headers: { "content-type": contentType, "content-length": "999", "request-id": "req_up_1" },
  });

/** The events of an answer's body, each as its name and parsed data. */
async function eventsOf(response: Response): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  return new SseDecoder().feed(bytes).map(({ event, data }) => ({ event, data: JSON.parse(data) }));
}

/**
 * How an answer relay cannot use fails: its body, once read, throws relay's own 502 `api_error` before
 * a byte of it, which relay retries or fails over as a broken connection.
 */
async function failureOf(response: Response): Promise<RelayError> {
  assert.equal(response.status, 200, "the upstream's status: the failure is in the body");
  try {
    await response.arrayBuffer();
  } catch (error) {
    assert.ok(error instanceof RelayError, String(error));
    assert.deepEqual([error.status, error.type], [502, "api_error"]);
    return error;
  }
  assert.fail("the body ended as a stream");
}

Deno.test("Anthropic's API and Foundry get no unsigned thinking block; a compatible server gets the client's bytes", async () => {
  const body = '{"model":"glm-4.6", "max_tokens":64,"messages":[{"role":"user","content":"hi"},' +
    '{"role":"assistant","content":[{"type":"thinking","thinking":"Hm.","signature":""},' +
    '{"type":"text","text":"Hello."}]},{"role":"user","content":"and?"}]}';
  for (const type of ["anthropic", "azure", "anthropic-compatible", "zai", "ollama"]) {
    const sent: Uint8Array[] = [];
    const provider = createAnthropicProvider({
      name: type,
      type,
      baseUrl: "https://upstream.example",
      authHeader: "x-api-key",
      fetch: async (input, init) => {
        sent.push(new Uint8Array(await new Request(input, init).arrayBuffer()));
        return json({});
      },
    });
    await provider.send(providerRequest(body, { stream: false }), KEY);
    const expected = ["anthropic", "azure"].includes(type)
      ? body.replace('{"type":"thinking","thinking":"Hm.","signature":""},', "")
      : body;
    assert.equal(new TextDecoder().decode(sent[0]), expected, type);
  }
});

Deno.test("a stream answered with a whole Message goes on as the stream Anthropic would have sent; nothing else changes", async () => {
  const provider = compatible(() => json(MESSAGE_ANSWER, "application/json; charset=utf-8"));
  const response = await provider.send(providerRequest(STREAMED), KEY);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  assert.equal(response.headers.get("content-length"), null, "the body is not the upstream's");
  assert.equal(response.headers.get("request-id"), "req_up_1", "the upstream's other headers stay");
  assert.deepEqual(
    new Uint8Array(await response.arrayBuffer()),
    concatBytes(messageAsSse(MESSAGE_ANSWER)),
  );

  // Only that: a stream's own answer, an unstreamed one, an error and a token count go on untouched.
  const sse = new Response("event: ping\ndata: {}\n\n", { headers: { "content-type": "Text/Event-Stream" } });
  const whole = json(MESSAGE_ANSWER);
  const failed = new Response('{"type":"error"}', {
    status: 529,
    headers: { "content-type": "application/json" },
  });
  const counted = json({ input_tokens: 3 });
  const cases: [Response, Parameters<typeof providerRequest>[1]][] = [
    [sse, {}],
    [whole, { stream: false }],
    [failed, {}],
    [counted, { path: "/v1/messages/count_tokens" }],
  ];
  for (const [answer, init] of cases) {
    assert.equal(await compatible(() => answer).send(providerRequest(STREAMED, init), KEY), answer);
  }
});

Deno.test("a stream answered with a JSON error under a 200 is that error, as an event before anything else", async (t) => {
  await t.step("Anthropic's envelope, kept whole", async () => {
    const envelope = {
      type: "error",
      error: { type: "overloaded_error", message: "busy" },
      request_id: "req_9",
    };
    const response = await compatible(() => json(envelope)).send(providerRequest(STREAMED), KEY);
    assert.deepEqual(await eventsOf(response), [{ event: "error", data: envelope }]);
  });
  await t.step("an envelope without its type or message", async () => {
    const response = await compatible(() => json({ type: "error", error: { code: "1113" } }))
      .send(providerRequest(STREAMED), KEY);
    assert.deepEqual(await eventsOf(response), [{
      event: "error",
      data: {
        type: "error",
        error: { code: "1113", type: "api_error", message: '{"type":"error","error":{"code":"1113"}}' },
      },
    }]);
  });
  await t.step("a failure in OpenAI's words", async () => {
    const response = await compatible(() =>
      json({ error: { message: "Rate limit reached", type: "rate_limit" } })
    )
      .send(providerRequest(STREAMED), KEY);
    assert.deepEqual(await eventsOf(response), [{
      event: "error",
      data: { type: "error", error: { type: "rate_limit_error", message: "Rate limit reached" } },
    }]);
  });
});

Deno.test("a stream answered with JSON that is no Message, or no JSON, is relay's 502 naming the provider", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "not JSON",
      "<html>busy</html>",
      /^upstream glm answered a stream with a body \(application\/json\) that is neither SSE nor JSON: /,
    ],
    ["another shape", '{"choices":[]}', /^upstream glm answered a stream with JSON that is not a Message: /],
    ["a list", "[1]", /JSON that is not a Message: \[1\]$/],
    ["a Message without content", '{"type":"message"}', /JSON that is not a Message/],
    ["a block without a type", '{"type":"message","content":[{"text":"x"}]}', /JSON that is not a Message/],
  ];
  for (const [name, body, message] of cases) {
    await t.step(name, async () => {
      const error = await failureOf(await compatible(() => json(body)).send(providerRequest(STREAMED), KEY));
      assert.match(error.message, message);
    });
  }
  await t.step("quoting the key, masked", async () => {
    const key = { secret: "glm0key0shaped0like0nothing0123456789", label: "glm0...6789" };
    const body = JSON.stringify({ choices: [], echo: key.secret });
    const error = await failureOf(await compatible(() => json(body)).send(providerRequest(STREAMED), key));
    assert.match(error.message, /^upstream glm answered a stream with JSON that is not a Message: /);
    assert.ok(!error.message.includes(key.secret), error.message);
  });
});

Deno.test("a stream answered with a Message over 32 MiB is relay's 502, and read no further", async () => {
  const message = largeBody(33, {
    head: '{"type":"message","content":[{"type":"text","text":"',
    tail: '"}]}',
  });
  const provider = compatible(() =>
    new Response(message.body, { headers: { "content-type": "application/json" } })
  );
  const error = await failureOf(await provider.send(providerRequest(STREAMED), KEY));
  assert.equal(
    error.message,
    "upstream glm answered a stream with a body over 32 MiB, more than relay reads whole",
  );
  assert.ok(message.cancelled && message.unread > 0, "the rest of the body is never read");
});

Deno.test("a stream under another content type is passed on as SSE, labelled so", async (t) => {
  const stream = textAnswerStream({
    id: "msg_1",
    text: "hi",
    startUsage: { input_tokens: 5, output_tokens: 1 },
    endUsage: { output_tokens: 2 },
  });
  for (
    const contentType of [
      "text/plain; charset=utf-8",
      "application/octet-stream",
      undefined,
      "application/json",
    ]
  ) {
    await t.step(contentType ?? "none", async () => {
      const provider = compatible(() => {
        const response = new Response(stream);
        if (contentType) response.headers.set("content-type", contentType);
        else response.headers.delete("content-type");
        return response;
      });
      const response = await provider.send(providerRequest(STREAMED), KEY);
      assert.equal(response.headers.get("content-type"), "text/event-stream");
      assert.equal(await response.text(), stream);
    });
  }
});

Deno.test("a stream answered with a page that is neither SSE nor JSON, however labelled, is relay's 502", async (t) => {
  // No blank line in it: taken for SSE, it would be one first event past relay's 64 KiB peek, committed.
  const page = `<!DOCTYPE html><html><body>${"Service busy. ".repeat(6_000)}</body></html>`;
  for (const contentType of ["text/html; charset=utf-8", "text/plain", undefined]) {
    await t.step(contentType ?? "none", async () => {
      const provider = compatible(() => {
        const response = new Response(page);
        if (contentType) response.headers.set("content-type", contentType);
        else response.headers.delete("content-type");
        return response;
      });
      const error = await failureOf(await provider.send(providerRequest(STREAMED), KEY));
      assert.ok(
        error.message.startsWith(
          `upstream glm answered a stream with a body (${
            contentType ?? "no content-type"
          }) that is neither SSE nor JSON`,
        ),
        error.message,
      );
    });
  }
});

Deno.test("a model whose stream was answered with a whole Message has its next streams' headers told in as they are sent", async () => {
  const stream = textAnswerStream({
    id: "msg_1",
    text: "hi",
    startUsage: {},
    endUsage: { output_tokens: 1 },
  });
  let answers = [
    () => json(stream, "text/plain"),
    () => json({ type: "error", error: { type: "overloaded_error", message: "busy" } }),
    () => json(MESSAGE_ANSWER),
  ];
  const sent = Promise.withResolvers<Response>();
  const provider = createAnthropicProvider({
    name: "glm",
    type: "anthropic-compatible",
    baseUrl: "https://compat.example",
    authHeader: "bearer",
    fetch: () => answers.length > 0 ? Promise.resolve(answers.shift()!()) : sent.promise,
  });
  let told = 0;
  const request = (body: string, init: Parameters<typeof providerRequest>[1] = {}) =>
    providerRequest(body, { onHeaders: () => told++, ...init });
  const other = STREAMED.replace("glm-4.6", "glm-4.5");

  // Nothing known yet, and an SSE stream or a JSON error teaches nothing: relay waits for the headers
  // under timeouts.connect.
  for (let i = 0; i < 3; i++) {
    await (await provider.send(request(STREAMED), KEY)).arrayBuffer();
    assert.equal(told, 0);
  }

  // Answered whole: the next stream to that model waits for its headers as a whole answer does.
  const pending = provider.send(request(STREAMED), KEY);
  assert.equal(told, 1, "told before the upstream's headers are in");
  sent.resolve(json(MESSAGE_ANSWER));
  await (await pending).arrayBuffer();

  // Another model, or an unstreamed request, is waited for as before.
  answers = [() => json(MESSAGE_ANSWER), () => json(MESSAGE_ANSWER)];
  await (await provider.send(request(other), KEY)).arrayBuffer();
  await (await provider.send(request(STREAMED, { stream: false }), KEY)).arrayBuffer();
  assert.equal(told, 1);
});

Deno.test("a model learnt to answer streams whole is forgotten once a stream of its comes as SSE, labelled or sniffed", async (t) => {
  const stream = textAnswerStream({
    id: "msg_1",
    text: "hi",
    startUsage: {},
    endUsage: { output_tokens: 1 },
  });
  for (
    const [name, asStream] of [
      ["labelled text/event-stream", () => json(stream, "text/event-stream")],
      ["mislabelled, sniffed as SSE", () => json(stream, "text/plain")],
    ] as const
  ) {
    await t.step(name, async () => {
      let answer = () => json(MESSAGE_ANSWER);
      const provider = compatible(() => answer());
      let told = 0;
      const send = async () =>
        await (await provider.send(providerRequest(STREAMED, { onHeaders: () => told++ }), KEY))
          .arrayBuffer();
      await send();
      await send();
      assert.equal(told, 1, "learnt from the first whole Message");
      answer = asStream;
      await send();
      assert.equal(told, 2, "still known as the request went");
      await send();
      assert.equal(told, 2, "a stream answered as a stream: back under connect's wait");
    });
  }
});

Deno.test("a whole Message without output_tokens says 0 in its message_delta, told as relay's estimate", async () => {
  let estimated = 0;
  const usageFallback = { inputTokens: 10, estimated: () => estimated++ };
  const answer = { ...MESSAGE_ANSWER, usage: { input_tokens: 12 } };
  const provider = compatible(() => json(answer));
  const events = await eventsOf(await provider.send(providerRequest(STREAMED, { usageFallback }), KEY));
  const delta = events.find(({ event }) => event === "message_delta")!;
  assert.deepEqual(delta.data.usage, { input_tokens: 12, output_tokens: 0 });
  assert.equal(estimated, 1);
  const counted = compatible(() => json(MESSAGE_ANSWER));
  await (await counted.send(providerRequest(STREAMED, { usageFallback }), KEY)).arrayBuffer();
  assert.equal(estimated, 1, "a Message that counts its output is the upstream's own");
});

Deno.test("a JSON answer to a stream is read only as relay reads the answer", async () => {
  const upstream = controlledStream();
  const provider = compatible(() => upstream.response({ headers: { "content-type": "application/json" } }));
  const response = await provider.send(providerRequest(STREAMED), KEY);
  const reader = response.body!.getReader();
  const read = reader.read();
  await upstream.whenRead();
  upstream.push(JSON.stringify(MESSAGE_ANSWER));
  assert.equal((await read).value?.byteLength, 0, "a sign of life, the Message not whole yet");
  upstream.end();
  const rest = [];
  for (let next = await reader.read(); !next.done; next = await reader.read()) rest.push(next.value);
  assert.deepEqual(concatBytes(rest), concatBytes(messageAsSse(MESSAGE_ANSWER)));
});

Deno.test("a provider told it counts no tokens has no count_tokens route, and refuses one it is sent", async () => {
  let calls = 0;
  const provider = createAnthropicProvider({
    name: "local",
    type: "ollama",
    baseUrl: "http://127.0.0.1:11434",
    authHeader: "bearer",
    countsTokens: false,
    fetch: () => {
      calls++;
      return Promise.resolve(json(MESSAGE_ANSWER));
    },
  });
  assert.equal(provider.serves?.("POST", "/v1/messages/count_tokens"), false);
  assert.equal(provider.serves?.("POST", "/v1/messages"), true);
  assert.equal(provider.serves?.("GET", "/v1/models"), true);
  await assert.rejects(
    () => provider.send(providerRequest(STREAMED, { path: "/v1/messages/count_tokens" }), undefined),
    (error: unknown) =>
      error instanceof UnservableError && error.status === 404 &&
      error.message ===
        "POST /v1/messages/count_tokens is not available from local: ollama upstreams count no tokens",
  );
  assert.equal(calls, 0);
});

Deno.test("config: an ollama provider has no count_tokens; the other Anthropic-format types have", () => {
  const routes = (type: string) => {
    const parsed = configSchema.parse({
      providers: [{ name: "p", type, base_url: "http://127.0.0.1:2", keys: [{ key: KEY.secret }] }],
    });
    const provider = createProvider(parsed.providers[0], { env: () => undefined, readFile: () => undefined });
    return [
      provider.serves?.("POST", "/v1/messages/count_tokens") ?? true,
      provider.serves?.("POST", "/v1/messages") ?? true,
    ];
  };
  assert.deepEqual(routes("ollama"), [false, true]);
  for (const type of ["anthropic", "anthropic-compatible", "zai"]) {
    assert.deepEqual(routes(type), [true, true], type);
  }
});
