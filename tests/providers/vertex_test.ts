import assert from "node:assert/strict";
import { TokenCache } from "../../src/providers/token_cache.ts";
import { type ProviderRequest, UnservableError } from "../../src/providers/types.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";
import { providerRequest } from "../_helpers/provider_request.ts";
import { settledYet } from "../_helpers/settled_yet.ts";
import { unexpectedBetasAnswer } from "../_helpers/vertex.ts";
import {
  createVertexProvider,
  vertexBaseUrl,
  type VertexProviderOptions,
} from "../../src/providers/vertex.ts";

const SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds4cPyNFBRc3jgmBMWYWKaMm4GIQHkX+/==";
/** A body as Claude Code sends it mid-conversation: odd spacing, a signed thinking block, `stream` last. */
const BODY = `{"model": "claude-sonnet-4-5" , "max_tokens":1024,` +
  `"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"27 \\u00d7 453","signature":"${SIGNATURE}"}]},` +
  `{"role":"user","content":"caf\\u00e9 {\\"model\\":1}"}],\n "stream":true}`;
const UPSTREAM_MODEL = "claude-sonnet-4-5@20250929";

const encoder = new TextEncoder();

function request(init: Partial<ProviderRequest> = {}): ProviderRequest {
  return providerRequest(BODY, {
    headers: new Headers({
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "interleaved-thinking-2025-05-14,context-1m-2025-08-07",
    }),
    upstreamModel: UPSTREAM_MODEL,
    ...init,
  });
}

/** A Vertex provider over a fetch that records each request and answers with `answer()`. */
function vertex(
  options: Partial<VertexProviderOptions> = {},
  answer: () => Response | Promise<Response> = () => new Response("{}"),
) {
  const seen: Request[] = [];
  const asked = { tokens: 0, invalidated: [] as string[] };
  const provider = createVertexProvider({
    name: "vertex",
    project: "my-project",
    region: "us-east5",
    tokens: {
      token: () => Promise.resolve(`ya29.token-${++asked.tokens}`),
      invalidate: (token) => void asked.invalidated.push(token),
    },
    fetch: (input, init) => {
      seen.push(new Request(input, init));
      return Promise.resolve(answer());
    },
    ...options,
  });
  return { provider, seen, asked };
}

const MODEL_PATH = "/v1/projects/my-project/locations/us-east5/publishers/anthropic/models";

Deno.test("vertexBaseUrl picks the host Anthropic's Vertex SDK uses for each kind of location", () => {
  assert.equal(vertexBaseUrl("us-east5"), "https://us-east5-aiplatform.googleapis.com");
  assert.equal(vertexBaseUrl("europe-west1"), "https://europe-west1-aiplatform.googleapis.com");
  assert.equal(vertexBaseUrl("global"), "https://aiplatform.googleapis.com");
  assert.equal(vertexBaseUrl("us"), "https://aiplatform.us.rep.googleapis.com");
  assert.equal(vertexBaseUrl("eu"), "https://aiplatform.eu.rep.googleapis.com");
});

Deno.test("Vertex streams from the model's streamRawPredict and answers without a stream from rawPredict", async () => {
  const model = "publishers/anthropic/models/claude-sonnet-4-5@20250929";
  const cases: [string, boolean, string][] = [
    [
      "us-east5",
      true,
      `https://us-east5-aiplatform.googleapis.com/v1/projects/my-project/locations/us-east5/${model}:streamRawPredict`,
    ],
    [
      "us-east5",
      false,
      `https://us-east5-aiplatform.googleapis.com/v1/projects/my-project/locations/us-east5/${model}:rawPredict`,
    ],
    [
      "global",
      true,
      `https://aiplatform.googleapis.com/v1/projects/my-project/locations/global/${model}:streamRawPredict`,
    ],
    [
      "us",
      false,
      `https://aiplatform.us.rep.googleapis.com/v1/projects/my-project/locations/us/${model}:rawPredict`,
    ],
    [
      "eu",
      true,
      `https://aiplatform.eu.rep.googleapis.com/v1/projects/my-project/locations/eu/${model}:streamRawPredict`,
    ],
  ];
  for (const [region, stream, url] of cases) {
    const { provider, seen } = vertex({ region });
    await provider.send(request({ stream }), undefined);
    assert.equal(seen[0].url, url);
    assert.equal(seen[0].method, "POST");
  }
});

