import type { z } from "zod";
import { isSecretField, maskSecret } from "../util/mask.ts";
import { type ConfigProblem, formatPath } from "./errors.ts";
import type { Locator } from "./yaml_document.ts";

type _Issue = z.core.$ZodIssue;
type _Schema = z.core.$ZodType;

/**
 * Turns zod issues into problems a person can act on: where (`line:col` and config path), what was
 * expected and what was found, and for a typo the key or value that was probably meant. `schema` is the
 * one that produced the issues, read to list the keys allowed where an unknown one was found.
 *
 * @example
 * ```ts
 * const result = configSchema.safeParse(data, { reportInput: true });
 * if (!result.success) problemsFromIssues(result.error.issues, { schema: configSchema, locate });
 * ```
 */
export function problemsFromIssues(
  issues: readonly _Issue[],
  options: { schema: _Schema; locate: Locator },
): ConfigProblem[] {
  const flat = issues.flatMap(_throughUnions);
  // zod goes on checking a value of the wrong type (a list's length against a token's minimum): what it
  // says then only echoes the type error at the same place.
  const mistyped = new Set(
    flat.filter((issue) => issue.code === "invalid_type").map((issue) => formatPath(issue.path)),
  );
  const problems = flat.filter((issue) =>
    issue.code === "invalid_type" || !mistyped.has(formatPath(issue.path))
  )
    .flatMap((issue): ConfigProblem[] => {
      if (issue.code === "unrecognized_keys") {
        return issue.keys.map((key) => ({
          ...options.locate(issue.path, key),
          message: _unknownKeyMessage(key, issue.path, _allowedKeys(options.schema, issue.path)),
        }));
      }
      return [{ path: formatPath(issue.path), ...options.locate(issue.path), message: _message(issue) }];
    });
  // Zod reports in schema order; people fix a file top to bottom.
  return problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}

/**
 * A union's failure, when the value was of one option's type (a mapping where a string or a mapping is
 * taken), is that option's own issues: they say what is wrong inside the value, not that it is neither.
 */
function _throughUnions(issue: _Issue): _Issue[] {
  if (issue.code !== "invalid_union") return [issue];
  const fitting = issue.errors.filter((errors) =>
    !errors.every((inner) => inner.code === "invalid_type" && inner.path.length === 0)
  );
  if (fitting.length !== 1) return [issue];
  return fitting[0].flatMap((inner) => _throughUnions({ ...inner, path: [...issue.path, ...inner.path] }));
}

function _message(issue: _Issue): string {
  // A secret field's value (a key in `keys:`, a client token) in the wrong shape is still a secret.
  const field = issue.path.findLast((step) => typeof step === "string");
  const secret = typeof field === "string" && isSecretField(field);
  switch (issue.code) {
    case "invalid_type":
      return _typeMessage([issue.expected], issue.input, secret);
    case "invalid_union": {
      const expected = issue.errors.flat().flatMap((inner) =>
        inner.code === "invalid_type" && inner.path.length === 0 ? [inner.expected] : []
      );
      return expected.length > 0 ? _typeMessage(expected, issue.input, secret) : issue.message;
    }
    case "invalid_value": {
      const allowed = issue.values.map(String);
      const found = `expected one of ${allowed.join(", ")}; found ${_describe(issue.input, secret)}`;
      const near = typeof issue.input === "string" ? _nearest(issue.input, allowed) : undefined;
      return near === undefined ? found : `${found} (did you mean \`${near}\`?)`;
    }
    default:
      return issue.message;
  }
}

function _typeMessage(expected: readonly string[], input: unknown, secret: boolean): string {
  const wanted = expected.map(_describeExpected).join(" or ");
  if (input === undefined) return `missing: expected ${wanted}`;
  // YAML reads `.inf` and `.nan` as numbers, but no count, size or duration can be one. Where a string
  // goes, they are text that wants quotes, as all digits are.
  if (typeof input === "number" && !Number.isFinite(input) && expected.some(_isNumeric)) {
    return `expected ${wanted}, found ${_describe(input, secret)} (a number must be finite)`;
  }
  // An unquoted all-digit secret (often from ${VAR}) reads as a number; its digits must not be echoed.
  if (typeof input === "number" && expected.includes("string")) {
    return `expected ${wanted}, found a number (quote it to keep it a string)`;
  }
  // `null` and `~` read as null, as an empty value does, and `true`/`false` as booleans, written so or
  // from an unquoted ${VAR}.
  if ((input === null || typeof input === "boolean") && expected.includes("string")) {
    return `expected ${wanted}, found ${_describe(input, secret)} (quote it to keep the text)`;
  }
  const hint = expected.includes("number") && typeof input === "string" && _QUOTED_NUMBER.test(input)
    ? _stringNumberHint(input)
    : "";
  return `expected ${wanted}, found ${_describe(input, secret)}${hint}`;
}

