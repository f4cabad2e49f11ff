import { createHash } from "node:crypto";

/**
 * A short, stable name for a secret that reveals nothing of it: the first 12 hex digits of its SHA-256.
 * Two keys with the same masked label (`sk-ant-...x7f2`) still get different fingerprints, so the
 * ledger can tell them apart without ever holding either.
 *
 * @example
 * ```ts
 * keyFingerprint("sk-ant-api03-abcdefghijklmnopx7f2"); // "fc15735de69a"
 * ```
 */
export function keyFingerprint(secret: string): string {
  return createHash("sha256").update(secret).digest("hex").slice(0, 12);
}

/**
 * A configured key's fingerprint: the one worked out when it was configured (`id`), else its secret's.
 * It names the key in the ledger and across reloads, which build new key objects.
 *
 * @example
 * ```ts
 * keyId({ secret: "sk-ant-api03-abcdefghijklmnopx7f2" }); // "fc15735de69a"
 * ```
 */
export function keyId(key: { readonly id?: string; readonly secret: string }): string {
  return key.id ?? keyFingerprint(key.secret);
}
