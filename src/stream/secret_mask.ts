import { concatBytes } from "../util/bytes.ts";
import { maskKeyIn, maskSecret } from "../util/mask.ts";

/**
 * The shortest key relay masks in what its clients get: a local server's placeholder key (Ollama's
 * `ollama`, LM Studio's `lm-studio`) is a word an answer may well hold, and masking it would change the
 * answer, a tool's input too. Real keys are longer.
 */
const _MIN_ANSWER_SECRET = 16;

const _encoder = new TextEncoder();

/**
 * Replaces a provider key of 16 characters or more in the bytes of an answer relay passes on with its
 * masked form (`sk-ant-...x7f2`): an upstream may quote the key it was sent in an error (`Incorrect API
 * key provided: …`), and relay's clients must never learn its keys. The key is looked for as written:
 * one an upstream escapes (`\/`, `\u002b`) or spreads over several events is not found. A key split
 * across two chunks is found too: a chunk's tail that could be the key's beginning waits for the next
 * chunk (or {@linkcode flush}). A complete SSE event never waits, since no key begins with its blank line.
 *
 * @example
 * ```ts
 * const mask = SecretMask.for("sk-ant-api03-abcdefghijklmnopx7f2")!;
 * mask.apply(new TextEncoder().encode("bad key sk-ant-api03-abcdefghijklmnopx7f2")); // "bad key sk-ant-...x7f2"
 * ```
 */
export class SecretMask {
  readonly #secret: Uint8Array;
  readonly #masked: Uint8Array;
  #held: Uint8Array | undefined;

  private constructor(secret: string) {
    this.#secret = _encoder.encode(secret);
    this.#masked = _encoder.encode(maskSecret(secret));
  }

  /**
   * A mask for `secret`, or `undefined` for a key too short to tell from ordinary text, or no key at all
   * (SigV4, a local server).
   */
  static for(secret: string | undefined): SecretMask | undefined {
    return _looksForKey(secret) ? new SecretMask(secret) : undefined;
  }

  /** `chunk` with the key masked, less a tail that may be the key's beginning (held for the next). */
  apply(chunk: Uint8Array): Uint8Array {
    const bytes = this.#held ? concatBytes([this.#held, chunk]) : chunk;
    this.#held = undefined;
    const secret = this.#secret;
    let parts: Uint8Array[] | undefined;
    let from = 0;
    let end = bytes.byteLength;
    for (let at = bytes.indexOf(secret[0]); at !== -1; at = bytes.indexOf(secret[0], at + 1)) {
      const length = Math.min(secret.byteLength, bytes.byteLength - at);
      if (!_sameBytes(bytes, at, secret, length)) continue;
      if (length < secret.byteLength) {
        this.#held = bytes.slice(at);
        end = at;
        break;
      }
      (parts ??= []).push(bytes.subarray(from, at), this.#masked);
      from = at + secret.byteLength;
      at = from - 1;
    }
    if (!parts) return end === bytes.byteLength ? bytes : bytes.subarray(0, end);
    parts.push(bytes.subarray(from, end));
    return concatBytes(parts);
  }

  /** The held tail, once the answer has ended without the rest of a key. */
  flush(): Uint8Array | undefined {
    const held = this.#held;
    this.#held = undefined;
    return held;
  }
}

function _sameBytes(bytes: Uint8Array, at: number, secret: Uint8Array, length: number): boolean {
  for (let i = 1; i < length; i++) {
    if (bytes[at + i] !== secret[i]) return false;
  }
  return true;
}

/**
 * `response` with `secret` masked in every header value that quotes it (`www-authenticate`, a debug
 * header), as written or percent-encoded ({@linkcode maskKeyIn}), from the same length as in its body.
 * For error answers: reading every header costs an answer about 15 µs, which a successful one, on
 * relay's hot path, does not pay for a case seen only in errors.
 *
 * @example
 * ```ts
 * const answer = new Response(null, { headers: { "x-debug-key": key } });
 * maskedHeaders(answer, key).headers.get("x-debug-key"); // "sk-ant-...x7f2"
 * ```
 */
export function maskedHeaders(response: Response, secret: string | undefined): Response {
  if (!_looksForKey(secret)) return response;
  for (const [name, value] of response.headers) {
    const masked = maskKeyIn(value, secret, { minLength: _MIN_ANSWER_SECRET });
    if (masked !== value) response.headers.set(name, masked);
  }
  return response;
}

/** Whether answers are searched for `secret`: long enough not to be a word. */
function _looksForKey(secret: string | undefined): secret is string {
  return secret !== undefined && secret.length >= _MIN_ANSWER_SECRET;
}
