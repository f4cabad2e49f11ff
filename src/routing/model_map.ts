/**
 * A provider's `models:` table: which model names a client may ask it for, and the id its upstream
 * knows each by. Keys are exact names or globs with `*`; exact names win, then the glob with the
 * longest literal text (the most specific). A `*` in the value takes what the key's `*` matched:
 *
 * ```yaml
 * models:
 *   claude-sonnet-4-5: anthropic.claude-sonnet-4-5-20250929-v1:0
 *   claude-haiku-*: anthropic.claude-haiku-*-v1:0
 *   "*": GLM-4.7          # everything else
 * ```
 *
 * A name with Claude Code's 1M-context mark (`claude-sonnet-4-5[1m]`) that the table does not name
 * exactly is served as the name without it, under that name's upstream id: the mark is no model, and
 * an upstream asked for it answers 404 (see {@linkcode contextBeta} for what stands in for it).
 */
export class ModelMap {
  readonly #exact: Map<string, string>;
  readonly #globs: { glob: string; pattern: _Glob; target: string; literal: number }[];
  /** `true` when the provider has no `models:` and so serves any model under its own name. */
  readonly servesAll: boolean;

  constructor(models: Readonly<Record<string, string>> | undefined) {
    this.servesAll = models === undefined;
    const entries = Object.entries(models ?? {});
    this.#exact = new Map(entries.filter(([name]) => !name.includes("*")));
    this.#globs = entries.filter(([name]) => name.includes("*"))
      .map(([glob, target]) => ({
        glob,
        pattern: new _Glob(glob),
        target,
        literal: glob.replaceAll("*", "").length,
      }))
      .sort((a, b) => b.literal - a.literal);
  }

  /** The upstream id for `model`, or `undefined` when this provider does not serve it. */
  resolve(model: string): string | undefined {
    if (this.servesAll) return withoutContextMark(model);
    const exact = this.#exact.get(model);
    if (exact !== undefined) return exact;
    const unmarked = withoutContextMark(model);
    if (unmarked !== model) return this.resolve(unmarked);
    for (const { pattern, target } of this.#globs) {
      const taken = pattern.match(model);
      if (taken !== undefined) return target.replace("*", () => taken);
    }
    return undefined;
  }

