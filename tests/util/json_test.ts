import assert from "node:assert/strict";
import { isJsonWhitespace, jsonSyntaxReason } from "../../src/util/json.ts";

Deno.test("jsonSyntaxReason leaves out the excerpt V8 quotes, short or cut from a long text", () => {
  const reason = (text: string) => {
    try {
      JSON.parse(text);
    } catch (error) {
      return jsonSyntaxReason(error as SyntaxError);
    }
  };
  assert.equal(reason("hunter2"), "Unexpected token 'h'");
  assert.equal(reason(`{"password": hunter2 ${"and on ".repeat(20)}}`), "Unexpected token 'h'");
  assert.equal(reason('{\n  "a": hunt\ner2\n}'), "Unexpected token 'h'");
  assert.equal(
    reason('{"a":1,}'),
    "Expected double-quoted property name in JSON at position 7 (line 1 column 8)",
  );
});

Deno.test("isJsonWhitespace is true of JSON's four whitespace bytes and no other byte", () => {
  const whitespace = Array.from({ length: 256 }, (_, byte) => byte).filter(isJsonWhitespace);
  assert.deepEqual(whitespace, [0x09, 0x0a, 0x0d, 0x20]);
});
