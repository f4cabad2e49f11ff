import assert from "node:assert/strict";
import { errorMessage } from "../../src/util/error_message.ts";

Deno.test("errorMessage gives an Error's message, and anything else thrown as a string", () => {
  assert.equal(errorMessage(new TypeError("bad type")), "bad type");
  assert.equal(errorMessage(new DOMException("client disconnected", "AbortError")), "client disconnected");
  assert.equal(errorMessage("aborted"), "aborted");
  assert.equal(errorMessage(undefined), "undefined");
});
