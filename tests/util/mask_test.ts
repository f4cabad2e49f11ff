import assert from "node:assert/strict";
import { maskSecret } from "../../src/util/mask.ts";

Deno.test("maskSecret keeps a known prefix and the last four characters", () => {
  assert.equal(maskSecret("sk-ant-api03-abcdefghijklmnopqrstuvwx7f2"), "sk-ant-...x7f2");
  assert.equal(maskSecret("sk-proj-0123456789abcdef"), "sk-proj-...cdef");
  assert.equal(maskSecret("AKIAIOSFODNN7EXAMPLE"), "AKIA...MPLE");
  assert.equal(maskSecret("0123456789abcdef"), "012...cdef");
});

Deno.test("maskSecret reveals nothing of short secrets", () => {
  assert.equal(maskSecret("hunter2"), "***");
  assert.equal(maskSecret(""), "***");
});
