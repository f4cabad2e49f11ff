import { type Document, isMap, isScalar, isSeq, type LineCounter, type Scalar, type ScalarTag } from "yaml";
import { type ConfigProblem, formatPath } from "./errors.ts";

/** Looks up an environment variable; injected so expansion is exact under test. */
export type EnvLookup = (name: string) => string | undefined;

/** A reference that could not be expanded: its text as written, and why. */
export interface ExpansionProblem {
  reference: string;
  message: string;
}

export interface Expansion {
  value: string;
  problems: ExpansionProblem[];
}

const _BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;
const _SYNTAX_HINT = "use ${NAME} or ${NAME:-default}, and $${ for a literal ${";

/**
 * Expands `${VAR}` and `${VAR:-default}` (default when unset or empty) in one string; `$${` gives a
 * literal `${`. The result is not scanned again, so a variable's value is never itself expanded.
 *
 * @example
 * ```ts
 * expandString("${HOST:-127.0.0.1}:${PORT}", (name) => ({ PORT: "8787" })[name]);
 * // { value: "127.0.0.1:8787", problems: [] }
 * ```
 */
export function expandString(text: string, env: EnvLookup): Expansion {
  const problems: ExpansionProblem[] = [];
  let value = "";
  /** Where the text not yet in `value` begins. */
  let done = 0;
  /**
   * The first `}` after the latest `${`, or -1 when there is none; found once for all the `${` before
   * it. Looking again from each `${` in a long run of them without a `}` was quadratic.
   */
  let close = 0;
  for (let open = text.indexOf("${"); open >= 0; open = text.indexOf("${", done)) {
    if (open > done && text[open - 1] === "$") {
      // `$${`, a literal `${`: never the start of a reference.
      value += text.slice(done, open - 1) + "${";
      done = open + 2;
      continue;
    }
    if (close !== -1 && close < open + 2) close = text.indexOf("}", open + 2);
    // A `${` that no `}` closes is a reference left open.
    const end = close === -1 ? open + 2 : close + 1;
    const body = close === -1 ? undefined : text.slice(open + 2, close);
    value += text.slice(done, open) + _expanded(text.slice(open, end), body, env, problems);
    done = end;
  }
  return { value: value + text.slice(done), problems };
}

/** What one reference (`${` and `body` up to its `}`, if it has one) expands to. */
function _expanded(
  reference: string,
  body: string | undefined,
  env: EnvLookup,
  problems: ExpansionProblem[],
): string {
  const parsed = body === undefined ? null : _BODY.exec(body);
  if (!parsed || parsed[2]?.includes("${")) {
    const what = body === undefined ? "unterminated `${`" : `invalid reference \`${reference}\``;
    problems.push({ reference, message: `${what}: ${_SYNTAX_HINT}` });
    return reference;
  }
  const [, name, fallback] = parsed;
  const found = env(name);
  if (fallback !== undefined) return found ? found : fallback;
  if (found !== undefined) return found;
  problems.push({
    reference,
    message: `environment variable ${name} is not set (use \${${name}:-default} for a fallback)`,
  });
  return reference;
}

/**
 * Expands environment references in every string value of a parsed document, in place. Keys are left
 * alone. Each scalar keeps its source range, so every unexpandable reference (all of them, not just the
 * first) is reported at its own `line:col` with its config path.
 *
 * A plain (unquoted, untagged) scalar is re-read after expansion with the document's schema, so
 * `port: ${PORT:-8787}` is whatever `port: 8787` would be (a number; `1e3`, `0x1F` or `.inf` too, and an
 * empty value is null); quote it to keep a string.
 *
 * @example
 * ```ts
 * const { doc, lineCounter } = parseYamlDocument(text);
 * const problems = expandEnvInDocument(doc, { text, lineCounter, env: (name) => Deno.env.get(name) });
 * ```
 */
export function expandEnvInDocument(
  doc: Document,
  options: { text: string; lineCounter: LineCounter; env: EnvLookup },
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  _walk(doc.contents, [], (scalar, path) => {
    if (typeof scalar.value !== "string" || !scalar.value.includes("${")) return;
    const expansion = expandString(scalar.value, options.env);
    const [start, end] = scalar.range ?? [0, 0];
    const source = options.text.slice(start, end);
    let cursor = 0;
    for (const problem of expansion.problems) {
      const found = source.indexOf(problem.reference, cursor);
      if (found >= 0) cursor = found + problem.reference.length;
      const { line, col } = options.lineCounter.linePos(start + Math.max(found, 0));
      problems.push({ path: formatPath(path), line, col, message: problem.message });
    }
    scalar.value = scalar.type === "PLAIN" && !scalar.tag
      ? _implicitValue(doc, expansion.value)
      : expansion.value;
  });
  return problems;
}

function _walk(
  node: unknown,
  path: (string | number)[],
  visit: (scalar: Scalar, path: (string | number)[]) => void,
) {
  if (isMap(node)) {
    for (const pair of node.items) {
      _walk(pair.value, [...path, String(isScalar(pair.key) ? pair.key.value : pair.key)], visit);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => _walk(item, [...path, index], visit));
  } else if (isScalar(node)) {
    visit(node, path);
  }
}

// What the same text would have parsed as, unquoted: the first of the schema's implicit tags that
// matches it (int, float, bool, null), as yaml picks one for a plain scalar; a string when none does.
// A tag may resolve to a scalar node (bool does, to keep how it was written) rather than a value.
function _implicitValue(doc: Document, text: string): unknown {
  const tag = doc.schema.tags.find((tag): tag is ScalarTag => tag.default === true && !!tag.test?.test(text));
  const value = tag ? tag.resolve(text, () => {}, doc.options) : text;
  return isScalar(value) ? value.value : value;
}