// Why digits read as a string: quoted or tagged `!!str` in the file, or a carriage return around them,
// which a variable set from an env file saved with Windows line ends carries.
function _stringNumberHint(input: string): string {
  return input.includes("\r")
    ? " (it holds a carriage return: was it set from a file with Windows line ends?)"
    : " (write it without quotes or a !!str tag)";
}

const _EXPECTED: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
};

function _isNumeric(expected: string): boolean {
  return expected === "number" || expected === "int";
}

function _describeExpected(expected: string): string {
  return _EXPECTED[expected] ?? expected;
}

// A value found in the wrong place, or an unknown key, may be a secret pasted one level off: only a word
// (a misspelt option) or, for a value, a quoted number is echoed; anything else, a short secret
// included, is masked.
const _WORD = /^[A-Za-z][A-Za-z_.-]{0,23}$/;
const _QUOTED_NUMBER = /^\s*-?\d+(?:\.\d+)?\s*$/;

function _describe(value: unknown, secret = false): string {
  if (value === null || value === undefined) return "an empty value or null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") {
    const echoed = !secret && (_WORD.test(value) || _QUOTED_NUMBER.test(value));
    // Escaped: a carriage return or tab echoed raw would garble the terminal's line.
    return echoed ? `the string ${JSON.stringify(value)}` : `a string (${maskSecret(value)})`;
  }
  if (typeof value === "number") {
    if (Number.isFinite(value)) return secret ? "a number" : `the number ${value}`;
    // As written in YAML.
    return Number.isNaN(value) ? ".nan" : value > 0 ? ".inf" : "-.inf";
  }
  return String(value);
}

function _unknownKeyMessage(key: string, path: readonly PropertyKey[], allowed: string[]): string {
  const where = path.length === 0 ? "at the top level" : `in ${formatPath(path)}`;
  const near = _nearest(key, allowed);
  const hint = near !== undefined ? `did you mean \`${near}\`?` : `allowed: ${allowed.join(", ")}`;
  const named = _WORD.test(key) ? `\`${key}\`` : `(${maskSecret(key)})`;
  return `unknown key ${named} ${where} (${hint})`;
}

interface _Def {
  shape?: Record<string, _Schema>;
  element?: _Schema;
  innerType?: _Schema;
  in?: _Schema;
  options?: _Schema[];
  /** A record's: every key of a `pricing` table holds one of these. */
  valueType?: _Schema;
}

// Walks the schema the way zod walked the data, looking through optional/default/transform wrappers,
// into a record's values (any model name in `pricing`) and into the mapping among a union's options (a
// client token is a string or a mapping).
function _allowedKeys(schema: _Schema, path: readonly PropertyKey[]): string[] {
  let node: _Schema | undefined = _unwrap(schema);
  for (const part of path) {
    const def = node?._zod.def as _Def | undefined;
    node = _unwrap(typeof part === "number" ? def?.element : def?.shape?.[String(part)] ?? def?.valueType);
  }
  return Object.keys((node?._zod.def as _Def | undefined)?.shape ?? {});
}

function _unwrap(schema: _Schema | undefined): _Schema | undefined {
  let node = schema;
  while (node) {
    const def = node._zod.def as _Def;
    const inner = def.innerType ?? def.in ??
      def.options?.map(_unwrap).find((option) => (option?._zod.def as _Def | undefined)?.shape);
    if (!inner) return node;
    node = inner;
  }
  return node;
}

// Close enough to be a typo: two edits, and fewer edits than the word has letters.
function _nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = _editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= 2 && distance < word.length && (!best || distance < best.distance)) {
      best = { candidate, distance };
    }
  }
  return best?.candidate;
}

// Optimal string alignment: Levenshtein plus swapping two neighbours, the commonest typo (`prot`).
function _editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
