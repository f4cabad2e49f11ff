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
// As a gateway that writes no `event:` lines sends them: each event named by its data's `type`, read
// without parsing when `type` is the data's first key, by parsing it when it comes last (a gateway that
// sorts keys).
const dataOnlyTypeFirst = perEvent.map((chunk) => dataOnly(chunk, false));
const dataOnlyTypeLast = perEvent.map((chunk) => dataOnly(chunk, true));
const goldensTypeLast = goldens.map((golden) => dataOnly(golden, true));

// Each is the same answer to the tap, or the bench would time something else.
const detailOf = (chunks: Uint8Array[]) => {
  const tap = new UsageTap(true);
  for (const chunk of chunks) tap.observe(chunk);
  return JSON.stringify(tap.detail());
};
for (const variant of [dataOnlyTypeFirst, dataOnlyTypeLast]) {
  if (detailOf(variant) !== detailOf(perEvent)) throw new Error("a data-only stream reads otherwise");
}

/** `bytes` without its `event:` lines, each event's `type` moved to the end of its data when `typeLast`. */
function dataOnly(bytes: Uint8Array, typeLast: boolean): Uint8Array {
  // By LF alone: the goldens' JSON holds raw line and paragraph separators.
  const lines = new TextDecoder().decode(bytes).split("\n").filter((line) => !line.startsWith("event: "));
  const moved = lines.map((line) => {
    if (!typeLast || !line.startsWith("data: ")) return line;
    const { type, ...rest } = JSON.parse(line.slice("data: ".length));
    return `data: ${JSON.stringify({ ...rest, type })}`;
  });
  return new TextEncoder().encode(moved.join("\n"));
}

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

/** Times the tap over `chunks`, one stream read chunk by chunk, then its detail. */
function benchStream(name: string, chunks: Uint8Array[]): void {
  Deno.bench({
    name: `UsageTap, ${name}, then its detail`,
    group: "usage tap",
    fn() {
      const tap = new UsageTap(true);
      for (const chunk of chunks) tap.observe(chunk);
      tap.detail();
    },
  });
}

/** Times the tap over `streams`, each whole in one chunk, then their detail. */
function benchWholes(name: string, streams: Uint8Array[]): void {
  Deno.bench({
    name: `UsageTap, ${name}, each whole, then their detail`,
    group: "usage tap",
    fn() {
      for (const stream of streams) {
        const tap = new UsageTap(true);
        tap.observe(stream);
        tap.detail();
      }
    },
  });
}

benchStream(`${STREAM_EVENTS} events one chunk each`, perEvent);
benchStream("the same stream cut before its message_delta", untilDelta);
benchWholes(`the ${goldens.length} golden streams`, goldens);
benchStream(`${STREAM_EVENTS} events one chunk each, data only with type first`, dataOnlyTypeFirst);
benchStream(`${STREAM_EVENTS} events one chunk each, data only with type last`, dataOnlyTypeLast);
benchWholes(`the ${goldens.length} golden streams data only with type last`, goldensTypeLast);
