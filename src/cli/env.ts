import { Command, Option } from "@commander-js/extra-typings";
import { z } from "zod";
import {
  type ClaudeSettingsFile,
  claudeSettingsPath,
  mergeClaudeSettings,
  readClaudeSettings,
  type SettingsChange,
} from "../config/claude_settings.ts";
import { relayUrl } from "../config/client_url.ts";
import type { EnvLookup } from "../config/env_expand.ts";
import { ConfigError } from "../config/errors.ts";
import { CONFIG_SEARCH, noHomeError } from "../config/find.ts";
import { homeFolder } from "../util/home.ts";
import { readFieldsDespite } from "../config/read_despite.ts";
import { resolveConfig } from "../config/resolve.ts";
import { configSchema } from "../config/schema.ts";
import type { Locator } from "../config/yaml_document.ts";
import { writeFileAtomic } from "../config/write.ts";
import { errorMessage } from "../util/error_message.ts";
import { maskSecret } from "../util/mask.ts";
import { type Shell, shellQuote } from "../util/shell_quote.ts";
import { terminalSafeJson } from "../util/visible.ts";
import { reportConfigError } from "./_config_error.ts";
import { Cancelled, canPrompt, terminalPrompter } from "./_prompts.ts";

/**
 * `relay env`: the environment that points Claude Code at relay, as shell exports, JSON, or merged
 * into Claude Code's settings file.
 */
export function envCommand(setExitCode: (code: number) => void) {
  return new Command("env")
    .description('print the environment that points Claude Code at relay (eval "$(relay env)")')
    .option(
      "-c, --config <path>",
      `config file (default: ${CONFIG_SEARCH})`,
    )
    .addOption(
      new Option("--shell <shell>", "syntax of the exports").choices(["posix", "fish"]).default("posix"),
    )
    .option("--json", "print the variables as a JSON object instead")
    .option(
      "--claude-settings [path]",
      "write them into the env block of Claude Code's settings (default: ${CLAUDE_CONFIG_DIR:-~/.claude}/settings.json)",
    )
    .option("-y, --yes", "with --claude-settings: replace variables the file already sets, without asking")
    .action(async (options) => setExitCode(await _env(options)));
}

interface _EnvOptions {
  config?: string;
  shell: Shell;
  json?: boolean;
  claudeSettings?: string | true;
  yes?: boolean;
}

/**
 * What `relay env` reads of a config: where relay listens, the client tokens and the providers'
 * `models:` tables (their names only); a whole `Config` is one.
 */
export interface EnvFields {
  server: { host: string; port: number; auth: { tokens: string[] } };
  providers: { models?: Record<string, unknown> }[];
}

/**
 * What `ANTHROPIC_AUTH_TOKEN` is for a relay without client tokens, which takes any credential and
 * never sends one on: Claude Code without a login of its own will not start without one ("Not logged
 * in").
 */
export const NO_CLIENT_TOKEN = "relay-takes-any-token";

/**
 * The variables Claude Code needs to go through relay: `ANTHROPIC_BASE_URL`, `ANTHROPIC_AUTH_TOKEN`
 * (the config's first client token, or {@linkcode NO_CLIENT_TOKEN} when it has none), and, when the
 * `models:` tables name models exactly, `ANTHROPIC_MODEL` and the
 * `ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL` aliases, since Claude Code's own dated model ids would
 * not match such names; when every provider serves exact names only, a family none of them names is
 * aliased to the main model, and otherwise the main model is set only to a sonnet or opus named.
 *
 * @example
 * ```ts
 * claudeCodeEnv(config);
 * // { ANTHROPIC_BASE_URL: "http://127.0.0.1:8787", ANTHROPIC_AUTH_TOKEN: "rly_..." }
 * ```
 */
