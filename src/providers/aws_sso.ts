/**
 * AWS credentials for an IAM Identity Center (SSO) profile, as the AWS CLI gets them after
 * `aws sso login`: the login's access token is read from the CLI's cache (`~/.aws/sso/cache`), refreshed
 * at the SSO OIDC endpoint when it is about to expire and the login allows it (written back, so the CLI
 * and relay agree), and traded at the SSO portal (GetRoleCredentials) for the role's temporary
 * credentials. Those are kept until shortly before they expire and replaced behind the requests that go
 * on using them ({@linkcode TokenCache}), so a relay that runs for days follows the login for as long
 * as the login lasts; once it has ended, requests fail saying to run `aws sso login` again, which
 * relay picks up without a restart, reading the cache anew.
 */
import { writeFileAtomic } from "../config/write.ts";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { errorMessage } from "../util/error_message.ts";
import { homeFolder } from "../util/home.ts";
import { asJsonObject, type JsonObject, parseJsonObject } from "../util/json.ts";
import type { Logger } from "../util/logger.ts";
import { maskSecretsInLine } from "../util/mask.ts";
import { withoutTrailing } from "../util/without_trailing.ts";
import type { AwsCredentials, AwsCredentialSource } from "./aws_credentials.ts";
import {
  bodyExcerpt,
  fetchCredentialEndpoint,
  type IssuedToken,
  oauthErrorText,
  refusedForGood,
  TokenCache,
} from "./token_cache.ts";
import { CredentialError, isPermanentCredentialError } from "./types.ts";

/** An SSO profile's settings, as the config file gives them (aws_credentials.ts finds them). */
export interface AwsSsoProfile {
  /** The profile's name: errors name it, and `aws sso login --profile` takes it. */
  profile: string;
  /** `sso_account_id`. */
  accountId: string;
  /** `sso_role_name`. */
  roleName: string;
  /** `sso_start_url`. */
  startUrl: string;
  /** `sso_region`: where the portal and the OIDC endpoint are. */
  region: string;
  /**
   * The `[sso-session NAME]` the profile names (the current form, whose login can be refreshed);
   * `undefined` for the legacy form, with `sso_start_url` and `sso_region` in the profile itself.
   */
  session?: string;
}

export interface AwsSsoOptions {
  /** Reads an environment variable: HOME, and the endpoint overrides. */
  env: (name: string) => string | undefined;
  /** A file's text, or `undefined` when it does not exist; throws when it cannot or will not read it. */
  readFile: (path: string) => string | undefined;
  /** Replaces a file's text; atomically and keeping the file's mode unless injected. */
  writeFile?: (path: string, text: string) => Promise<void>;
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
  /** Wall-clock milliseconds: the login's and the credentials' expiry are read from it. */
  now?: () => number;
  /** Told when fetching new role credentials behind requests fails (`TokenCacheOptions.onRefreshFailed`). */
  onRefreshFailed?: (error: unknown) => void;
  /** Where a refresh of the login that failed, or could not be written back, is told. */
  logger?: Logger;
  /** The provider these credentials are for, on what `logger` is told. */
  provider?: string;
}

/**
 * From this long before the login's access token expires, it is refreshed when it can be (the AWS CLI's
 * window); until it has expired, a refresh that fails leaves it in use.
 */
const _LOGIN_REFRESH_WINDOW_MS = 15 * 60_000;

/** After a refresh of the login failed, the next waits this long (the AWS SDK for JavaScript's pause). */
const _LOGIN_REFRESH_RETRY_MS = 30_000;

/**
 * Where the AWS CLI caches an SSO login: `~/.aws/sso/cache/<sha1>.json`, the SHA-1 (hex) of the
 * sso-session's name in the current form or of the start URL in the legacy one. `undefined` with no
 * home folder.
 *
 * @example
 * ```ts
 * ssoCachePath({ session: "corp", ... }, (name) => ({ HOME: "/home/me" })[name]);
 * // "/home/me/.aws/sso/cache/<sha1 of "corp">.json"
 * ```
 */
export function ssoCachePath(
  profile: Pick<AwsSsoProfile, "session" | "startUrl">,
  env: (name: string) => string | undefined,
): string | undefined {
  const home = homeFolder(env);
  if (!home) return undefined;
  const key = createHash("sha1").update(profile.session ?? profile.startUrl, "utf8").digest("hex");
  return join(home, ".aws", "sso", "cache", `${key}.json`);
}

