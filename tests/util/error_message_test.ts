import assert from "node:assert/strict";
import { errorMessage, withoutOsError } from "../../src/util/error_message.ts";

Deno.test("errorMessage gives an Error's message, and anything else thrown as a string", () => {
  assert.equal(errorMessage(new TypeError("bad type")), "bad type");
  assert.equal(errorMessage(new DOMException("client disconnected", "AbortError")), "client disconnected");
  assert.equal(errorMessage("aborted"), "aborted");
  assert.equal(errorMessage(undefined), "undefined");
});

Deno.test("withoutOsError drops Deno's os error number and the call after it", () => {
  assert.equal(withoutOsError("File name too long (os error 36): stat '/a/b'"), "File name too long");
  assert.equal(withoutOsError("No space left on device (os error 28)"), "No space left on device");
  assert.equal(withoutOsError("connection refused"), "connection refused");
});
