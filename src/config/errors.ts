import { maskSecretsInLine } from "../util/mask.ts";

/**
 * One thing wrong with a config file. `path` is the config path (`providers[1].keys[0].key`), `line` and
 * `col` are 1-based positions in the file, and `source` is the offending source line, drawn with a caret
 * under `col` (for syntax errors, where the text itself is the problem).
 */
export interface ConfigProblem {
  path?: string;
  line?: number;
  col?: number;
  message: string;
  source?: string;
}

/**
 * Why relay refuses a config file. `message` is the whole printable report, one problem per line, so a
 * command only has to print it.
 *
 * @example
 * ```ts
 * throw new ConfigError("relay.yaml", [{ path: "server.port", line: 2, col: 9, message: "expected a number" }]);
 * // relay.yaml:2:9: server.port: expected a number
 * ```
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(file: string, problems: ConfigProblem[]) {
    super(_report(file, problems));
    this.file = file;
    this.problems = problems;
  }
}

/**
 * Formats a config path the way people write it in YAML tooling.
 *
 * @example
 * ```ts
 * formatPath(["providers", 1, "keys", 0, "key"]); // "providers[1].keys[0].key"
 * ```
 */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => {
    if (typeof part === "number") return `${out}[${part}]`;
    return out === "" ? String(part) : `${out}.${String(part)}`;
  }, "");
}

/**
 * One problem as printed: `file:line:col: path: message`, or `file:line:col: message` plus the source line
 * and a caret when the problem has source. A problem with neither path nor position is printed bare: its
 * message names the file itself (`config file not found: ...`).
 */
export function formatProblem(file: string, problem: ConfigProblem): string {
  const position = problem.line === undefined ? "" : `:${problem.line}:${problem.col ?? 1}`;
  if (!problem.path && !position) return problem.message;
  // `file:line:col: ` before all else, as compilers write it: editors and CI annotators jump to it.
  const head = problem.path ? `${file}${position}: ${problem.path}: ` : `${file}${position}: `;
  const text = head + problem.message;
  if (problem.source === undefined) return text;
  // The line may be the one that holds a key: errors reach logs, the admin API and terminals.
  const shown = maskSecretsInLine(problem.source, problem.col ?? 1);
  return `${text}\n  ${shown.text}\n  ${_caretLine(shown.text, shown.col)}`;
}

// Tabs before the column are kept so the caret lines up whatever the terminal's tab width.
function _caretLine(source: string, col: number): string {
  const lead = [...source.slice(0, col - 1)].map((c) => (c === "\t" ? "\t" : " ")).join("");
  return `${lead}^`;
}

function _report(file: string, problems: readonly ConfigProblem[]): string {
  const lines = problems.map((problem) => formatProblem(file, problem));
  if (lines.length === 1) return lines[0];
  return [`${file}: ${lines.length} problems`, ...lines].join("\n");
}
