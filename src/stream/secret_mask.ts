import { concatBytes } from "../util/bytes.ts";
import { jsonSpellings, maskKeysIn, maskSecret } from "../util/mask.ts";

/**
 * The shortest key relay masks in what its clients get: a local server's placeholder key (Ollama's
 * `ollama`, LM Studio's `lm-studio`) is a word an answer may well hold, and masking it would change the
 * answer, a tool's input too. Real keys are longer.
 */
const _MIN_ANSWER_SECRET = 16;

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();

/** One way a secret may be quoted, and what replaces it. */
interface _Spelling {
  readonly bytes: Uint8Array;
  readonly masked: Uint8Array;
}

/**
 * Replaces provider credentials of 16 characters or more (a key, an access token relay fetched) in the
 * bytes of an answer relay passes on with their masked form (`sk-ant-...x7f2`): an upstream may quote
 * the credential it was sent in an error (`Incorrect API key provided: …`), and relay's clients must
 * never learn them. Each is looked for as written and as a JSON encoder may escape it
 * ({@linkcode jsonSpellings}: `\/`, `\u002B`); one an upstream spreads over several events is not
 * found. One split across two chunks is found too: a chunk's tail that could be a credential's
 * beginning waits for the next chunk (or {@linkcode flush}). A complete SSE event never waits, since no
 * credential begins with its blank line.
 *
 * @example
 * ```ts
 * const mask = SecretMask.for("sk-ant-api03-abcdefghijklmnopx7f2")!;
 * mask.apply(new TextEncoder().encode("bad key sk-ant-api03-abcdefghijklmnopx7f2")); // "bad key sk-ant-...x7f2"
 * ```
 */
export class SecretMask {
  /** Worked out once per answer: each secret as written, then as a JSON encoder may escape it. */
  readonly #spellings: readonly _Spelling[];
  /** The byte every spelling begins with, or -1 when they begin with several (a secret's `/` or `+`). */
  readonly #first: number;
  /** The bytes the spellings begin with, when several. */
  readonly #firsts: readonly number[];
  /** For several: where each of `#firsts` is next in the bytes being masked; -2 before it is looked for. */
  readonly #ahead: Int32Array | undefined;
  #held: Uint8Array | undefined;

  private constructor(secrets: readonly string[]) {
    const spellings: _Spelling[] = [];
    const firsts: number[] = [];
    for (const secret of secrets) {
      const masked = _encoder.encode(maskSecret(secret));
      for (const spelling of jsonSpellings(secret)) {
        const bytes = _encoder.encode(spelling);
        spellings.push({ bytes, masked });
        if (!firsts.includes(bytes[0])) firsts.push(bytes[0]);
      }
    }
    // Longest first: a secret that begins another must not be found in the other's place.
    this.#spellings = spellings.sort((a, b) => b.bytes.byteLength - a.bytes.byteLength);
    this.#first = firsts.length === 1 ? firsts[0] : -1;
    this.#firsts = firsts;
    this.#ahead = firsts.length > 1 ? new Int32Array(firsts.length) : undefined;
  }

  /**
   * A mask for `secrets`, or `undefined` when none is long enough to tell from ordinary text, or there
   * is none at all (SigV4, a local server).
   */
  static for(...secrets: (string | undefined)[]): SecretMask | undefined {
    const searched = secrets.filter(_looksForKey);
    return searched.length > 0 ? new SecretMask(searched) : undefined;
  }

  /** `chunk` with the secrets masked, less a tail that may be one's beginning (held for the next). */
  apply(chunk: Uint8Array): Uint8Array {
    const bytes = this.#held ? concatBytes([this.#held, chunk]) : chunk;
    this.#held = undefined;
    return this.#masked(bytes, false);
  }

  /** The held tail, once the answer has ended without the rest of a secret. */
  flush(): Uint8Array | undefined {
    const held = this.#held;
    this.#held = undefined;
    // Shorter than the spelling it begins, but it may hold a whole shorter one.
    return held && this.#spellings.length > 1 ? this.#masked(held, true) : held;
  }

  /** `text` as this mask passes it on when it is a whole answer (a mask with nothing held). */
  text(text: string): string {
    return _decoder.decode(this.#masked(_encoder.encode(text), true));
  }

  /** `bytes` masked; unless `last`, a tail that begins a spelling is held rather than returned. */
  #masked(bytes: Uint8Array, last: boolean): Uint8Array {
    let parts: Uint8Array[] | undefined;
    let from = 0;
    let end = bytes.byteLength;
    // Spellings that all begin with one byte (unless a secret begins with `/` or `+`) cost what one
    // key does: a byte search per place one may begin.
    const first = this.#first;
    this.#ahead?.fill(-2);
    for (
      let at = first !== -1 ? bytes.indexOf(first) : this.#nextOfSeveral(bytes, 0);
      at !== -1;
      at = first !== -1 ? bytes.indexOf(first, at + 1) : this.#nextOfSeveral(bytes, at + 1)
    ) {
      const found = this.#spellingAt(bytes, at, last);
      if (found === undefined) continue;
      if (found === _BEGUN) {
        this.#held = bytes.slice(at);
        end = at;
        break;
      }
      (parts ??= []).push(bytes.subarray(from, at), found.masked);
      from = at + found.bytes.byteLength;
      at = from - 1;
    }
    if (!parts) return end === bytes.byteLength ? bytes : bytes.subarray(0, end);
    parts.push(bytes.subarray(from, end));
    return concatBytes(parts);
  }

