import { defaultConfig, type DefaultConfigOptions } from "./default.ts";
import { findConfigPath, isFile, userConfigFile } from "./find.ts";
import { homeFolder } from "../util/home.ts";
import { loadConfigFile } from "./load.ts";
import type { Config } from "./schema.ts";
import type { Locator } from "./yaml_document.ts";

/** Where a command's config came from, and what to tell the person running it. */
export interface ResolvedConfig {
  config: Config;
  /** The file read, or `undefined` when relay runs on its built-in defaults. */
  path: string | undefined;
  warnings: string[];
  /** Set when no file was found: says what relay is doing instead. */
  banner: string | undefined;
  /** Where a config path is in the file read; `undefined` on the built-in defaults. */
  locate: Locator | undefined;
}

export interface ResolveOptions extends DefaultConfigOptions {
  /** `--config PATH`. */
  flag?: string;
  env?: (name: string) => string | undefined;
  cwd?: string;
  /** `$HOME` by default; with neither, the XDG location is searched only when `$XDG_CONFIG_HOME` is set. */
  home?: string;
}

/**
 * Finds and loads the config the way every command does: `--config`, `$RELAY_CONFIG`, `./relay.yaml`,
 * then the XDG location; with none of them, the built-in defaults. Throws `ConfigError` for a file
 * that exists but is unsafe or invalid, and on the defaults for a `$ANTHROPIC_API_KEY` relay cannot
 * send, unless the command does not use the providers (see {@linkcode DefaultConfigOptions}).
 */
export async function resolveConfig(options: ResolveOptions = {}): Promise<ResolvedConfig> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const home = options.home ?? homeFolder(env);
  const found = findConfigPath({
    flag: options.flag,
    env,
    cwd: options.cwd ?? Deno.cwd(),
    home,
    exists: isFile,
  });
  if (!found) {
    const { config, banner } = defaultConfig(env, { ...options, userConfig: userConfigFile(env, home) });
    return { config, path: undefined, warnings: [], banner, locate: undefined };
  }
  const { config, warnings, locate } = await loadConfigFile(found.path, { env, source: found.source });
  return { config, path: found.path, warnings, banner: undefined, locate };
}
