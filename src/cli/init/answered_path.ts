import { dirname, isAbsolute, relative, resolve } from "node:path";

/**
 * A file path answered to `relay init` (a flag, a question, a variable such as
 * `$GOOGLE_APPLICATION_CREDENTIALS`), read from the folder init runs in, as the config at `configPath`
 * must hold it to name the same file: relay reads a relative path from the config's own folder. Relative
 * to that folder when the file is under it, so the two can move together; else absolute. A `~/` path or
 * a `${VAR}` reference is kept as typed: relay reads it the same from any folder.
 *
 * @example
 * ```ts
 * pathForConfig("sa.json", "/etc/relay/relay.yaml", "/home/me"); // "/home/me/sa.json"
 * pathForConfig("/etc/relay/sa.json", "/etc/relay/relay.yaml", "/home/me"); // "sa.json"
 * ```
 */
export function pathForConfig(answer: string, configPath: string, cwd: string): string {
  if (answer === "~" || answer.startsWith("~/") || answer.includes("${")) return answer;
  const file = resolve(cwd, answer);
  const inFolder = relative(dirname(configPath), file);
  const under = inFolder !== "" && inFolder !== ".." && !inFolder.startsWith("../") && !isAbsolute(inFolder);
  return under ? inFolder : file;
}
