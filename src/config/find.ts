import { join } from "node:path";
import { xdgHome } from "../util/xdg.ts";

/** Where a config path came from, so a missing file can be blamed on the right setting. */
export type ConfigSource = "flag" | "RELAY_CONFIG" | "cwd" | "xdg";

export interface FoundConfig {
  path: string;
  source: ConfigSource;
}

export interface FindOptions {
  /** `--config PATH`. */
  flag?: string;
  env: (name: string) => string | undefined;
  cwd: string;
  home: string;
  exists: (path: string) => boolean;
}

/**
 * Picks the config file: `--config`, else `$RELAY_CONFIG`, else `./relay.yaml`, else
 * `$XDG_CONFIG_HOME/relay/relay.yaml` (`~/.config/relay/relay.yaml` by default). An explicit path (flag
 * or variable) is returned even when missing, so the loader refuses it rather than silently running on
 * defaults; the implicit candidates only count when they exist. An empty flag or variable counts as unset.
 *
 * @example
 * ```ts
 * findConfigPath({ env: () => undefined, cwd: "/srv", home: "/home/me", exists: (p) => p === "/srv/relay.yaml" });
 * // { path: "/srv/relay.yaml", source: "cwd" }
 * ```
 */
export function findConfigPath(options: FindOptions): FoundConfig | undefined {
  if (options.flag) return { path: options.flag, source: "flag" };
  const fromEnv = options.env("RELAY_CONFIG");
  if (fromEnv) return { path: fromEnv, source: "RELAY_CONFIG" };
  const inCwd = join(options.cwd, "relay.yaml");
  if (options.exists(inCwd)) return { path: inCwd, source: "cwd" };
  const inXdg = join(
    xdgHome(options.env, "XDG_CONFIG_HOME", join(options.home, ".config")),
    "relay",
    "relay.yaml",
  );
  if (options.exists(inXdg)) return { path: inXdg, source: "xdg" };
  return undefined;
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
