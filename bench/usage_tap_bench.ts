import { SseDecoder } from "../src/stream/sse_decode.ts";
import { UsageTap } from "../src/stream/usage_tap.ts";
import { goldenStreams, mockStreamChunks, STREAM_EVENTS } from "./_fixtures.ts";

const perEvent = await mockStreamChunks();
const goldens = await goldenStreams();
// The stream as a client that left (Esc) cuts it: everything before its message_delta.
const deltaAt = perEvent.findIndex((chunk) =>
  new TextDecoder().decode(chunk).startsWith("event: message_delta")
);
if (deltaAt < 0) throw new Error("the mock stream has no message_delta to cut before");
const untilDelta = perEvent.slice(0, deltaAt);

// The tap decodes every event: the decoder alone is what reading usage cannot go below.
Deno.bench({
  name: `SseDecoder only, ${STREAM_EVENTS} events one chunk each`,
  group: "usage tap",
  baseline: true,
  fn() {
    const decoder = new SseDecoder();
    for (const chunk of perEvent) decoder.feed(chunk);
  },
});

Deno.bench({
  name: `UsageTap, ${STREAM_EVENTS} events one chunk each, then its detail`,
  group: "usage tap",
  fn() {
    const tap = new UsageTap(true);
    for (const chunk of perEvent) tap.observe(chunk);
    tap.detail();
  },
});

Deno.bench({
  name: "UsageTap, the same stream cut before its message_delta, then its detail",
  group: "usage tap",
  fn() {
    const tap = new UsageTap(true);
    for (const chunk of untilDelta) tap.observe(chunk);
    tap.detail();
  },
});

Deno.bench({
  name: `UsageTap, the ${goldens.length} golden streams, each whole, then their detail`,
  group: "usage tap",
  fn() {
    for (const golden of goldens) {
      const tap = new UsageTap(true);
      tap.observe(golden);
      tap.detail();
    }
  },
});
