import { dirname, isAbsolute, join, resolve } from "node:path";
import { xdgHome } from "../util/xdg.ts";
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
 * The home folder, `$HOME`; `undefined` when it is unset or empty. relay never guesses one: a service
 * started without HOME (a systemd unit without `User=`, cron) would otherwise read and write under `/`.
 */
export function homeFolder(env: EnvLookup): string | undefined {
  return env("HOME") || undefined;
}

/** Where each XDG base folder is when its variable is not set. */
const _XDG_DEFAULTS = { XDG_CONFIG_HOME: ".config", XDG_DATA_HOME: join(".local", "share") } as const;

/**
 * An XDG base folder: `variable` when set to an absolute path, else its place under `home`; `undefined`
 * with neither.
 *
 * @example
 * ```ts
 * xdgFolder(() => undefined, "XDG_DATA_HOME", "/home/me"); // "/home/me/.local/share"
 * ```
 */
export function xdgFolder(
  env: EnvLookup,
  variable: keyof typeof _XDG_DEFAULTS,
  home: string | undefined,
): string | undefined {
  // xdgHome takes the variable only when it is usable; "" is no fallback.
  return xdgHome(env, variable, home === undefined ? "" : join(home, _XDG_DEFAULTS[variable])) || undefined;
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
 * `path` with a leading `~` (alone or before `/`) read as `home`; `undefined` when it has one and there
 * is no home. Any other `~` is the file's name, as for the shell.
 *
 * @example
 * ```ts
 * expandHome("~/usage/relay.db", "/home/me"); // "/home/me/usage/relay.db"
 * ```
 */
export function expandHome(path: string, home: string | undefined): string | undefined {
  if (path !== "~" && !path.startsWith("~/")) return path;
  return home === undefined ? undefined : join(home, path.slice(1));
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
 * Why relay cannot open a path Deno refuses outright, as the reason after `cannot read/write <path>: `:
 * files under `/dev` (but `/dev/null` and a few others), `/proc` and `/sys` are opened only for programs
 * run with `--allow-all`, which relay never is. Deno's own words tell a person to pass that flag, which
 * a bundle or a compiled relay gives no way to do. `undefined` for any other error, a permission relay
 * was denied (`--deny-write`) included: Deno throws the same class for both, and only its words differ.
 *
 * @example
 * ```ts
 * denoRefusal(new Deno.errors.NotCapable('Requires all access to "/dev/shm/x", run again with the --allow-all flag'));
 * // "Deno, which runs relay, opens files under /dev, /proc and /sys only with --allow-all, ..."
 * ```
 */
export function denoRefusal(error: unknown): string | undefined {
  if (!(error instanceof Deno.errors.NotCapable) || !error.message.startsWith("Requires all access")) {
    return undefined;
  }
  return "Deno, which runs relay, opens files under /dev, /proc and /sys only with --allow-all, which " +
    "relay does not take: put the file elsewhere";
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
