/**
 * A base64 key (a Bedrock API key) holds `/` and `+`, which a JSON encoder may write as `\/` and
 * `\u002B` or `\u002b`: an upstream that quotes the key so must not hand it to relay's clients.
 */
import assert from "node:assert/strict";
import { maskSecret } from "../../src/util/mask.ts";
import { messageStartEvent, sseChunks, sseEvent, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { postMessage } from "../_helpers/live_relay.ts";
import { startTestRelay } from "../_helpers/relay.ts";

const KEY = "ABSKQmVkcm9ja0FQSUtleS1h+bc/def0123456789ABCDEFGHIJ=";
const MASKED = maskSecret(KEY);

/** `KEY` as a JSON encoder that escapes `/` (PHP's) and `+` (.NET's, in `case`) writes it. */
function escaped(plus: "\\u002B" | "\\u002b"): string {
  return KEY.replace("/", "\\/").replace("+", plus);
}

/** `text` cut in two inside its first quote of `quoted`, as a network may cut it. */
function cutInside(text: string, quoted: string): string[] {
  const at = text.indexOf(quoted) + quoted.length / 2;
  return [text.slice(0, at), text.slice(at)];
}

Deno.test("an error answer quoting the key JSON-escaped reaches the client with it masked, body and headers", async () => {
  const body = `{"type":"error","error":{"type":"authentication_error","message":"invalid key ${
    escaped("\\u002B")
  }"}}`;
  const upstream = startFakeUpstream(() =>
    sseChunks(cutInside(body, escaped("\\u002B")), {
      status: 401,
      headers: { "content-type": "application/json", "x-echo": `{"key":"${escaped("\\u002b")}"}` },
    })
  );
  await using relay = startTestRelay({ upstreamUrl: upstream.url, keys: [KEY] });

  const response = await postMessage(relay.url);
  assert.equal(response.status, 401);
  assert.equal(response.headers.get("x-echo"), `{"key":"${MASKED}"}`);
  assert.equal(await response.text(), body.replace(escaped("\\u002B"), MASKED));
  await relay.nextRequestLog();
  await upstream.close();
});

Deno.test("an error event quoting the key JSON-escaped mid-answer reaches the client with it masked", async () => {
  const start = messageStartEvent("msg_1", { input_tokens: 3, output_tokens: 1 });
  const error = sseEvent("error", {
    type: "error",
    error: { type: "api_error", message: "key {KEY} revoked" },
  })
    .replace("{KEY}", escaped("\\u002b"));
  const upstream = startFakeUpstream(() => sseChunks([start, ...cutInside(error, escaped("\\u002b"))]));
  await using relay = startTestRelay({ upstreamUrl: upstream.url, keys: [KEY] });

  const response = await postMessage(relay.url);
  assert.equal(await response.text(), start + error.replace(escaped("\\u002b"), MASKED));
  const log = await relay.nextRequestLog();
  assert.equal(log.message, `key ${MASKED} revoked`);
  await upstream.close();
});
