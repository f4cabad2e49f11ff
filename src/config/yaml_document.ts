import {
  type Document,
  type ErrorCode,
  isMap,
  isNode,
  isScalar,
  LineCounter,
  parseDocument,
  type YAMLError,
} from "yaml";
import type { ConfigProblem } from "./errors.ts";

/** A 1-based line and column in the config file. */
export interface Position {
  line: number;
  col: number;
}

/**
 * Finds where a config path sits in the file. With `key`, the position of that key inside the mapping at
 * `path` (for unknown keys); otherwise the node at `path`, or the nearest enclosing node that exists (a
 * missing field is reported where it should have been written).
 */
export type Locator = (path: readonly PropertyKey[], key?: string) => Position | undefined;

/** A parsed YAML document that remembers where every node came from. */
export interface ParsedYaml {
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** Syntax errors, each with its source line for a caret. */
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
}

/**
 * Parses YAML keeping source ranges, so later stages (env expansion, schema checks) can say `line:col`.
 *
 * @example
 * ```ts
 * const { doc, errors } = parseYamlDocument("server:\n  port: 8787\n");
 * ```
 */
export function parseYamlDocument(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  // yaml's own pretty errors embed a context block of their own; we draw ours in ConfigError.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lines = text.split(/\r?\n/);
  const toProblem = (error: YAMLError): ConfigProblem => {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    return { line, col, message: _MESSAGES[error.code] ?? error.message, source: lines[line - 1] ?? "" };
  };
  return { doc, lineCounter, errors: doc.errors.map(toProblem), warnings: doc.warnings.map(toProblem) };
}

// Where yaml's own wording speaks to programmers rather than to someone editing a config file.
const _MESSAGES: Partial<Record<ErrorCode, string>> = {
  MULTIPLE_DOCS: "a config file holds one YAML document: remove this `---` and what follows it",
};

/** Builds the {@linkcode Locator} for a parsed document. */
export function yamlLocator(doc: Document, lineCounter: LineCounter): Locator {
  const at = (offset: number): Position => lineCounter.linePos(offset);
  return (path, key) => {
    if (key !== undefined) {
      const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
      const pair = isMap(map)
        ? map.items.find((item) => isScalar(item.key) && item.key.value === key)
        : undefined;
      if (isNode(pair?.key) && pair.key.range) return at(pair.key.range[0]);
    }
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return at(node.range[0]);
    }
    return undefined;
  };
}
