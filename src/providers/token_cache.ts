/**
 * OAuth access tokens for upstreams that want a bearer token (Vertex AI, Microsoft Foundry with Entra
 * ID): asking a token endpoint for one, and keeping it until shortly before it expires, when a new one
 * is fetched behind the requests that go on using it. A request takes its token once, when it is sent,
 * so a long stream is never interrupted by a refresh. A token the upstream refuses (revoked, or issued
 * by a clock that was off) is dropped at once rather than served until it would expire.
 */
import { parseJsonObject } from "../util/json.ts";
import { CredentialError, isPermanentCredentialError, type ProviderRequest } from "./types.ts";
import { maskSecret, maskSecretsInLine } from "../util/mask.ts";
import { errorMessage } from "../util/error_message.ts";

/** Where an adapter gets the bearer token for its next request. */
export interface TokenSource {
  /**
   * A token valid for a while yet; rejects when none can be had, or with `signal`'s reason once it
   * aborts (the request is over: its client left, or a deadline passed).
   */
  token(signal?: AbortSignal): Promise<string>;
  /**
   * Forgets `token`, which the upstream refused, so the next {@link token} call fetches another. Does
   * nothing once `token` has been replaced: requests that were refused together cause one fetch, and a
   * late refusal of an old token never throws away a newer one.
   */
  invalidate(token: string): void;
}

/**
 * A token as a token endpoint issued it; or, for {@linkcode TokenCache}, any credential that expires
 * (an AWS role's keys).
 */
export interface IssuedToken<T = string> {
  accessToken: T;
  /** Lifetime from the moment it was asked for. */
  expiresInMs: number;
}

export interface TokenCacheOptions {
  /** Milliseconds clock; injected so tests can move time. */
  now?: () => number;
  /**
   * How long before expiry the token is replaced (default 5 minutes, as Google's libraries do). A
   * token that lives less than twice this long is replaced at half its lifetime instead.
   */
  refreshBeforeMs?: number;
  /**
   * Told when a refresh behind requests fails while the current token still serves: the first sign of a
   * token endpoint that is down, minutes before requests would fail on the expired token.
   */
  onRefreshFailed?: (error: unknown) => void;
}

/**
 * After a refresh that failed while the token still served, the next is not tried for this long: the
 * token endpoint may be down a while, and a fetch per request would only add to its load.
 */
export const TOKEN_RETRY_AFTER_MS = 10_000;

/**
 * A token this close to its expiry is no longer handed out (half the refresh margin for one that lives
 * under 40 s): a request sent with it could reach the upstream after it expired.
 */
const _EXPIRY_MARGIN_MS = 10_000;

/**
 * Caches one access token (a `TokenCache<string>` is a {@link TokenSource}), or any other credential
 * `T` that expires, such as an AWS role's keys. From `refreshBeforeMs` before it expires, callers still get it at once while
 * a fetch replaces it in the background; one that fails is told to `onRefreshFailed` and tried again on
 * a call 10 s later. Only once the token has (all but) expired, or there is none, do callers wait for a
 * fetch: however many ask at once, at most one is in flight; they all get its token, or all get its
 * error, and the next call after an error tries again. A caller whose signal aborts stops
 * waiting; the fetch goes on for the others.
 *
 * @example
 * ```ts
 * const tokens = new TokenCache(() => requestAccessToken(url, { grant_type: "client_credentials" }));
 * headers.set("authorization", `Bearer ${await tokens.token()}`);
 * ```
 */
export class TokenCache<T = string> {
  readonly #fetchToken: () => Promise<IssuedToken<T>>;
  readonly #now: () => number;
  readonly #refreshBeforeMs: number;
  readonly #onRefreshFailed: ((error: unknown) => void) | undefined;
  #current: { accessToken: T; refreshAt: number; servedUntil: number } | undefined;
  #pending: Promise<T> | undefined;
  /** No refresh in the background before this: the last one failed. */
  #retryAt = -Infinity;

  constructor(fetchToken: () => Promise<IssuedToken<T>>, options: TokenCacheOptions = {}) {
    this.#fetchToken = fetchToken;
    this.#now = options.now ?? Date.now;
    this.#refreshBeforeMs = options.refreshBeforeMs ?? 5 * 60_000;
    this.#onRefreshFailed = options.onRefreshFailed;
  }

  token(signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = this.#now();
    const current = this.#current;
    if (current && now < current.servedUntil) {
      if (now >= current.refreshAt && now >= this.#retryAt) {
        // The token still serves: a failure here only means trying again later, and is the error of
        // whoever waits for a fetch once it has expired.
        this.#fetch().catch((error) => {
          // Said only while the token still serves: requests that waited for this fetch got its error.
          const served = this.#current;
          if (served && this.#now() < served.servedUntil) this.#onRefreshFailed?.(error);
        });
      }
      return Promise.resolve(current.accessToken);
    }
    return _untilAborted(this.#fetch(), signal);
  }

