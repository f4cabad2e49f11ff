import { SseDecoder } from "../src/stream/sse_decode.ts";
import { concatBytes } from "../src/util/bytes.ts";
import { goldenStreams, mockStreamChunks, STREAM_EVENTS } from "./_fixtures.ts";

const goldens = await goldenStreams();
const perEvent = await mockStreamChunks();
// 37 is prime and under any event's length, so cuts land inside lines, JSON and UTF-8 sequences.
const whole = concatBytes(perEvent);
const cut37 = Array.from(
  { length: Math.ceil(whole.byteLength / 37) },
  (_, i) => whole.subarray(i * 37, (i + 1) * 37),
);

function _decodeAll(chunks: Uint8Array[]) {
  const decoder = new SseDecoder();
  for (const chunk of chunks) decoder.feed(chunk);
}

Deno.bench({
  name: `TextDecoder only, ${STREAM_EVENTS} events one chunk each`,
  group: "sse decode",
  baseline: true,
  fn() {
    const text = new TextDecoder();
    for (const chunk of perEvent) text.decode(chunk, { stream: true });
  },
});

Deno.bench({
  name: `SseDecoder, ${STREAM_EVENTS} events one chunk each`,
  group: "sse decode",
  fn: () => _decodeAll(perEvent),
});

Deno.bench({
  name: `SseDecoder, ${STREAM_EVENTS} events in 37-byte chunks`,
  group: "sse decode",
  fn: () => _decodeAll(cut37),
});

Deno.bench({
  name: `SseDecoder, the ${goldens.length} golden streams, each whole`,
  group: "sse decode",
  fn() {
    for (const golden of goldens) _decodeAll([golden]);
  },
});
