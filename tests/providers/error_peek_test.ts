import assert from "node:assert/strict";
import { peekAnswer } from "../../src/providers/error_peek.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";

Deno.test("peekAnswer gives a short body's text and an answer with the same status, headers and bytes", async () => {
  const upstream = new Response('{"message":"caf\u00e9"}', {
    status: 400,
    statusText: "Bad Request",
    headers: { "content-type": "application/json", "x-amzn-requestid": "r-1" },
  });
  const { text, answer } = await peekAnswer(upstream, 1024);
  assert.equal(text, '{"message":"caf\u00e9"}');
  assert.equal(answer.status, 400);
  assert.equal(answer.statusText, "Bad Request");
  assert.deepEqual([...answer.headers], [...upstream.headers]);
  assert.equal(await answer.text(), '{"message":"caf\u00e9"}');
});

Deno.test("peekAnswer reads no more than it may, and the answer carries the rest as it comes", async () => {
  const upstream = controlledStream();
  upstream.push("abc\u00e9");
  upstream.push("defgh");
  const { text, answer } = await peekAnswer(new Response(upstream.body, { status: 400 }), 4);
  assert.equal(text, "abc\ufffd", "the cut sequence is replaced");
  const reading = answer.text();
  await upstream.whenRead();
  upstream.push("ijk");
  upstream.end();
  assert.equal(await reading, "abc\u00e9defghijk");
});

Deno.test("peekAnswer's answer, cancelled, cancels the upstream body", async () => {
  const upstream = controlledStream();
  upstream.push("x".repeat(10));
  const { answer } = await peekAnswer(new Response(upstream.body, { status: 400 }), 4);
  await answer.body!.cancel("gone");
  assert.equal(await upstream.cancelled, "gone");
});

Deno.test("peekAnswer passes a bodiless answer on as it is", async () => {
  const upstream = new Response(null, { status: 400 });
  assert.deepEqual(await peekAnswer(upstream, 4), { text: "", answer: upstream });
});