Deno.test("Vertex moves the model into the URL and touches no other byte of the body", async () => {
  const { provider, seen } = vertex();
  await provider.send(request(), undefined);
  const expected = BODY.replace(
    '{"model": "claude-sonnet-4-5" , ',
    '{"anthropic_version":"vertex-2023-10-16",',
  );
  assert.equal(await seen[0].text(), expected);
  assert.ok(expected.includes(`"signature":"${SIGNATURE}"`) && expected.endsWith(`\n "stream":true}`));
});

Deno.test("Vertex gets no unsigned thinking block, as it checks signatures: the signed one stays", async () => {
  const { provider, seen } = vertex();
  const unsigned = '{"type":"thinking","thinking":"Hm.","signature":""}';
  const body = BODY.replace('{"type":"thinking"', `${unsigned},{"type":"thinking"`);
  await provider.send(request({ body: encoder.encode(body), json: JSON.parse(body) }), undefined);
  const sent = await seen[0].text();
  assert.ok(!sent.includes(unsigned) && sent.includes(`"signature":"${SIGNATURE}"`), sent);
  assert.ok(
    sent.startsWith('{"anthropic_version":"vertex-2023-10-16",') && sent.endsWith(`\n "stream":true}`),
  );
});

Deno.test("Vertex counts tokens at count-tokens:rawPredict with the upstream model kept in the body", async () => {
  const { provider, seen } = vertex();
  const body = '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}';
  await provider.send(
    request({ path: "/v1/messages/count_tokens", search: "", body: encoder.encode(body), stream: false }),
    undefined,
  );
  assert.equal(
    seen[0].url,
    `https://us-east5-aiplatform.googleapis.com${MODEL_PATH}/count-tokens:rawPredict`,
  );
  assert.equal(
    await seen[0].text(),
    '{"anthropic_version":"vertex-2023-10-16","model":"claude-sonnet-4-5@20250929","messages":[{"role":"user","content":"hi"}]}',
  );
});

Deno.test("Vertex sends the client's headers, betas it takes included, with its own bearer token", async () => {
  const { provider, seen } = vertex();
  await provider.send(request(), { secret: "ignored-key", label: "ignored" });
  const headers = seen[0].headers;
  assert.equal(headers.get("authorization"), "Bearer ya29.token-1");
  assert.equal(headers.get("anthropic-beta"), "interleaved-thinking-2025-05-14,context-1m-2025-08-07");
  assert.equal(headers.get("anthropic-version"), "2023-06-01");
  assert.equal(headers.get("x-api-key"), null);
  assert.equal(seen[0].redirect, "manual");
});

Deno.test("Vertex takes a base URL override and asks for a token on every request", async () => {
  const { provider, seen, asked } = vertex({ baseUrl: "http://127.0.0.1:9/" });
  await provider.send(request(), undefined);
  await provider.send(request(), undefined);
  assert.equal(seen[1].url, `http://127.0.0.1:9${MODEL_PATH}/claude-sonnet-4-5@20250929:streamRawPredict`);
  assert.equal(seen[1].headers.get("authorization"), "Bearer ya29.token-2");
  assert.equal(asked.tokens, 2);
});

