import assert from "node:assert/strict";
import { encryptedThinking, thinkingBlockOf } from "../../src/stream/thinking_items.ts";

Deno.test("a thinking block goes out as encrypted_content and comes back the same, signature and all", () => {
  const blocks = [
    { type: "thinking", thinking: "27 × 453: 27 × 400 = 10 800 🧮\n", signature: "EqQBCkgIARAB" },
    { type: "thinking", thinking: "", signature: "ErUBCkYIBBgC" },
    { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT" },
  ];
  for (const block of blocks) {
    assert.deepEqual(thinkingBlockOf(encryptedThinking(block, "claude-opus-4-7"), "claude-opus-4-7"), block);
  }
  const made = encryptedThinking(blocks[0], "claude-opus-4-7");
  assert.equal(thinkingBlockOf(made, "claude-sonnet-4-5"), undefined, "another model's signature");
  assert.deepEqual(thinkingBlockOf(made), blocks[0], "no model asked: whatever made it");
});

Deno.test("encrypted_content relay did not make, or made of no whole block, stands for nothing", () => {
  const ours = (value: unknown) => encryptedThinking(value as Record<string, unknown>, undefined);
  for (
    const encrypted of [
      "gAAAAABo6k1V", // OpenAI's
      undefined,
      42,
      "relay.thinking.v1:not base64!",
      "relay.thinking.v1:" + new Uint8Array([0xff, 0xfe]).toBase64(), // not UTF-8
      ours([1, 2]),
      ours({ type: "thinking", thinking: "no signature" }),
      ours({ type: "redacted_thinking" }),
      ours({ type: "text", text: "hi" }),
    ]
  ) {
    assert.equal(thinkingBlockOf(encrypted), undefined, String(encrypted));
  }
  assert.deepEqual(
    thinkingBlockOf(ours({ type: "thinking", thinking: "a", signature: "s", extra: "dropped" })),
    { type: "thinking", thinking: "a", signature: "s" },
    "only what Anthropic takes back",
  );
});
