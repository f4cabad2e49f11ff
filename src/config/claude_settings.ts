import { join } from "node:path";
import { isJsonObject } from "../util/json.ts";
import type { EnvLookup } from "./env_expand.ts";
import { ConfigError } from "./errors.ts";
import { unreadableFileError } from "./file_mode.ts";

/** One variable of Claude Code's `env` block that a merge sets; `before` is absent for a new one. */
export interface SettingsChange {
  name: string;
  before?: string;
  after: string;
}

/** A merged settings file and what the merge changed (variables already right are not listed). */
export interface MergedSettings {
  text: string;
  changes: SettingsChange[];
  /**
   * Model variables relay env sets for some configs that the file sets and `vars` does not: an earlier
   * config's, maybe, which Claude Code would still ask for. Kept (they may be the user's own choice),
   * and told of.
   */
  otherModels: { name: string; value: string }[];
}

/** The variables by which relay env points Claude Code at a config's model names. */
const _MODEL_VARS = [
  "ANTHROPIC_MODEL",
  "ANTHROPIC_DEFAULT_OPUS_MODEL",
  "ANTHROPIC_DEFAULT_SONNET_MODEL",
  "ANTHROPIC_DEFAULT_HAIKU_MODEL",
] as const;

/**
 * Where Claude Code keeps its user settings: `$CLAUDE_CONFIG_DIR/settings.json`, else
 * `~/.claude/settings.json`; `undefined` with neither that variable nor a home folder.
 *
 * @example
 * ```ts
 * claudeSettingsPath(() => undefined, "/home/me"); // "/home/me/.claude/settings.json"
 * ```
 */
export function claudeSettingsPath(env: EnvLookup, home: string | undefined): string | undefined {
  const folder = env("CLAUDE_CONFIG_DIR") || (home === undefined ? undefined : join(home, ".claude"));
  return folder === undefined ? undefined : join(folder, "settings.json");
}

/** Claude Code's settings file as it is now. */
export interface ClaudeSettingsFile {
  text: string;
  /** Its permission bits, for the file that replaces it. */
  mode: number;
}

/**
 * Reads Claude Code's settings file: `undefined` when there is none yet. Throws `ConfigError` when it
 * exists but cannot be read, or is not UTF-8 (decoding it lossily and writing it back would corrupt
 * it), so a file relay cannot read is never overwritten.
 *
 * @example
 * ```ts
 * const existing = await readClaudeSettings(claudeSettingsPath(env, home)!);
 * const { text } = mergeClaudeSettings(existing?.text, vars, path);
 * ```
 */
export async function readClaudeSettings(path: string): Promise<ClaudeSettingsFile | undefined> {
  let bytes: Uint8Array;
  let mode: number;
  try {
    bytes = await Deno.readFile(path);
    mode = ((await Deno.stat(path)).mode ?? 0o600) & 0o777;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw unreadableFileError(path, error);
  }
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), mode };
  } catch {
    throw new ConfigError(path, [{ message: `${path} is not valid UTF-8, so relay leaves it alone` }]);
  }
}

/**
 * Sets `vars` in the `env` block of Claude Code's settings JSON (`existing`, or none yet), keeping
 * every other key and variable as it was. Pure: the caller decides whether changing a variable that
 * already had another value needs asking. Throws `ConfigError` when the file is not a JSON object, so
 * a settings file relay cannot read is never overwritten.
 *
 * @example
 * ```ts
 * const { text, changes } = mergeClaudeSettings('{"theme":"dark"}', { ANTHROPIC_BASE_URL: "http://127.0.0.1:8787" }, path);
 * // text: {"theme":"dark","env":{"ANTHROPIC_BASE_URL":"http://127.0.0.1:8787"}} (indented)
 * ```
 */
export function mergeClaudeSettings(
  existing: string | undefined,
  vars: Record<string, string>,
  path: string,
): MergedSettings {
  const settings = existing === undefined || existing.trim() === "" ? {} : _parse(existing, path);
  const env = settings.env ?? {};
  if (!isJsonObject(env)) {
    throw new ConfigError(path, [{
      message: `${path}: "env" is not an object, so relay leaves the file alone`,
    }]);
  }
  const changes: SettingsChange[] = [];
  for (const [name, after] of Object.entries(vars)) {
    const before = env[name];
    if (before === after) continue;
    changes.push(before === undefined ? { name, after } : { name, before: String(before), after });
    env[name] = after;
  }
  const otherModels = _MODEL_VARS.filter((name) => env[name] !== undefined && !(name in vars))
    .map((name) => ({ name, value: String(env[name]) }));
  return { text: `${JSON.stringify({ ...settings, env }, null, 2)}\n`, changes, otherModels };
}

function _parse(text: string, path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [{
      message: `${path} is not valid JSON (${(error as Error).message}), so relay leaves it alone`,
    }]);
  }
  if (!isJsonObject(parsed)) {
    throw new ConfigError(path, [{
      message: `${path} does not hold a JSON object, so relay leaves it alone`,
    }]);
  }
  return parsed;
}