  /** The exact names a client can ask for, for `/v1/models` and error messages. */
  get names(): string[] {
    return [...this.#exact.keys()];
  }

  /** The patterns served, exact names and globs, for error messages. */
  get patterns(): string[] {
    return [...this.#exact.keys(), ...this.#globs.map(({ glob }) => glob)];
  }
}

/** The beta that asks Anthropic's models for a 1M-token context window, which `[1m]` stands for. */
export const CONTEXT_1M_BETA = "context-1m-2025-08-07";

// Claude Code's mark for a model's 1M-context variant; it writes it lower-case, but a user may not.
const _CONTEXT_MARK = /\[1m\]$/i;

/**
 * `model` without Claude Code's 1M-context mark, the model routing knows it as; `model` itself when
 * it has none.
 *
 * @example
 * ```ts
 * withoutContextMark("claude-sonnet-4-5[1m]"); // "claude-sonnet-4-5"
 * ```
 */
export function withoutContextMark(model: string): string {
  // Most names end otherwise: no regex for them, on every request's way. A mark alone names nothing.
  if (!model.endsWith("]")) return model;
  return model.replace(_CONTEXT_MARK, "") || model;
}

/**
 * The beta an upstream must be asked with for the context window `model` asked for: {@linkcode
 * CONTEXT_1M_BETA} when the client's name carried the 1M-context mark and the id the upstream gets
 * (`upstreamModel`) no longer does. Claude Code sends that beta itself where it strips the mark; some of
 * its paths send the mark instead, and the upstream, asked without it, would serve a 200k window.
 *
 * @example
 * ```ts
 * contextBeta("claude-sonnet-4-5[1m]", "claude-sonnet-4-5"); // "context-1m-2025-08-07"
 * contextBeta("claude-sonnet-4-5", "claude-sonnet-4-5"); // undefined
 * ```
 */
export function contextBeta(
  model: string | undefined,
  upstreamModel: string | undefined,
): string | undefined {
  if (model === undefined || upstreamModel === undefined) return undefined;
  const marked = (name: string) => withoutContextMark(name) !== name;
  return marked(model) && !marked(upstreamModel) ? CONTEXT_1M_BETA : undefined;
}

/**
 * What is wrong with a `models:` table, one message a problem; empty when it is fine. The config
 * loader calls it so a bad mapping stops relay at start, not at the first request.
 */
export function modelMapProblems(models: Readonly<Record<string, string>>): string[] {
  return Object.entries(models).flatMap(([name, target]) => {
    const stars = name.split("*").length - 1;
    if (target.includes("*") && stars !== 1) {
      return [`\`${name}: ${target}\`: a * in the upstream id needs exactly one * in the name to copy`];
    }
    if (target.split("*").length > 2) {
      return [`\`${name}: ${target}\`: the upstream id may hold one * at most`];
    }
    return [];
  });
}

/**
 * Whether some model name matches both globs (`*` any text, as in `models:`): `claude-*-4-5` and
 * `claude-sonnet-*` meet at `claude-sonnet-4-5`; `claude-haiku-*` and `gpt-*` never do.
 *
 * @example
 * ```ts
 * globsMeet("claude-*-4-5", "claude-sonnet-*"); // true
 * ```
 */
export function globsMeet(a: string, b: string): boolean {
  // Whether what is left of each, from `i` in `a` and `j` in `b`, can still spell one name: a `*` may
  // stand for nothing, or take the other's next character (or `*`) and stay.
  const known = new Map<number, boolean>();
  const meet = (i: number, j: number): boolean => {
    const at = i * (b.length + 1) + j;
    let result = known.get(at);
    if (result !== undefined) return result;
    if (i === a.length && j === b.length) result = true;
    else if (a[i] === "*") result = meet(i + 1, j) || (j < b.length && meet(i, j + 1));
    else if (b[j] === "*") result = meet(i, j + 1) || (i < a.length && meet(i + 1, j));
    else result = i < a.length && j < b.length && a[i] === b[j] && meet(i + 1, j + 1);
    known.set(at, result);
    return result;
  };
  return meet(0, 0);
}

/**
 * Whether `name` matches `glob` (`*` any text, as in `models:`; without one, only the name itself). A
 * `*` in `name` is taken as the character: `claude-*` matches the glob `claude-haiku-*` as it is written.
 *
 * @example
 * ```ts
 * globMatches("claude-*", "claude-haiku-4-5"); // true
 * globMatches("claude-haiku-*", "claude-sonnet-4-5"); // false
 * ```
 */
export function globMatches(glob: string, name: string): boolean {
  return new _Glob(glob).match(name) !== undefined;
}

/** A line break, kept by a split: a `*` takes none (it once stood for a regex's `.`). */
const _LINE_BREAK = /([\n\r\u2028\u2029])/;

/**
 * A glob as `models:` writes it, matched in time linear in the name for each of its parts, with no
 * regex: a regex of several `(.*)` backtracks for each way to share a name among them, and a client's
 * 256 dashes against `claude-*-*-*-*-4` held the event loop a second (five stars, 45).
 */
class _Glob {
  /** The glob's lines (each split at its `*`s), between the line breaks that part them, as a split leaves them. */
  readonly #lines: (string[] | string)[];

  constructor(glob: string) {
    this.#lines = glob.split(_LINE_BREAK).map((line, i) => i % 2 === 0 ? line.split("*") : line);
  }

  /**
   * What the glob's first `*` takes of `name` when `name` matches it, `""` for a glob without one; as
   * much as the rest leaves, as a greedy `(.*)` took. `undefined` when `name` does not match.
   */
  match(name: string): string | undefined {
    // A `*` takes no line break, so the glob's break each must stand for the name's in its place.
    const lines = _LINE_BREAK.test(name) ? name.split(_LINE_BREAK) : [name];
    if (lines.length !== this.#lines.length) return undefined;
    let taken: string | undefined;
    for (let i = 0; i < lines.length; i++) {
      const glob = this.#lines[i];
      if (typeof glob === "string") {
        if (glob !== lines[i]) return undefined;
        continue;
      }
      const first = _lineMatch(glob, lines[i]);
      if (first === undefined) return undefined;
      if (glob.length > 1) taken ??= first;
    }
    return taken ?? "";
  }
}

/**
 * What the first `*` between `parts` takes of `line` (no line break in either), the most it can; `""`
 * when there is no `*`; `undefined` when `line` does not match. The first part begins the line and the
 * last ends it; each part between is placed as late as what follows it allows (its last occurrence), so
 * the first `*` takes the most, and where one cannot be placed, no earlier place would do either.
 */
function _lineMatch(parts: readonly string[], line: string): string | undefined {
  const head = parts[0];
  if (parts.length === 1) return head === line ? "" : undefined;
  const tail = parts[parts.length - 1];
  if (line.length < head.length + tail.length || !line.startsWith(head) || !line.endsWith(tail)) {
    return undefined;
  }
  let end = line.length - tail.length;
  for (let i = parts.length - 2; i >= 1; i--) {
    const from = end - parts[i].length;
    const at = from < head.length ? -1 : line.lastIndexOf(parts[i], from);
    if (at < head.length) return undefined;
    end = at;
  }
  return line.slice(head.length, end);
}
