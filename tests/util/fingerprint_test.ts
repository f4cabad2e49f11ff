import assert from "node:assert/strict";
import { keyFingerprint } from "../../src/util/fingerprint.ts";

Deno.test("keyFingerprint is 12 hex digits of SHA-256: stable, distinct for keys that mask alike", () => {
  assert.equal(keyFingerprint("sk-ant-api03-abcdefghijklmnopx7f2"), "fc15735de69a");
  assert.equal(
    keyFingerprint("sk-ant-api03-abcdefghijklmnopx7f2"),
    keyFingerprint("sk-ant-api03-abcdefghijklmnopx7f2"),
  );
  assert.notEqual(keyFingerprint("sk-ant-api03-zzzzzzzzzzzzzzzzx7f2"), "fc15735de69a");
  assert.match(keyFingerprint(""), /^[0-9a-f]{12}$/);
});
