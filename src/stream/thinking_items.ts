/**
 * Anthropic's thinking blocks carried through a Responses API client as the `encrypted_content` of its
 * reasoning items. A Responses client keeps its reasoning items opaque and sends them back in its next
 * request's `input` (Codex always does, with `store: false`); Anthropic refuses a tool result whose
 * assistant turn lost the thinking it began with, while thinking is on, and checks each block's
 * signature, so the blocks must come back whole: their JSON, in base64, after a prefix that tells
 * relay's own from OpenAI's (which no other upstream can read, and which are dropped).
 */
import { isJsonObject, type JsonObject } from "../util/json.ts";

const _PREFIX = "relay.thinking.v1:";

/**
 * The `encrypted_content` of a reasoning item that stands for `block`, a `thinking` or
 * `redacted_thinking` block.
 *
 * @example
 * ```ts
 * encryptedThinking({ type: "thinking", thinking: "Hm.", signature: "EqQB…" }); // "relay.thinking.v1:eyJ0eXBl…"
 * ```
 */
export function encryptedThinking(block: JsonObject): string {
  return _PREFIX + _encoder.encode(JSON.stringify(block)).toBase64();
}

/**
 * The thinking block a reasoning item's `encrypted_content` stands for, when relay made it and it is
 * whole; else `undefined`.
 *
 * @example
 * ```ts
 * thinkingBlockOf(encryptedThinking({ type: "redacted_thinking", data: "EmwK…" })); // { type: "redacted_thinking", data: "EmwK…" }
 * thinkingBlockOf("gAAAAABo…"); // undefined: OpenAI's
 * ```
 */
export function thinkingBlockOf(encrypted: unknown): JsonObject | undefined {
  if (typeof encrypted !== "string" || !encrypted.startsWith(_PREFIX)) return undefined;
  let block: unknown;
  try {
    block = JSON.parse(_decoder.decode(Uint8Array.fromBase64(encrypted.slice(_PREFIX.length))));
  } catch {
    return undefined;
  }
  if (!isJsonObject(block)) return undefined;
  if (
    block.type === "thinking" && typeof block.thinking === "string" && typeof block.signature === "string"
  ) {
    return { type: "thinking", thinking: block.thinking, signature: block.signature };
  }
  if (block.type === "redacted_thinking" && typeof block.data === "string") {
    return { type: "redacted_thinking", data: block.data };
  }
  return undefined;
}

const _encoder = new TextEncoder();
const _decoder = new TextDecoder("utf-8", { fatal: true });
