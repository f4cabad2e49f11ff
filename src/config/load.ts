import { type Document, isScalar, type LineCounter, visit } from "yaml";
import { type EnvLookup, expandEnvInDocument } from "./env_expand.ts";
import { ConfigError, type ConfigProblem, formatPath, formatProblem } from "./errors.ts";
import { checkFileMode, unreadableFileError } from "./file_mode.ts";
import { type ConfigSource, pathInConfig } from "./find.ts";
import { homeFolder } from "../util/home.ts";
import { BOM_BYTES, startsWithBom } from "../util/bytes.ts";
import { problemsFromIssues } from "./issues.ts";
import { type Config, configSchema, type ProviderConfig } from "./schema.ts";
import { configWarnings } from "./warnings.ts";
import { type Locator, parseYamlDocument, plainValue, type Position, yamlLocator } from "./yaml_document.ts";

/** A valid config, and what in it is probably a mistake. */
export interface LoadedConfig {
  config: Config;
  warnings: string[];
  /** Where a config path is in the file, for problems a command finds in a valid config. */
  locate: Locator;
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
 * Parses, expands and validates config text: YAML syntax first (`<<` merge keys included), then `${VAR}`
 * references, then the schema, stopping at the first stage with problems (later stages would only echo
 * them). Last, the file paths in it are read as {@linkcode pathInConfig} says, from `path`'s folder.
 * Pure: the environment is passed in, and `path` is only used to word the errors and as that folder
 * (give the file's absolute path, so every command that loads it opens the same files).
 *
 * @example
 * ```ts
 * const { config, warnings } = parseConfig("providers:\n  - { name: mock, type: mock }\n", "relay.yaml", () => undefined);
 * ```
 */
export function parseConfig(text: string, path: string, env: EnvLookup): LoadedConfig {
  const parsed = parseYamlDocument(text);
  const { doc, lineCounter, errors, warnings } = parsed;
  if (errors.length > 0) throw new ConfigError(path, [_firstSyntaxProblem(errors)]);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw new ConfigError(path, [{
      message: `${path} is empty: it needs at least a providers list (see relay.example.yaml)`,
    }]);
  }
  const mergeKeys = _mergeKeyProblems(doc, lineCounter);
  if (mergeKeys.length > 0) throw new ConfigError(path, mergeKeys);
  const expansionProblems = expandEnvInDocument(doc, { text, lineCounter, env });
  if (expansionProblems.length > 0) throw new ConfigError(path, expansionProblems);
  const result = configSchema.safeParse(plainValue(parsed, path), { reportInput: true });
  const locate = yamlLocator(doc, lineCounter);
  if (!result.success) {
    throw new ConfigError(path, problemsFromIssues(result.error.issues, { schema: configSchema, locate }));
  }
  const config = _resolvePaths(result.data, path, env, locate);
  return {
    config,
    warnings: [...warnings.map((warning) => formatProblem(path, warning)), ...configWarnings(config)],
    locate,
  };
}

/**
 * The config with each of its file paths (`ledger.path`, a vertex provider's `credentials_file`) read
 * from the config file's folder, `~` expanded. Throws `ConfigError` at each `~` that has no home.
 */
function _resolvePaths(config: Config, file: string, env: EnvLookup, locate: Locator): Config {
  const home = homeFolder(env);
  const problems: ConfigProblem[] = [];
  const resolved = (value: string, at: (string | number)[]) => {
    const path = pathInConfig(value, file, home);
    if (path !== undefined) return path;
    problems.push({
      path: formatPath(at),
      ...locate(at),
      message: "starts with ~, which stands for $HOME, and HOME is not set: write the whole path",
    });
    return value;
  };
  const ledgerPath = config.ledger.path;
  const ledger = ledgerPath === undefined
    ? config.ledger
    : { ...config.ledger, path: resolved(ledgerPath, ["ledger", "path"]) };
  const providers = config.providers.map((provider, index): ProviderConfig =>
    provider.type === "vertex" && provider.credentials_file !== undefined
      ? {
        ...provider,
        credentials_file: resolved(provider.credentials_file, ["providers", index, "credentials_file"]),
      }
      : provider
  );
  if (problems.length > 0) throw new ConfigError(file, problems);
  return { ...config, ledger, providers };
}

/**
 * Loads a config file: refuses it if others can read it or it is not the user's (before reading a byte),
 * decodes it with {@linkcode decodeConfigText}, then parses it with {@linkcode parseConfig}. Throws
 * `ConfigError` for every refusal, a file that cannot be read included.
 *
 * @example
 * ```ts
 * const { config, warnings } = await loadConfigFile("relay.yaml");
 * ```
 */
export async function loadConfigFile(path: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  return parseConfig(
    await readConfigText(path, options),
    path,
    options.env ?? ((name) => Deno.env.get(name)),
  );
}

/**
 * A config file's text, read as {@linkcode loadConfigFile} reads it (its mode checked before a byte is
 * read, strict UTF-8), for a caller that needs the text of a file that may not parse.
 *
 * @example
 * ```ts
 * const text = await readConfigText("relay.yaml");
 * ```
 */
export async function readConfigText(
  path: string,
  options: Pick<LoadOptions, "uid" | "source"> = {},
): Promise<string> {
  try {
    await checkFileMode(path, options.uid);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    const from = options.source ? ` (${_SOURCE_LABEL[options.source]})` : "";
    throw new ConfigError(path, [{ message: `config file not found: ${path}${from}` }]);
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw unreadableFileError(path, error);
  }
  return decodeConfigText(bytes, path);
}

/**
 * Decodes a config file's bytes as UTF-8 (a leading byte-order mark is dropped), refusing invalid UTF-8
 * at the `line:col` of the first bad byte. A lossy decode would turn a mistyped key into U+FFFD, which
 * passes every check and then fails each request, since a header cannot carry it.
 *
 * @example
 * ```ts
 * decodeConfigText(await Deno.readFile("relay.yaml"), "relay.yaml");
 * ```
 */
export function decodeConfigText(bytes: Uint8Array, path: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // The bad bytes may be part of a key, so the line is not shown.
    throw new ConfigError(path, [{
      ..._firstInvalidUtf8(bytes),
      message:
        "not valid UTF-8 (relay reads config files as UTF-8): retype the text here or save the file as UTF-8",
    }]);
  }
}

