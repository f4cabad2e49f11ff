import assert from "node:assert/strict";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { ADMIN_TOKEN, liveConfig, startLiveRelay } from "../_helpers/live_relay.ts";
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

Deno.test("every HEAD answer carries its GET's length: the admin API, a 404; an event stream is never read", async () => {
  await using relay = await startLiveRelay(liveConfig("  - name: m\n    type: mock\n"));
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  // A 404 names the method: "no route for HEAD /nope" is one byte longer than GET's.
  const length = async (path: string) =>
    (await (await fetch(`${relay.url}${path}`, { headers })).arrayBuffer()).byteLength;
  for (const [path, longer] of [["/admin/status", 0], ["/nope", 1]] as const) {
    // The status's spans (`uptime_ms`) may gain a digit between two answers: the HEAD's length lies
    // between those of the GETs around it.
    const before = await length(path);
    const head = await fetch(`${relay.url}${path}`, { method: "HEAD", headers });
    const after = await length(path);
    assert.equal(head.status, path === "/admin/status" ? 200 : 404, path);
    const headLength = Number(head.headers.get("content-length"));
    assert.ok(headLength >= before + longer && headLength <= after + longer, `${path}: ${headLength}`);
    await head.body?.cancel();
  }
  const events = await fetch(`${relay.url}/admin/events`, { method: "HEAD", headers });
  assert.equal(events.status, 200, "answered at once, the stream not read to an end it never has");
  await events.body?.cancel();
});

Deno.test("Claude Code's warm-up, a HEAD of /api/hello or of its base URL at every start, is a 200 with no access line", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  for (const path of ["/api/hello", "/"]) {
    const head = await fetch(`${relay.url}${path}`, { method: "HEAD" });
    assert.equal(head.status, 200, path);
    await head.body?.cancel();
  }
  const health = await fetch(`${relay.url}/nope`);
  await health.body?.cancel();
  const line = await relay.nextRequestLog();
  assert.equal(line.path, "/nope", "the 404 after it is the first access line: the warm-up wrote none");
  assert.equal(upstream.requests.length, 0, "nor is it sent upstream");
  await upstream.close();
});
