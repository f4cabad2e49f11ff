/**
 * Microsoft Entra ID access tokens for an app registration, by the OAuth client-credentials grant:
 * what Microsoft Foundry takes as `Authorization: Bearer` instead of a resource key.
 */
import { requestAccessToken, TokenCache, type TokenSource } from "./token_cache.ts";

/** The audience of Foundry's Anthropic endpoint, as Anthropic's Foundry SDK asks for it. */
const _DEFAULT_SCOPE = "https://ai.azure.com/.default";

export interface EntraClientCredentialsOptions {
  /** Directory (tenant) id or domain; names the token endpoint. */
  tenantId: string;
  /** Application (client) id of the app registration. */
  clientId: string;
  clientSecret: string;
  /** Default `https://ai.azure.com/.default`. */
  scope?: string;
  /** Replaces `https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token`, e.g. for a sovereign cloud. */
  tokenUrl?: string;
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
  /** Milliseconds clock for the token's expiry; injected so tests can move time. */
  now?: () => number;
  /** Told when a refresh behind requests fails (`TokenCacheOptions.onRefreshFailed`). */
  onRefreshFailed?: (error: unknown) => void;
}

/**
 * Access tokens for one app registration, cached until shortly before they expire or until Foundry
 * refuses one.
 *
 * @example
 * ```ts
 * const tokens = entraClientCredentialsTokens({ tenantId, clientId, clientSecret });
 * headers.set("authorization", `Bearer ${await tokens.token()}`);
 * ```
 */
export function entraClientCredentialsTokens(options: EntraClientCredentialsOptions): TokenSource {
  const tokenUrl = options.tokenUrl ??
    `https://login.microsoftonline.com/${encodeURIComponent(options.tenantId)}/oauth2/v2.0/token`;
  const form = {
    grant_type: "client_credentials",
    client_id: options.clientId,
    client_secret: options.clientSecret,
    scope: options.scope ?? _DEFAULT_SCOPE,
  };
  return new TokenCache(() => requestAccessToken(tokenUrl, form, { fetch: options.fetch }), {
    now: options.now,
    onRefreshFailed: options.onRefreshFailed,
  });
}