// Up to the first bad byte the text is valid, so a lossy decode maps it one to one; U+FFFD stands for
// the bad byte unless the file itself spells that character (EF BF BD). Columns count UTF-16 units, as
// yaml's LineCounter does for every other problem.
function _firstInvalidUtf8(bytes: Uint8Array): Position {
  let offset = startsWithBom(bytes) ? BOM_BYTES.length : 0;
  let line = 1;
  let col = 1;
  for (const char of new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes.subarray(offset))) {
    const spelled = bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd;
    if (char === "\uFFFD" && !spelled) break;
    const code = char.codePointAt(0)!;
    offset += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (char === "\n") {
      line++;
      col = 1;
    } else {
      col += char.length;
    }
  }
  return { line, col };
}

// YAML 1.2, which yaml reads, has no merge keys: `<<: *base` would be an unknown key `<<`, and every
// field it was meant to bring in would be reported missing.
function _mergeKeyProblems(doc: Document, lineCounter: LineCounter): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  visit(doc, {
    Pair: (_key, pair) => {
      if (!isScalar(pair.key) || pair.key.type !== "PLAIN" || pair.key.value !== "<<") return;
      problems.push({
        ...(pair.key.range && lineCounter.linePos(pair.key.range[0])),
        message: "`<<` is a YAML 1.1 merge key, which relay does not read (YAML 1.2 has none): write the " +
          "fields out (an alias can still stand for a whole value: `timeouts: *t`)",
      });
    },
  });
  return problems;
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
