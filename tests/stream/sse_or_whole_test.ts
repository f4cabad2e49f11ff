import assert from "node:assert/strict";
import { sseOrWhole } from "../../src/stream/sse_or_whole.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";
import { queueDrained } from "../_helpers/settled_yet.ts";

const encoder = new TextEncoder();

function bodyOf(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(
    chunks.map((chunk) => typeof chunk === "string" ? encoder.encode(chunk) : chunk),
  );
}

/** Every chunk the output gives, empty ones (signs of life) included. */
async function chunksOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  return await Array.fromAsync(stream);
}

const WHOLE = (
  { text, cut }: { text: string; cut: boolean },
) => [encoder.encode(`whole(${text})${cut ? " cut" : ""}`)];
const text = (chunks: Uint8Array[]) => new TextDecoder().decode(concatBytes(chunks));

Deno.test("sseOrWhole passes on, byte for byte, a body whose first non-blank bytes are SSE's", async (t) => {
  const cases: [string, (string | Uint8Array)[]][] = [
    ["an event line", ['event: message_start\ndata: {"a":1}\n\n', "event: x\n"]],
    ["a data line", ['data: {"a":1}\n\n']],
    ["a comment, after blank lines", ["\r\n\n  ", ": OPENROUTER PROCESSING\n\n"]],
    ["a field name cut in two", ["\n ev", "en", "t: ping\n\n"]],
    ["a BOM first", [new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode("data: {}\n\n")])]],
    ["a BOM cut in three", [
      new Uint8Array([0xef]),
      new Uint8Array([0xbb]),
      new Uint8Array([0xbf]),
      "data: {}\n\n",
    ]],
    ["an id line", ["id: 1\nevent: ping\ndata: {}\n\n"]],
    ["a retry line, cut in two", ["\nre", "try: 3000\n\ndata: {}\n\n"]],
    ["a data field with no colon, ended by LF", ["data\ndata: {}\n\n"]],
    ["an event field with no colon, ended by CR, cut after the name", ["event", "\r\ndata: {}\n\n"]],
  ];
  for (const [name, chunks] of cases) {
    await t.step(name, async () => {
      const out = await chunksOf(sseOrWhole(bodyOf(chunks), 1024, WHOLE));
      assert.deepEqual(
        concatBytes(out),
        concatBytes(chunks.map((c) => typeof c === "string" ? encoder.encode(c) : c)),
      );
    });
  }
});

Deno.test("sseOrWhole tells onSse when, and only when, the first bytes are SSE's", async () => {
  let told = 0;
  const onSse = () => told++;
  await chunksOf(sseOrWhole(bodyOf(["\n", "data: {}\n\n"]), 1024, WHOLE, onSse));
  assert.equal(told, 1);
  await chunksOf(sseOrWhole(bodyOf(['{"type":"message"}']), 1024, WHOLE, onSse));
  await chunksOf(sseOrWhole(bodyOf(["dat", "um"]), 1024, WHOLE, onSse));
  assert.equal(told, 1, "JSON, or a word that only starts like a field, is read whole");
});

Deno.test("sseOrWhole reads anything else whole, with a sign of life for each chunk, and translates it", async (t) => {
  await t.step("JSON in two chunks", async () => {
    const out = await chunksOf(sseOrWhole(bodyOf(['{"type":', '"message"}']), 1024, WHOLE));
    const empties = out.slice(0, -1);
    assert.ok(empties.length >= 2 && empties.every((chunk) => chunk.byteLength === 0), "one per chunk read");
    assert.equal(text(out), 'whole({"type":"message"})');
  });
  for (
    const [name, chunks] of [["junk", ["<html>"]], ["an array", ["[1]"]], ["blanks only", ["\n\n", " "]], [
      "nothing",
      [],
    ], [
      "a start SSE could not have",
      ["dat", "e: today"],
    ]] as [string, string[]][]
  ) {
    await t.step(name, async () => {
      assert.equal(
        text(await chunksOf(sseOrWhole(bodyOf(chunks), 1024, WHOLE))),
        `whole(${chunks.join("")})`,
      );
    });
  }
  await t.step("over the limit, cut", async () => {
    const out = await chunksOf(sseOrWhole(bodyOf(["{", "1234567890"]), 4, WHOLE));
    assert.equal(text(out), "whole({123) cut");
  });
  await t.step("a null body reads as empty", async () => {
    assert.equal(text(await chunksOf(sseOrWhole(null, 4, WHOLE))), "whole()");
  });
});

/** A body that gives `chunks` one a pull, with no read-ahead of its own, counting its pulls. */
function countingBody(chunks: string[]) {
  const queue = chunks.map((chunk) => encoder.encode(chunk));
  const counted = { pulls: 0 };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      counted.pulls++;
      const chunk = queue.shift();
      if (chunk) controller.enqueue(chunk);
      else controller.close();
    },
  }, { highWaterMark: 0 });
  return { body, counted };
}

