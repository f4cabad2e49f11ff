import assert from "node:assert/strict";
import { betaList, keptBetas, RefusedBetas, unexpectedBetas } from "../../src/providers/anthropic_betas.ts";

Deno.test("unexpectedBetas reads the values Vertex names, however the message reached relay", () => {
  const message =
    "Unexpected value(s) `prompt-caching-scope-2026-01-05`, `structured-outputs-2025-12-15` for " +
    "the `anthropic-beta` header. Please consult our documentation at docs.anthropic.com or try again without the header.";
  const expected = ["prompt-caching-scope-2026-01-05", "structured-outputs-2025-12-15"];
  assert.deepEqual(unexpectedBetas(message), expected);
  assert.deepEqual(
    unexpectedBetas(JSON.stringify({ type: "error", error: { type: "invalid_request_error", message } })),
    expected,
  );
  // A gateway in front of Vertex (claude-code#34802), and quotes in place of backticks, escaped in JSON.
  assert.deepEqual(unexpectedBetas(`{"error":{"message":"vertex-ai error: ${message}"}}`), expected);
  assert.deepEqual(
    unexpectedBetas(
      JSON.stringify({ message: 'Unexpected value(s) "effort-2025-11-24" for the "anthropic-beta" header.' }),
    ),
    ["effort-2025-11-24"],
  );
  assert.deepEqual(unexpectedBetas('{"message":"invalid beta flag"}'), []);
  assert.deepEqual(unexpectedBetas("Unexpected value(s) `x` for the `model` field."), []);
});

Deno.test("keptBetas trims, keeps the first of each, and leaves out empty and dropped ones", () => {
  assert.deepEqual(
    keptBetas(
      betaList(" claude-code-20250219,,oauth-2025-04-20 , context-1m-2025-08-07,claude-code-20250219"),
    ),
    ["claude-code-20250219", "context-1m-2025-08-07"],
  );
  assert.deepEqual(betaList(["a", 1, null, "b"]), ["a", "b"]);
  assert.deepEqual(betaList({ a: 1 }), []);
});

Deno.test("RefusedBetas remembers per model, tells each refusal once, and forgets its oldest past its bound", () => {
  const refused = new RefusedBetas(3);
  assert.equal(refused.has("haiku", "effort-2025-11-24"), false);
  assert.deepEqual(refused.learn("haiku", ["effort-2025-11-24", "web-search-2025-03-05"]), [
    "effort-2025-11-24",
    "web-search-2025-03-05",
  ]);
  assert.deepEqual(refused.learn("haiku", ["effort-2025-11-24"]), [], "known already");
  assert.equal(refused.has("haiku", "effort-2025-11-24"), true);
  assert.equal(refused.has("opus", "effort-2025-11-24"), false);

  assert.deepEqual(refused.learn("opus", ["a", "b"]), ["a", "b"]);
  assert.equal(refused.has("haiku", "effort-2025-11-24"), false, "the oldest went");
  assert.equal(refused.has("haiku", "web-search-2025-03-05"), true);
  assert.equal(refused.has("opus", "b"), true);

  assert.deepEqual(refused.learn("opus", ["x".repeat(129)]), [], "too long to keep");
  assert.equal(refused.has("opus", "x".repeat(129)), false);
});