/**
 * Why relay could not use the profile's SSO login now, without a network call: no cached login, or one
 * that has expired and cannot be refreshed; `undefined` when it can (a login that has expired but holds
 * a refresh token counts: relay refreshes it). For `relay check`, and a warning as relay starts.
 *
 * @example
 * ```ts
 * ssoLoginProblem(profile, { env: (name) => Deno.env.get(name), readFile });
 * // 'AWS profile "dev": the SSO login expired at 2026-01-01T09:00:00Z and holds no refresh token; run `aws sso login --profile dev`'
 * ```
 */
export function ssoLoginProblem(
  profile: AwsSsoProfile,
  options: Pick<AwsSsoOptions, "env" | "readFile" | "now">,
): string | undefined {
  const now = (options.now ?? Date.now)();
  try {
    const cached = _readLogin(profile, ssoCachePath(profile, options.env), options.readFile, {
      showPath: true,
    });
    if (cached.expiresAt > now) return undefined;
    const why = _whyNotRefreshable(cached, now);
    if (why === undefined) return undefined;
    return _loginError(profile, `the SSO login expired at ${_iso(cached.expiresAt)} and ${why}`).message;
  } catch (error) {
    return errorMessage(error);
  }
}

/**
 * The temporary credentials of one SSO profile's role, fetched when first asked for and then kept until
 * 5 minutes before they expire, when new ones are fetched behind the requests that go on with the old
 * ones (see {@linkcode TokenCache}). Each fetch reads the login from the AWS CLI's cache anew, so a
 * login renewed meanwhile (`aws sso login`) is used at once.
 *
 * @example
 * ```ts
 * const source = new AwsSsoCredentials(profile, { env: (name) => Deno.env.get(name), readFile });
 * const { accessKeyId, secretAccessKey, sessionToken } = await source.credentials();
 * ```
 */
export class AwsSsoCredentials implements AwsCredentialSource {
  readonly #profile: AwsSsoProfile;
  readonly #options: AwsSsoOptions;
  readonly #now: () => number;
  readonly #cachePath: string | undefined;
  readonly #portal: string;
  readonly #oidc: string;
  readonly #roles: TokenCache<AwsCredentials>;
  /** The login as relay last refreshed it, should writing it back have failed. */
  #refreshed: _Login | undefined;
  /** No refresh of the login before this: the last one failed, as `#refreshError` says. */
  #refreshRetryAt = -Infinity;
  #refreshError: unknown;

