import assert from "node:assert/strict";
import { AnswerToolIds, anthropicToolId, newToolId, openaiToolId } from "../../src/stream/openai_tool_ids.ts";

const ANTHROPIC_ID = /^[a-zA-Z0-9_-]+$/;

Deno.test("ids Anthropic accepts pass unchanged both ways", () => {
  for (
    const id of ["call_8pZ3kq1mNc2RtV7wXy4bLd0e", "toolu_01Ah7LbWzHY8rnAXjKUZKf3w", "chatcmpl-tool-42", "a"]
  ) {
    assert.equal(anthropicToolId(id), id);
    assert.equal(openaiToolId(id), id);
  }
});

Deno.test("any other OpenAI id is encoded into Anthropic's alphabet and decodes back exactly", () => {
  const ids = [
    "functions.get_weather:0",
    "fc:1/2",
    "call 1+2=3?",
    "café☕",
    "",
    "toolu_oa_ZmM6MS8y", // an upstream id that looks encoded is encoded again, so it is never misread
    "é".repeat(40),
  ];
  for (const id of ids) {
    const encoded = anthropicToolId(id);
    assert.match(encoded, ANTHROPIC_ID, id);
    assert.ok(encoded.startsWith("toolu_oa_"), id);
    assert.equal(openaiToolId(encoded), id);
  }
  assert.equal(anthropicToolId("functions.get_weather:0"), "toolu_oa_ZnVuY3Rpb25zLmdldF93ZWF0aGVyOjA");
});

Deno.test("an upstream's id over 40 characters goes back exactly as issued, Anthropic's alphabet or not", () => {
  const ids = [
    "chatcmpl-tool-8a1f0c2e9b7d4c3aa5e6f7081923abcd", // vLLM, 46 characters Anthropic accepts
    "functions.mcp__filesystem__read_multiple_files:0", // Kimi, for an MCP tool
    "x".repeat(40) + "é",
  ];
  for (const id of ids) {
    const encoded = anthropicToolId(id);
    assert.match(encoded, ANTHROPIC_ID, id);
    assert.ok(encoded.startsWith("toolu_oa_"), id);
    assert.equal(openaiToolId(encoded), id);
  }
  assert.equal(anthropicToolId("c".repeat(40)), "c".repeat(40), "40 characters still pass unchanged");
});

Deno.test("an Anthropic id over OpenAI's 40 characters is shortened, deterministically and distinctly", () => {
  const long = `toolu_${"A".repeat(50)}`;
  const other = `toolu_${"A".repeat(49)}B`;
  const short = openaiToolId(long);
  assert.equal(short.length, 40);
  assert.equal(openaiToolId(long), short, "the same id every time, so tool results still pair up");
  assert.notEqual(openaiToolId(other), short);
  assert.equal(anthropicToolId(short), short, "the shortened id is itself a valid Anthropic id");
});

Deno.test("only canonical encodings decode: lookalikes pass through untouched", () => {
  for (const id of ["toolu_oa_!!", "toolu_oa_ZmM6MS8y=", "toolu_oa_Zm"]) {
    assert.equal(openaiToolId(id), id);
  }
});

Deno.test("one answer's tool ids are distinct: a repeated or missing id gets a fresh one", () => {
  let fresh = 0;
  const ids = new AnswerToolIds(() => `toolu_fresh${fresh++}`);
  assert.deepEqual(
    ["dup", "dup", undefined, "fc:1", "fc:1", ""].map((id) => ids.next(id)),
    ["dup", "toolu_fresh0", "toolu_fresh1", "toolu_oa_ZmM6MQ", "toolu_fresh2", "toolu_fresh3"],
  );
});

Deno.test("generated ids look like Anthropic's and do not repeat", () => {
  const ids = new Set(Array.from({ length: 100 }, newToolId));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^toolu_[A-Za-z0-9]{24}$/);
});