export function claudeCodeEnv(config: EnvFields): Record<string, string> {
  const vars: Record<string, string> = { ANTHROPIC_BASE_URL: relayUrl(config.server) };
  vars.ANTHROPIC_AUTH_TOKEN = config.server.auth.tokens[0] || NO_CLIENT_TOKEN;
  const names = config.providers.flatMap((provider) => Object.keys(provider.models ?? {}))
    .filter((name) => !name.includes("*"));
  const family = (word: string) => names.find((name) => name.toLowerCase().includes(word));
  const [opus, sonnet, haiku] = [family("opus"), family("sonnet"), family("haiku")];
  const exactOnly = config.providers.every((provider) =>
    provider.models && !Object.keys(provider.models).some((name) => name.includes("*"))
  );
  // Where a provider serves names beyond its table, it serves Claude Code's own ids: the main model a
  // session codes with is set only to a sonnet or opus named, never to a haiku or another named model.
  const main = exactOnly ? sonnet ?? opus ?? haiku ?? names[0] : sonnet ?? opus;
  if (main) vars.ANTHROPIC_MODEL = main;
  // When every provider serves exact names only, Claude Code's own ids of a family none of them names
  // (its haiku for side tasks and subagents) would be a 404: they go to the main model instead.
  const fallback = exactOnly ? main : undefined;
  const [opusAlias, sonnetAlias, haikuAlias] = [opus ?? fallback, sonnet ?? fallback, haiku ?? fallback];
  if (opusAlias) vars.ANTHROPIC_DEFAULT_OPUS_MODEL = opusAlias;
  if (sonnetAlias) vars.ANTHROPIC_DEFAULT_SONNET_MODEL = sonnetAlias;
  if (haikuAlias) vars.ANTHROPIC_DEFAULT_HAIKU_MODEL = haikuAlias;
  return vars;
}

/**
 * Shell lines that set `vars`, values quoted only where the shell would otherwise read them.
 *
 * @example
 * ```ts
 * formatExports({ ANTHROPIC_BASE_URL: "http://127.0.0.1:8787" }, "posix");
 * // "export ANTHROPIC_BASE_URL=http://127.0.0.1:8787"
 * ```
 */
export function formatExports(vars: Record<string, string>, shell: Shell): string {
  return Object.entries(vars).map(([name, value]) =>
    shell === "fish"
      ? `set -gx ${name} ${shellQuote(value, shell)}`
      : `export ${name}=${shellQuote(value, shell)}`
  ).join("\n");
}

async function _env(options: _EnvOptions): Promise<number> {
  let vars: Record<string, string>;
  try {
    const { fields, file, locate } = await _envFields(options.config);
    if (fields.server.port === 0) {
      throw new ConfigError(file, [{
        path: "server.port",
        ...locate?.(["server", "port"]),
        message: "is 0 (any free port), so there is no fixed URL to give Claude Code: set a port",
      }]);
    }
    vars = claudeCodeEnv(fields);
  } catch (error) {
    return reportConfigError(error);
  }
  if (options.claudeSettings !== undefined) {
    let path = options.claudeSettings;
    if (typeof path !== "string") {
      try {
        path = _defaultSettingsPath((name) => Deno.env.get(name));
      } catch (error) {
        return reportConfigError(error);
      }
    }
    return await _writeClaudeSettings(path, vars, options.yes === true);
  }
  if (vars.ANTHROPIC_AUTH_TOKEN === NO_CLIENT_TOKEN) {
    console.error("note: the config has no server.auth.tokens, so relay takes any client credential");
  }
  console.log(options.json ? terminalSafeJson(vars, 2) : formatExports(vars, options.shell));
  return 0;
}

/**
 * The {@linkcode EnvFields} of the config relay would load, and where they came from. Of a file that
 * does not load only these are read, the file's error printed as a note: a provider key's `${VAR}` that
 * only relay's environment sets is not Claude Code's business, nor, on the built-in defaults, a
 * `$ANTHROPIC_API_KEY` relay cannot send. Throws the file's `ConfigError` when one of them cannot be
 * read (a client token's `${VAR}`).
 */
async function _envFields(
  flag: string | undefined,
): Promise<{ fields: EnvFields; file: string; locate?: Locator }> {
  try {
    const resolved = await resolveConfig({ flag, usesProviders: false });
    // stdout may be eval'ed, so everything meant for a person goes to stderr.
    if (resolved.banner) console.error(resolved.banner);
    for (const warning of resolved.warnings) console.error(`warning: ${warning}`);
    return { fields: resolved.config, file: resolved.path ?? "config", locate: resolved.locate };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const read = await readFieldsDespite(error);
    const server = configSchema.shape.server.unwrap().shape;
    const host = read(["server", "host"], server.host);
    const port = read(["server", "port"], server.port);
    const auth = read(["server", "auth"], server.auth);
    const providers = read(["providers"], _MODEL_TABLES);
    if (!host || !port || !auth || !providers) throw error;
    console.error(
      `note: ${error.file} does not load, so relay env read only server.host, server.port, ` +
        `server.auth and the models tables from it:\n${error.message}`,
    );
    const fields = {
      server: { host: host.value, port: port.value, auth: auth.value },
      providers: providers.value,
    };
    return { fields, file: error.file };
  }
}

