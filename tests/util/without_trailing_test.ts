import assert from "node:assert/strict";
import { withoutTrailing } from "../../src/util/without_trailing.ts";

Deno.test("withoutTrailing drops the run of matching characters at the end, as replace(/[…]+$/) does", () => {
  assert.equal(withoutTrailing("http://127.0.0.1:8787///", /\//), "http://127.0.0.1:8787");
  assert.equal(withoutTrailing("http://127.0.0.1:8787/v1", /\//), "http://127.0.0.1:8787/v1");
  assert.equal(withoutTrailing("///", /\//), "");
  assert.equal(withoutTrailing("", /\//), "");
  assert.equal(withoutTrailing(".corp, example.com ,\t\n", /[\s,]/), ".corp, example.com");
  assert.equal(withoutTrailing("a\u00a0\u2028\ufeff", /[\s,]/), "a");
  for (const text of ["a/ /", " ,a, ,", "/\n/", ",,"]) {
    assert.equal(withoutTrailing(text, /\//), text.replace(/\/+$/, ""), text);
    assert.equal(withoutTrailing(text, /[\s,]/), text.replace(/[\s,]+$/, ""), text);
  }
});

Deno.test("withoutTrailing takes time linear in a long run that something other than the end follows", () => {
  // The pattern it replaces, tried from every start of the run: 6 s for 64 KiB.
  const started = performance.now();
  assert.equal(withoutTrailing("/".repeat(1 << 16) + "x", /\//).length, (1 << 16) + 1);
  assert.equal(
    withoutTrailing(" ,".repeat(1 << 15) + "x" + " ".repeat(1 << 16), /[\s,]/).length,
    (1 << 16) + 1,
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1_000, `${elapsed} ms`);
});
