/**
 * Masks a secret for logs and summaries: keeps a recognisable prefix and the last four characters,
 * so two keys can be told apart without either being recoverable. Shorter secrets keep less: the last
 * two characters from 12, nothing below.
 *
 * @example
 * ```ts
 * maskSecret("sk-ant-api03-abcdefghijklmnopx7f2"); // "sk-ant-...x7f2"
 * maskSecret("client-tok-9"); // "...-9"
 * maskSecret("short"); // "***"
 * ```
 */
export function maskSecret(secret: string): string {
  if (secret.length < 12) return "***";
  if (secret.length < 16) return `...${secret.slice(-2)}`;
  const prefix = _knownPrefix(secret) ?? secret.slice(0, 3);
  return `${prefix}...${secret.slice(-4)}`;
}

/**
 * `text` with each of `keys` replaced by its `label` (its masked form unless given) wherever it is
 * quoted, as written, percent-encoded (a URL's query) or JSON-escaped ({@linkcode jsonSpellings}), the
 * longest first: masking a key that begins another first would leave the rest of the longer one in the
 * clear. A key under `minLength` characters (6 unless given) is left alone: it is a word (a local
 * server's `x`, Ollama's `ollama`) more likely than a secret.
 *
 * @example
 * ```ts
 * maskKeysIn("bad key sk-ant-api03-abcdefghijklmnopx7f2", [{ secret: "sk-ant-api03-abcdefghijklmnopx7f2" }]);
 * // "bad key sk-ant-...x7f2"
 * maskKeysIn(line, [{ secret: apiKey, label: "main (sk-ant-...x7f2)" }, { secret: accessToken }]);
 * ```
 */
export function maskKeysIn(
  text: string,
  keys: readonly { secret: string; label?: string }[],
  { minLength = 6 }: { minLength?: number } = {},
): string {
  const longestFirst = keys.length > 1 ? [...keys].sort((a, b) => b.secret.length - a.secret.length) : keys;
  return longestFirst.reduce(
    (masked, { secret, label }) => secret.length < minLength ? masked : _maskKeyIn(masked, secret, label),
    text,
  );
}

/** `text` with `key` replaced by `label` (its masked form unless given) in each of its spellings. */
function _maskKeyIn(text: string, key: string, label = maskSecret(key)): string {
  let quoted = text;
  // A function, not a string: `$&` in a label (a key's name is the config's to choose) is no pattern.
  for (const spelling of [...jsonSpellings(key), encodeURIComponent(key)]) {
    quoted = quoted.replaceAll(spelling, () => label);
  }
  return quoted;
}

// What a JSON encoder may escape in a key.
const _ESCAPED = /[/+]/;

/**
 * `key` as written, then as a JSON encoder may write it in a string: `/` as `\/` (PHP's `json_encode`),
 * `+` as `\u002B` (.NET's `System.Text.Json`) or `\u002b`. Base64 keys and tokens (Bedrock API keys)
 * may hold both. One encoder escapes a character everywhere or nowhere, so the forms are each choice for
 * `/` with each for `+`; a key with neither has only itself.
 *
 * @example
 * ```ts
 * jsonSpellings("ab/cd+ef"); // ["ab/cd+ef", "ab/cd\\u002Bef", "ab/cd\\u002bef", "ab\\/cd+ef", ...]
 * ```
 */
export function jsonSpellings(key: string): string[] {
  if (!_ESCAPED.test(key)) return [key];
  const slashes = key.includes("/") ? ["/", "\\/"] : ["/"];
  const pluses = key.includes("+") ? ["+", "\\u002B", "\\u002b"] : ["+"];
  return slashes.flatMap((slash) =>
    pluses.map((plus) => key.replaceAll("/", () => slash).replaceAll("+", () => plus))
  );
}

const _PREFIXES = ["sk-ant-", "sk-proj-", "sk-or-", "sk-", "AKIA", "ASIA", "ya29.", "Bearer "];

function _knownPrefix(secret: string): string | undefined {
  return _PREFIXES.find((p) => secret.startsWith(p));
}

