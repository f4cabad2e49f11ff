/**
 * Google OAuth access tokens from a service-account key file, by the JWT-bearer grant (RFC 7523) that
 * Google's own libraries use: relay signs a one-hour assertion with the account's private key and
 * trades it at the token endpoint for an access token scoped to `cloud-platform`.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { importPKCS8, SignJWT } from "jose";
import { requestAccessToken, TokenCache, type TokenSource } from "./token_cache.ts";
import { errorMessage } from "../util/error_message.ts";
import { readCredentialsFile } from "./credentials_file.ts";

const _SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const _GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** The longest an assertion may live, in seconds. */
const _ASSERTION_LIFETIME_S = 3600;
const _REQUIRED_FIELDS = ["client_email", "private_key", "token_uri"] as const;

export interface GoogleServiceAccountOptions {
  /** Path of the service-account JSON, as `credentials_file` or `$GOOGLE_APPLICATION_CREDENTIALS` gives it. */
  credentialsFile: string;
  /** Injected for tests; {@linkcode readCredentialsFile} otherwise. */
  readFile?: (path: string) => string;
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
  /** Wall-clock milliseconds: the assertion's `iat` and the token's expiry are read from it. */
  now?: () => number;
  /** Replaces the file's `token_uri`, as the endpoint and as the assertion's audience. */
  tokenUrl?: string;
  /** Told when a refresh behind requests fails (`TokenCacheOptions.onRefreshFailed`). */
  onRefreshFailed?: (error: unknown) => void;
}

/** The fields of a service-account file relay uses. */
interface _ServiceAccount {
  client_email: string;
  private_key: string;
  token_uri: string;
  private_key_id?: string;
}

/**
 * Access tokens for one service account, cached until shortly before they expire or until Vertex
 * refuses one. The file and its key are read and checked at once, so a wrong path, a missing field or
 * a key that cannot sign stops relay at startup.
 *
 * @example
 * ```ts
 * const tokens = googleServiceAccountTokens({ credentialsFile: "/etc/relay/vertex-sa.json" });
 * headers.set("authorization", `Bearer ${await tokens.token()}`);
 * ```
 */
export function googleServiceAccountTokens(options: GoogleServiceAccountOptions): TokenSource {
  const file = options.credentialsFile;
  const account = _readServiceAccount(file, options.readFile ?? readCredentialsFile);
  const pkcs8 = _signingKey(account.private_key, file);
  const tokenUrl = options.tokenUrl ?? account.token_uri;
  const now = options.now ?? Date.now;
  let key: Promise<CryptoKey> | undefined;
  return new TokenCache(async () => {
    key ??= importPKCS8(pkcs8, "RS256");
    const issuedAt = Math.floor(now() / 1000);
    const assertion = await new SignJWT({ scope: _SCOPE })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: account.private_key_id })
      .setIssuer(account.client_email)
      .setAudience(tokenUrl)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + _ASSERTION_LIFETIME_S)
      .sign(await key);
    return requestAccessToken(tokenUrl, { grant_type: _GRANT_TYPE, assertion }, { fetch: options.fetch });
  }, { now, onRefreshFailed: options.onRefreshFailed });
}

/**
 * The account's private key as the PKCS#8 PEM jose signs with. Google issues PKCS#8; a PKCS#1 key
 * (`BEGIN RSA PRIVATE KEY`, as older tools write one) is converted. Read synchronously, so the key is
 * checked when the provider is built rather than on the first request.
 */
function _signingKey(pem: string, file: string): string {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error(
      `private_key in service-account file ${file} is not an unencrypted PEM private key ` +
        "(`openssl pkcs8 -topk8 -nocrypt -in key.pem` writes one from most other forms)",
    );
  }
  // jose refuses a shorter key for RS256 when it signs.
  if (key.asymmetricKeyType !== "rsa" || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new Error(
      `private_key in service-account file ${file} is not an RSA key of 2048 bits or more, which RS256 needs`,
    );
  }
  return key.export({ type: "pkcs8", format: "pem" }) as string;
}

function _readServiceAccount(file: string, readFile: (path: string) => string): _ServiceAccount {
  let text: string;
  try {
    text = readFile(file);
  } catch (error) {
    throw new Error(`cannot read service-account file ${file}: ${errorMessage(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`service-account file ${file} is not JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`service-account file ${file} is not a JSON object`);
  }
  const account = parsed as Record<string, unknown>;
  // An `authorized_user` file (gcloud's user login) has no key to sign with; say so rather than list fields.
  if (account.type !== undefined && account.type !== "service_account") {
    throw new Error(
      `${file} holds "type": ${JSON.stringify(account.type)}; relay needs a service_account key`,
    );
  }
  for (const field of _REQUIRED_FIELDS) {
    if (typeof account[field] !== "string" || account[field] === "") {
      throw new Error(`service-account file ${file} has no "${field}"`);
    }
  }
  return {
    client_email: account.client_email as string,
    private_key: account.private_key as string,
    token_uri: account.token_uri as string,
    private_key_id: typeof account.private_key_id === "string" ? account.private_key_id : undefined,
  };
}
