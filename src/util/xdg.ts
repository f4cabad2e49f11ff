import { isAbsolute } from "node:path";

/**
 * An XDG base folder: `variable` (`XDG_CONFIG_HOME`, `XDG_DATA_HOME`) when set to an absolute path,
 * else `fallback`. The XDG spec says a relative value is invalid and must be ignored.
 *
 * @example
 * ```ts
 * xdgHome((name) => Deno.env.get(name), "XDG_DATA_HOME", "/home/me/.local/share");
 * ```
 */
export function xdgHome(
  env: (name: string) => string | undefined,
  variable: "XDG_CONFIG_HOME" | "XDG_DATA_HOME",
  fallback: string,
): string {
  const value = env(variable);
  return value && isAbsolute(value) ? value : fallback;
}
