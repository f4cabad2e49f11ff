import assert from "node:assert/strict";
import { compactReader } from "../../src/stream/compact_reader.ts";
import { WatchedReader } from "../../src/stream/watched_reader.ts";
import { controlledStream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

/** A fetch body from a loopback server whose chunks the test sends one at a time. */
async function fetchedBody() {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response());
  const response = await fetch(`${upstream.url}/v1/messages`, { method: "POST", body: "{}" });
  const request = await upstream.nextRequest();
  return {
    body: response.body!,
    stream,
    disconnected: request.disconnected,
    close: () => upstream.close(),
  };
}

Deno.test("compactReader hands on each chunk of a fetch body in a buffer the size of its bytes", async () => {
  const { body, stream, close } = await fetchedBody();
  const reader = compactReader(body);
  for (const event of ["event: ping\ndata: {}\n\n", 'data: {"type":"message_stop"}\n\n']) {
    stream.push(event);
    const { value } = await reader.read();
    assert.equal(text(value), event);
    assert.equal(value!.buffer.byteLength, event.length, "Deno's own reader gives each its own 64 KiB");
  }
  stream.end();
  assert.deepEqual(await reader.read(), { done: true, value: undefined }, "an end as a default reader's");
  await close();
});

Deno.test("compactReader's chunks stay as they came while later reads fill its buffer", async () => {
  const { body, stream, close } = await fetchedBody();
  const reader = compactReader(body);
  stream.push("data: first\n\n");
  const first = await reader.read();
  stream.push("data: later\n\n");
  const later = await reader.read();
  assert.equal(text(later.value), "data: later\n\n");
  assert.equal(text(first.value), "data: first\n\n", "the first chunk is not a view of the reused buffer");
  stream.end();
  await reader.read();
  await close();
});

Deno.test("compactReader cancels a fetch body, ending a read that waits, as a default reader does", async () => {
  const { body, stream, disconnected, close } = await fetchedBody();
  const reader = compactReader(body);
  const waiting = reader.read();
  await stream.whenRead();
  await reader.cancel(new Error("client gone"));
  assert.ok(await settlesWithin(disconnected, 5_000), "the upstream sees its request go");
  assert.deepEqual(await waiting, { done: true, value: undefined });
  await close();
});

Deno.test("compactReader reads a stream built in JS with its default reader, chunks as they are", async () => {
  const chunk = new TextEncoder().encode("data: {}\n\n");
  const reader = compactReader(ReadableStream.from([chunk]));
  assert.equal((await reader.read()).value, chunk, "the very same chunk: nothing to compact");
  assert.deepEqual(await reader.read(), { done: true, value: undefined });
});

Deno.test("WatchedReader reads a body given as a stream with compactReader", async () => {
  const { body, stream, close } = await fetchedBody();
  const reader = new WatchedReader(body);
  stream.push("event: ping\ndata: {}\n\n");
  const { value } = await reader.read();
  assert.equal(value!.buffer.byteLength, value!.byteLength);
  stream.end();
  assert.equal((await reader.read()).done, true);
  await close();
});
