import type { ZodType } from "zod";
import { expandEnvInDocument } from "./env_expand.ts";
import { type ConfigError, formatPath } from "./errors.ts";
import { readConfigText } from "./load.ts";
import { parseYamlDocument } from "./yaml_document.ts";

/**
 * One field of a config file that does not load: `{ value }` (the schema's default when the file leaves
 * it out), or `undefined` when it cannot be read (a `${VAR}` that is not set, a value the schema refuses).
 */
export type FieldReader = <T>(path: string[], schema: ZodType<T>) => { value: T } | undefined;

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
  const { doc, lineCounter } = parseYamlDocument(text);
  const unexpanded = expandEnvInDocument(doc, { text, lineCounter, env: (name) => Deno.env.get(name) })
    .map((problem) => problem.path);
  return <T>(path: string[], schema: ZodType<T>) => {
    if (unexpanded.includes(formatPath(path))) return undefined;
    const parsed = schema.safeParse(doc.getIn(path));
    return parsed.success ? { value: parsed.data } : undefined;
  };
}