/**
 * Claude Code's settings file when `--claude-settings` names none. Throws `ConfigError` when only a home
 * folder could say where it is and there is none: relay would write `/.claude/settings.json`.
 */
function _defaultSettingsPath(env: EnvLookup): string {
  const path = claudeSettingsPath(env, homeFolder(env));
  if (path !== undefined) return path;
  throw noHomeError(
    "Claude Code's settings (~/.claude/settings.json)",
    "set $CLAUDE_CONFIG_DIR, or name the file: --claude-settings PATH",
  );
}

// Each provider's `models:` table and nothing else of it: the names are all relay env needs.
const _MODEL_TABLES = z.array(z.object({ models: z.record(z.string(), z.unknown()).optional() }));

async function _writeClaudeSettings(
  path: string,
  vars: Record<string, string>,
  yes: boolean,
): Promise<number> {
  let existing: ClaudeSettingsFile | undefined;
  let merged;
  try {
    existing = await readClaudeSettings(path);
    merged = mergeClaudeSettings(existing?.text, vars, path);
  } catch (error) {
    return reportConfigError(error);
  }
  if (merged.otherModels.length > 0) {
    // relay env sets none of these for this config: an earlier one's would send Claude Code to names
    // relay may no longer serve.
    const list = merged.otherModels.map(({ name, value }) => `${name}=${value}`).join(", ");
    console.error(
      `note: ${path} also sets ${list}, which relay env does not set for this config: ` +
        "remove them if an earlier relay env put them there",
    );
  }
  const mode = _settingsMode(existing?.mode, vars.ANTHROPIC_AUTH_TOKEN !== NO_CLIENT_TOKEN);
  if (merged.changes.length === 0) {
    // An earlier relay may have put the token in and left the file readable to others.
    try {
      if (mode !== existing?.mode) await Deno.chmod(path, mode);
    } catch (error) {
      const message = `cannot make ${path} private: ${errorMessage(error)}`;
      return reportConfigError(new ConfigError(path, [{ message }]));
    }
    _noteTightened(path, existing?.mode, mode);
    console.log(`${path} already points Claude Code at relay: nothing to change.`);
    return 0;
  }
  const replaced = merged.changes.filter((change) => change.before !== undefined);
  if (replaced.length > 0 && !yes) {
    const list = replaced.map(_describe).join("\n  ");
    if (!canPrompt()) {
      console.error(`${path} already sets what relay would change:\n  ${list}\nPass --yes to replace them.`);
      return 2;
    }
    const controller = new AbortController();
    try {
      const prompter = await terminalPrompter(controller.signal);
      prompter.note(list, `${path} already sets what relay would change`);
      if (!await prompter.confirm({ message: "Replace them?", initial: true })) {
        prompter.outro("Left unchanged.");
        return 1;
      }
    } catch (error) {
      if (error instanceof Cancelled) return 130;
      throw error;
    }
  }
  try {
    await writeFileAtomic(path, merged.text, { mode });
  } catch (error) {
    return reportConfigError(error);
  }
  _noteTightened(path, existing?.mode, mode);
  console.log(
    `Updated ${path} (env block of Claude Code's settings):\n  ${merged.changes.map(_describe).join("\n  ")}`,
  );
  return 0;
}

/**
 * The mode the settings file is written with: its own, unless it holds relay's client token, which
 * nobody else may read (relay refuses a config that others can read for the same token); a new file is
 * private either way.
 */
function _settingsMode(existing: number | undefined, holdsToken: boolean): number {
  if (existing === undefined) return 0o600;
  // Private already (0600, 0400, 0700): nothing to tighten.
  if ((existing & 0o077) === 0) return existing;
  return holdsToken ? 0o600 : existing;
}

// Said once the file has its new mode: a chmod or write that fails leaves the old one.
function _noteTightened(path: string, existing: number | undefined, mode: number): void {
  if (existing === undefined || mode === existing) return;
  const octal = existing.toString(8).padStart(4, "0");
  console.error(`${path} was mode ${octal}; made 0600 as it holds relay's client token`);
}

function _describe(change: SettingsChange): string {
  const show = (value: string) =>
    change.name === "ANTHROPIC_AUTH_TOKEN" && value !== NO_CLIENT_TOKEN ? maskSecret(value) : value;
  return change.before === undefined
    ? `${change.name}=${show(change.after)} (added)`
    : `${change.name}=${show(change.after)} (was ${show(change.before)})`;
}