  invalidate(token: T): void {
    if (this.#current?.accessToken === token) this.#current = undefined;
  }

  #fetch(): Promise<T> {
    this.#pending ??= this.#refresh().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #refresh(): Promise<T> {
    // The lifetime counts from the request: the answer may have taken a while to arrive.
    const askedAt = this.#now();
    let issued: IssuedToken<T>;
    try {
      issued = await this.#fetchToken();
    } catch (error) {
      this.#retryAt = this.#now() + TOKEN_RETRY_AFTER_MS;
      throw error;
    }
    const { accessToken, expiresInMs } = issued;
    const margin = Math.min(this.#refreshBeforeMs, expiresInMs / 2);
    const servedUntil = askedAt + expiresInMs - Math.min(_EXPIRY_MARGIN_MS, margin / 2);
    this.#current = { accessToken, refreshAt: askedAt + expiresInMs - margin, servedUntil };
    return accessToken;
  }
}

/** `promise`, or `signal`'s reason once it aborts; `promise` goes on either way. */
function _untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Sends a request with the source's token and, when the upstream answers 401, once more with a fresh
 * one: a token can be revoked or refused long before it expires. A second 401 is the upstream's answer
 * (the credential itself is wrong) and is returned as is. A failure to get a token is thrown as a
 * {@linkcode CredentialError}, `{authName} failed: {reason}`; once the request's `signal` aborts, the
 * wait for one ends with its reason, as `fetch` does, so a slow token endpoint holds no request whose
 * client has left. The wait is told to the request's `onCredential`, and each token, before it is sent,
 * to its `onSecret`.
 *
 * @example
 * ```ts
 * const response = await sendWithToken(tokens, "Vertex auth", request, (token) =>
 *   fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}` }, body }));
 * ```
 */
export async function sendWithToken(
  tokens: TokenSource,
  authName: string,
  request: CredentialRequest,
  send: (token: string) => Promise<Response>,
): Promise<Response> {
  const first = await _tokenFrom(tokens, authName, request);
  const response = await send(first);
  if (response.status !== 401) return response;
  // Left unread, the refused answer's body would hold its connection open until garbage collection.
  await response.body?.cancel().catch(() => {});
  tokens.invalidate(first);
  return send(await _tokenFrom(tokens, authName, request));
}

/** What of a request a credential's wait and use are told to. */
export type CredentialRequest = Pick<ProviderRequest, "signal" | "onCredential" | "onSecret">;

async function _tokenFrom(
  tokens: TokenSource,
  authName: string,
  request: CredentialRequest,
): Promise<string> {
  const token = await credentialFor(authName, request, (signal) => tokens.token(signal));
  request.onSecret?.(token);
  return token;
}

/**
 * Waits for the credential a request is sent with: the wait is told to the request's `onCredential`, so
 * a deadline that passes meanwhile is named as the credential's; a failure is thrown as a
 * {@linkcode CredentialError}, `{authName} failed: {reason}`, permanent when what `get` threw was, or as
 * the request's abort reason once it is over. Telling the credential to `onSecret` is the caller's: only
 * it knows which part of `T` is secret.
 *
 * @example
 * ```ts
 * const keys = await credentialFor("Bedrock auth", request, (signal) => source.credentials(signal));
 * ```
 */
export async function credentialFor<T>(
  authName: string,
  { signal, onCredential }: CredentialRequest,
  get: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  onCredential?.(true);
  try {
    return await get(signal);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new CredentialError(
      `${authName} failed: ${errorMessage(error)}`,
      isPermanentCredentialError(error),
    );
  } finally {
    onCredential?.(false);
  }
}

export interface AccessTokenRequestOptions {
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
  /** Gives up after this long (default 30 s), so a silent endpoint cannot hold every request forever. */
  timeoutMs?: number;
}

/**
 * One call to an endpoint that issues credentials (an OAuth token endpoint, AWS SSO's portal and OIDC
 * endpoint), its answer read whole. A redirect is answered, not followed: following it would carry the
 * credential wherever it points. An endpoint that cannot be reached, or is silent past `timeoutMs`
 * (default 30 s), fails as `{name} failed: {reason}`, naming nothing of what was sent.
 *
 * @example
 * ```ts
 * const url = "https://login.example/token";
 * const { response, text } = await fetchCredentialEndpoint(`token endpoint ${url}`, url, { method: "POST" });
 * ```
 */
export async function fetchCredentialEndpoint(
  name: string,
  url: string,
  init: RequestInit,
  { fetch: doFetch = fetch, timeoutMs = 30_000 }: AccessTokenRequestOptions = {},
): Promise<{ response: Response; text: string }> {
  try {
    const response = await doFetch(url, {
      ...init,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    return { response, text: await response.text() };
  } catch (error) {
    const reason = error instanceof DOMException && error.name === "TimeoutError"
      ? `no answer within ${timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`}`
      : errorMessage(error);
    throw new Error(`${name} failed: ${reason}`);
  }
}