  constructor(profile: AwsSsoProfile, options: AwsSsoOptions) {
    this.#profile = profile;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#cachePath = ssoCachePath(profile, options.env);
    this.#portal = _endpoint(
      options.env,
      "AWS_ENDPOINT_URL_SSO",
      `https://portal.sso.${profile.region}.amazonaws.com`,
    );
    this.#oidc = _endpoint(
      options.env,
      "AWS_ENDPOINT_URL_SSO_OIDC",
      `https://oidc.${profile.region}.amazonaws.com`,
    );
    this.#roles = new TokenCache(() => this.#fetchRoleCredentials(), {
      now: this.#now,
      onRefreshFailed: options.onRefreshFailed,
    });
  }

  credentials(signal?: AbortSignal): Promise<AwsCredentials> {
    return this.#roles.token(signal);
  }

  async #fetchRoleCredentials(): Promise<IssuedToken<AwsCredentials>> {
    const accessToken = await this.#accessToken();
    const { roleName, accountId } = this.#profile;
    const query = new URLSearchParams({ role_name: roleName, account_id: accountId });
    const url = `${this.#portal}/federation/credentials`;
    const answer = await _call(this.#options.fetch ?? fetch, `${url}?${query}`, {
      method: "GET",
      headers: { "x-amz-sso_bearer_token": accessToken, accept: "application/json" },
    }, [accessToken]);
    if (answer.status === 401) {
      // The login was ended (signed out, revoked) before its time.
      throw _loginError(this.#profile, `the SSO portal refused the login: ${answer.reason}`);
    }
    if (!answer.ok) {
      // A 403 (the role taken away) lasts until someone grants it again; a 429 or a 5xx passes.
      throw new CredentialError(
        `AWS profile "${this.#profile.profile}": GetRoleCredentials (${url}) for role ${roleName} in ` +
          `account ${accountId} answered ${answer.status}: ${answer.reason}`,
        refusedForGood(answer.status),
      );
    }
    const role = asJsonObject(answer.body?.roleCredentials);
    const { accessKeyId, secretAccessKey, sessionToken, expiration } = role ?? {};
    if (
      !_isText(accessKeyId) || !_isText(secretAccessKey) || !_isText(sessionToken) ||
      typeof expiration !== "number"
    ) {
      throw new Error(`GetRoleCredentials (${url}) answered ${answer.status} without roleCredentials`);
    }
    return {
      accessToken: { accessKeyId, secretAccessKey, sessionToken },
      expiresInMs: expiration - this.#now(),
    };
  }

  /** The login's access token, refreshed first when it is about to expire and can be. */
  async #accessToken(): Promise<string> {
    const now = this.#now();
    const cached = this.#readLogin();
    const login = this.#newest(cached);
    if (login.expiresAt - now > _LOGIN_REFRESH_WINDOW_MS) return login.accessToken;
    const why = _whyNotRefreshable(login, now);
    if (why === undefined && now >= this.#refreshRetryAt) {
      try {
        return (await this.#refresh(login, cached)).accessToken;
      } catch (error) {
        // Another holder of the login (a second provider on the sso-session, the AWS CLI) refreshed it at
        // the same moment: the refresh token relay sent was spent, and the cache holds the new login.
        const renewed = this.#renewedSince(login);
        if (renewed) return renewed.accessToken;
        this.#refreshRetryAt = this.#now() + _LOGIN_REFRESH_RETRY_MS;
        this.#refreshError = error;
        if (login.expiresAt <= this.#now()) {
          throw this.#refreshFailed(login, error);
        }
        this.#warn("AWS SSO login refresh failed", {
          error: errorMessage(error),
          hint: `the login serves until ${_iso(login.expiresAt)}; the refresh is tried again ` +
            `${_LOGIN_REFRESH_RETRY_MS / 1000} s on`,
        });
        return login.accessToken;
      }
    }
    if (login.expiresAt > now) return login.accessToken;
    if (why !== undefined) throw this.#expired(login, why, true);
    throw this.#refreshFailed(login, this.#refreshError);
  }

  /**
   * The error for a login that has expired; `permanent` unless the refresh that could renew it failed
   * for the OIDC endpoint's own trouble (down, slow), which the next refresh may get past.
   */
  #expired(login: _Login, why: string, permanent: boolean): CredentialError {
    const expired = `the SSO login expired at ${_iso(login.expiresAt)} and ${why}`;
    return _loginError(this.#profile, expired, permanent);
  }

  /** The error for a login that has expired after refreshing it failed with `error`. */
  #refreshFailed(login: _Login, error: unknown): CredentialError {
    return this.#expired(
      login,
      `refreshing it failed: ${errorMessage(error)}`,
      isPermanentCredentialError(error),
    );
  }

  /** The cached login; a failure says to run `aws sso login`, naming no local path (clients see it). */
  #readLogin(): _Login {
    return _readLogin(this.#profile, this.#cachePath, this.#options.readFile, { showPath: false });
  }

  /**
   * The login in the cache file when it is newer than `login` and serves beyond the refresh window: one
   * that someone else wrote since relay read `login`. `undefined` otherwise, or when it cannot be read.
   */
  #renewedSince(login: _Login): _Login | undefined {
    let cached: _Login;
    try {
      cached = this.#readLogin();
    } catch {
      return undefined;
    }
    const renewed = cached.expiresAt > login.expiresAt &&
      cached.expiresAt - this.#now() > _LOGIN_REFRESH_WINDOW_MS;
    return renewed ? cached : undefined;
  }

  /** The login in the cache file, or the one relay refreshed when it could not write that back. */
  #newest(cached: _Login): _Login {
    const refreshed = this.#refreshed;
    return refreshed && refreshed.expiresAt > cached.expiresAt ? refreshed : cached;
  }

  /**
   * Refreshes the login at the OIDC endpoint, as the AWS CLI does, and writes it back to the cache unless
   * the cache no longer holds `cached` (what it held when the refresh began): `aws sso login` or another
   * refresh wrote a login meanwhile, which is kept, and used when it serves beyond the refresh window.
   */
  async #refresh(login: _Login, cached: _Login): Promise<_Login> {
    const { clientId, clientSecret, refreshToken } = login.fields as Record<string, string>;
    const url = `${this.#oidc}/token`;
    const answer = await _call(this.#options.fetch ?? fetch, url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ clientId, clientSecret, grantType: "refresh_token", refreshToken }),
    }, [clientSecret, refreshToken]);
    if (!answer.ok) {
      // An InvalidGrantException (the refresh token revoked or spent) stands until the next login.
      throw new CredentialError(
        `SSO OIDC CreateToken (${url}) answered ${answer.status}: ${answer.reason}`,
        refusedForGood(answer.status),
      );
    }
    const { accessToken, expiresIn } = answer.body ?? {};
    if (!_isText(accessToken) || typeof expiresIn !== "number" || !(expiresIn > 0)) {
      throw new Error(
        `SSO OIDC CreateToken (${url}) answered ${answer.status} without accessToken and expiresIn`,
      );
    }
    const expiresAt = this.#now() + expiresIn * 1000;
    // As the CLI writes it: the registration kept, the refresh token the one just issued, if any.
    const { refreshToken: _used, ...kept } = login.fields;
    const fields: JsonObject = {
      ...kept,
      accessToken,
      expiresAt: _iso(expiresAt),
      ...(_isText(answer.body?.refreshToken) && { refreshToken: answer.body.refreshToken }),
    };
    const refreshed: _Login = { accessToken, expiresAt, fields };
    let onDisk: _Login | undefined;
    try {
      onDisk = this.#readLogin();
    } catch {
      // Gone or unreadable: writing it back says whether the folder takes a login.
    }
    if (onDisk && (onDisk.accessToken !== cached.accessToken || onDisk.expiresAt !== cached.expiresAt)) {
      if (onDisk.expiresAt - this.#now() > _LOGIN_REFRESH_WINDOW_MS) return onDisk;
      this.#refreshed = refreshed;
      return refreshed;
    }
    this.#refreshed = refreshed;
    try {
      await (this.#options.writeFile ?? _writeAtomically)(this.#cachePath!, JSON.stringify(fields));
    } catch (error) {
      this.#warn("AWS SSO login refreshed but not saved", {
        file: this.#cachePath,
        error: errorMessage(error),
        hint: "relay goes on with the refreshed login; the AWS CLI still has the old one",
      });
    }
    return refreshed;
  }

  #warn(message: string, fields: Record<string, string | undefined>): void {
    this.#options.logger?.warn(message, {
      provider: this.#options.provider,
      profile: this.#profile.profile,
      ...fields,
    });
  }
}

