/**
 * Masks a secret for logs and summaries: keeps a recognisable prefix and the last four characters,
 * so two keys can be told apart without either being recoverable.
 *
 * @example
 * ```ts
 * maskSecret("sk-ant-api03-abcdefghijklmnopx7f2"); // "sk-ant-...x7f2"
 * maskSecret("short"); // "***"
 * ```
 */
export function maskSecret(secret: string): string {
  if (secret.length < 12) return "***";
  const prefix = _knownPrefix(secret) ?? secret.slice(0, 3);
  return `${prefix}...${secret.slice(-4)}`;
}

const _PREFIXES = ["sk-ant-", "sk-proj-", "sk-or-", "sk-", "AKIA", "ASIA", "ya29.", "Bearer "];

function _knownPrefix(secret: string): string | undefined {
  return _PREFIXES.find((p) => secret.startsWith(p));
}

// Runs of the characters keys are written in; long enough that words and most names fall short.
const _TOKEN = /[A-Za-z0-9_\-+/=.]{16,}/g;
// Keys whose values are secrets, on the line's own `key:` (YAML) or `"key":` (JSON).
const _SECRET_FIELD =
  /(?:^|[\s{,"'])(?:[\w-]*(?:key|token|secret|password|credential)s?|private_key_id)["']?\s*:/i;

/**
 * A line of a config file as it may be shown (an error's source line), with whatever could be a
 * secret in it masked by {@linkcode maskSecret}: every long token when the line sets a secret field
 * (`key:`, `tokens:`, `private_key:`...), else tokens that look like keys (a known prefix, mixed case
 * with digits, or 32 hex digits). `col` (1-based, in `line`) comes back moved to the same place in the
 * masked text.
 *
 * @example
 * ```ts
 * maskSecretsInLine("  - key: sk-ant-api03-SECRETSECRETx7f2", 9);
 * // { text: "  - key: sk-ant-...x7f2", col: 9 }
 * ```
 */
export function maskSecretsInLine(line: string, col = 1): { text: string; col: number } {
  const everyToken = _SECRET_FIELD.test(line);
  let text = "";
  let from = 0;
  let at = col - 1;
  for (const match of line.matchAll(_TOKEN)) {
    const token = match[0];
    if (!everyToken && !_looksLikeKey(token)) continue;
    const start = match.index;
    const masked = maskSecret(token);
    text += line.slice(from, start) + masked;
    from = start + token.length;
    if (col - 1 >= from) at -= token.length - masked.length;
    else if (col - 1 > start) at = text.length - masked.length;
  }
  return { text: text + line.slice(from), col: at + 1 };
}

function _looksLikeKey(token: string): boolean {
  if (_knownPrefix(token) || /^(?:rly|adm)_/.test(token)) return true;
  if (/^[0-9a-f]{32,}$/i.test(token)) return true;
  return /[a-z]/.test(token) && /[A-Z]/.test(token) && /\d/.test(token);
}
