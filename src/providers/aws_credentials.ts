/**
 * AWS credentials for SigV4, found the way the AWS CLI finds them: explicit keys, a profile's static
 * keys in the shared credentials or config file, the environment, or a profile's IAM Identity Center
 * (SSO) login, whose role credentials aws_sso.ts fetches and refreshes. Not resolved here (they take
 * running a program or calls relay does not make): `credential_process`, assumed roles (`role_arn`,
 * `source_profile`), web identity and EC2/ECS instance metadata; their profiles are refused with what
 * to do instead. Every source is injected, so tests never touch the real environment or `~/.aws`.
 */
import type { AwsConfig } from "../config/schema.ts";
import {
  awsConfigPath,
  awsCredentialsPath,
  type AwsSection,
  type AwsSharedFile,
  configProfile,
  readAwsSharedFile,
  ssoSession,
} from "./aws_config.ts";
import { AwsSsoCredentials, type AwsSsoOptions, type AwsSsoProfile, ssoLoginProblem } from "./aws_sso.ts";

/** A key pair for SigV4; `sessionToken` comes with temporary credentials. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Credentials that change while relay runs (an SSO profile's), fetched as a request needs them. */
export interface AwsCredentialSource {
  /**
   * Credentials valid for a while yet; rejects when none can be had, saying what to do, or with
   * `signal`'s reason once it aborts.
   */
  credentials(signal?: AbortSignal): Promise<AwsCredentials>;
}

/** Where {@link resolveAwsCredentials} looks, all injected. */
export interface AwsCredentialSources {
  /** The Bedrock provider's `aws:` settings. */
  config?: AwsConfig;
  /** Reads an environment variable; `undefined` when it is not set. */
  env: (name: string) => string | undefined;
  /**
   * Reads a whole text file; `undefined` when it does not exist. What it throws (a file it could not
   * read, or would not: not a regular file) fails the resolving, the file named.
   */
  readFile: (path: string) => string | undefined;
}

/** What {@linkcode awsCredentials} needs: where to look, and how an SSO profile's credentials are fetched. */
export type AwsCredentialOptions =
  & AwsCredentialSources
  & Pick<AwsSsoOptions, "fetch" | "now" | "onRefreshFailed" | "logger" | "provider">;

/**
 * The credentials {@linkcode resolveAwsCredentials} finds, ready to sign with: keys as they are, an SSO
 * profile's as an {@link AwsSsoCredentials} that fetches and refreshes them. An SSO login that cannot
 * be used now (none cached, or expired for good) is told to the logger rather than thrown: relay starts,
 * and follows the login as soon as `aws sso login` renews it.
 *
 * @example
 * ```ts
 * const credentials = awsCredentials({ config: { profile: "dev" }, env, readFile, logger, provider: "bedrock" });
 * ```
 */
export function awsCredentials(options: AwsCredentialOptions): AwsCredentials | AwsCredentialSource {
  const found = resolveAwsCredentials(options);
  if (!isAwsSsoProfile(found)) return found;
  const problem = ssoLoginProblem(found, options);
  if (problem) {
    options.logger?.warn("AWS SSO login unusable", {
      provider: options.provider,
      problem,
      hint:
        "requests to this provider fail until the login is renewed; relay reads it again on the next request",
    });
  }
  return new AwsSsoCredentials(found, options);
}

/**
 * Why the credentials {@linkcode resolveAwsCredentials} finds could not be used now, without a network
 * call: an SSO profile's login that is not cached or has expired for good ({@linkcode ssoLoginProblem});
 * `undefined` otherwise. Throws as {@linkcode resolveAwsCredentials} does. For `relay check`.
 *
 * @example
 * ```ts
 * awsLoginProblem({ config: { profile: "dev" }, env, readFile });
 * // 'AWS profile "dev": no SSO login is cached (...); run `aws sso login --profile dev`'
 * ```
 */
export function awsLoginProblem(
  sources: AwsCredentialSources & Pick<AwsSsoOptions, "now">,
): string | undefined {
  const found = resolveAwsCredentials(sources);
  return isAwsSsoProfile(found) ? ssoLoginProblem(found, sources) : undefined;
}

/**
 * Whether {@linkcode resolveAwsCredentials} found an SSO profile rather than keys.
 *
 * @example
 * ```ts
 * const found = resolveAwsCredentials(sources);
 * const credentials = isAwsSsoProfile(found) ? new AwsSsoCredentials(found, options) : found;
 * ```
 */
export function isAwsSsoProfile(found: AwsCredentials | AwsSsoProfile): found is AwsSsoProfile {
  return "roleName" in found;
}