Deno.test("Vertex answers model lists and bad model ids itself, without a token or a fetch", async () => {
  const { provider, seen, asked } = vertex();
  for (const path of ["/v1/models", "/v1/models/claude-sonnet-4-5"]) {
    await assert.rejects(
      provider.send(request({ path, method: "GET", body: null }), undefined),
      (error: unknown) => error instanceof UnservableError && error.status === 404,
      "no endpoint there: the next provider's",
    );
  }
  const cases: [Partial<ProviderRequest>, number, string][] = [
    [{ upstreamModel: "../../../locations/eu/x" }, 400, "invalid_request_error"],
    [{ upstreamModel: "claude-x:rawPredict?alt=sse" }, 400, "invalid_request_error"],
    [{ upstreamModel: ".." }, 400, "invalid_request_error"],
  ];
  for (const [init, status, type] of cases) {
    const response = await provider.send(request(init), undefined);
    assert.equal(response.status, status);
    assert.equal((await response.json()).error.type, type);
  }
  assert.equal(seen.length, 0);
  assert.equal(asked.tokens, 0);
});

Deno.test("Vertex returns a successful response as the very object fetch gave it", async () => {
  const upstream = new Response("event: ping\ndata: {}\n\n", {
    headers: { "content-type": "text/event-stream" },
  });
  const { provider } = vertex({}, () => upstream);
  assert.equal(await provider.send(request(), undefined), upstream);
});

Deno.test("Vertex rewrites Google's platform errors into Anthropic's envelope, keeping status and text", async () => {
  const cases: [number, string, number, string][] = [
    [429, "RESOURCE_EXHAUSTED", 429, "rate_limit_error"],
    [401, "UNAUTHENTICATED", 401, "authentication_error"],
    [403, "PERMISSION_DENIED", 403, "permission_error"],
    [404, "NOT_FOUND", 404, "not_found_error"],
    [400, "INVALID_ARGUMENT", 400, "invalid_request_error"],
    [500, "INTERNAL", 500, "api_error"],
    [503, "UNAVAILABLE", 529, "overloaded_error"],
    [504, "DEADLINE_EXCEEDED", 504, "timeout_error"],
  ];
  for (const [code, googleStatus, status, type] of cases) {
    const message = `Quota exceeded for aiplatform.googleapis.com (${googleStatus}).`;
    const google = { error: { code, message, status: googleStatus } };
    const { provider } = vertex({}, () =>
      Response.json(google, {
        status: code,
        headers: { "content-type": "application/json; charset=UTF-8", "x-goog-request-id": "g-1" },
      }));
    const response = await provider.send(request(), undefined);
    assert.equal(response.status, status);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(response.headers.get("x-goog-request-id"), "g-1");
    assert.deepEqual(await response.json(), { type: "error", error: { type, message } });
  }
});

Deno.test("Vertex drops a token Google refuses and sends once more with a fresh one", async () => {
  let cancelled = false;
  const refused = new ReadableStream({ cancel: () => void (cancelled = true) });
  const answers = [
    new Response(refused, { status: 401, headers: { "content-type": "application/json" } }),
    Response.json({ type: "message" }),
  ];
  const { provider, seen, asked } = vertex({}, () => answers.shift()!);

  const response = await provider.send(request(), undefined);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { type: "message" });
  assert.ok(cancelled, "the refused answer's body is let go");
  assert.deepEqual(asked.invalidated, ["ya29.token-1"]);
  assert.deepEqual(seen.map((sent) => sent.headers.get("authorization")), [
    "Bearer ya29.token-1",
    "Bearer ya29.token-2",
  ]);
  assert.equal(await seen[1].text(), await seen[0].text());
  assert.equal(seen[1].url, seen[0].url);
});

Deno.test("Vertex answers a 401 to the fresh token as Google gave it, without a third try", async () => {
  const message = "Request had invalid authentication credentials.";
  const { provider, seen, asked } = vertex(
    {},
    () => Response.json({ error: { code: 401, message, status: "UNAUTHENTICATED" } }, { status: 401 }),
  );

  const response = await provider.send(request(), undefined);
  assert.equal(response.status, 401);
  assert.deepEqual(await response.json(), {
    type: "error",
    error: { type: "authentication_error", message },
  });
  assert.equal(seen.length, 2);
  assert.deepEqual(asked.invalidated, ["ya29.token-1"]);
});