// Runs of the characters keys are written in (`~` too: Entra ID client secrets have it); long enough
// that words and most names fall short.
const _TOKEN = /[A-Za-z0-9_\-+/=.~]{16,}/g;
// Keys whose values are secrets, on the line's own `key:` (YAML) or `"key":` (JSON).
const _SECRET_FIELD =
  /(?:^|[\s{,"'])(?:[\w-]*(?:key|token|secret|password|credential)s?|private_key_id)["']?\s*:/i;
// Fields whose whole value is a secret however short (a client token may have 8 characters): the
// config's own, and those of the JSON an upstream or a token endpoint may quote back.
const _SECRET_KEYS = new Set([
  "key",
  "keys",
  "token",
  "tokens",
  "client_secret",
  "access_key_id",
  "secret_access_key",
  "session_token",
  "api_key",
  "x-api-key",
  "secret",
  "password",
  "private_key",
  "access_token",
]);
/**
 * Whether a field named `name` (`key`, `tokens`, `client_secret`...) holds a secret however short.
 *
 * @example
 * ```ts
 * isSecretField("keys"); // true
 * ```
 */
export function isSecretField(name: string): boolean {
  return _SECRET_KEYS.has(name.toLowerCase());
}

// A mapping key where YAML and JSON put one: first on the line (after any `- `), or after `{` or `,`;
// unquoted, its colon is followed by a space (`${KEY:-default}` holds none).
const _KEY = /(?:^\s*(?:-\s+)*|[{,]\s*)(?:(["'])(?<quoted>[\w-]+)\1\s*:|(?<bare>[\w-]+)\s*:(?=\s|$))/g;
// A block list's item marks, before a value that holds no key.
const _BARE_ITEM = /^\s*(?:-\s+)+/;
// A variable relay expands: its name, not a secret.
const _VARIABLE = /\$\{\w+\}/g;
// A value's scalar that is not a `${VAR}`: anything but spaces, quotes, flow punctuation and the `: `
// that ends a key.
const _PLAIN_SCALAR = /(?:[^\s"',[\]{}:]|:(?!\s|$))+/y;
// Where a `${` ends: its `}`, or a space, which no variable holds.
const _VARIABLE_END = /[}\s]/g;

/**
 * A line of a config file as it may be shown (an error's source line), with whatever could be a
 * secret in it masked by {@linkcode maskSecret}: the value of a secret field (`key:`, `tokens:`,
 * `client_secret:`...) whatever its length, every long token when the line sets such a field (or one
 * named like it: `private_key:`), else tokens that look like keys (a known prefix, mixed case with
 * digits, or 32 hex digits). `col` (1-based, in `line`) comes back moved to the same place in the masked
 * text.
 *
 * @example
 * ```ts
 * maskSecretsInLine("  - key: sk-ant-api03-SECRETSECRETx7f2", 9);
 * // { text: "  - key: sk-ant-...x7f2", col: 9 }
 * ```
 */
export function maskSecretsInLine(line: string, col = 1): { text: string; col: number } {
  let text = "";
  let from = 0;
  let at = col - 1;
  for (const [start, end] of _secretSpans(line)) {
    const masked = maskSecret(line.slice(start, end));
    text += line.slice(from, start) + masked;
    from = end;
    if (col - 1 >= from) at -= end - start - masked.length;
    else if (col - 1 > start) at = text.length - masked.length;
  }
  return { text: text + line.slice(from), col: at + 1 };
}

/**
 * `text` (a message relay writes itself) with each of `keys` masked wherever it is quoted
 * ({@linkcode maskKeysIn}), and then anything else shaped like a secret ({@linkcode maskSecretsInLine}):
 * what an upstream's words, or a URL, may quote of the credentials relay sent, which relay's own
 * messages, sent unmasked, must not.
 *
 * @example
 * ```ts
 * maskKeysAndSecretsIn("bad key sk-proj-abcdefghijklmnopx7f2", [{ secret: "sk-proj-abcdefghijklmnopx7f2" }]);
 * // "bad key sk-proj-...x7f2"
 * ```
 */
export function maskKeysAndSecretsIn(
  text: string,
  keys: readonly { secret: string; label?: string }[],
): string {
  return maskSecretsInLine(maskKeysIn(text, keys)).text;
}

/** Where `line` holds what {@linkcode maskSecretsInLine} masks, as `[start, end)` in order. */
function _secretSpans(line: string): [number, number][] {
  const keys = [...line.matchAll(_KEY)];
  const values = _secretValues(line, keys);
  // Neither a key's name (`secret_access_key:`) nor a variable's (`${ANTHROPIC_API_KEY}`) is a secret.
  const names = new Set([
    ...keys.map((key) => key.index + key[0].lastIndexOf(_keyName(key))),
    ...[...line.matchAll(_VARIABLE)].map((variable) => variable.index + 2),
  ]);
  const everyToken = _SECRET_FIELD.test(line);
  const tokens = [...line.matchAll(_TOKEN)]
    .filter((token) => _looksLikeKey(token[0]) || (everyToken && !names.has(token.index)))
    .map((token): [number, number] => [token.index, token.index + token[0].length]);
  // A token lies wholly inside a value's scalar or outside them all: scalars take every token character.
  return [...values, ..._outside(tokens, values)].sort(([a], [b]) => a - b);
}

/**
 * `spans` less those that start inside one of `values`, both in order and `values` apart: one pass over
 * the two, not each span against every value (3.7 s on a 256 KiB line of short values and tokens).
 */
function _outside(spans: [number, number][], values: [number, number][]): [number, number][] {
  let next = 0; // the first value that does not end before the span
  return spans.filter(([start]) => {
    while (next < values.length && values[next][1] <= start) next++;
    return next === values.length || start < values[next][0];
  });
}

// The scalars of each secret field's value, up to the next key on the line, but those that only name
// variables. A block list's bare item (`  - Secret-Tok-9`) counts as one: the line alone cannot say
// whose item it is, and the config's lists of plain strings are mostly client tokens.
function _secretValues(line: string, keys: RegExpExecArray[]): [number, number][] {
  const item = keys.length === 0 ? _BARE_ITEM.exec(line) : null;
  if (item) return _scalarsFrom(line, item[0].length, line.length);
  return keys.flatMap((key, i) => {
    if (!isSecretField(_keyName(key))) return [];
    return _scalarsFrom(line, key.index + key[0].length, keys[i + 1]?.index ?? line.length);
  });
}

function _scalarsFrom(line: string, from: number, to: number): [number, number][] {
  const value = line.slice(from, to);
  return _scalars(value)
    .filter(([start, end]) => value.slice(start, end).replace(_VARIABLE, "") !== "")
    .map(([start, end]): [number, number] => [from + start, from + end]);
}

/**
 * Where `text`'s scalars are, as `[start, end)` in order: a `${VAR}` (whose `:-default` may be a
 * secret), else a plain scalar. One pattern for both (`/\$\{[^}\s]*\}|<plain>/g`) read on after each
 * `${` to the first `}` or space, and again after the next `${`: on a run of `${` with neither, the
 * run's length squared (2 s on 64 KiB). Here that `}` or space is found once for the whole run.
 */
function _scalars(text: string): [number, number][] {
  const spans: [number, number][] = [];
  // The first `}` or space after the braces of the last `${` read (`text.length` when none): also the
  // first after those of any later `${` before it.
  let stop = -1;
  for (let at = 0; at < text.length;) {
    if (text.startsWith("${", at)) {
      if (stop < at + 2) {
        _VARIABLE_END.lastIndex = at + 2;
        stop = _VARIABLE_END.exec(text)?.index ?? text.length;
      }
      if (text[stop] === "}") {
        spans.push([at, stop + 1]);
        at = stop + 1;
        continue;
      }
    }
    _PLAIN_SCALAR.lastIndex = at;
    if (!_PLAIN_SCALAR.test(text)) {
      at++;
      continue;
    }
    spans.push([at, _PLAIN_SCALAR.lastIndex]);
    at = _PLAIN_SCALAR.lastIndex;
  }
  return spans;
}

function _keyName(key: RegExpExecArray): string {
  return key.groups!.quoted ?? key.groups!.bare;
}

function _looksLikeKey(token: string): boolean {
  if (_knownPrefix(token) || /^(?:rly|adm)_/.test(token)) return true;
  if (/^[0-9a-f]{32,}$/i.test(token)) return true;
  return /[a-z]/.test(token) && /[A-Z]/.test(token) && /\d/.test(token);
}

// Runs of text between JSON's and prose's delimiters, JSON's escapes among them (`\n` before a key is no
// part of it), matched first so that a run starts after one. Not `maskSecretsInLine`: every Messages body
// sets `max_tokens`, which it reads as a secret-named field, masking every long run and with them the
// body's paths and names. Keys have 16 characters and more, so shorter runs are left alone.
const _RUN = /\\(?:u[0-9a-fA-F]{4}|.)|([^\s"'{}[\],:\\]{16,})/g;

/**
 * `text` (a request or an answer body) with its key-shaped tokens masked (`sk-ant-...x7f2`), as
 * {@linkcode maskSecretsInLine} masks them on a line that sets no secret field, and nothing else.
 *
 * @example
 * ```ts
 * maskKeyShapedTokens('{"content":"my key is sk-ant-api03-SECRETSECRETx7f2"}');
 * // '{"content":"my key is sk-ant-...x7f2"}'
 * ```
 */
export function maskKeyShapedTokens(text: string): string {
  return text.replace(_RUN, (match, run?: string) => run === undefined ? match : _maskKeyTokens(run));
}

function _maskKeyTokens(run: string): string {
  return run.replace(_TOKEN, (token) => _looksLikeKey(token) ? maskSecret(token) : token);
}
