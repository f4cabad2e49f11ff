import assert from "node:assert/strict";
import { withoutBrackets, withoutFinalDot } from "../../src/util/host_name.ts";

Deno.test("withoutFinalDot drops one final dot only", () => {
  assert.equal(withoutFinalDot("relay.internal."), "relay.internal");
  assert.equal(withoutFinalDot("relay.internal"), "relay.internal");
  assert.equal(withoutFinalDot("a.."), "a.");
});

Deno.test("withoutBrackets unwraps a bracketed IPv6 address and leaves other names alone", () => {
  assert.equal(withoutBrackets("[::1]"), "::1");
  assert.equal(withoutBrackets("::1"), "::1");
  assert.equal(withoutBrackets("[::1"), "[::1");
  assert.equal(withoutBrackets("localhost"), "localhost");
});
