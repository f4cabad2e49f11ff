import { compactReader } from "../src/stream/compact_reader.ts";
import { mockStreamChunks, STREAM_EVENTS } from "./_fixtures.ts";

const chunks = await mockStreamChunks();

/**
 * A byte stream read as Deno reads a fetch body off its socket: each read fills a 64 KiB buffer, the
 * default reader's allocated afresh, with one event.
 */
function fetchLikeBody(): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 65_536,
    pull(controller) {
      const request = controller.byobRequest!;
      if (next === chunks.length) {
        controller.close();
        request.respond(0);
        return;
      }
      const chunk = chunks[next++];
      new Uint8Array(request.view!.buffer, request.view!.byteOffset, chunk.byteLength).set(chunk);
      request.respond(chunk.byteLength);
    },
  });
}

async function drain(reader: { read(): Promise<ReadableStreamReadResult<Uint8Array>> }): Promise<void> {
  while (!(await reader.read()).done);
}

Deno.bench({
  name: `a fetch-like body read into one reused buffer, nothing copied, ${STREAM_EVENTS} events`,
  group: "compact reader",
  baseline: true,
  async fn() {
    const reader = fetchLikeBody().getReader({ mode: "byob" });
    let buffer = new ArrayBuffer(65_536);
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(buffer));
      if (done) break;
      buffer = value.buffer;
    }
  },
});

Deno.bench({
  name: `the same body read with compactReader, ${STREAM_EVENTS} events`,
  group: "compact reader",
  async fn() {
    await drain(compactReader(fetchLikeBody()));
  },
});

Deno.bench({
  name: `the same body read with its default reader, as relay did, ${STREAM_EVENTS} events`,
  group: "compact reader",
  async fn() {
    await drain(fetchLikeBody().getReader());
  },
});
