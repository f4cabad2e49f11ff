/**
 * ANSI colours for a command's tables on a terminal that has not asked for none (`NO_COLOR`); plain
 * text anywhere else (a pipe, a file, `--json` aside).
 *
 * @example
 * ```ts
 * const colour = terminalColour();
 * const red = colour(31);
 * console.log(red("failing"));
 * ```
 */
export function terminalColour(): (code: number) => (text: string) => string {
  const on = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
  return (code) => on ? (text) => `\x1b[${code}m${text}\x1b[0m` : (text) => text;
}
