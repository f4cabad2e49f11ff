import assert from "node:assert/strict";
import { AnswerCutError, BodyCutError } from "../../src/stream/body_cut.ts";
import { type SseTranslation, translateSse } from "../../src/stream/openai_translate_sse.ts";
import { largeBody } from "../_helpers/large_body.ts";

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

Deno.test("a translation that throws fails the output only once what it translated before has been read, and cancels the body", async () => {
  const body = largeBody(2, { head: "data: a\n\ndata: boom\n\n" });
  const output = translateSse(body.body, doubling()).getReader();
  assert.equal(text((await output.read()).value), "a1");
  assert.equal(text((await output.read()).value), "a2", "queued before the failure, and not discarded by it");
  await assert.rejects(output.read(), /translator bug/);
  assert.ok(body.cancelled, "the request that feeds the body ends");
});

Deno.test("an event past the decoder's limit cancels the body, even when draining, and fails the output", async () => {
  const body = largeBody(40, { head: "data: " });
  const output = translateSse(body.body, doubling(), { drain: true });
  await assert.rejects(Array.fromAsync(output), /max buffer size/);
  assert.ok(body.cancelled && body.unread > 0, "the rest of the body is never read");
});

Deno.test("a translation with `fail` ends the output with what it says instead, after what came before", async () => {
  const body = largeBody(40, { head: "data: a\n\ndata: " });
  const output = translateSse(body.body, {
    ...doubling(),
    fail: (message) => [bytes(`failed: ${message}`)],
  }, { drain: true });
  const chunks = (await Array.fromAsync(output)).map(text).filter((chunk) => chunk !== "");
  assert.deepEqual(chunks.slice(0, 2), ["a1", "a2"]);
  assert.match(chunks[2], /^failed: relay could not read the answer: .*max buffer size/);
  assert.equal(chunks.length, 3);
  assert.ok(body.cancelled && body.unread > 0, "the rest of the body is never read");

  const throwing = translateSse(ReadableStream.from([bytes("data: a\n\ndata: boom\n\n")]), {
    ...doubling(),
    fail: (message) => [bytes(`failed: ${message}`)],
  });
  assert.deepEqual((await Array.fromAsync(throwing)).map(text), [
    "a1",
    "a2",
    "failed: relay failed to translate the answer: translator bug",
  ]);
});

Deno.test("relay's own answer cut mid-event ends the output with `fail`; a body given up for a stalled client fails it", async () => {
  const cutAfter = (error: Error) => {
    let pulls = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(bytes("data: a\n\n"));
        else controller.error(error);
      },
    });
  };
  const translation = {
    ...doubling(),
    fail: (message: string, type?: string) => [bytes(`failed (${type}): ${message}`)],
  };
  const cut = translateSse(
    cutAfter(new AnswerCutError("relay shut down before the upstream finished", "overloaded_error")),
    translation,
  );
  assert.deepEqual((await Array.fromAsync(cut)).map(text), [
    "a1",
    "a2",
    "failed (overloaded_error): relay shut down before the upstream finished",
  ]);
  // Its client read nothing for timeouts.idle: nobody would read an ending; the transfer breaks.
  const stalled = translateSse(
    cutAfter(new BodyCutError("client read nothing for 5 ms (timeouts.idle)")),
    translation,
  );
  await assert.rejects(Array.fromAsync(stalled), /client read nothing/);
});