Deno.test("Vertex also reads a Google error wrapped in an array, as streaming methods send it", async () => {
  const google = [{ error: { code: 429, message: "Resource exhausted.", status: "RESOURCE_EXHAUSTED" } }];
  const { provider } = vertex({}, () => Response.json(google, { status: 429 }));
  const response = await provider.send(request(), undefined);
  assert.deepEqual(await response.json(), {
    type: "error",
    error: { type: "rate_limit_error", message: "Resource exhausted." },
  });
});

Deno.test("Vertex passes Anthropic's own errors and non-JSON errors through byte for byte", async () => {
  const anthropic = ' {"type":"error","error":{"type":"invalid_request_error",' +
    '"message":"messages.1.content.0: Invalid `signature` in `thinking` block"},"request_id":"req_vrtx_01"}';
  const { provider } = vertex({}, () =>
    new Response(anthropic, {
      status: 400,
      headers: { "content-type": "application/json", "request-id": "req_vrtx_01" },
    }));
  const response = await provider.send(request(), undefined);
  assert.equal(response.status, 400);
  assert.equal(response.headers.get("request-id"), "req_vrtx_01");
  assert.equal(await response.text(), anthropic);

  const html = new Response("<html>502 Bad Gateway</html>", {
    status: 502,
    headers: { "content-type": "text/html" },
  });
  assert.equal(await vertex({}, () => html).provider.send(request(), undefined), html);
});

Deno.test("Vertex rejects with the reason when no token can be had, and sends nothing", async () => {
  const { provider, seen } = vertex({
    tokens: {
      token: () => Promise.reject(new Error("token endpoint https://oauth2.googleapis.com/token failed")),
      invalidate: () => assert.fail("no token was handed out"),
    },
  });
  await assert.rejects(provider.send(request(), undefined), {
    message: "Vertex auth failed: token endpoint https://oauth2.googleapis.com/token failed",
  });
  assert.equal(seen.length, 0);
});

Deno.test("Vertex answers an error's status and headers at once and reads its body only as the answer is read", async () => {
  const body = Promise.withResolvers<ReadableStreamDefaultController<Uint8Array>>();
  const stalled = new ReadableStream<Uint8Array>({ start: (controller) => body.resolve(controller) });
  const { provider } = vertex({}, () =>
    new Response(stalled, {
      status: 503,
      headers: { "content-type": "application/json", "content-length": "95", "x-goog-request-id": "g-2" },
    }));

  const response = await provider.send(request(), undefined);
  assert.equal(response.status, 529);
  assert.equal(response.headers.get("x-goog-request-id"), "g-2");
  assert.equal(response.headers.get("content-length"), null);
  const upstream = await body.promise;
  upstream.enqueue(encoder.encode('{"error":{"code":503,"message":"The service is '));
  upstream.enqueue(encoder.encode('currently unavailable.","status":"UNAVAILABLE"}}'));
  upstream.close();
  assert.deepEqual(await response.json(), {
    type: "error",
    error: { type: "overloaded_error", message: "The service is currently unavailable." },
  });
});

Deno.test("Vertex reads at most 1 MiB of a JSON error body and says it was cut", async () => {
  let sent = 0;
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = sent === 0 ? '{"error":{"code":500,"message":"' : "x".repeat(65_536);
      sent += chunk.length;
      controller.enqueue(encoder.encode(chunk));
    },
    cancel: () => void (cancelled = true),
  });
  const { provider } = vertex(
    {},
    () => new Response(endless, { status: 500, headers: { "content-type": "application/json" } }),
  );

  const response = await provider.send(request({ stream: false }), undefined);
  const { error } = await response.json();
  assert.equal(error.type, "api_error");
  assert.equal(
    error.message,
    `Vertex AI answered HTTP 500 with an error body over 1 MiB, which begins: {"error":{"code":500,"message":"${
      "x".repeat(468)
    }`,
  );
  assert.ok(cancelled, "the rest is not read");
  assert.ok(sent < 1_048_576 + 2 * 65_536, `read ${sent} bytes`);
});