Deno.test("sseOrWhole reads the body only as the output is read, and cancelling it cancels the body", async (t) => {
  await t.step("SSE: a chunk the sniff needs per read, then the body's own chunks one a read", async () => {
    const { body, counted } = countingBody(["\n", "data: {}\n\n", "event: x\n\n", "data: {}\n\n"]);
    const output = sseOrWhole(body, 1024, WHOLE).getReader();
    await queueDrained();
    assert.equal(counted.pulls, 0, "nothing read before the output is");
    assert.equal((await output.read()).value?.byteLength, 0, "a blank start: a sign of life");
    await queueDrained();
    assert.equal(counted.pulls, 1, "one read for one read of the output");
    assert.equal(text([(await output.read()).value!]), "\n");
    await queueDrained();
    assert.equal(counted.pulls, 2, "as far as the sniff needed, not beyond");
    assert.equal(text([(await output.read()).value!]), "data: {}\n\n");
    await queueDrained();
    assert.equal(counted.pulls, 2, "what the sniff read is given before more is read");
    assert.equal(text([(await output.read()).value!]), "event: x\n\n");
    await queueDrained();
    assert.equal(counted.pulls, 3);
    await output.cancel("client gone");
  });
  await t.step("whole: a chunk per read, each with its sign of life", async () => {
    const { body, counted } = countingBody(['{"type":', '"message"}']);
    const output = sseOrWhole(body, 1024, WHOLE).getReader();
    await queueDrained();
    assert.equal(counted.pulls, 0, "nothing read before the output is");
    const pullsAfterEachRead: number[] = [];
    const read: Uint8Array[] = [];
    for (let result = await output.read(); !result.done; result = await output.read()) {
      read.push(result.value);
      await queueDrained();
      pullsAfterEachRead.push(counted.pulls);
    }
    assert.equal(text(read), 'whole({"type":"message"})');
    assert.deepEqual(
      pullsAfterEachRead,
      [1, 1, 2],
      "a pull a read: the first chunk (it told), given again as the whole is read, the second, which ends it",
    );
  });
  await t.step(
    "whole: a JSON value ends it, though the body stays open past it, which is cancelled",
    async () => {
      const upstream = controlledStream();
      const output = sseOrWhole(upstream.body, 1024, WHOLE);
      upstream.push('{"type":"message","content":[{"type":"text","text":"} ]"}]}');
      const read = new Response(output).text();
      // A read that waited for the body's end would wait for ever: the body is ended for it to fail.
      const ended = await settlesWithin(read, 5_000);
      if (!ended) upstream.end();
      assert.ok(ended, "the answer ended at its JSON's end");
      assert.equal(await read, 'whole({"type":"message","content":[{"type":"text","text":"} ]"}]})');
      await upstream.cancelled;
    },
  );
  await t.step("cancelling the output cancels the body", async () => {
    const upstream = controlledStream();
    const output = sseOrWhole(upstream.body, 1024, WHOLE).getReader();
    const first = output.read();
    await upstream.whenRead();
    upstream.push("data: {}\n\n");
    assert.equal(text([(await first).value!]), "data: {}\n\n");
    await output.cancel("client gone");
    assert.equal(await upstream.cancelled, "client gone");
  });
});

Deno.test("sseOrWhole passes on a stream whose blank start comes a byte a chunk", async () => {
  // How long such a start takes to read is bench/sse_or_whole_bench.ts's (it was quadratic once).
  const blanks = Array.from({ length: 1024 }, () => encoder.encode("\n"));
  const chunks = [...blanks, encoder.encode("data: {}\n\n")];
  const out = await chunksOf(sseOrWhole(ReadableStream.from(chunks), 1024, WHOLE));
  assert.deepEqual(concatBytes(out), concatBytes(chunks));
});

Deno.test("sseOrWhole reads whole a body whose 64 KiB blank start came a byte a chunk, in time in proportion to it", async () => {
  const blanks = Array.from({ length: 64 * 1024 }, () => encoder.encode("\n"));
  const chunks = [...blanks, encoder.encode('{"type":"message"}')];
  const output = sseOrWhole(ReadableStream.from(chunks), 1024 * 1024, WHOLE).getReader();
  const read: Uint8Array[] = [];
  const started = performance.now();
  let told = started;
  for (let result = await output.read(); !result.done; result = await output.read()) {
    read.push(result.value);
    // A sign of life a chunk until the last told it is JSON; then as many, each held chunk read again.
    if (read.length === chunks.length) told = performance.now();
  }
  const [sniffing, readingAgain] = [told - started, performance.now() - told];
  assert.equal(text(read), `whole(${"\n".repeat(64 * 1024)}{"type":"message"})`);
  // Each held chunk was taken off the front of the rest, all after it moved: 2 to 3 s for these, on
  // relay's one thread, where reading them the first time took a tenth of that.
  assert.ok(
    readingAgain < Math.max(2 * sniffing, 1000),
    `read again in ${readingAgain} ms, first in ${sniffing} ms`,
  );
});
