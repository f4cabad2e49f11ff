/**
 * What one run of `relay init` knows before it asks anything: its flags, the file it will write (and
 * what that file holds now), and what this machine already has set up.
 */
import { join } from "node:path";
import { type ConfigSetup, readSetup } from "../../config/edit.ts";
import type { EnvLookup } from "../../config/env_expand.ts";
import { ConfigError } from "../../config/errors.ts";
import { unreadableFileError } from "../../config/file_mode.ts";
import { type ConfigSource, findConfigPath, isFile, noHomeError } from "../../config/find.ts";
import { homeFolder } from "../../util/home.ts";
import { decodeConfigText } from "../../config/load.ts";
import { canPrompt, plainReporter, type Prompter, type Reporter, terminalPrompter } from "../_prompts.ts";
import { offeredKinds } from "./providers.ts";
import { awsConfigPath, awsCredentialsPath, readAwsSharedFile } from "../../providers/aws_config.ts";
import { resolveAwsCredentials } from "../../providers/aws_credentials.ts";
import { systemEnvironment } from "../../providers/registry.ts";
import { BOM_TEXT, startsWithBom } from "../../util/bytes.ts";

/** The flags of `relay init`, as commander parses them. */
export interface InitOptions {
  config?: string;
  provider?: string[];
  key?: string[];
  baseUrl?: string[];
  region?: string[];
  project?: string[];
  awsProfile?: string[];
  credentialsFile?: string[];
  model?: string[];
  strategy?: string;
  port?: string;
  token?: string;
  newToken?: true;
  validate?: boolean;
  yes?: true;
}

/** One run's state, passed to every question; questions note there the flags that are missing or wrong. */
export interface InitContext {
  env: EnvLookup;
  /** The folder relay init runs in, which a path answered is read from. */
  cwd: string;
  path: string;
  source: ConfigSource;
  /** The file's text when it exists: it is edited, not overwritten. */
  existing?: string;
  before: ConfigSetup;
  awsProfiles: string[];
  /** Set when a person is there to ask. */
  prompter?: Prompter;
  out: Reporter;
  yes: boolean;
  /** Flags a non-interactive run needed but did not get. */
  missing: Set<string>;
  /** Flags given with values that cannot be used. */
  invalid: string[];
  signal: AbortSignal;
}

/** Finds the file to write, reads it, and opens the terminal when there is one to ask at. */
export async function loadContext(options: InitOptions, signal: AbortSignal): Promise<InitContext> {
  const env: EnvLookup = (name) => Deno.env.get(name);
  const home = homeFolder(env);
  const cwd = Deno.cwd();
  const inCwd = join(cwd, "relay.yaml");
  // Counting every candidate but ./relay.yaml as present makes the XDG path the fallback, so the file
  // written is the one relay will find.
  const { path, source } = findConfigPath({
    flag: options.config,
    env,
    cwd,
    home,
    exists: (candidate) => candidate !== inCwd || isFile(candidate),
  }) ?? _noPlace();
  const existing = await _readExisting(path);
  const prompter = !options.yes && canPrompt() ? await terminalPrompter(signal) : undefined;
  return {
    env,
    cwd,
    path,
    source,
    existing,
    before: existing === undefined ? { providers: [] } : readSetup(existing, path),
    awsProfiles: _awsProfiles(env),
    prompter,
    out: prompter ?? plainReporter,
    yes: options.yes === true,
    missing: new Set(),
    invalid: [],
    signal,
  };
}

/** What this machine already has that relay could use, shown before the first question. */
export function listFindings(context: InitContext): string[] {
  const findings = offeredKinds().flatMap((kind) => kind.found?.(context) ?? []);
  if (context.existing !== undefined) {
    findings.unshift(`${context.path}: it will be edited, not overwritten (a backup is kept)`);
  }
  return findings;
}

/** Only with no home and no `$XDG_CONFIG_HOME` is there no file to write: relay would write under `/`. */
function _noPlace(): never {
  throw noHomeError(
    "relay.yaml (~/.config/relay/relay.yaml)",
    "set $XDG_CONFIG_HOME, or name the file: --config PATH",
  );
}

/**
 * The profiles relay can use, found where the Bedrock provider finds them: the sections of the shared
 * credentials file (static keys), then the `[default]` and `[profile NAME]` sections of the config file
 * (static keys or an SSO login), each once. Those it would refuse (an assumed role, `credential_process`,
 * no credentials at all) are left out: offering them would only make a config `relay serve` rejects.
 */
function _awsProfiles(env: EnvLookup): string[] {
  // Each file is read once: for its sections here, then for every profile resolved from it.
  const read = new Map<string, string | undefined>();
  const readFile = (path: string) => {
    if (!read.has(path)) read.set(path, systemEnvironment.readFile(path));
    return read.get(path);
  };
  const credentials = _sectionsOf(awsCredentialsPath(env), "credentials", readFile);
  const config = _sectionsOf(awsConfigPath(env), "config", readFile).flatMap((section) => {
    if (section === "default") return [section];
    const profile = /^profile\s+(.+)$/.exec(section);
    return profile ? [profile[1]] : [];
  });
  return [...new Set([...credentials, ...config])].filter((profile) => {
    try {
      resolveAwsCredentials({ config: { profile }, env, readFile });
      return true;
    } catch {
      return false;
    }
  });
}

/** The section names of an AWS shared file; none when there is no file to read. */
function _sectionsOf(
  path: string | undefined,
  what: "credentials" | "config",
  readFile: (path: string) => string | undefined,
): string[] {
  try {
    return [...readAwsSharedFile(path, what, readFile).sections?.keys() ?? []];
  } catch {
    return [];
  }
}

async function _readExisting(path: string): Promise<string | undefined> {
  let bytes: Uint8Array;
  try {
    if (!(await Deno.stat(path)).isFile) {
      throw new ConfigError(path, [{ message: `${path} is not a regular file` }]);
    }
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof ConfigError) throw error;
    throw unreadableFileError(path, error);
  }
  // Strictly: a file with bytes that are not UTF-8 would be written back with replacement characters.
  const text = decodeConfigText(bytes, path);
  // Decoding drops a byte-order mark; the text keeps it, so the file is written back with it.
  return startsWithBom(bytes) ? BOM_TEXT + text : text;
}
