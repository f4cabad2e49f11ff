/**
 * Anthropic's thinking blocks carried through a Responses API client as the `encrypted_content` of its
 * reasoning items. A Responses client keeps its reasoning items opaque and sends them back in its next
 * request's `input` (Codex always does, with `store: false`); Anthropic refuses a tool result whose
 * assistant turn lost the thinking it began with, while thinking is on, and checks each block's
 * signature, so the blocks must come back whole: their JSON, in base64, after a prefix that tells
 * relay's own from OpenAI's (which no other upstream can read, and which are dropped). The model the
 * client asked for goes with them: a signature is good for the model that made it only, so thinking
 * from before a switch of models (Codex's `-m`, `/model`) is dropped rather than refused.
 */
import { isJsonObject, type JsonObject } from "../util/json.ts";

const _PREFIX = "relay.thinking.v1:";

/**
 * The `encrypted_content` of a reasoning item that stands for `block`, a `thinking` or
 * `redacted_thinking` block, made for a request that asked for `model`.
 *
 * @example
 * ```ts
 * encryptedThinking({ type: "thinking", thinking: "Hm.", signature: "EqQB…" }, "claude-opus-4-7"); // "relay.thinking.v1:eyJ0eXBl…"
 * ```
 */
export function encryptedThinking(block: JsonObject, model: string | undefined): string {
  return _PREFIX + _encoder.encode(JSON.stringify({ ...block, model })).toBase64();
}

/**
 * The thinking block a reasoning item's `encrypted_content` stands for, when relay made it, it is
 * whole and it was made for `model` (when both say one); else `undefined`.
 *
 * @example
 * ```ts
 * const encrypted = encryptedThinking({ type: "redacted_thinking", data: "EmwK…" }, "claude-opus-4-7");
 * thinkingBlockOf(encrypted, "claude-opus-4-7"); // { type: "redacted_thinking", data: "EmwK…" }
 * thinkingBlockOf(encrypted, "claude-sonnet-4-5"); // undefined: another model's
 * thinkingBlockOf("gAAAAABo…", "claude-opus-4-7"); // undefined: OpenAI's
 * ```
 */
export function thinkingBlockOf(encrypted: unknown, model?: string): JsonObject | undefined {
  if (typeof encrypted !== "string" || !encrypted.startsWith(_PREFIX)) return undefined;
  let block: unknown;
  try {
    block = JSON.parse(_decoder.decode(Uint8Array.fromBase64(encrypted.slice(_PREFIX.length))));
  } catch {
    return undefined;
  }
  if (!isJsonObject(block)) return undefined;
  if (model !== undefined && typeof block.model === "string" && block.model !== model) return undefined;
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
