/** One line of a line diff: kept (`" "`), removed (`"-"`) or added (`"+"`). */
export interface DiffLine {
  op: " " | "-" | "+";
  text: string;
}

/**
 * The shortest line diff between two texts (longest common subsequence). Quadratic in the number of
 * lines, which is nothing for a config file and keeps relay free of a diff dependency.
 *
 * @example
 * ```ts
 * diffLines("a\nb\n", "a\nc\n");
 * // [{ op: " ", text: "a" }, { op: "-", text: "b" }, { op: "+", text: "c" }]
 * ```
 */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = _lines(before);
  const b = _lines(after);
  // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const common = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push({ op: " ", text: a[i] });
      i++;
      j++;
    } else if (i < a.length && (j === b.length || common[i + 1][j] >= common[i][j + 1])) {
      // Taking removals first on a tie prints a changed run as its old lines, then its new ones.
      out.push({ op: "-", text: a[i++] });
    } else {
      out.push({ op: "+", text: b[j++] });
    }
  }
  return out;
}

/**
 * A unified diff (`---`/`+++` headers, `@@` hunks with `context` unchanged lines around each change),
 * for showing what an edit will do to a file before it is written. Empty when nothing changed.
 *
 * @example
 * ```ts
 * console.log(formatDiff(oldText, newText, { from: "relay.yaml", to: "relay.yaml (new)" }));
 * ```
 */
export function formatDiff(
  before: string,
  after: string,
  options: { from: string; to: string; context?: number },
): string {
  const lines = diffLines(before, after);
  const context = options.context ?? 3;
  const changed = lines.flatMap((line, index) => (line.op === " " ? [] : [index]));
  if (changed.length === 0) return "";
  const hunks: [number, number][] = [];
  for (const index of changed) {
    const start = Math.max(0, index - context);
    const end = Math.min(lines.length, index + context + 1);
    const last = hunks.at(-1);
    if (last && start <= last[1]) last[1] = end;
    else hunks.push([start, end]);
  }
  const out = [`--- ${options.from}`, `+++ ${options.to}`];
  for (const [start, end] of hunks) {
    const slice = lines.slice(start, end);
    const oldStart = lines.slice(0, start).filter((line) => line.op !== "+").length;
    const newStart = lines.slice(0, start).filter((line) => line.op !== "-").length;
    const oldCount = slice.filter((line) => line.op !== "+").length;
    const newCount = slice.filter((line) => line.op !== "-").length;
    out.push(`@@ -${_range(oldStart, oldCount)} +${_range(newStart, newCount)} @@`);
    out.push(...slice.map((line) => `${line.op}${line.text}`));
  }
  return out.join("\n");
}

function _lines(text: string): string[] {
  if (text === "") return [];
  return text.replace(/\r?\n$/, "").split(/\r?\n/);
}

// GNU diff's convention: a hunk's range is 1-based, and an empty side names the line before it.
function _range(start: number, count: number): string {
  return count === 1 ? `${start + 1}` : `${count === 0 ? start : start + 1},${count}`;
}