/** A cached SSO login: its access token, when that expires, and the whole record as the CLI wrote it. */
interface _Login {
  accessToken: string;
  /** Wall-clock ms. */
  expiresAt: number;
  fields: JsonObject;
}

/**
 * The profile's cached login; throws saying to run `aws sso login` when there is none to read. The cache
 * file is named only with `showPath` (for the log and `relay check`): a client's error shows no local path.
 */
function _readLogin(
  profile: AwsSsoProfile,
  path: string | undefined,
  readFile: (path: string) => string | undefined,
  { showPath }: { showPath: boolean },
): _Login {
  if (!path) throw _loginError(profile, "no home folder (HOME) to find the AWS CLI's SSO cache in");
  let text: string | undefined;
  try {
    text = readFile(path);
  } catch (error) {
    // The reason of a failed read names the file too; without it, the OS's code still says what failed
    // (relay out of file descriptors, `os error 24`, is its own trouble, for the breakers to leave be).
    const why = showPath ? ` ${path}: ${errorMessage(error)}` : ` (${_osError(error)})`;
    // Only a file relay may never read waits for a person; a busy disk or a full table may pass.
    // Deno's own refusal (a path its permissions leave out) is NotCapable, the system's PermissionDenied.
    const forGood = error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.IsADirectory;
    throw new CredentialError(
      `AWS profile "${profile.profile}": cannot read its SSO cache file${why}`,
      forGood,
    );
  }
  if (text === undefined) {
    throw _loginError(profile, `no SSO login is cached${showPath ? ` (${path} does not exist)` : ""}`);
  }
  const fields = parseJsonObject(text);
  const expiresAt = _parseTime(fields?.expiresAt);
  if (!fields || !_isText(fields.accessToken) || expiresAt === undefined) {
    const file = showPath ? path : "its SSO cache file";
    throw _loginError(profile, `${file} holds no SSO login (accessToken and expiresAt)`);
  }
  return { accessToken: fields.accessToken, expiresAt, fields };
}

