import assert from "node:assert/strict";
import { peekAnswer, peekRefusal } from "../../src/providers/error_peek.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";

/** The most a peek reads, as the README promises it (`its first 16 KiB`). */
const PEEK_BYTES = 16 * 1024;

Deno.test("peekAnswer gives a short body's text and an answer with the same status, headers and bytes", async () => {
  const upstream = new Response('{"message":"caf\u00e9"}', {
    status: 400,
    statusText: "Bad Request",
    headers: { "content-type": "application/json", "x-amzn-requestid": "r-1" },
  });
  const { text, answer } = await peekAnswer(upstream);
  assert.equal(text, '{"message":"caf\u00e9"}');
  assert.equal(answer.status, 400);
  assert.equal(answer.statusText, "Bad Request");
  assert.deepEqual([...answer.headers], [...upstream.headers]);
  assert.equal(await answer.text(), '{"message":"caf\u00e9"}');
});

Deno.test("peekAnswer reads no more than 16 KiB, and the answer carries the rest as it comes", async () => {
  const upstream = controlledStream();
  const start = "a".repeat(PEEK_BYTES - 1);
  upstream.push(start);
  upstream.push("\u00e9defgh");
  const { text, answer } = await peekAnswer(new Response(upstream.body, { status: 400 }));
  assert.equal(text, `${start}\ufffd`, "the cut sequence is replaced");
  const reading = answer.text();
  await upstream.whenRead();
  upstream.push("ijk");
  upstream.end();
  assert.equal(await reading, `${start}\u00e9defghijk`);
});

Deno.test("peekAnswer's answer, cancelled, cancels the upstream body", async () => {
  const upstream = controlledStream();
  upstream.push("x".repeat(PEEK_BYTES));
  const { answer } = await peekAnswer(new Response(upstream.body, { status: 400 }));
  await answer.body!.cancel("gone");
  assert.equal(await upstream.cancelled, "gone");
});

Deno.test("peekAnswer passes a bodiless answer on as it is", async () => {
  const upstream = new Response(null, { status: 400 });
  assert.deepEqual(await peekAnswer(upstream), { text: "", answer: upstream });
});

Deno.test("peekRefusal hands the refusal's text to the decision and, refused, cancels the answer", async () => {
  const upstream = controlledStream();
  // As much as a peek reads, so that the answer's body is still open when the peek is done.
  const refusal = '{"message":"invalid beta flag"}'.padEnd(PEEK_BYTES);
  upstream.push(refusal);
  const texts: string[] = [];
  const seen = await peekRefusal(new Response(upstream.body, { status: 400 }), undefined, (text) => {
    texts.push(text);
    return text.includes("invalid beta flag") ? "betas" : undefined;
  });
  assert.deepEqual(seen, { refused: "betas" });
  assert.deepEqual(texts, [refusal]);
  assert.equal(await upstream.cancelled, undefined, "no connection is left on a body nobody reads");
});

Deno.test("peekRefusal passes an answer that refuses nothing on whole: status, headers, every byte", async () => {
  const upstream = () =>
    new Response('{"message":"messages.0: field required"}', {
      status: 400,
      statusText: "Bad Request",
      headers: { "content-type": "application/json", "request-id": "req_1" },
    });
  const seen = await peekRefusal(upstream(), undefined, () => undefined);
  assert.equal(seen.refused, undefined);
  assert.ok(seen.answer);
  const expected = upstream();
  assert.equal(seen.answer.status, 400);
  assert.equal(seen.answer.statusText, "Bad Request");
  assert.deepEqual([...seen.answer.headers], [...expected.headers]);
  assert.equal(await seen.answer.text(), await expected.text());
});

Deno.test("peekRefusal decides on what came within its deadline, and the answer then carries the rest", async () => {
  const clock = new FakeClock();
  const upstream = controlledStream();
  const start = '{"message":"invalid ';
  upstream.push(start);
  const texts: string[] = [];
  const peeking = peekRefusal(
    new Response(upstream.body, { status: 400 }),
    { ms: 30_000, timers: clock },
    (text) => {
      texts.push(text);
      return text.includes("invalid beta flag") ? "betas" : undefined;
    },
  );
  await upstream.whenRead();
  assert.deepEqual(clock.armed, [30_000]);
  clock.advance(30_000);
  const seen = await peeking;
  assert.deepEqual(texts, [start]);
  assert.ok(seen.answer, "a message not yet read refuses nothing");
  upstream.push('beta flag"}');
  upstream.end();
  assert.equal(await seen.answer.text(), `${start}beta flag"}`);
  assert.deepEqual(clock.armed, []);
});