/**
 * Resolves credentials, first match wins: `access_key_id`/`secret_access_key` in the config; the
 * config's `profile`; `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; the profile `AWS_PROFILE` names, or
 * `default`. A profile is looked up as the AWS CLI does, in the shared credentials file
 * (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`) and the config file (`AWS_CONFIG_FILE`, else
 * `~/.aws/config`, as `[profile NAME]`), its settings in botocore's order ({@linkcode _fromProfile}): an
 * SSO profile is returned as an {@link AwsSsoProfile} for aws_sso.ts to turn into credentials (nothing is
 * read from the SSO cache here). A source that was asked for explicitly (half a key pair, a
 * config profile that is not there or that relay cannot use) is an error rather than a silent
 * fall-through. Throws an `Error` naming every place it looked when nothing is found.
 *
 * @example
 * ```ts
 * const found = resolveAwsCredentials({
 *   config: { profile: "bedrock" },
 *   env: (name) => Deno.env.get(name),
 *   readFile: (path) => { try { return Deno.readTextFileSync(path); } catch { return undefined; } },
 * });
 * ```
 */
export function resolveAwsCredentials(sources: AwsCredentialSources): AwsCredentials | AwsSsoProfile {
  const { config = {}, env: rawEnv } = sources;
  // An empty variable is how shells unset things in practice; the AWS CLI ignores those too.
  const env = (name: string) => rawEnv(name) || undefined;

  const explicit = _pair(
    config.access_key_id,
    config.secret_access_key,
    config.session_token,
    "access_key_id and secret_access_key in the config",
  );
  if (explicit) return explicit;

  const files = _sharedFiles(env, sources.readFile);
  if (config.profile) {
    const found = _fromProfile(files, config.profile);
    if (found) return found;
    throw new Error(
      `AWS profile "${config.profile}" from the config: ${_whyMissing(files, config.profile, true)}`,
    );
  }

  const fromEnv = _pair(
    env("AWS_ACCESS_KEY_ID"),
    env("AWS_SECRET_ACCESS_KEY"),
    env("AWS_SESSION_TOKEN"),
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
  );
  if (fromEnv) return fromEnv;

  const profile = env("AWS_PROFILE") ?? "default";
  const found = _fromProfile(files, profile);
  if (found) return found;
  throw new Error(
    "no AWS credentials found: the config has neither access_key_id/secret_access_key nor profile, " +
      "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set, and " +
      `profile "${profile}"${env("AWS_PROFILE") ? " (AWS_PROFILE)" : ""}: ${_whyMissing(files, profile)}`,
  );
}

interface _SharedFiles {
  credentials: AwsSharedFile;
  config: AwsSharedFile;
}

function _sharedFiles(
  env: (name: string) => string | undefined,
  readFile: (path: string) => string | undefined,
): _SharedFiles {
  return {
    credentials: readAwsSharedFile(awsCredentialsPath(env), "credentials", readFile),
    config: readAwsSharedFile(awsConfigPath(env), "config", readFile),
  };
}

/**
 * What relay does with a profile it cannot take credentials from, by the setting that says what it is,
 * in the order the AWS CLI looks at them.
 */
const _UNSUPPORTED: readonly [setting: string, what: string][] = [
  ["role_arn", "assumes a role (role_arn), which relay does not do"],
  ["web_identity_token_file", "uses a web identity (web_identity_token_file), which relay does not"],
  ["credential_source", "takes credentials from instance metadata (credential_source), which relay does not"],
  ["credential_process", "runs a program for its credentials (credential_process), which relay may not"],
];

/** Settings the AWS CLI reads before a profile's SSO settings and keys: whatever else it holds is ignored. */
const _REFUSED_FIRST = _UNSUPPORTED.map(([setting]) => setting).filter((setting) =>
  setting !== "credential_process"
);

/** A profile's settings as the AWS CLI merges its two files: the credentials file's win. */
function _settingsOf(
  inCredentials: AwsSection | undefined,
  inConfig: AwsSection | undefined,
): ReadonlyMap<string, string> {
  return new Map([...inConfig ?? [], ...inCredentials ?? []]);
}

/**
 * A profile's credentials in botocore's order, so relay signs as the AWS CLI would: an assumed role or a
 * web identity (refused), the SSO role, the credentials file's keys, `credential_process` (refused), the
 * config file's keys. `undefined` for a refused profile or one with none of these ({@linkcode _whyMissing}
 * says which).
 */
function _fromProfile(files: _SharedFiles, profile: string): AwsCredentials | AwsSsoProfile | undefined {
  const inCredentials = files.credentials.sections?.get(profile);
  const inConfig = configProfile(files.config, profile);
  const merged = _settingsOf(inCredentials, inConfig);
  if (_REFUSED_FIRST.some((setting) => merged.has(setting))) return undefined;
  // botocore takes a profile for SSO by its role; a profile with only its login (`sso_session`, for `aws
  // sso login`) and keys signs with the keys.
  if (merged.has("sso_account_id") || merged.has("sso_role_name")) return _ssoProfile(files, profile, merged);
  const fromCredentials = _keysIn(inCredentials, `profile "${profile}" of ${files.credentials.path}`);
  if (fromCredentials || merged.has("credential_process")) return fromCredentials;
  return _keysIn(inConfig, `profile "${profile}" of ${files.config.path}`) ??
    _ssoProfile(files, profile, merged);
}

