import assert from "node:assert/strict";
import { SseDecoder, type SseEvent } from "../../src/stream/sse_decode.ts";
import { GOLDEN_NAMES, loadGolden, splitAwkwardly, withLineEnding } from "../_helpers/golden.ts";
import { concatBytes } from "../../src/util/bytes.ts";

const encode = (text: string) => new TextEncoder().encode(text);

function parseChunks(chunks: Uint8Array[]): SseEvent[] {
  const decoder = new SseDecoder();
  return chunks.flatMap((chunk) => decoder.feed(chunk));
}

/** An independent reading of an LF-framed, well-formed golden: events are split by blank lines. */
function naiveParse(bytes: Uint8Array): SseEvent[] {
  return new TextDecoder().decode(bytes).split("\n\n").filter(Boolean).map((block) => {
    const [eventLine, dataLine] = block.split("\n");
    return { event: eventLine.slice("event: ".length), data: dataLine.slice("data: ".length) };
  });
}

Deno.test("splitAwkwardly's chunkings each rebuild the input, and cut inside characters and CRLFs", async () => {
  const bytes = withLineEnding(await loadGolden("unicode"), "\r\n");
  const chunkings = splitAwkwardly(bytes);
  for (const chunks of chunkings) assert.deepEqual(concatBytes(chunks), bytes);
  const startsWith = (test: (byte: number, previous: number) => boolean) =>
    chunkings.some((chunks) => chunks.slice(1).every((chunk) => test(chunk[0], bytes[chunk.byteOffset - 1])));
  assert.ok(startsWith((byte) => (byte & 0xc0) === 0x80), "a chunking that cuts every multi-byte character");
  assert.ok(
    startsWith((byte, previous) => byte === 0x0a && previous === 0x0d),
    "a chunking that cuts every CRLF",
  );
  assert.ok(chunkings.some((chunks) => chunks.length === bytes.byteLength), "one byte at a time");
});

for (const name of GOLDEN_NAMES) {
  Deno.test(`SseDecoder reads golden ${name} the same however it is chunked, with any line ending`, async () => {
    const golden = await loadGolden(name);
    const expected = naiveParse(golden);
    assert.ok(expected.length >= 5);
    for (const bytes of [golden, withLineEnding(golden, "\r\n"), withLineEnding(golden, "\r")]) {
      for (const [i, chunks] of splitAwkwardly(bytes).entries()) {
        const events = parseChunks(chunks);
        if (!_equal(events, expected)) {
          assert.deepEqual(events, expected, `chunking #${i}: sizes ${chunks.map((c) => c.byteLength)}`);
        }
      }
    }
  });
}

/** A cheap check first: deepEqual on thousands of chunkings would dominate the run time. */
function _equal(a: SseEvent[], b: SseEvent[]): boolean {
  return a.length === b.length &&
    a.every((event, i) => event.event === b[i].event && event.data === b[i].data);
}

Deno.test("SseDecoder skips one leading BOM, even split, but keeps a second one as data", () => {
  const bom = [0xef, 0xbb, 0xbf];
  const body = encode("event: ping\ndata: {}\n\n");
  assert.deepEqual(parseChunks([new Uint8Array([bom[0]]), new Uint8Array(bom.slice(1)), body]), [
    { event: "ping", data: "{}" },
  ]);
  const twice = parseChunks([new Uint8Array([...bom, ...bom]), encode("data: x\n\n")]);
  assert.deepEqual(twice, [], "the second BOM starts a line named \\uFEFFdata, an unknown field");
  assert.deepEqual(parseChunks([encode("data: \uFEFFx\n\n")]), [{ event: "message", data: "\uFEFFx" }]);
});

Deno.test("SseDecoder applies the WHATWG field rules", () => {
  const events = parseChunks([encode(
    ": keep-alive comment\n" +
      "event:tight\ndata:no space\ndata:  two spaces\nid: 7\nretry: 10\nunknown: x\n\n" +
      "data\n\n" +
      "event: no-data\n\n" +
      "data: default type\n\n" +
      "event: ping\ndata: {}\n",
  )]);
  assert.deepEqual(events, [
    { event: "tight", data: "no space\n two spaces" },
    { event: "message", data: "" },
    { event: "message", data: "default type" },
  ], "a data-less event dispatches nothing and an unterminated last event is held back");
});

Deno.test("SseDecoder treats a CR at a chunk edge as CRLF when the LF follows, as CR otherwise", () => {
  const crlf = parseChunks([encode("data: a\r"), encode("\n\r"), encode("\ndata: b\r\n\r\n")]);
  assert.deepEqual(crlf, [{ event: "message", data: "a" }, { event: "message", data: "b" }]);
  const cr = parseChunks([encode("data: a\r"), encode("\r"), encode("data: b\r\r")]);
  assert.deepEqual(cr, [{ event: "message", data: "a" }, { event: "message", data: "b" }]);
});

Deno.test("SseDecoder replaces invalid UTF-8 instead of failing", () => {
  const events = parseChunks([encode("data: "), new Uint8Array([0xff, 0xc3]), encode("\n\n")]);
  assert.deepEqual(events, [{ event: "message", data: "\uFFFD\uFFFD" }]);
});

Deno.test("SseDecoder gives up on an event larger than its buffer limit", () => {
  const decoder = new SseDecoder({ maxBufferedChars: 16 });
  assert.deepEqual(decoder.feed(encode("data: short\n\n")), [{ event: "message", data: "short" }]);
  assert.throws(() => decoder.feed(encode("data: this line is far too long")), /max buffer size/);
});