Deno.test("Vertex stops waiting for a token once the request's signal aborts", async () => {
  const client = new AbortController();
  const { provider, seen } = vertex({ tokens: new TokenCache(() => new Promise(() => {})) });
  const sending = provider.send(request({ signal: client.signal }), undefined);
  const reason = new Error("client left");
  client.abort(reason);
  await assert.rejects(sending, (error) => error === reason);
  assert.equal(seen.length, 0);
});

/** Claude Code's first-party beta list, as it sends it to what it takes for Anthropic's API. */
const CLAUDE_CODE_BETAS = "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14," +
  "context-1m-2025-08-07,prompt-caching-scope-2026-01-05,effort-2025-11-24,web-search-2025-03-05";

function withBetas(betas: string, init: Partial<ProviderRequest> = {}): ProviderRequest {
  return request({
    headers: new Headers({ "content-type": "application/json", "anthropic-beta": betas }),
    ...init,
  });
}

Deno.test("Vertex drops betas only Anthropic's own API has, and sends no header, nor reads a 400, when none is left", async () => {
  const { provider, seen } = vertex();
  await provider.send(withBetas(CLAUDE_CODE_BETAS), undefined);
  assert.equal(
    seen[0].headers.get("anthropic-beta"),
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-1m-2025-08-07,effort-2025-11-24," +
      "web-search-2025-03-05",
  );
  await provider.send(withBetas(" oauth-2025-04-20, files-api-2025-04-14,,"), undefined);
  assert.equal(seen[1].headers.get("anthropic-beta"), null);

  // With no beta sent, a 400 is about something else: its body is not read here.
  let pulled = false;
  const body = new ReadableStream({ pull: () => void (pulled = true) }, { highWaterMark: 0 });
  const refused = new Response(body, { status: 400, headers: { "content-type": "text/plain" } });
  const { provider: refusing } = vertex({}, () => refused);
  assert.equal(await refusing.send(withBetas("oauth-2025-04-20"), undefined), refused);
  assert.ok(!pulled);
});

Deno.test("Vertex counts tokens with no anthropic-beta header at all", async () => {
  const { provider, seen } = vertex();
  const body = encoder.encode('{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}');
  await provider.send(
    withBetas(CLAUDE_CODE_BETAS, { path: "/v1/messages/count_tokens", search: "", body, stream: false }),
    undefined,
  );
  assert.equal(seen[0].headers.get("anthropic-beta"), null);
  assert.equal(
    seen[0].headers.get("content-type"),
    "application/json",
    "the request's other headers still go",
  );
});

Deno.test("Vertex sends once more without the betas its 400 names, and drops them from the model's next requests", async () => {
  const answers = [
    unexpectedBetasAnswer("effort-2025-11-24", "web-search-2025-03-05"),
    Response.json({ id: "m1" }),
  ];
  const refusals: [string, string[]][] = [];
  const { provider, seen } = vertex(
    { onBetasRefused: (model, betas) => void refusals.push([model, betas]) },
    () => answers.shift() ?? Response.json({ id: "later" }),
  );

  const response = await provider.send(withBetas(CLAUDE_CODE_BETAS), undefined);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { id: "m1" });
  const taken = "claude-code-20250219,interleaved-thinking-2025-05-14,context-1m-2025-08-07";
  assert.equal(seen.length, 2);
  assert.equal(seen[1].headers.get("anthropic-beta"), taken);
  assert.equal(seen[1].headers.get("authorization"), "Bearer ya29.token-2");
  assert.equal(await seen[1].text(), await seen[0].text(), "the same body");
  assert.deepEqual(refusals, [[UPSTREAM_MODEL, ["effort-2025-11-24", "web-search-2025-03-05"]]]);

  await provider.send(withBetas(CLAUDE_CODE_BETAS), undefined);
  assert.equal(seen.length, 3, "known refusals cost no second round trip");
  assert.equal(seen[2].headers.get("anthropic-beta"), taken);

  await provider.send(withBetas(CLAUDE_CODE_BETAS, { upstreamModel: "claude-opus-4-5@20251101" }), undefined);
  assert.match(
    seen[3].headers.get("anthropic-beta")!,
    /effort-2025-11-24,web-search-2025-03-05$/,
    "another model",
  );
  assert.equal(refusals.length, 1, "each refusal is told once");
});