/** A read error's kind and OS code without the path it names: `NotFound (os error 2)`. */
function _osError(error: unknown): string {
  const name = error instanceof Error ? error.name : "Error";
  const code = /\(os error \d+\)/.exec(errorMessage(error))?.[0];
  return code ? `${name} ${code}` : name;
}

/** Why a login cannot be refreshed; `undefined` when it can. */
function _whyNotRefreshable(login: _Login, now: number): string | undefined {
  const { refreshToken, clientId, clientSecret, registrationExpiresAt } = login.fields;
  if (!_isText(refreshToken)) return "holds no refresh token";
  if (!_isText(clientId) || !_isText(clientSecret)) return "holds no client registration to refresh it with";
  const registrationEnds = _parseTime(registrationExpiresAt);
  if (registrationEnds !== undefined && registrationEnds <= now) {
    return `its client registration expired at ${_iso(registrationEnds)}`;
  }
  return undefined;
}

/**
 * What ended a login relay cannot go on with, and the command that starts a new one: permanent (a
 * person has to run it) unless said otherwise.
 */
function _loginError(profile: AwsSsoProfile, why: string, permanent = true): CredentialError {
  return new CredentialError(
    `AWS profile "${profile.profile}": ${why}; run \`aws sso login --profile ${profile.profile}\``,
    permanent,
  );
}

/**
 * An SSO endpoint: the AWS SDKs' service-specific variable (`AWS_ENDPOINT_URL_SSO`,
 * `AWS_ENDPOINT_URL_SSO_OIDC`) unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`, else AWS's own.
 */
function _endpoint(env: (name: string) => string | undefined, variable: string, fallback: string): string {
  const ignored = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")?.toLowerCase() === "true";
  return withoutTrailing((!ignored && env(variable)) || fallback, /\//);
}

interface _Answer {
  ok: boolean;
  status: number;
  body: JsonObject | undefined;
  /** What an error answer says, `secrets` masked. */
  reason: string;
}

/**
 * One call to an SSO endpoint, whose answer is JSON, as {@linkcode fetchCredentialEndpoint} makes it
 * (no redirect followed, 30 s at most), named without its query; an error answer's reason never shows
 * `secrets`.
 */
async function _call(
  doFetch: typeof fetch,
  url: string,
  init: RequestInit,
  secrets: string[],
): Promise<_Answer> {
  const { response, text } = await fetchCredentialEndpoint(url.replace(/\?.*/, ""), url, init, {
    fetch: doFetch,
  });
  const body = parseJsonObject(text);
  const ok = response.status >= 200 && response.status <= 299;
  return { ok, status: response.status, body, reason: ok ? "" : _reason(response, body, text, secrets) };
}

/** `UnauthorizedException: Session token not found or invalid`, from AWS's JSON error shapes. */
function _reason(response: Response, body: JsonObject | undefined, text: string, secrets: string[]): string {
  // AWS's services name the error in a header (portal), OAuth's `error` in the body (OIDC).
  const type = response.headers.get("x-amzn-errortype")?.replace(/:.*/, "") ??
    (_isText(body?.error) ? body.error : undefined);
  const said = [body?.message, body?.Message, body?.error_description].find(_isText);
  // Said as an OAuth error is, `type: said`, or whichever of the two there is.
  let reason = oauthErrorText(type || undefined, said) ?? said ??
    (response.status >= 300 && response.status <= 399 ? "a redirect, which relay does not follow" : text);
  for (const secret of secrets) if (secret) reason = reason.replaceAll(secret, "***");
  // Masked as the one line it is shown as (the excerpt's own collapsing then finds nothing to do).
  return bodyExcerpt(maskSecretsInLine(reason.replace(/\s+/g, " ").trim()).text, 300);
}

/** Replaces `path`'s text as one step, so the AWS CLI never reads half of it, keeping its mode. */
async function _writeAtomically(path: string, text: string): Promise<void> {
  const { mode } = await Deno.stat(path);
  await writeFileAtomic(path, text, { mode: mode === null ? 0o600 : mode & 0o777 });
}

/** An ISO 8601 time as ms; the AWS CLI v1 wrote `UTC` where `Z` goes. */
function _parseTime(value: unknown): number | undefined {
  if (!_isText(value)) return undefined;
  const ms = Date.parse(value.replace(/UTC$/, "Z"));
  return Number.isNaN(ms) ? undefined : ms;
}

/** `2026-01-01T09:00:00Z`: the AWS CLI's own form, to the second. */
function _iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function _isText(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}
