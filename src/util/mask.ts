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