/**
 * Asks an OAuth 2.0 token endpoint for an access token (RFC 6749 §4.4, RFC 7523 §2.1): a
 * form-encoded POST, answered by `{"access_token": ..., "expires_in": seconds}`. Errors name the
 * endpoint and its OAuth error, never the form, which holds the credential. A redirect is an error, not
 * followed: following it would send the form, credential and all, wherever it points. A refusal
 * ({@linkcode refusedForGood}: `invalid_grant`, `invalid_client`, ...) and a redirect are thrown as a
 * permanent {@linkcode CredentialError}: asking again with the same credential gets the same answer.
 *
 * @example
 * ```ts
 * const { accessToken } = await requestAccessToken("https://oauth2.googleapis.com/token", {
 *   grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: jwt,
 * });
 * ```
 */
export async function requestAccessToken(
  url: string,
  form: Record<string, string>,
  options: AccessTokenRequestOptions = {},
): Promise<IssuedToken> {
  const { response, text } = await fetchCredentialEndpoint(`token endpoint ${url}`, url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams(form),
  }, options);
  const status = response.status;
  if (status >= 300 && status <= 399) throw _redirected(url, status, response.headers.get("location"), form);
  if (status < 200 || status > 299) {
    // An endpoint, or a proxy before it, may quote the form back, credential and all.
    const shown = _withoutSecrets(text, form);
    const refusal = parseJsonObject(shown);
    throw new CredentialError(
      `token endpoint ${url} answered ${status}: ${
        oauthErrorText(refusal?.error, refusal?.error_description) ?? bodyExcerpt(shown)
      }`,
      refusedForGood(status) && !_TRANSIENT_OAUTH_ERRORS.has(String(refusal?.error)),
    );
  }
  const answer = parseJsonObject(text);
  const accessToken = answer?.access_token;
  // Entra's older endpoints send `expires_in` as a numeric string.
  const expiresIn = Number(answer?.expires_in);
  if (typeof accessToken !== "string" || accessToken === "" || !(expiresIn > 0)) {
    throw new Error(`token endpoint ${url} answered ${status} without access_token and expires_in`);
  }
  return { accessToken, expiresInMs: expiresIn * 1000 };
}

/** The error for a token endpoint that redirected: where it pointed, credentials masked. */
function _redirected(
  url: string,
  status: number,
  location: string | null,
  form: Record<string, string>,
): CredentialError {
  const where = location ? ` to ${_withoutSecrets(location, form)}` : "";
  return new CredentialError(
    `token endpoint ${url} redirected (${status})${where}; relay does not follow a token endpoint's ` +
      "redirects, which would resend the credential: set the token URL to where it points, if you trust it",
    true,
  );
}

/**
 * Whether a credential endpoint's error status says it refuses the credential as it stands (400
 * `invalid_grant`, 401 `invalid_client`, 403): any 4xx but 408 and 429, which say to come back later.
 * A 5xx, or no answer, is the endpoint's own trouble, which passes.
 *
 * @example
 * ```ts
 * refusedForGood(400); // true
 * refusedForGood(429); // false
 * ```
 */
export function refusedForGood(status: number): boolean {
  return status >= 400 && status <= 499 && status !== 408 && status !== 429;
}

/** OAuth errors (RFC 6749 §4.1.2.1) that say the trouble passes, whatever status they come with. */
const _TRANSIENT_OAUTH_ERRORS = new Set(["temporarily_unavailable", "server_error"]);

/** Form fields that hold a credential: Entra's client secret, Google's signed assertion. */
const _SECRET_FIELDS = ["client_secret", "assertion"];

/** `text` with the form's credentials masked, as sent or form-encoded, and anything else key-shaped. */
function _withoutSecrets(text: string, form: Record<string, string>): string {
  let masked = text;
  for (const field of _SECRET_FIELDS) {
    const secret = form[field];
    if (!secret) continue;
    const encoded = new URLSearchParams({ [field]: secret }).toString().slice(field.length + 1);
    for (const spelling of new Set([secret, encoded, encodeURIComponent(secret)])) {
      masked = masked.replaceAll(spelling, () => maskSecret(secret));
    }
  }
  return masked.split("\n").map((line) => maskSecretsInLine(line).text).join("\n");
}

/**
 * An OAuth error (RFC 6749 §5.2's `error` and `error_description`) as an error message reads it: the
 * error, then its description when it has one; `undefined` when there is no error.
 *
 * @example
 * ```ts
 * oauthErrorText("invalid_grant", "Invalid JWT Signature."); // "invalid_grant: Invalid JWT Signature."
 * oauthErrorText("invalid_grant", undefined); // "invalid_grant"
 * ```
 */
export function oauthErrorText(error: unknown, description: unknown): string | undefined {
  if (typeof error !== "string") return undefined;
  return typeof description === "string" ? `${error}: ${description}` : error;
}

/**
 * An endpoint's answer as an error message quotes it: on one line, cut after `maxChars` characters,
 * `(empty body)` when there is nothing to quote.
 *
 * @example
 * ```ts
 * bodyExcerpt("<html>\n  Bad Gateway</html>"); // "<html> Bad Gateway</html>"
 * bodyExcerpt(""); // "(empty body)"
 * ```
 */
export function bodyExcerpt(text: string, maxChars = 200): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > maxChars ? `${line.slice(0, maxChars)}...` : line || "(empty body)";
}
