import assert from "node:assert/strict";
import { CredentialError, isPermanentCredentialError } from "../../src/providers/types.ts";

Deno.test("isPermanentCredentialError is true of a permanent CredentialError alone", () => {
  assert.equal(isPermanentCredentialError(new CredentialError("key refused", true)), true);
  assert.equal(isPermanentCredentialError(new CredentialError("endpoint down", false)), false);
  assert.equal(
    isPermanentCredentialError(Object.assign(new Error("look-alike"), { permanent: true })),
    false,
  );
  assert.equal(isPermanentCredentialError(undefined), false);
});
