/**
 * An upstream may echo the key it was sent in the headers of a successful answer (a debug header, a
 * `www-authenticate`), not only an error's: relay's clients must get it masked there too.
 */
import assert from "node:assert/strict";
import { maskSecret } from "../../src/util/mask.ts";
import { MESSAGE_ANSWER, sseChunks, startFakeUpstream, textAnswerStream } from "../_helpers/fake_upstream.ts";
import { postMessage } from "../_helpers/live_relay.ts";
import { PROVIDER_KEY, startTestRelay } from "../_helpers/relay.ts";

const MASKED = maskSecret(PROVIDER_KEY);

/** Headers quoting `key` as written, in a challenge, percent-encoded and JSON-escaped. */
function echoing(key: string): Record<string, string> {
  return {
    "x-echo": key,
    "www-authenticate": `Bearer realm="api", key="${key}"`,
    "x-echo-url": `https://example.test/?key=${encodeURIComponent(key)}`,
    "x-echo-json": JSON.stringify({ key }).replaceAll("/", "\\/"),
  };
}

function assertMasked(headers: Headers, key: string, masked: string): void {
  assert.equal(headers.get("x-echo"), masked);
  assert.equal(headers.get("www-authenticate"), `Bearer realm="api", key="${masked}"`);
  assert.equal(headers.get("x-echo-url"), `https://example.test/?key=${masked}`);
  assert.equal(headers.get("x-echo-json"), JSON.stringify({ key: masked }));
  assert.ok(![...headers.values()].some((value) => value.includes(key.slice(0, 20))));
}

Deno.test("a whole answer's headers quoting the provider key reach the client with it masked", async () => {
  const upstream = startFakeUpstream((_request, recorded) =>
    Response.json(MESSAGE_ANSWER, { headers: echoing(recorded.headers.get("x-api-key")!) })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url, keys: [PROVIDER_KEY] });

  const response = await postMessage(
    relay.url,
    JSON.stringify({
      model: "claude-sonnet-4-5",
      max_tokens: 8,
      messages: [{ role: "user", content: "hi" }],
    }),
  );
  assert.equal(response.status, 200);
  assertMasked(response.headers, PROVIDER_KEY, MASKED);
  assert.deepEqual(await response.json(), MESSAGE_ANSWER);
  await relay.nextRequestLog();
  await upstream.close();
});

Deno.test("a stream's headers quoting the provider key reach the client with it masked", async () => {
  const stream = textAnswerStream({
    id: "msg_1",
    text: "ok",
    startUsage: { input_tokens: 3, output_tokens: 1 },
    endUsage: { output_tokens: 2 },
  });
  const upstream = startFakeUpstream((_request, recorded) =>
    sseChunks([stream], { headers: echoing(recorded.headers.get("x-api-key")!) })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url, keys: [PROVIDER_KEY] });

  const response = await postMessage(relay.url);
  assert.equal(response.status, 200);
  assertMasked(response.headers, PROVIDER_KEY, MASKED);
  assert.equal(await response.text(), stream);
  await relay.nextRequestLog();
  await upstream.close();
});

Deno.test("a model list's headers quoting the provider key reach the client with it masked, a base64 key too", async () => {
  // `/` and `+`: the escaped and encoded forms differ from the key as written.
  const key = "ABSKQmVkcm9ja0FQSUtleS1h+bc/def0123456789ABCDEFGHIJ=";
  const upstream = startFakeUpstream((_request, recorded) =>
    Response.json({ data: [], has_more: false }, { headers: echoing(recorded.headers.get("x-api-key")!) })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url, keys: [key] });

  for (const path of ["/v1/models", "/v1/models/claude-sonnet-4-5"]) {
    const response = await fetch(`${relay.url}${path}`);
    assert.equal(response.status, 200);
    assertMasked(response.headers, key, maskSecret(key));
    await response.body?.cancel();
    await relay.nextRequestLog();
  }
  await upstream.close();
});

Deno.test("an answer with no body and the provider key in a header reaches the client with it masked", async () => {
  const upstream = startFakeUpstream((_request, recorded) =>
    new Response(null, { status: 204, headers: echoing(recorded.headers.get("x-api-key")!) })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url, keys: [PROVIDER_KEY] });

  const response = await fetch(`${relay.url}/v1/models`);
  assert.equal(response.status, 204);
  assertMasked(response.headers, PROVIDER_KEY, MASKED);
  await relay.nextRequestLog();
  await upstream.close();
});
