import assert from "node:assert/strict";
import { AnswerCutError } from "../../src/stream/body_cut.ts";
import { readWhole, translateWhole, type WholeText } from "../../src/stream/translate_whole.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";
import { largeBody } from "../_helpers/large_body.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

const MIB = 1 << 20;

Deno.test("translateWhole translates the body whole, each chunk read answered with an empty one", async () => {
  const seen: WholeText[] = [];
  const output = translateWhole(
    ReadableStream.from(["caf", "é"].map((s) => new TextEncoder().encode(s))),
    MIB,
    (whole) => {
      seen.push(whole);
      return [new TextEncoder().encode(whole.text.toUpperCase())];
    },
  );
  const chunks = await Array.fromAsync(output);
  assert.deepEqual(chunks.map((chunk) => new TextDecoder().decode(chunk)), ["", "", "CAFÉ"]);
  assert.deepEqual(seen, [{ text: "café", cut: false }]);
});

Deno.test("translateWhole stops at its limit: the start is translated, marked cut, and the rest cancelled unread", async () => {
  const large = largeBody(8, { head: "start:" });
  let seen: WholeText | undefined;
  const output = translateWhole(large.body, 2 * MIB, (whole) => {
    seen = whole;
    return [new TextEncoder().encode("translated")];
  });
  const chunks = await Array.fromAsync(output);
  assert.equal(new TextDecoder().decode(chunks.at(-1)), "translated");
  assert.equal(seen?.cut, true);
  assert.equal(seen?.text.length, 2 * MIB, "exactly the limit's worth");
  assert.ok(seen?.text.startsWith("start:www"));
  assert.ok(large.cancelled, "the rest of the body is cancelled");
  assert.ok(large.unread >= 6, `${large.unread} parts left unread`);
});

Deno.test("readWhole reads a body up to its limit, then cancels the rest unread", async () => {
  assert.deepEqual(await readWhole(ReadableStream.from([new TextEncoder().encode("{}")]), 2), {
    text: "{}",
    cut: false,
  });
  const large = largeBody(8);
  const { text, cut } = await readWhole(large.body, MIB + 10);
  assert.deepEqual([text.length, cut], [MIB + 10, true]);
  assert.ok(large.cancelled);
  assert.ok(large.unread >= 6, `${large.unread} parts left unread`);
});

Deno.test("readWhole ends at a whole JSON value though the body stays open, which is cancelled; other text reads to the end", async () => {
  const open = controlledStream();
  open.push('{"choices":[{"message":{"content":"]}"}}]}');
  const read = readWhole(open.body, MIB);
  // A read that waited for the body's end would wait for ever: the body is ended for it to fail.
  const ended = await settlesWithin(read, 5_000);
  if (!ended) open.end();
  assert.ok(ended, "the answer ended at its JSON's end");
  assert.deepEqual(await read, { text: '{"choices":[{"message":{"content":"]}"}}]}', cut: false });
  await open.cancelled;
  const chunks = ["<html>{}", "</html>"].map((part) => new TextEncoder().encode(part));
  assert.deepEqual(await readWhole(ReadableStream.from(chunks), MIB), {
    text: "<html>{}</html>",
    cut: false,
  });
});

Deno.test("readWhole throws a failure of the body as it came", async () => {
  const body = new ReadableStream<Uint8Array>({
    pull: (controller) => controller.error(new Error("connection reset")),
  });
  await assert.rejects(readWhole(body, MIB), /connection reset/);
});

Deno.test("translateWhole ends with what fail gives for relay's own answer broken off; any other failure fails it", async () => {
  const failing = (error: Error) => {
    let sent = false;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(error);
        sent = true;
        controller.enqueue(new TextEncoder().encode('{"id":'));
      },
    });
  };
  const translate = () => [new TextEncoder().encode("whole")];
  const fail = (
    error: AnswerCutError,
  ) => [new TextEncoder().encode(`failed: ${error.errorType} ${error.message}`)];
  const cut = translateWhole(
    failing(new AnswerCutError("upstream stalled", "timeout_error")),
    MIB,
    translate,
    fail,
  );
  const chunks = (await Array.fromAsync(cut)).map((chunk) => new TextDecoder().decode(chunk));
  assert.deepEqual(chunks, ["", "failed: timeout_error upstream stalled"]);
  const other = translateWhole(failing(new Error("connection reset")), MIB, translate, fail);
  await assert.rejects(Array.fromAsync(other), /connection reset/);
  const unasked = translateWhole(
    failing(new AnswerCutError("upstream stalled", "timeout_error")),
    MIB,
    translate,
  );
  await assert.rejects(Array.fromAsync(unasked), AnswerCutError);
});
