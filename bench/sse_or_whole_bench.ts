import { sseOrWhole } from "../src/stream/sse_or_whole.ts";

// A start of blank lines a byte a chunk, before the stream shows what it is: each byte must be looked at
// once (a sniff that rescanned what it held took half a minute over 64 Ki of them).
const BLANKS = 64 * 1024;
const blank = new TextEncoder().encode("\n");
const first = new TextEncoder().encode("data: {}\n\n");

Deno.bench({
  name: `sseOrWhole, ${BLANKS} one-byte blank chunks, then an event`,
  group: "sse or whole",
  async fn() {
    const chunks = [...Array.from({ length: BLANKS }, () => blank), first];
    const passed = sseOrWhole(ReadableStream.from(chunks), 1024, () => []);
    for await (const _ of passed) { /* drained */ }
  },
});
