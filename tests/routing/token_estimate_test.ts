import assert from "node:assert/strict";
import { estimateTokens } from "../../src/routing/token_estimate.ts";

// Keys count as text too, since JSON reaches the model as text: "role", "content", "type", "text", ...
const keys = (...names: string[]) => names.join("").length / 3.5;

Deno.test("estimateTokens counts text at 3.5 characters a token, plus each message's frame", () => {
  const text = "a".repeat(700);
  assert.deepEqual(
    estimateTokens({ max_tokens: 1024, messages: [{ role: "user", content: text }] }),
    { input: Math.ceil(keys("role", "user", "content") + 200 + 4), output: 1024 },
  );
});

Deno.test("estimateTokens counts the system prompt, every message and block", () => {
  const estimate = estimateTokens({
    system: "s".repeat(35),
    messages: [
      { role: "user", content: [{ type: "text", text: "u".repeat(70) }] },
      { role: "assistant", content: "a".repeat(35) },
    ],
  });
  const expected = 10 + keys("role", "user", "content", "type", "text", "text") + 20 +
    keys("role", "assistant", "content") + 10 + 2 * 4;
  assert.deepEqual(estimate, { input: Math.ceil(expected), output: 0 });
});

Deno.test("estimateTokens counts a character outside ASCII as a token, a surrogate pair as one", () => {
  const base = estimateTokens({ messages: [{ role: "user", content: "" }] }).input;
  const cjk = estimateTokens({ messages: [{ role: "user", content: "漢字かな" }] }).input;
  const emoji = estimateTokens({ messages: [{ role: "user", content: "😀😀" }] }).input;
  assert.deepEqual([cjk - base, emoji - base], [4, 2]);
});

Deno.test("estimateTokens counts an image as 1600 tokens, whatever its size", () => {
  const withImage = (data: string) =>
    estimateTokens({
      messages: [{
        role: "user",
        content: [{ type: "image", source: { type: "base64", media_type: "image/png", data } }],
      }],
    }).input;
  assert.equal(withImage("A".repeat(10)), withImage("A".repeat(1_000_000)));
  assert.equal(withImage(""), Math.ceil(keys("role", "user", "content") + 1600 + 4));
});

Deno.test("estimateTokens counts a base64 PDF by its decoded size and a text document as text", () => {
  const documentTokens = (source: unknown) =>
    estimateTokens({ messages: [{ role: "user", content: [{ type: "document", source }] }] }).input -
    estimateTokens({ messages: [{ role: "user", content: [] }] }).input;
  assert.equal(
    documentTokens({ type: "base64", media_type: "application/pdf", data: "A".repeat(400_000) }),
    30_000,
  );
  assert.equal(documentTokens({ type: "text", media_type: "text/plain", data: "d".repeat(350) }), 100);
  assert.equal(documentTokens({ type: "url", url: "https://example.com/a.pdf" }), 1600);
});

Deno.test("estimateTokens counts thinking text but not its signature, and no redacted thinking", () => {
  const thinking = (block: unknown) =>
    estimateTokens({ messages: [{ role: "assistant", content: [block] }] }).input -
    estimateTokens({ messages: [{ role: "assistant", content: [] }] }).input;
  assert.equal(thinking({ type: "thinking", thinking: "t".repeat(70), signature: "S".repeat(5000) }), 20);
  assert.equal(thinking({ type: "redacted_thinking", data: "R".repeat(5000) }), 0);
});

Deno.test("estimateTokens adds the tool-use prompt and the tools' definitions when tools are offered", () => {
  const messages = [{ role: "user", content: "hi" }];
  const tool = { name: "get_weather", description: "d".repeat(35), input_schema: { type: "object" } };
  const without = estimateTokens({ messages }).input;
  const withTool = estimateTokens({ messages, tools: [tool] }).input;
  const definition = keys("name", "get_weather", "description") + 10 + keys("input_schema", "type", "object");
  assert.equal(
    withTool - without,
    Math.ceil(350 + definition + keys("role", "user", "content", "hi") + 4) - without,
  );
});

Deno.test("estimateTokens counts nothing for a body that is not a Messages request", () => {
  for (const body of [null, "text", [1, 2], { messages: "no", max_tokens: -1 }, { max_tokens: "100" }]) {
    assert.deepEqual(estimateTokens(body), { input: 0, output: 0 }, JSON.stringify(body));
  }
});

Deno.test("estimateTokens counts a body nested far deeper than the call stack goes", () => {
  // 100,000 levels: brackets a client can send in 200 KB, which JSON.parse takes.
  const depth = 100_000;
  const content = JSON.parse(`${"[".repeat(depth)}"hi"${"]".repeat(depth)}`);
  const documents = JSON.parse(
    `${'{"type":"document","source":{"type":"content","content":'.repeat(depth)}"hi"${"}}".repeat(depth)}`,
  );
  const deep = estimateTokens({ messages: [{ role: "user", content }] }).input;
  assert.equal(deep, estimateTokens({ messages: [{ role: "user", content: "hi" }] }).input);
  assert.ok(estimateTokens({ messages: [{ role: "user", content: documents }] }).input > 0);
});
