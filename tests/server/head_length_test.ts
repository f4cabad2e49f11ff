import assert from "node:assert/strict";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { startTestRelay } from "../_helpers/relay.ts";

Deno.test("a HEAD answer carries the content-length its GET has, not 0: health, the model list, metrics", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, models: { "claude-sonnet-4-5": "m" } });
  for (const path of ["/health", "/v1/models", "/v1/models/claude-sonnet-4-5", "/metrics"]) {
    const got = await fetch(`${relay.url}${path}`);
    const length = (await got.arrayBuffer()).byteLength;
    const head = await fetch(`${relay.url}${path}`, { method: "HEAD" });
    assert.equal(head.status, 200, path);
    assert.equal(head.headers.get("content-length"), String(length), path);
    assert.equal((await head.arrayBuffer()).byteLength, 0, `${path}: no body`);
  }
  await upstream.close();
});

Deno.test("a HEAD of a model list relay passes on goes upstream as a GET, so its length can be told", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const got = await fetch(`${relay.url}/v1/models`);
  const length = (await got.arrayBuffer()).byteLength;
  const head = await fetch(`${relay.url}/v1/models`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(length));
  assert.deepEqual(upstream.requests.map((request) => request.method), ["GET", "GET"]);
  await upstream.close();
});
