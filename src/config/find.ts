import { dirname, isAbsolute, join, resolve } from "node:path";
import { expandHome, xdgFolder } from "../util/home.ts";
import type { EnvLookup } from "./env_expand.ts";
import { ConfigError } from "./errors.ts";

/** Where a config path came from, so a missing file can be blamed on the right setting. */
export type ConfigSource = "flag" | "RELAY_CONFIG" | "cwd" | "xdg";

export interface FoundConfig {
  /** Absolute: it is shown by `relay status` and the log, which are read from other folders. */
  path: string;
  source: ConfigSource;
}

export interface FindOptions {
  /** `--config PATH`. */
  flag?: string;
  env: EnvLookup;
  /** Absolute: a relative flag or `$RELAY_CONFIG` is read from it. */
  cwd: string;
  /** `undefined` when there is none ($HOME unset): the XDG location then needs `$XDG_CONFIG_HOME`. */
  home: string | undefined;
  exists: (path: string) => boolean;
}

/** Where relay looks for its config when no `--config` names it, in order, as help texts say it. */
export const CONFIG_SEARCH = "$RELAY_CONFIG, ./relay.yaml, ${XDG_CONFIG_HOME:-~/.config}/relay/relay.yaml";

/**
 * Picks the config file: `--config`, else `$RELAY_CONFIG`, else `./relay.yaml`, else
 * {@linkcode userConfigFile}. An explicit path (flag or variable) is returned even when missing, so the
 * loader refuses it rather than silently running on defaults; the implicit candidates only count when
 * they exist. An empty flag or variable counts as unset. The path is absolute: a relative one is read
 * from `cwd` here, once, rather than from whatever folder a later reader (`relay status`) is in.
 *
 * @example
 * ```ts
 * findConfigPath({ env: () => undefined, cwd: "/srv", home: "/home/me", exists: (p) => p === "/srv/relay.yaml" });
 * // { path: "/srv/relay.yaml", source: "cwd" }
 * ```
 */
export function findConfigPath(options: FindOptions): FoundConfig | undefined {
  if (options.flag) return { path: resolve(options.cwd, options.flag), source: "flag" };
  const fromEnv = options.env("RELAY_CONFIG");
  if (fromEnv) return { path: resolve(options.cwd, fromEnv), source: "RELAY_CONFIG" };
  const inCwd = join(options.cwd, "relay.yaml");
  if (options.exists(inCwd)) return { path: inCwd, source: "cwd" };
  const inXdg = userConfigFile(options.env, options.home);
  if (inXdg !== undefined && options.exists(inXdg)) return { path: inXdg, source: "xdg" };
  return undefined;
}

/**
 * The user's config file: `$XDG_CONFIG_HOME/relay/relay.yaml`, else `~/.config/relay/relay.yaml`;
 * `undefined` when there is neither variable nor home to put it under.
 *
 * @example
 * ```ts
 * userConfigFile(() => undefined, "/home/me"); // "/home/me/.config/relay/relay.yaml"
 * ```
 */
export function userConfigFile(env: EnvLookup, home: string | undefined): string | undefined {
  const folder = xdgFolder(env, "XDG_CONFIG_HOME", home);
  return folder === undefined ? undefined : join(folder, "relay", "relay.yaml");
}

/**
 * The refusal of a command that needs a home folder (`needs`, named with its default place) when `$HOME`
 * is unset; `instead` says what else would do.
 *
 * @example
 * ```ts
 * throw noHomeError("its usage ledger (~/.local/share/relay/ledger.db)", "set $XDG_DATA_HOME or ledger.path");
 * // $HOME is not set, so relay has no home folder for its usage ledger (...): set HOME, or set ...
 * ```
 */
export function noHomeError(needs: string, instead: string): ConfigError {
  return new ConfigError("$HOME", [{
    message: `$HOME is not set, so relay has no home folder for ${needs}: set HOME, or ${instead}`,
  }]);
}

/**
 * A path written in the config file `file`, as every command must read it: `~` expanded, and a
 * relative path read from the file's folder, not from wherever relay was started (which would open a
 * second, empty ledger on a restart from another folder). `undefined` for `~` with no home.
 *
 * @example
 * ```ts
 * pathInConfig("ledger.db", "/etc/relay/relay.yaml", "/root"); // "/etc/relay/ledger.db"
 * ```
 */
export function pathInConfig(path: string, file: string, home: string | undefined): string | undefined {
  const expanded = expandHome(path, home);
  if (expanded === undefined || isAbsolute(expanded)) return expanded;
  return join(dirname(file), expanded);
}

/**
 * Whether `path` is a regular file: {@linkcode FindOptions.exists} on the real disk. A path that cannot
 * be stat'ed (missing, or in a directory relay may not search) counts as no file.
 *
 * @example
 * ```ts
 * findConfigPath({ env: (name) => Deno.env.get(name), cwd: Deno.cwd(), home: "/home/me", exists: isFile });
 * ```
 */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