Deno.test("Vertex sends a request again only once, and then answers Vertex's second 400 as it is", async () => {
  const answers = [
    unexpectedBetasAnswer("effort-2025-11-24"),
    unexpectedBetasAnswer("context-1m-2025-08-07"),
  ];
  const { provider, seen } = vertex({}, () => answers.shift()!);
  const response = await provider.send(withBetas("effort-2025-11-24,context-1m-2025-08-07"), undefined);
  assert.equal(response.status, 400);
  assert.equal(response.headers.get("request-id"), "req_vrtx_011");
  assert.match((await response.json()).error.message, /`context-1m-2025-08-07`/);
  assert.equal(seen.length, 2);
});

Deno.test("Vertex passes on a 400 that names no beta it sent with its status, headers and every byte, learning nothing", async () => {
  const big = "x".repeat(100_000);
  const cases: [string, () => Response][] = [
    [
      "another error",
      () =>
        new Response(`{"type":"error","error":{"type":"invalid_request_error","message":"${big}"}}`, {
          status: 400,
          statusText: "Bad Request",
          headers: { "content-type": "application/json", "request-id": "req_vrtx_02", "x-extra": "kept" },
        }),
    ],
    ["a beta not sent", () => unexpectedBetasAnswer("tool-search-tool-2025-10-19")],
    ["not JSON", () =>
      new Response(`<html>${big}</html>`, {
        status: 400,
        statusText: "Bad Request",
        headers: { "content-type": "text/html", "x-extra": "kept" },
      })],
  ];
  const sent =
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-1m-2025-08-07,effort-2025-11-24," +
    "web-search-2025-03-05";
  for (const [name, answer] of cases) {
    const { provider, seen } = vertex({}, answer);
    const response = await provider.send(withBetas(CLAUDE_CODE_BETAS), undefined);
    const expected = answer();
    assert.equal(response.status, 400, name);
    assert.equal(response.headers.get("x-extra"), expected.headers.get("x-extra"), name);
    assert.equal(response.headers.get("request-id"), expected.headers.get("request-id"), name);
    assert.equal(await response.text(), await expected.text(), name);
    assert.equal(seen.length, 1, name);
    await (await provider.send(withBetas(CLAUDE_CODE_BETAS), undefined)).body?.cancel();
    assert.deepEqual(seen.map((request) => request.headers.get("anthropic-beta")), [sent, sent], name);
  }
});

Deno.test("Vertex's resend is a second connection: send resolves only with its headers", async () => {
  // That relay waits for it under connect, not first_byte, is vertex_e2e_test.ts's to show.
  const resent = Promise.withResolvers<Response>();
  const resending = Promise.withResolvers<void>();
  const answers = [
    () => unexpectedBetasAnswer("effort-2025-11-24"),
    () => (resending.resolve(), resent.promise),
  ];
  const { provider, seen } = vertex({}, () => answers.shift()!());
  const sending = provider.send(withBetas(CLAUDE_CODE_BETAS), undefined);
  await resending.promise;
  assert.equal(seen.length, 2);
  assert.equal(
    await settledYet(sending),
    false,
    "a resend that does not answer holds send",
  );
  resent.resolve(Response.json({ id: "m1" }));
  assert.equal(await settledYet(sending), true, "its headers in, send resolves with them");
  const response = await sending;
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { id: "m1" });
});

