/**
 * The AWS CLI's two shared files as relay reads them: the credentials file (`[NAME]` sections) and the
 * config file (`[default]`, `[profile NAME]` and `[sso-session NAME]` sections), in the INI dialect both
 * share. Where each is and what it holds; what a profile's settings mean is aws_credentials.ts's.
 */
import { join } from "node:path";
import { expandHome, homeFolder } from "../util/home.ts";
import { errorMessage } from "../util/error_message.ts";

/** One section's settings, keys lowercased. */
export type AwsSection = ReadonlyMap<string, string>;

/** One of the shared files, as found. */
export interface AwsSharedFile {
  /** `undefined` when neither its variable nor HOME says where it is. */
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
  return _sharedPath(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
}

/**
 * Where the shared config file is, as the AWS CLI finds it: `AWS_CONFIG_FILE` (a leading `~/` read as
 * the home folder), else `~/.aws/config`; `undefined` when neither says where.
 *
 * @example
 * ```ts
 * awsConfigPath((name) => ({ HOME: "/home/me" })[name]); // "/home/me/.aws/config"
 * ```
 */
export function awsConfigPath(env: (name: string) => string | undefined): string | undefined {
  return _sharedPath(env, "AWS_CONFIG_FILE", "config");
}

function _sharedPath(
  env: (name: string) => string | undefined,
  variable: string,
  name: string,
): string | undefined {
  const home = homeFolder(env);
  const configured = env(variable);
  if (configured) return expandHome(configured, home) ?? configured;
  return home && join(home, ".aws", name);
}

/**
 * Reads one shared file at `path` (what {@linkcode awsCredentialsPath} or {@linkcode awsConfigPath}
 * said); `readFile` answers `undefined` for a file that does not exist and throws for one it cannot or
 * will not read, which is thrown on with the file named.
 */
export function readAwsSharedFile(
  path: string | undefined,
  what: "credentials" | "config",
  readFile: (path: string) => string | undefined,
): AwsSharedFile {
  if (!path) return {};
  let text: string | undefined;
  try {
    text = readFile(path);
  } catch (error) {
    throw new Error(`cannot read AWS ${what} file ${path}: ${errorMessage(error)}`);
  }
  return { path, sections: text === undefined ? undefined : parseAwsIni(text) };
}

/**
 * A profile's section in the config file: `[profile NAME]`, or `[default]` for `default`, where the AWS
 * CLI also takes `[profile default]`. A bare `[NAME]` there is no profile to the CLI, nor to relay.
 */
export function configProfile(file: AwsSharedFile, profile: string): AwsSection | undefined {
  const named = file.sections?.get(`profile ${profile}`);
  return profile === "default" ? named ?? file.sections?.get("default") : named;
}

/** An `[sso-session NAME]` section of the config file. */
export function ssoSession(file: AwsSharedFile, name: string): AwsSection | undefined {
  return file.sections?.get(`sso-session ${name}`);
}

/**
 * The INI dialect of the AWS shared files: `[name]` sections, `key = value` lines, whole-line `#` and
 * `;` comments. Keys are lowercased and a `#` after a value is part of it, as in the AWS CLI's parser;
 * a section's name keeps its inner spaces (`[profile work]`), its outer ones trimmed. The indented
 * lines of a nested value (`services`, `s3 =`) are read as settings of their own and never consulted.
 *
 * @example
 * ```ts
 * parseAwsIni("[profile dev]\nsso_session = corp\n").get("profile dev")?.get("sso_session"); // "corp"
 * ```
 */
export function parseAwsIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n|\r/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = _sectionName(line);
    if (header !== undefined) {
      // `[profile  dev]` is `profile dev` to the CLI too.
      const name = header.replace(/\s+/g, " ");
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      continue;
    }
    const equals = line.indexOf("=");
    if (current && equals > 0) {
      current.set(line.slice(0, equals).trim().toLowerCase(), line.slice(equals + 1).trim());
    }
  }
  return sections;
}

/**
 * The name a (trimmed) line gives its section, `[ name ]`, trimmed; `undefined` if it is no header.
 * Exactly what `/^\[\s*(.+?)\s*\]$/` captured, without the backtracking that made that pattern cubic
 * in a run of spaces after a `[` that no `]` ends (18 s for 4,000 of them).
 */
function _sectionName(line: string): string | undefined {
  if (line.length < 3 || !line.startsWith("[") || !line.endsWith("]")) return undefined;
  const inside = line.slice(1, -1);
  // `trim` drops just what `\s` matches.
  const name = inside.trim();
  // The pattern's `.` matched no line separator (U+2028, U+2029): a name lies on one line.
  if (name !== "") return _LINE_BREAK.test(name) ? undefined : name;
  // Only white space inside: the pattern made the last character that is no line separator the name.
  for (let at = inside.length - 1; at >= 0; at--) {
    if (!_LINE_BREAK.test(inside[at])) return inside[at];
  }
  return undefined;
}

const _LINE_BREAK = /[\n\r\u2028\u2029]/;
