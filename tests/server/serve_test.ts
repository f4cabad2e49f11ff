import assert from "node:assert/strict";
import type { Provider } from "../../src/providers/types.ts";
import { controlledStream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { ADMIN_TOKEN, liveConfig, startLiveRelay } from "../_helpers/live_relay.ts";
import { startTestRelay } from "../_helpers/relay.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

const MESSAGES =
  '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}';
const SHUTTING_DOWN = "relay is shutting down: send the request again";

function post(url: string): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: MESSAGES,
  });
}

/**
 * A provider whose stream sends more than a socket's buffers hold and never ends, telling when its
 * request came in.
 */
function floodingProvider(): Provider {
  const flood = new TextEncoder().encode(
    `event: message_start\ndata: {}\n\n: ${"x".repeat(32 * 1024 * 1024)}\n\n`,
  );
  return {
    name: "flooding",
    type: "test",
    send() {
      const body = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(flood) });
      return Promise.resolve(new Response(body, { headers: { "content-type": "text/event-stream" } }));
    },
  };
}

Deno.test("shutdown closes the connection of a client that stopped reading once the grace is over", async () => {
  const relay = startTestRelay({ provider: floodingProvider() });
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(relay.url).port) });
  await connection.write(
    new TextEncoder().encode(
      "POST /v1/messages HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n" +
        `content-length: ${MESSAGES.length}\r\n\r\n${MESSAGES}`,
    ),
  );
  // The client reads the start of the answer, then no more: the rest fills every buffer on the way.
  const start = new Uint8Array(1024);
  assert.ok((await connection.read(start))! > 0);
  assert.match(new TextDecoder().decode(start), /^HTTP\/1\.1 200/);

  assert.deepEqual(await relay.server.shutdown(0), { cut: true });
  await relay.server.finished;
  assert.equal(relay.server.inFlight.size, 0);
  const line = await relay.nextRequestLog();
  assert.deepEqual([line.outcome, line.error], [
    "relay_error",
    "relay shut down before the upstream finished (server.shutdown_grace)",
  ], "cut by relay, not closed by its client");
  assert.equal(await closedWithin(connection, 10_000), true, "relay closed the connection");
  connection.close();
});

/**
 * Whether the peer closes `connection` within `ms`, what the client buffered read first: the time
 * bounds only a failing run, which would otherwise wait for ever on a connection left open.
 */
async function closedWithin(connection: Deno.Conn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(1 << 20);
  const drained = (async () => {
    try {
      while (await connection.read(buffer) !== null) { /* what relay sent before the cut */ }
    } catch {
      // A reset is a close too.
    }
  })();
  return await settlesWithin(drained, ms);
}

/** A relay whose shutdown has begun while one stream is under way (its `message_start` out). */
async function shuttingDownWithAStream() {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response());
  const relay = startTestRelay({ upstreamUrl: upstream.url });
  const pending = post(relay.url);
  stream.push("event: message_start\ndata: {}\n\n");
  const response = await pending;
  return { stream, upstream, relay, response, stopping: relay.server.shutdown(60_000) };
}

Deno.test("during the grace a new request gets a 503 and the stream under way finishes", async () => {
  const { stream, upstream, relay, response, stopping } = await shuttingDownWithAStream();

  const refused = await post(relay.url);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("connection"), "close");
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.match(refused.headers.get("request-id")!, /^relay_[0-9a-f]{32}$/);
  assert.equal(refused.headers.get("x-request-id"), refused.headers.get("request-id"));
  assert.deepEqual((await refused.json()).error, { type: "overloaded_error", message: SHUTTING_DOWN });
  assert.equal(upstream.requests.length, 1, "nothing more went upstream");
  // The access line is written before the answer goes out.
  const line = relay.logs.find((logged) => logged.request_id === refused.headers.get("request-id"));
  assert.deepEqual([line?.msg, line?.status, line?.outcome, line?.error], [
    "request",
    503,
    "relay_error",
    SHUTTING_DOWN,
  ]);

  stream.push("event: message_stop\ndata: {}\n\n");
  stream.end();
  assert.equal(await response.text(), "event: message_start\ndata: {}\n\nevent: message_stop\ndata: {}\n\n");
  assert.deepEqual(await stopping, { cut: false });
  await upstream.close();
});

