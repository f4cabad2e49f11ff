import assert from "node:assert/strict";
import { encodeSseEvent } from "../../src/stream/sse_encode.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";

const decode = (bytes: Uint8Array) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);

Deno.test("encodeSseEvent frames one event the way api.anthropic.com does", () => {
  assert.equal(
    decode(encodeSseEvent("message_stop", { type: "message_stop" })),
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
  );
});

Deno.test("encodeSseEvent keeps data on one line and writes UTF-8 without a BOM", () => {
  const data = { type: "content_block_delta", delta: { text: "line one\nline two\r 🎉 é \u2028" } };
  const bytes = encodeSseEvent("content_block_delta", data);
  assert.deepEqual([...bytes.subarray(0, 3)], [...new TextEncoder().encode("eve")]);
  assert.equal(decode(bytes).split("\n").length, 4, "event line, data line, blank line, nothing after");
  assert.ok(!decode(bytes).includes("\r"));
  assert.deepEqual(new SseDecoder().feed(bytes), [{
    event: "content_block_delta",
    data: JSON.stringify(data),
  }]);
});

Deno.test("encodeSseEvent refuses an event name that would break its line", () => {
  assert.throws(() => encodeSseEvent("ping\ndata: {}", {}), TypeError);
  assert.throws(() => encodeSseEvent("ping\r", {}), TypeError);
});
