/**
 * Tool-call ids across the Anthropic/OpenAI boundary. The two sides disagree on what an id may be:
 * Anthropic requires `^[A-Za-z0-9_-]+$` (protocols.md §1.8), OpenAI takes any characters but at most
 * 40 of them. A client answers a tool call with the id it was given, so whatever relay hands out must
 * come back to the id the model side issued. The mapping is a pure function of the id, never a table:
 * it survives restarts and works across relay instances.
 *
 * - OpenAI id -> Anthropic ({@linkcode anthropicToolId}): an id Anthropic accepts passes unchanged if it
 *   also fits OpenAI's 40 characters; any other is written `toolu_oa_` + base64url(UTF-8 of the id),
 *   which only uses allowed characters. An id that already starts with `toolu_oa_` is encoded too, so
 *   every encoded id decodes unambiguously.
 * - Anthropic id -> OpenAI ({@linkcode openaiToolId}): a `toolu_oa_` id decodes back to the original,
 *   whatever its length: an upstream gets its own ids back exactly as it issued them (vLLM's are 46
 *   characters). Any other id of at most 40 characters passes unchanged (Anthropic's `toolu_…` ids are
 *   about 30); a longer one, which no OpenAI-format model side issued, is shortened to 40 characters
 *   with a hash. That last step is one-way, which is enough: the shortened id comes back in both the
 *   assistant's tool call and its tool result, so the pair still matches on the OpenAI side.
 */

const _ANTHROPIC_ID = /^[A-Za-z0-9_-]+$/;
const _ENCODED_PREFIX = "toolu_oa_";
/** OpenAI rejects longer `tool_calls[].id` values ("string too long", protocols.md §1.8). */
const _OPENAI_MAX_LENGTH = 40;
const _BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const _encoder = new TextEncoder();
const _decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The Anthropic `tool_use.id` for a tool call id an OpenAI-format model side issued.
 *
 * @example
 * ```ts
 * anthropicToolId("call_abc123"); // "call_abc123"
 * anthropicToolId("fc:1/2"); // "toolu_oa_ZmM6MS8y"
 * ```
 */
export function anthropicToolId(openaiId: string): string {
  // An id over 40 characters is encoded even when Anthropic accepts it as is: only an encoded id can
  // tell `openaiToolId` that it came from the model side, and must go back unshortened.
  const passes = _ANTHROPIC_ID.test(openaiId) && openaiId.length <= _OPENAI_MAX_LENGTH;
  if (passes && !openaiId.startsWith(_ENCODED_PREFIX)) return openaiId;
  return _ENCODED_PREFIX + _encoder.encode(openaiId).toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * The OpenAI `tool_calls[].id` for an Anthropic tool use id: the inverse of {@linkcode anthropicToolId};
 * any other id is kept to 40 characters.
 *
 * @example
 * ```ts
 * openaiToolId("toolu_oa_ZmM6MS8y"); // "fc:1/2"
 * openaiToolId("toolu_01Ah7LbWzHY8rnAXjKUZKf3w"); // unchanged
 * ```
 */
export function openaiToolId(anthropicId: string): string {
  const original = _decoded(anthropicId);
  if (original !== undefined) return original;
  if (anthropicId.length <= _OPENAI_MAX_LENGTH) return anthropicId;
  return `${anthropicId.slice(0, _OPENAI_MAX_LENGTH - 17)}_${_fnv1a64(anthropicId)}`;
}

/**
 * A fresh Anthropic-style id, `toolu_` + 24 base62 characters, for a tool call that arrived without one.
 *
 * @example
 * ```ts
 * newToolId(); // "toolu_3kTMd92jfQ0aZx81LmNq7RtY"
 * ```
 */
export function newToolId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `toolu_${Array.from(bytes, (byte) => _BASE62[byte % 62]).join("")}`;
}

/**
 * Hands out the Anthropic ids of one answer's tool calls, in order. Anthropic requires them distinct,
 * and a client answers each call by its id, so a call that repeats an earlier call's id (an upstream's
 * slip) gets a fresh one, as does a call without an id; the fresh id goes upstream as it is.
 *
 * @example
 * ```ts
 * const ids = new AnswerToolIds(newToolId);
 * ids.next("call_1"); // "call_1"
 * ids.next("call_1"); // "toolu_3kTMd92jfQ0aZx81LmNq7RtY"
 * ```
 */
export class AnswerToolIds {
  readonly #newToolId: () => string;
  readonly #given = new Set<string>();

  /** `newToolId`: where fresh ids come from, {@linkcode newToolId} but in tests. */
  constructor(newToolId: () => string) {
    this.#newToolId = newToolId;
  }

  /** The id for the next call, which the upstream gave `openaiId` (or none). */
  next(openaiId: string | undefined): string {
    let id = openaiId ? anthropicToolId(openaiId) : this.#newToolId();
    if (this.#given.has(id)) id = this.#newToolId();
    this.#given.add(id);
    return id;
  }
}

/** The original id inside a `toolu_oa_` id; `undefined` for any id {@linkcode anthropicToolId} did not make. */
function _decoded(id: string): string | undefined {
  if (!id.startsWith(_ENCODED_PREFIX)) return undefined;
  try {
    const bytes = Uint8Array.fromBase64(id.slice(_ENCODED_PREFIX.length), { alphabet: "base64url" });
    const original = _decoder.decode(bytes);
    // Only the canonical encoding decodes, so no two ids map to the same original.
    return anthropicToolId(original) === id ? original : undefined;
  } catch {
    return undefined;
  }
}

/** FNV-1a, 64 bits, as 16 hex digits: short, stable across runtimes, and synchronous. */
function _fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of _encoder.encode(text)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, "0");
}