Deno.test("during the grace the OpenAI route's 503 is in OpenAI's error shape, and logged", async () => {
  const { stream, upstream, relay, response, stopping } = await shuttingDownWithAStream();

  const refused = await fetch(`${relay.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("connection"), "close");
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.deepEqual(await refused.json(), {
    error: { message: SHUTTING_DOWN, type: "overloaded_error", param: null, code: null },
  });
  const line = relay.logs.find((logged) => logged.request_id === refused.headers.get("x-request-id"));
  assert.deepEqual([line?.msg, line?.path, line?.status], ["request", "/v1/chat/completions", 503]);

  stream.end();
  await response.text();
  assert.deepEqual(await stopping, { cut: false });
  await upstream.close();
});

Deno.test("a body relay breaks off on purpose is logged by its access line alone, not as unhandled", async () => {
  const stream = controlledStream();
  const relay = startTestRelay({
    provider: {
      name: "cut",
      type: "test",
      send: () =>
        Promise.resolve(new Response(stream.body, { headers: { "content-type": "application/json" } })),
    },
  });
  stream.push('{"id":"msg_1","con');
  const reader = (await post(relay.url)).body!.getReader();
  await reader.read();
  stream.fail(new Error("connection reset"));
  await assert.rejects(reader.read());
  assert.equal((await relay.nextRequestLog()).outcome, "upstream_failed");
  // Deno's server reports a failed body before it settles the response, which a shutdown waits for.
  await relay.server.shutdown(60_000);
  assert.deepEqual(relay.logs.filter((line) => line.msg === "unhandled"), []);
});

Deno.test("shutdown ends though a client answered before its upload ended holds the upload open", async () => {
  const relay = startTestRelay({ provider: floodingProvider() });
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(relay.url).port) });
  // A declared length over server.max_body_size is refused before any of the body is read.
  await connection.write(new TextEncoder().encode(
    "POST /v1/messages HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n" +
      "content-length: 999999999\r\n\r\n{",
  ));
  const answer = new Uint8Array(1024);
  assert.ok((await connection.read(answer))! > 0);
  assert.match(new TextDecoder().decode(answer), /^HTTP\/1\.1 413 /);

  // A guard, not a wait: the shutdown settles within a second, or never while the client holds on.
  let guard: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise((resolve) => guard = setTimeout(resolve, 10_000, "hung"));
  assert.deepEqual(await Promise.race([relay.server.shutdown(60_000), hung]), { cut: false });
  clearTimeout(guard);
  await relay.server.finished;
  connection.close();
});

for (
  const [path, body] of [
    ["/v1/messages", MESSAGES],
    ["/v1/chat/completions", '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}'],
  ]
) {
  Deno.test(`a request to ${path} whose upload a shutdown finds under way is served, not refused`, async () => {
    const upstream = startFakeUpstream();
    const relay = startTestRelay({ upstreamUrl: upstream.url });
    const connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(relay.url).port) });
    await connection.write(new TextEncoder().encode(
      `POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n` +
        `content-length: ${body.length}\r\nexpect: 100-continue\r\n\r\n`,
    ));
    // The server says "continue" once relay starts reading the body: the request is under way.
    const answer = new Uint8Array(64 * 1024);
    assert.match(
      new TextDecoder().decode(answer.subarray(0, (await connection.read(answer))!)),
      /^HTTP\/1\.1 100 /,
    );
    const stopping = relay.server.shutdown(60_000);
    await connection.write(new TextEncoder().encode(body));
    const head = new TextDecoder().decode(answer.subarray(0, (await connection.read(answer))!));
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.equal(upstream.requests.length, 1);
    connection.close();
    assert.deepEqual(await stopping, { cut: false });
    await upstream.close();
  });
}

const CLIENT = "rly_serve_test_token_0001";
const MOCK = "  - name: m\n    type: mock\n";

/** Asks `/metrics` of `url` with `method`: the answer's status, `Allow` and error type and message. */
async function metricsAnswer(url: string, method: string, headers: HeadersInit = {}) {
  const response = await fetch(`${url}/metrics`, { method, headers });
  const body = await response.text();
  return {
    status: response.status,
    allow: response.headers.get("allow"),
    error: response.status < 400 ? undefined : JSON.parse(body).error,
  };
}

/** What a wrong `method` on `/metrics` gets. */
function wrongMethod(method: string) {
  return {
    status: 405,
    allow: "GET, HEAD",
    error: { type: "invalid_request_error", message: `/metrics takes GET, HEAD, not ${method}` },
  };
}

Deno.test("a wrong method on /metrics is 405 naming GET and HEAD, as on the app's own routes", async () => {
  await using relay = startTestRelay({ upstreamUrl: "http://127.0.0.1:9", tokens: [CLIENT] });
  for (const method of ["POST", "DELETE"]) {
    assert.deepEqual(await metricsAnswer(relay.url, method), wrongMethod(method), method);
  }
  for (const method of ["GET", "HEAD"]) {
    assert.deepEqual(await metricsAnswer(relay.url, method), { status: 200, allow: null, error: undefined });
  }
});

Deno.test("off loopback a wrong method on /metrics is 405 only once the admin token passed, as its GET is", async () => {
  const bound = `  host: 0.0.0.0\n  auth:\n    tokens: [${CLIENT}]\n`;
  const refused = (status: number, message: string) => ({
    status,
    allow: null,
    error: { type: status === 401 ? "authentication_error" : "not_found_error", message },
  });
  {
    await using relay = await startLiveRelay(liveConfig(MOCK, bound), { hostname: "0.0.0.0" });
    const missing = "missing admin token: send server.admin.token as Authorization: Bearer";
    for (const method of ["GET", "POST"]) {
      assert.deepEqual(await metricsAnswer(relay.url, method), refused(401, missing), method);
      assert.deepEqual(
        await metricsAnswer(relay.url, method, { authorization: `Bearer ${CLIENT}` }),
        refused(401, "invalid admin token"),
        method,
      );
    }
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    assert.deepEqual(await metricsAnswer(relay.url, "POST", admin), wrongMethod("POST"));
    assert.equal((await metricsAnswer(relay.url, "GET", admin)).status, 200);
  }
  {
    // With no admin token, /metrics is off there: 404 whatever the method, as for the GET.
    await using relay = await startLiveRelay(`server:\n${bound}providers:\n${MOCK}`, { hostname: "0.0.0.0" });
    const off = refused(404, "/metrics on a non-loopback address needs server.admin.token");
    for (const method of ["GET", "POST"]) {
      assert.deepEqual(await metricsAnswer(relay.url, method), off, method);
    }
  }
});