function _keysIn(section: AwsSection | undefined, where: string): AwsCredentials | undefined {
  if (!section) return undefined;
  return _pair(
    section.get("aws_access_key_id"),
    section.get("aws_secret_access_key"),
    section.get("aws_session_token"),
    `aws_access_key_id and aws_secret_access_key in ${where}`,
  );
}

/**
 * The profile's SSO settings, as the AWS CLI reads them: its account and role, and the start URL and
 * region of the `[sso-session]` its `sso_session` names, or (the legacy form) its own. Any `sso_*`
 * setting makes it an SSO profile here: `undefined` for a profile with none at all; throws naming what is
 * missing for one that has some but not all (a login-only profile with just `sso_session` included).
 */
function _ssoProfile(
  files: _SharedFiles,
  profile: string,
  settings: AwsSection,
): AwsSsoProfile | undefined {
  if (![...settings.keys()].some((key) => key.startsWith("sso_"))) return undefined;
  const where = `AWS profile "${profile}"`;
  const sessionName = settings.get("sso_session");
  let resolved = settings;
  if (sessionName !== undefined) {
    const session = ssoSession(files.config, sessionName);
    if (!session) {
      throw new Error(
        `${where} names sso_session "${sessionName}", but ${
          files.config.path ?? "the config file"
        } has no [sso-session ${sessionName}] section`,
      );
    }
    for (const [key, value] of session) {
      const own = settings.get(key);
      if (own !== undefined && own !== value) {
        throw new Error(`${where}: ${key} is ${own} there but ${value} in [sso-session ${sessionName}]`);
      }
    }
    resolved = new Map([...settings, ...session]);
  }
  const required = ["sso_start_url", "sso_region", "sso_account_id", "sso_role_name"];
  const missing = required.filter((key) => !resolved.get(key));
  if (missing.length > 0) {
    throw new Error(`${where} is set up for SSO but has no ${missing.join(", ")}`);
  }
  return {
    profile,
    accountId: resolved.get("sso_account_id")!,
    roleName: resolved.get("sso_role_name")!,
    startUrl: resolved.get("sso_start_url")!,
    region: resolved.get("sso_region")!,
    ...(sessionName !== undefined && { session: sessionName }),
  };
}

function _whyMissing(files: _SharedFiles, profile: string, fromConfig = false): string {
  const inCredentials = files.credentials.sections?.get(profile);
  const inConfig = configProfile(files.config, profile);
  if (!inCredentials && !inConfig) {
    return `${
      _whereMissing(files.credentials, `[${profile}]`, "credentials file", "AWS_SHARED_CREDENTIALS_FILE")
    }; ${_whereMissing(files.config, _configSection(profile), "config file", "AWS_CONFIG_FILE")}`;
  }
  const settings = _settingsOf(inCredentials, inConfig);
  const where = [inCredentials && files.credentials.path, inConfig && files.config.path].filter(Boolean).join(
    " and ",
  );
  const unsupported = _UNSUPPORTED.find(([setting]) => settings.has(setting));
  if (unsupported) {
    return `it ${unsupported[1]} (in ${where}); export its credentials before starting relay: ` +
      `eval "$(aws configure export-credentials --profile ${profile} --format env)"` +
      `${fromConfig ? ", with no profile in the provider's aws: block" : ""}, and again when they expire`;
  }
  return `[${profile}] in ${where} has no aws_access_key_id/aws_secret_access_key and no SSO settings ` +
    "(sso_session or sso_start_url, sso_account_id, sso_role_name)";
}

function _configSection(profile: string): string {
  return profile === "default" ? "[default]" : `[profile ${profile}]`;
}

function _whereMissing(file: AwsSharedFile, section: string, what: string, variable: string): string {
  if (!file.path) return `no ${what} (neither ${variable} nor HOME is set)`;
  if (!file.sections) return `${file.path} does not exist`;
  return `no ${section} section in ${file.path}`;
}

/** Both halves or neither; half a pair means a typo the user should hear about. */
function _pair(
  accessKeyId: string | undefined,
  secretAccessKey: string | undefined,
  sessionToken: string | undefined,
  what: string,
): AwsCredentials | undefined {
  if (!accessKeyId && !secretAccessKey) return undefined;
  if (!accessKeyId || !secretAccessKey) throw new Error(`${what}: only one of the two is set`);
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}
