import assert from "node:assert/strict";
import { maskSecret, maskSecretsInLine } from "../../src/util/mask.ts";

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

Deno.test("maskSecretsInLine masks every long token on a line that sets a secret field", () => {
  for (
    const [line, masked] of [
      ["      - key: sk-ant-api03-OTHERSECRETOTHERSECRET9c1d", "      - key: sk-ant-...9c1d"],
      ["  keys: [ {key: abcdefghijklmnopqrstuvwxyz012345} ]", "  keys: [ {key: abc...2345} ]"],
      ["    tokens: [rly_clienttoken_abcdef123456, x]", "    tokens: [rly...3456, x]"],
      ['  "private_key": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",', '  "private_key": "MII...AASC",'],
      ["    api_key: some-long-lowercase-secret-value", "    api_key: som...alue"],
    ]
  ) assert.equal(maskSecretsInLine(line).text, masked, line);
});

Deno.test("maskSecretsInLine masks what looks like a key anywhere, and leaves names and URLs alone", () => {
  assert.equal(maskSecretsInLine("  - sk-proj-0123456789abcdefABCDEF").text, "  - sk-proj-...CDEF");
  assert.equal(maskSecretsInLine("  - Zx9kQ2mL7pR4tV8wY1bN3cD5").text, "  - Zx9...3cD5");
  assert.equal(maskSecretsInLine("  - 0123456789abcdef0123456789abcdef").text, "  - 012...cdef");
  for (
    const line of [
      "    base_url: https://api.anthropic.com/v1/messages",
      "      claude-sonnet-4-5-20250929: glm-4.7",
      "    region: us-east-1",
      "  level: information_overload",
    ]
  ) assert.equal(maskSecretsInLine(line).text, line);
});

Deno.test("maskSecretsInLine moves the column to the same place in the masked line", () => {
  const line = "  - key: sk-ant-api03-SECRETSECRETSECRETx7f2: [";
  const { text, col } = maskSecretsInLine(line, line.indexOf(": [") + 1);
  assert.equal(text, "  - key: sk-ant-...x7f2: [");
  assert.equal(text.slice(col - 1), ": [", "after the token: shifted by what masking removed");
  assert.equal(maskSecretsInLine(line, 5).col, 5, "before it: unchanged");
  assert.equal(maskSecretsInLine(line, 20).col, 10, "inside it: at its start");
});