  /**
   * Where a spelling that begins with one of several bytes may begin, from `from` on; -1 for nowhere.
   * Each byte is searched for again only once passed: not the whole chunk again at every place.
   */
  #nextOfSeveral(bytes: Uint8Array, from: number): number {
    const ahead = this.#ahead!;
    let next = -1;
    for (let i = 0; i < ahead.length; i++) {
      if (ahead[i] === -2 || (ahead[i] !== -1 && ahead[i] < from)) {
        ahead[i] = bytes.indexOf(this.#firsts[i], from);
      }
      if (ahead[i] !== -1 && (next === -1 || ahead[i] < next)) next = ahead[i];
    }
    return next;
  }

  /**
   * The longest spelling quoted whole at `at`; else, unless `last`, {@linkcode _BEGUN} when `bytes` ends
   * in the beginning of one, or of one longer than the spelling found (its rest may come next).
   */
  #spellingAt(bytes: Uint8Array, at: number, last: boolean): _Spelling | typeof _BEGUN | undefined {
    let begun = false;
    for (const spelling of this.#spellings) {
      const length = Math.min(spelling.bytes.byteLength, bytes.byteLength - at);
      if (!_sameBytes(bytes, at, spelling.bytes, length)) continue;
      if (length < spelling.bytes.byteLength) begun = true;
      else return begun && !last ? _BEGUN : spelling;
    }
    return begun && !last ? _BEGUN : undefined;
  }
}

/** What {@linkcode SecretMask}'s search finds where the bytes end in the beginning of a spelling. */
const _BEGUN = 0;

function _sameBytes(bytes: Uint8Array, at: number, secret: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) {
    if (bytes[at + i] !== secret[i]) return false;
  }
  return true;
}

/**
 * `response` with `secrets` masked in every header value that quotes one (`www-authenticate`, a debug
 * header), as written, percent-encoded or JSON-escaped ({@linkcode maskKeysIn}), from the same length as
 * in its body. Every answer goes through it, successful ones on relay's hot path: a value is searched
 * for each secret as written, and for its escaped or encoded forms only when it holds a `\` or a `%`
 * (as every such form does), so an answer that quotes none costs one search per value and key and
 * builds nothing (`bench/headers_bench.ts`: 3.4 µs for Anthropic's 25 answer headers, about what reading
 * them at all costs, where masking each value as errors did took 80).
 *
 * @example
 * ```ts
 * const answer = new Response(null, { headers: { "x-debug-key": key } });
 * maskedHeaders(answer, key).headers.get("x-debug-key"); // "sk-ant-...x7f2"
 * ```
 */
export function maskedHeaders(response: Response, ...secrets: (string | undefined)[]): Response {
  const keys = secrets.filter(_looksForKey);
  if (keys.length === 0) return response;
  const { headers } = response;
  let forms: _Forms | undefined;
  let quoting: Set<string> | undefined;
  headers.forEach((value, name) => {
    if (_quotesOne(value, keys, () => forms ??= new _Forms(keys))) (quoting ??= new Set()).add(name);
  });
  if (!quoting) return response;
  const masks = keys.map((secret) => ({ secret }));
  for (const name of quoting) {
    // Each `set-cookie` apart: one joined value set back would be one cookie.
    const values = name === "set-cookie" ? headers.getSetCookie() : [headers.get(name)!];
    headers.delete(name);
    for (const value of values) {
      headers.append(name, maskKeysIn(value, masks, { minLength: _MIN_ANSWER_SECRET }));
    }
  }
  return response;
}

/** The forms of a response's secrets other than as written: those that hold a `\`, and a `%`. */
class _Forms {
  readonly escaped: readonly string[];
  readonly encoded: readonly string[];

  constructor(keys: readonly string[]) {
    this.escaped = keys.flatMap((key) => jsonSpellings(key).slice(1));
    this.encoded = keys.map(encodeURIComponent).filter((encoded, i) => encoded !== keys[i]);
  }
}

/** Whether `value` quotes one of `keys` in a form {@linkcode maskKeysIn} masks. */
function _quotesOne(value: string, keys: readonly string[], forms: () => _Forms): boolean {
  for (const key of keys) if (value.includes(key)) return true;
  if (value.includes("\\") && forms().escaped.some((form) => value.includes(form))) return true;
  return value.includes("%") && forms().encoded.some((form) => value.includes(form));
}

/** Whether answers are searched for `secret`: long enough not to be a word. */
function _looksForKey(secret: string | undefined): secret is string {
  return secret !== undefined && secret.length >= _MIN_ANSWER_SECRET;
}
