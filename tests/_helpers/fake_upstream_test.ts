import assert from "node:assert/strict";
import { controlledStream, sseChunks, startFakeUpstream } from "./fake_upstream.ts";

Deno.test("fake upstream records each request byte for byte and answers like the mock by default", async () => {
  const upstream = startFakeUpstream();
  try {
    const body = new Uint8Array([0x7b, 0xff, 0x00, 0xc3, 0x0d, 0x0a, 0x7d]);
    const response = await fetch(`${upstream.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: { "x-api-key": "sk-test", "anthropic-beta": "a,b" },
      body,
    });
    assert.equal(response.status, 400, "the mock refuses a body that is not JSON");
    await response.body?.cancel();
    const [recorded] = upstream.requests;
    assert.equal(recorded.method, "POST");
    assert.equal(recorded.path, "/v1/messages?beta=true");
    assert.equal(recorded.url, `${upstream.url}/v1/messages?beta=true`);
    assert.equal(recorded.headers.get("x-api-key"), "sk-test");
    assert.equal(recorded.headers.get("anthropic-beta"), "a,b");
    assert.deepEqual(recorded.body, body);
    const models = await fetch(`${upstream.url}/v1/models`);
    assert.equal((await models.json()).data[0].id, "mock-1");
    assert.deepEqual(upstream.requests[1].body, new Uint8Array(0));
  } finally {
    await upstream.close();
  }
});

Deno.test("fake upstream: nextRequest hands out requests in arrival order, waiting when none is left", async () => {
  const upstream = startFakeUpstream(() => new Response("ok"));
  try {
    await (await fetch(`${upstream.url}/first`)).text();
    assert.equal((await upstream.nextRequest()).path, "/first", "one that arrived before the call");
    const waiting = upstream.nextRequest();
    await (await fetch(`${upstream.url}/second?x=1`)).text();
    assert.equal((await waiting).path, "/second?x=1");
    assert.deepEqual(upstream.requests.map((request) => request.path), ["/first", "/second?x=1"]);
  } finally {
    await upstream.close();
  }
});

Deno.test("sseChunks sends exactly its chunks, as an event stream", async () => {
  const chunks = ["event: ping\nda", new TextEncoder().encode('ta: {"type":"ping"}\n'), "\n"];
  const upstream = startFakeUpstream(() => sseChunks(chunks, { status: 201, headers: { "x-extra": "1" } }));
  try {
    const response = await fetch(upstream.url);
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    assert.equal(response.headers.get("x-extra"), "1");
    assert.equal(await response.text(), 'event: ping\ndata: {"type":"ping"}\n\n');
  } finally {
    await upstream.close();
  }
});

Deno.test("controlledStream releases chunks when the test pushes them", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response({ headers: { "request-id": "req_1" } }));
  try {
    const response = await fetch(upstream.url);
    assert.equal(response.headers.get("request-id"), "req_1");
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const reader = response.body!.getReader();
    stream.push("event: ping\n");
    assert.equal(new TextDecoder().decode((await reader.read()).value), "event: ping\n");
    stream.push(new Uint8Array([0x64]));
    assert.deepEqual((await reader.read()).value, new Uint8Array([0x64]));
    stream.end();
    assert.equal((await reader.read()).done, true);
  } finally {
    await upstream.close();
  }
});

Deno.test("controlledStream.fail cuts the body like a lost connection", async () => {
  const stream = controlledStream();
  const reader = stream.body.getReader();
  stream.push("half an ev");
  stream.fail(new Error("reset"));
  await assert.rejects(reader.read(), /reset/, "a failure drops what was queued, like a reset does");
});

Deno.test("fake upstream sees a client that leaves mid-stream: cancelled and disconnected resolve", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response());
  try {
    const leaving = new AbortController();
    const response = await fetch(upstream.url, { signal: leaving.signal });
    const reader = response.body!.getReader();
    stream.push("event: ping\n");
    await reader.read();
    leaving.abort();
    await stream.cancelled;
    await upstream.requests[0].disconnected;
    stream.push("ignored after the client left");
  } finally {
    await upstream.close();
  }
});

Deno.test("fake upstream sees a client that leaves before the response starts", async () => {
  const release = Promise.withResolvers<void>();
  const upstream = startFakeUpstream(async () => {
    await release.promise;
    return new Response("too late");
  });
  try {
    const leaving = new AbortController();
    const answer = fetch(upstream.url, { signal: leaving.signal });
    const recorded = await upstream.nextRequest();
    leaving.abort();
    await assert.rejects(answer);
    await recorded.disconnected;
  } finally {
    release.resolve();
    await upstream.close();
  }
});

Deno.test("fake upstream: a delivered response does not count as a disconnect", async () => {
  const upstream = startFakeUpstream(() => sseChunks(["event: ping\n", "data: {}\n\n"]));
  try {
    await (await fetch(upstream.url)).text();
    const outcome = await Promise.race([
      upstream.requests[0].disconnected.then(() => "disconnected"),
      upstream.close().then(() => "closed"),
    ]);
    assert.equal(outcome, "closed");
  } finally {
    await upstream.close();
  }
});
