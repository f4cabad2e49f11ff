import { isScalar } from "yaml";
import { type EnvLookup, expandEnvInDocument } from "./env_expand.ts";
import { ConfigError, type ConfigProblem, formatProblem } from "./errors.ts";
import { checkFileMode } from "./file_mode.ts";
import type { ConfigSource } from "./find.ts";
import { problemsFromIssues } from "./issues.ts";
import { type Config, configSchema } from "./schema.ts";
import { configWarnings } from "./warnings.ts";
import { parseYamlDocument, yamlLocator } from "./yaml_document.ts";

/** A valid config, and what in it is probably a mistake. */
export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

export interface LoadOptions {
  /** Environment for `${VAR}` references; the process environment by default. */
  env?: EnvLookup;
  /** The user relay runs as, who must own the file; `Deno.uid()` by default. */
  uid?: number | null;
  /** Where the path came from, named when the file is missing. */
  source?: ConfigSource;
}

const _SOURCE_LABEL: Record<ConfigSource, string> = {
  flag: "from --config",
  RELAY_CONFIG: "from $RELAY_CONFIG",
  cwd: "found in the current directory",
  xdg: "found in the XDG config directory",
};

/**
 * Parses, expands and validates config text: YAML syntax first, then `${VAR}` references, then the
 * schema, stopping at the first stage with problems (later stages would only echo them). Pure: the
 * environment is passed in, and `path` is only used to word the errors.
 *
 * @example
 * ```ts
 * const { config, warnings } = parseConfig("providers:\n  - { name: mock, type: mock }\n", "relay.yaml", () => undefined);
 * ```
 */
export function parseConfig(text: string, path: string, env: EnvLookup): LoadedConfig {
  const { doc, lineCounter, errors, warnings } = parseYamlDocument(text);
  if (errors.length > 0) throw new ConfigError(path, [_firstSyntaxProblem(errors)]);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw new ConfigError(path, [{
      message: `${path} is empty: it needs at least a providers list (see relay.example.yaml)`,
    }]);
  }
  const expansionProblems = expandEnvInDocument(doc, { text, lineCounter, env });
  if (expansionProblems.length > 0) throw new ConfigError(path, expansionProblems);
  const result = configSchema.safeParse(doc.toJS(), { reportInput: true });
  if (!result.success) {
    const locate = yamlLocator(doc, lineCounter);
    throw new ConfigError(path, problemsFromIssues(result.error.issues, { schema: configSchema, locate }));
  }
  return {
    config: result.data,
    warnings: [...warnings.map((warning) => formatProblem(path, warning)), ...configWarnings(result.data)],
  };
}

/**
 * Loads a config file: refuses it if others can read it or it is not the user's (before reading a byte),
 * then parses it with {@linkcode parseConfig}. Throws `ConfigError` for every refusal.
 *
 * @example
 * ```ts
 * const { config, warnings } = await loadConfigFile("relay.yaml");
 * ```
 */
export async function loadConfigFile(path: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  try {
    await checkFileMode(path, options.uid);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    const from = options.source ? ` (${_SOURCE_LABEL[options.source]})` : "";
    throw new ConfigError(path, [{ message: `config file not found: ${path}${from}` }]);
  }
  const text = await Deno.readTextFile(path);
  return parseConfig(text, path, options.env ?? ((name) => Deno.env.get(name)));
}

// After one syntax error the parser is lost and the rest mostly echo it, so only the first is shown.
function _firstSyntaxProblem(errors: ConfigProblem[]): ConfigProblem {
  const [first] = errors;
  const source = first.source ?? "";
  const col = first.col ?? 1;
  // `{` starts a flow mapping in YAML, so an unquoted `${VAR}` inside `{ }` or `[ ]` breaks the parse.
  const hint = source.slice(Math.max(0, col - 2), col + 1).includes("${")
    ? ' (inside { } or [ ], quote a value that uses ${...}: "${VAR}")'
    : "";
  const more = errors.length > 1
    ? ` (${errors.length - 1} more syntax errors follow, most likely from this one)`
    : "";
  return { ...first, message: first.message + hint + more };
}
