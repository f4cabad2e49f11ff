import { isAbsolute, join } from "node:path";

/** Reads an environment variable: `Deno.env.get` in use, a record in tests. */
type _Env = (name: string) => string | undefined;

/**
 * The home folder, `$HOME`; `undefined` when it is unset or empty. relay never guesses one: a service
 * started without HOME (a systemd unit without `User=`, cron) would otherwise read and write under `/`.
 */
export function homeFolder(env: _Env): string | undefined {
  return env("HOME") || undefined;
}

/** Where each XDG base folder is when its variable is not set. */
const _XDG_DEFAULTS = { XDG_CONFIG_HOME: ".config", XDG_DATA_HOME: join(".local", "share") } as const;

/**
 * An XDG base folder: `variable` when set to an absolute path, else its place under `home`; `undefined`
 * with neither. A relative value is ignored: the XDG spec calls it invalid.
 *
 * @example
 * ```ts
 * xdgFolder(() => undefined, "XDG_DATA_HOME", "/home/me"); // "/home/me/.local/share"
 * ```
 */
export function xdgFolder(
  env: _Env,
  variable: keyof typeof _XDG_DEFAULTS,
  home: string | undefined,
): string | undefined {
  const value = env(variable);
  if (value && isAbsolute(value)) return value;
  return home === undefined ? undefined : join(home, _XDG_DEFAULTS[variable]);
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
