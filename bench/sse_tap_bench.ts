import type { SseEvent } from "../src/stream/sse_decode.ts";
import { tapSse } from "../src/stream/sse_tap.ts";
import { drain, mockStreamChunks, STREAM_EVENTS, streamOf } from "./_fixtures.ts";

const chunks = await mockStreamChunks();

/** What a usage tap does: parse only the events that carry token counts. */
function _readUsage({ event, data }: SseEvent) {
  if (event === "message_start" || event === "message_delta") JSON.parse(data);
}

Deno.bench({
  name: `identity TransformStream, ${STREAM_EVENTS} events`,
  group: "sse tap",
  baseline: true,
  async fn() {
    await drain(streamOf(chunks).pipeThrough(new TransformStream()));
  },
});

Deno.bench({
  name: `tapSse reading usage, ${STREAM_EVENTS} events`,
  group: "sse tap",
  async fn() {
    await drain(streamOf(chunks).pipeThrough(tapSse(_readUsage)));
  },
});
