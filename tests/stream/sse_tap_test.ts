import assert from "node:assert/strict";
import { SseDecoder, type SseEvent } from "../../src/stream/sse_decode.ts";
import { tapSse } from "../../src/stream/sse_tap.ts";
import { concatBytes, GOLDEN_NAMES, loadGolden, splitAwkwardly, withLineEnding } from "./golden.ts";

const encode = (text: string) => new TextEncoder().encode(text);

/** Writes `chunks` through `tap` one at a time, reading each output chunk before writing the next. */
async function pump(
  tap: TransformStream<Uint8Array, Uint8Array>,
  chunks: Uint8Array[],
): Promise<Uint8Array[]> {
  const writer = tap.writable.getWriter();
  const reader = tap.readable.getReader();
  const out: Uint8Array[] = [];
  for (const chunk of chunks) {
    const written = writer.write(chunk);
    const { value } = await reader.read();
    out.push(value!);
    await written;
  }
  await writer.close();
  assert.equal((await reader.read()).done, true);
  return out;
}

for (const name of GOLDEN_NAMES) {
  Deno.test(`tapSse passes golden ${name} through as the same chunks and reports its events`, async () => {
    const bytes = withLineEnding(await loadGolden(name), "\r\n");
    const expected = new SseDecoder().feed(bytes);
    const chunkings = splitAwkwardly(bytes);
    for (
      const chunks of [chunkings[0], chunkings[Math.floor(chunkings.length / 2)], ...chunkings.slice(-5)]
    ) {
      const seen: SseEvent[] = [];
      const out = await pump(tapSse((event) => seen.push(event)), chunks);
      assert.equal(out.length, chunks.length);
      out.forEach((chunk, i) => assert.equal(chunk, chunks[i], `chunk #${i} is the very same object`));
      assert.deepEqual(concatBytes(out), bytes);
      assert.deepEqual(seen, expected);
    }
  });
}

Deno.test("tapSse hands on a chunk before it completes an event", async () => {
  const seen: SseEvent[] = [];
  const tap = tapSse((event) => seen.push(event));
  const writer = tap.writable.getWriter();
  const reader = tap.readable.getReader();
  const half = encode("event: ping\nda");
  writer.write(half);
  assert.equal((await reader.read()).value, half);
  assert.deepEqual(seen, []);
  writer.write(encode('ta: {"type":"ping"}\n\n'));
  await reader.read();
  assert.deepEqual(seen, [{ event: "ping", data: '{"type":"ping"}' }]);
});

Deno.test("tapSse keeps streaming and observing when onEvent throws", async () => {
  const bytes = await loadGolden("text");
  const errors: unknown[] = [];
  const seen: string[] = [];
  const tap = tapSse((event) => {
    seen.push(event.event);
    if (event.event === "ping") throw new Error("observer bug");
  }, (error) => errors.push(error));
  const out = await pump(tap, splitAwkwardly(bytes)[0]);
  assert.deepEqual(concatBytes(out), bytes);
  assert.equal(seen.at(-1), "message_stop", "events after the throw are still reported");
  assert.deepEqual(errors.map((error) => (error as Error).message), ["observer bug"]);
});

Deno.test("tapSse stops observing, not streaming, when the parser gives up", async () => {
  const errors: unknown[] = [];
  const seen: SseEvent[] = [];
  const huge = encode(`data: ${"x".repeat(33 * 1024 * 1024)}`);
  const rest = encode("\n\ndata: after\n\n");
  const out = await pump(tapSse((event) => seen.push(event), (error) => errors.push(error)), [huge, rest]);
  assert.equal(out[0], huge);
  assert.equal(out[1], rest);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /max buffer size/);
  assert.deepEqual(seen, []);
});
