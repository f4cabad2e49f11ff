/** The shells relay writes commands and variables for (`relay env`, the next steps it prints). */
export type Shell = "posix" | "fish";

/**
 * A value as a shell reads it back unchanged: bare when it holds nothing the shell would interpret,
 * single-quoted otherwise.
 *
 * @example
 * ```ts
 * shellQuote("my config.yaml"); // "'my config.yaml'"
 * ```
 */
export function shellQuote(value: string, shell: Shell = "posix"): string {
  if (/^[\w@%+=:,./-]+$/.test(value)) return value;
  return shell === "fish" ? `'${value.replace(/[\\']/g, "\\$&")}'` : `'${value.replaceAll("'", `'\\''`)}'`;
}
