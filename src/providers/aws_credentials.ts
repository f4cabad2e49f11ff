/**
 * Static AWS credentials for SigV4, found the way the AWS CLI finds them, minus the parts that need a
 * network (SSO, assumed roles, instance metadata): explicit keys, then a profile in the shared
 * credentials file, then the environment. Every source is injected, so tests never touch the real
 * environment or `~/.aws`.
 */
import { join } from "node:path";
import { expandHome, homeFolder } from "../util/home.ts";
import type { AwsConfig } from "../config/schema.ts";
import { errorMessage } from "../util/error_message.ts";

/** A key pair for SigV4; `sessionToken` comes with temporary credentials. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
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

/**
 * Resolves credentials, first match wins: `access_key_id`/`secret_access_key` in the config; the
 * config's `profile` from the shared credentials file; `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`;
 * the profile `AWS_PROFILE` names, or `default`, from that file. The file is
 * `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`. A source that was asked for explicitly
 * (half a key pair, a config profile that is not there) is an error rather than a silent fall-through.
 * Throws an `Error` naming every place it looked when nothing is found.
 *
 * @example
 * ```ts
 * const credentials = resolveAwsCredentials({
 *   config: { profile: "bedrock" },
 *   env: (name) => Deno.env.get(name),
 *   readFile: (path) => { try { return Deno.readTextFileSync(path); } catch { return undefined; } },
 * });
 * ```
 */
export function resolveAwsCredentials(sources: AwsCredentialSources): AwsCredentials {
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

  const file = _credentialsFile(env, sources.readFile);
  if (config.profile) {
    const found = _fromProfile(file, config.profile);
    if (found) return found;
    throw new Error(`AWS profile "${config.profile}" from the config: ${_whyMissing(file, config.profile)}`);
  }

  const fromEnv = _pair(
    env("AWS_ACCESS_KEY_ID"),
    env("AWS_SECRET_ACCESS_KEY"),
    env("AWS_SESSION_TOKEN"),
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
  );
  if (fromEnv) return fromEnv;

  const profile = env("AWS_PROFILE") ?? "default";
  const found = _fromProfile(file, profile);
  if (found) return found;
  throw new Error(
    "no AWS credentials found: the config has neither access_key_id/secret_access_key nor profile, " +
      "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set, and " +
      `profile "${profile}"${env("AWS_PROFILE") ? " (AWS_PROFILE)" : ""}: ${_whyMissing(file, profile)}`,
  );
}

interface _CredentialsFile {
  /** `undefined` when neither AWS_SHARED_CREDENTIALS_FILE nor HOME says where it is. */
  path?: string;
  /** `undefined` when the file does not exist. */
  sections?: Map<string, Map<string, string>>;
}

/**
 * Where the shared credentials file is, as the AWS CLI finds it: `AWS_SHARED_CREDENTIALS_FILE` (a leading
 * `~/` read as the home folder), else `~/.aws/credentials`; `undefined` when neither says where. One
 * answer for the Bedrock provider and for `relay init`, which lists the file's profiles.
 *
 * @example
 * ```ts
 * awsCredentialsPath((name) => ({ HOME: "/home/me", AWS_SHARED_CREDENTIALS_FILE: "~/aws/creds" })[name]);
 * // "/home/me/aws/creds"
 * ```
 */
export function awsCredentialsPath(env: (name: string) => string | undefined): string | undefined {
  const home = homeFolder(env);
  const configured = env("AWS_SHARED_CREDENTIALS_FILE");
  if (configured) return expandHome(configured, home) ?? configured;
  return home && join(home, ".aws", "credentials");
}

function _credentialsFile(
  env: (name: string) => string | undefined,
  readFile: (path: string) => string | undefined,
): _CredentialsFile {
  const path = awsCredentialsPath(env);
  if (!path) return {};
  let text: string | undefined;
  try {
    text = readFile(path);
  } catch (error) {
    throw new Error(`cannot read AWS credentials file ${path}: ${errorMessage(error)}`);
  }
  return { path, sections: text === undefined ? undefined : _parseIni(text) };
}

function _fromProfile(file: _CredentialsFile, profile: string): AwsCredentials | undefined {
  const section = file.sections?.get(profile);
  if (!section) return undefined;
  return _pair(
    section.get("aws_access_key_id"),
    section.get("aws_secret_access_key"),
    section.get("aws_session_token"),
    `aws_access_key_id and aws_secret_access_key in profile "${profile}" of ${file.path}`,
  );
}

function _whyMissing(file: _CredentialsFile, profile: string): string {
  if (!file.path) return "no credentials file (neither AWS_SHARED_CREDENTIALS_FILE nor HOME is set)";
  if (!file.sections) return `${file.path} does not exist`;
  const section = file.sections.get(profile);
  if (!section) return `no [${profile}] section in ${file.path}`;
  // SSO and role profiles carry no keys; resolving them takes AWS calls relay does not make.
  return `[${profile}] in ${file.path} has no aws_access_key_id/aws_secret_access_key (only static keys are supported)`;
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

/**
 * The INI dialect of `~/.aws/credentials`: `[name]` sections, `key = value` lines, whole-line `#` and
 * `;` comments. Keys are lowercased and a `#` after a value is part of it, as in the AWS CLI's parser.
 */
function _parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n|\r/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (header) {
      current = sections.get(header[1]) ?? new Map();
      sections.set(header[1], current);
      continue;
    }
    const equals = line.indexOf("=");
    if (current && equals > 0) {
      current.set(line.slice(0, equals).trim().toLowerCase(), line.slice(equals + 1).trim());
    }
  }
  return sections;
}
