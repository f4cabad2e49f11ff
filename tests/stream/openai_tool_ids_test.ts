import assert from "node:assert/strict";
import { anthropicToolId, newToolId, openaiToolId } from "../../src/stream/openai_tool_ids.ts";

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
  const long = anthropicToolId("x".repeat(40) + "é");
  assert.equal(
    openaiToolId(long).length,
    40,
    "an original over 40 characters cannot go back to OpenAI as is",
  );
  assert.equal(anthropicToolId("functions.get_weather:0"), "toolu_oa_ZnVuY3Rpb25zLmdldF93ZWF0aGVyOjA");
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

Deno.test("generated ids look like Anthropic's and do not repeat", () => {
  const ids = new Set(Array.from({ length: 100 }, newToolId));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^toolu_[A-Za-z0-9]{24}$/);
});
