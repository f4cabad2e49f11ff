import { isNode } from "yaml";
import type { ZodType } from "zod";
import { expandEnvInDocument } from "./env_expand.ts";
import { ConfigError, formatPath } from "./errors.ts";
import { readConfigText } from "./load.ts";
import { parseYamlDocument, plainValue } from "./yaml_document.ts";

/**
 * One field of a config file that does not load: `{ value }` (the schema's default when the file leaves
 * it out), or `undefined` when it cannot be read (a `${VAR}` that is not set in it, a value the schema
 * refuses). A list or a mapping reads as its parts do: a `${VAR}` in a part the schema does not take
 * (another field of a provider than the one asked for) does not stop it.
 */
export type FieldReader = <T>(path: (string | number)[], schema: ZodType<T>) => { value: T } | undefined;

/**
 * Reads the fields of the file `error` refused one at a time, as relay would: the YAML parser keeps
 * what it could make sense of, and each field is expanded and checked on its own, so a problem elsewhere
 * in the file (a `${VAR}` this shell does not set) does not stop a command that needs other fields.
 * Throws `error` when the file cannot be read at all.
 *
 * @example
 * ```ts
 * const read = await readFieldsDespite(error);
 * const port = read(["server", "port"], z.number())?.value;
 * ```
 */
export async function readFieldsDespite(error: ConfigError): Promise<FieldReader> {
  // Read as relay reads it: a file relay would refuse (not private, another user's, not UTF-8) is not
  // read here either, its token and address not ours to use.
  const text = await readConfigText(error.file).catch(() => {
    throw error;
  });
  const parsed = parseYamlDocument(text);
  const { doc, lineCounter } = parsed;
  const unexpanded = new Set(
    expandEnvInDocument(doc, { text, lineCounter, env: (name) => Deno.env.get(name) })
      .map((problem) => problem.path ?? ""),
  );
  return <T>(path: (string | number)[], schema: ZodType<T>) => {
    const node = doc.getIn(path);
    let value: unknown;
    try {
      value = isNode(node) ? plainValue(parsed, error.file, node) : node;
    } catch (refused) {
      // Aliases that expand past the limit, or one with no anchor.
      if (refused instanceof ConfigError) return undefined;
      throw refused;
    }
    const result = schema.safeParse(_markUnset(value, path, unexpanded));
    return result.success ? { value: result.data } : undefined;
  };
}

// What a `${VAR}` that is not set reads as: a value no schema takes, so the field that holds it fails
// however deep it sits (a client token in a list) while one beside it that the schema ignores does not.
const _UNSET = Symbol("a variable that is not set");

function _markUnset(value: unknown, path: (string | number)[], unexpanded: Set<string>): unknown {
  if (unexpanded.has(formatPath(path))) return _UNSET;
  if (Array.isArray(value)) return value.map((item, index) => _markUnset(item, [...path, index], unexpanded));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, _markUnset(item, [...path, key], unexpanded)]),
  );
}
