import assert from "node:assert/strict";
import { terminalSafeJson, visible } from "../../src/util/visible.ts";

Deno.test("visible escapes control and format characters, line separators and blank letters, and nothing else", () => {
  assert.equal(visible("a\u001b[2J\n\r\t\u007f\u009b"), "a\\x1b[2J\\n\\r\\t\\x7f\\x9b");
  assert.equal(visible("rtl-\u202eledom"), "rtl-\\u202eledom", "a bidi override would reverse the row");
  assert.equal(visible("zero\u200bwidth\u00adsoft"), "zero\\u200bwidth\\xadsoft");
  assert.equal(visible("line\u2028para\u2029"), "line\\u2028para\\u2029");
  assert.equal(visible("tag\u{e0041}"), "tag\\u{e0041}");
  assert.equal(
    visible("a\u115fb\u1160c\u3164d\uffa0e"),
    "a\\u115fb\\u1160c\\u3164d\\uffa0e",
    "the Hangul fillers render blank",
  );
  assert.equal(
    visible("모델 모형 ﾡ 模型 mo\u0310del café"),
    "모델 모형 ﾡ 模型 mo\u0310del café",
    "letters and marks as they are",
  );
});

Deno.test("terminalSafeJson escapes what a terminal would act on or show as something else, and keeps its layout", () => {
  const value = { model: "a\u009b31m\u202eb\u3164c\u2028d\u{e0041}\n", n: 1 };
  const json = terminalSafeJson(value, 2);
  assert.equal(json, '{\n  "model": "a\\u009b31m\\u202eb\\u3164c\\u2028d\\udb40\\udc41\\n",\n  "n": 1\n}');
  assert.deepEqual(JSON.parse(json), value);
});
