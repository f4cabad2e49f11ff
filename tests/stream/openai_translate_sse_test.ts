import assert from "node:assert/strict";
import { type SseTranslation, translateSse } from "../../src/stream/openai_translate_sse.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (chunk: Uint8Array | undefined) => new TextDecoder().decode(chunk);

/** A translation that sends each event's data twice over, and throws on `boom`. */
function doubling(): SseTranslation {
  return {
    finished: false,
    start: () => [],
    event: ({ data }) => {
      if (data === "boom") throw new Error("translator bug");
      return data === "skip" ? [] : [bytes(`${data}1`), bytes(`${data}2`)];
    },
    end: () => [],
  };
}

Deno.test("bytes that translate to nothing are answered with an empty chunk: the reader sees a live upstream, the client no byte", async () => {
  const body = ReadableStream.from([
    bytes("data: skip\n\n"),
    bytes(": OPENROUTER PROCESSING\n\n"),
    bytes("data: a\n\n"),
  ]);
  const chunks = await Array.fromAsync(translateSse(body, doubling()));
  assert.deepEqual(chunks.map(text), ["", "", "a1", "a2"]);
});

Deno.test("a translation that throws fails the output only once what it translated before has been read", async () => {
  const output = translateSse(ReadableStream.from([bytes("data: a\n\ndata: boom\n\n")]), doubling())
    .getReader();
  assert.equal(text((await output.read()).value), "a1");
  assert.equal(text((await output.read()).value), "a2", "queued before the failure, and not discarded by it");
  await assert.rejects(output.read(), /translator bug/);
});