Deno.test("Vertex's look into a 400 waits no longer than the request's idle, then passes the answer on", async () => {
  const clock = new FakeClock();
  const body = controlledStream();
  const refusals: string[][] = [];
  const { provider, seen } = vertex(
    { timers: clock, onBetasRefused: (_, betas) => void refusals.push(betas) },
    () => new Response(body.body, { status: 400, headers: { "content-type": "application/json" } }),
  );
  const sending = provider.send(withBetas(CLAUDE_CODE_BETAS, { idleMs: 30_000 }), undefined);
  const start = '{"type":"error","error":{"type":"invalid_request_error","message":"Unexpected value(s) ';
  body.push(start);
  await body.whenRead();
  assert.deepEqual(clock.armed, [30_000], "the peek is bounded by idle");
  clock.advance(30_000);
  const response = await sending;
  assert.equal(response.status, 400);
  assert.equal(seen.length, 1, "not sent again on a message not yet read");
  const rest = '`effort-2025-11-24` for the `anthropic-beta` header."}}';
  body.push(rest);
  body.end();
  assert.equal(await response.text(), start + rest, "every byte, those read and those after");
  assert.deepEqual(clock.armed, []);
  assert.deepEqual(refusals, [], "nothing learned from a message not read whole");
});

/**
 * A body as Claude Code sends it with its beta fields: `context_management` and `output_config.effort`
 * (`output_config` holding a `format` too, spaced oddly, so any re-serialisation shows).
 */
const FIELDS_BODY = `{"model": "claude-haiku-4-5", "max_tokens":1024,` +
  `"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},` +
  `"output_config":{ "effort":"medium" , "format":{"type":"json_schema","schema":{"maximum":1.0}} },` +
  `"messages":[{"role":"user","content":"hi"}],"stream":true}`;

Deno.test("Vertex drops the body field of a beta the model refuses with the beta, in the same request and after", async () => {
  const refusals: string[][] = [];
  const { provider, seen } = vertex(
    { onBetasRefused: (_, betas) => void refusals.push(betas) },
    async () => {
      const sent = seen.at(-1)!;
      const betas = sent.headers.get("anthropic-beta")?.split(",") ?? [];
      if (betas.includes("context-management-2025-06-27")) {
        return unexpectedBetasAnswer("context-management-2025-06-27");
      }
      // As Vertex answers a field whose beta did not come (sub2api#2726).
      if ("context_management" in JSON.parse(await sent.clone().text())) {
        return Response.json({
          type: "error",
          error: {
            type: "invalid_request_error",
            message: "context_management: Extra inputs are not permitted",
          },
        }, { status: 400 });
      }
      return Response.json({ id: "m" });
    },
  );
  const ask = () =>
    providerRequest(FIELDS_BODY, {
      headers: new Headers({
        "anthropic-beta": "claude-code-20250219,context-management-2025-06-27,effort-2025-11-24",
      }),
      upstreamModel: "claude-haiku-4-5@20251001",
    });
  const without = `{"anthropic_version":"vertex-2023-10-16","max_tokens":1024,` +
    `"output_config":{ "effort":"medium" , "format":{"type":"json_schema","schema":{"maximum":1.0}} },` +
    `"messages":[{"role":"user","content":"hi"}],"stream":true}`;

  const response = await provider.send(ask(), undefined);
  assert.equal(response.status, 200);
  assert.equal(seen.length, 2);
  assert.equal(seen[1].headers.get("anthropic-beta"), "claude-code-20250219,effort-2025-11-24");
  assert.equal(await seen[1].text(), without, "context_management goes with its beta, every other byte kept");
  assert.deepEqual(refusals, [["context-management-2025-06-27"]]);

  assert.equal((await provider.send(ask(), undefined)).status, 200);
  assert.equal(seen.length, 3, "the model's next request goes without both at once");
  assert.equal(await seen[2].text(), without);

  await provider.send(ask(), undefined);
  await provider.send({ ...ask(), path: "/v1/messages/count_tokens", stream: false }, undefined);
  assert.equal(
    await seen[4].text(),
    `{"anthropic_version":"vertex-2023-10-16","model": "claude-haiku-4-5@20251001", "max_tokens":1024,` +
      `"output_config":{ "format":{"type":"json_schema","schema":{"maximum":1.0}} },` +
      `"messages":[{"role":"user","content":"hi"}],"stream":true}`,
    "a count, which goes with no betas, goes without their fields, effort alone taken out of output_config",
  );
});
