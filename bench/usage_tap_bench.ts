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

/**
 * An unstreamed message of about `bytes`: a tool's input of small objects, then a text, then its usage,
 * as relay reads it in chunks of about 16 KiB, each ending just after a `}` (an object in the input, or
 * the text's own braces), as a chunk of such a message may.
 */
function jsonMessage(bytes: number): { whole: Uint8Array; chunks: Uint8Array[] } {
  const objects = '{"path":"src/a.ts","line":12},'.repeat(Math.floor(bytes / 2 / 30));
  const text = 'A line of the answer, with {braces} and a \\"quote\\".\\n'.repeat(Math.floor(bytes / 2 / 56));
  const whole = new TextEncoder().encode(
    `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[` +
      `{"type":"tool_use","id":"toolu_1","name":"grep","input":{"hits":[${objects}{}]}},` +
      `{"type":"text","text":"${text}"}],"stop_reason":"end_turn","stop_sequence":null,` +
      '"usage":{"input_tokens":1200,"output_tokens":87}}',
  );
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < whole.byteLength;) {
    const brace = whole.indexOf(0x7d, at + 16 * 1024);
    const end = brace < 0 ? whole.byteLength : brace + 1;
    chunks.push(whole.subarray(at, end));
    at = end;
  }
  return { whole, chunks };
}

/** Times the tap over a JSON answer read chunk by chunk, told whole (as relay asks it), then its detail. */
function benchJson(name: string, chunks: Uint8Array[]): void {
  Deno.bench({
    name: `UsageTap, ${name}, then whether it is whole and its detail`,
    group: "usage tap, JSON",
    fn() {
      const tap = new UsageTap(false);
      for (const chunk of chunks) {
        tap.observe(chunk);
        tap.ended();
      }
      if (tap.unfinished() || tap.detail()?.output !== 87) throw new Error("the message reads otherwise");
    },
  });
}

const small = jsonMessage(20 * 1024);
const large = jsonMessage(4 * 1000 * 1000);
benchJson(
  `a ${Math.round(small.whole.byteLength / 1024)} KiB message in ${small.chunks.length} chunks`,
  small.chunks,
);
benchJson(`a ${Math.round(large.whole.byteLength / 1024)} KiB message in one chunk`, [large.whole]);
benchJson(`the same in ${large.chunks.length} chunks each ending in a brace`, large.chunks);
// Past 4 MiB the tap keeps only the tail, letting go of chunks as more come: in 64-byte chunks (a
// trickled answer) that is tens of thousands of them.
const trickled = jsonMessage(6 * 1000 * 1000).whole;
const tiny: Uint8Array[] = [];
for (let at = 0; at < trickled.byteLength; at += 64) tiny.push(trickled.subarray(at, at + 64));
benchJson(
  `a ${Math.round(trickled.byteLength / 1024)} KiB message in ${tiny.length} chunks of 64 bytes`,
  tiny,
);
