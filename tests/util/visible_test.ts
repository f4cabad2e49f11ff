import assert from "node:assert/strict";
import { visible } from "../../src/util/visible.ts";

Deno.test("visible escapes control and format characters and line separators, and nothing else", () => {
  assert.equal(visible("a\u001b[2J\n\r\t\u007f\u009b"), "a\\x1b[2J\\n\\r\\t\\x7f\\x9b");
  assert.equal(visible("rtl-\u202eledom"), "rtl-\\u202eledom", "a bidi override would reverse the row");
  assert.equal(visible("zero\u200bwidth\u00adsoft"), "zero\\u200bwidth\\xadsoft");
  assert.equal(visible("line\u2028para\u2029"), "line\\u2028para\\u2029");
  assert.equal(visible("tag\u{e0041}"), "tag\\u{e0041}");
  assert.equal(visible("模型 mo\u0310del café"), "模型 mo\u0310del café", "letters and marks as they are");
});
