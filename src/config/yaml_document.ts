import { isDeepStrictEqual } from "node:util";
import {
  type Alias,
  Document,
  type ErrorCode,
  isAlias,
  isCollection,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  Pair,
  parseDocument,
  Scalar,
  visit,
  type YAMLError,
  YAMLMap,
  YAMLParseError,
  YAMLSeq,
} from "yaml";
import { ConfigError, type ConfigProblem } from "./errors.ts";
import { BOM_TEXT } from "../util/bytes.ts";

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
  // yaml's own pretty errors embed a context block of their own; we draw ours in ConfigError. Its
  // duplicate-key check compares each key with every earlier one of its map, 7 s for a file of 40,000
  // prices, for which a reload stalls every stream: the same check is made by a set instead.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const lines = text.split(/\r?\n/);
  const reported = new Set<Node>();
  const toProblem = (error: YAMLError): ConfigProblem => {
    const unclosed = _unclosedFlow(doc, text, error, reported) ?? _unclosedQuote(doc, text, error);
    const { line, col } = lineCounter.linePos(unclosed?.at ?? error.pos[0]);
    const message = unclosed?.message ?? _MESSAGES[error.code] ?? error.message;
    return { line, col, message, source: lines[line - 1] ?? "" };
  };
  const errors = [...doc.errors, ..._duplicateKeys(doc)].sort((a, b) => a.pos[0] - b.pos[0]);
  return { doc, lineCounter, errors: errors.map(toProblem), warnings: doc.warnings.map(toProblem) };
}

// A key a map already has, as yaml tells it with `uniqueKeys` (the same scalar value), at the later key.
function _duplicateKeys(doc: Document): YAMLError[] {
  const duplicates: YAMLError[] = [];
  visit(doc, {
    Map: (_key, map) => {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (seen.has(key.value) && key.range) {
          duplicates.push(
            new YAMLParseError([key.range[0], key.range[1]], "DUPLICATE_KEY", "Map keys must be unique"),
          );
        }
        seen.add(key.value);
      }
    },
  });
  return duplicates;
}

// Where a quoted string that is never closed opens, and what to say there. yaml reports it where the
// string ends, which is the end of the file: it reads on to there looking for the closing quote.
function _unclosedQuote(
  doc: Document,
  text: string,
  error: YAMLError,
): { at: number; message: string } | undefined {
  if (error.code !== "MISSING_CHAR") return undefined;
  let found: { at: number; message: string } | undefined;
  visit(doc, {
    Scalar: (_key, node) => {
      const quoted = node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE";
      if (!quoted || !node.range || node.range[1] !== error.pos[0]) return undefined;
      const [start, end] = node.range;
      // Closed (`"a"`) unless it is the lone quote, as yaml tells.
      if (end - start > 1 && text[end - 1] === text[start]) return undefined;
      const message = `this ${text[start]} opens a string that is never closed, so the rest of the file ` +
        "was read into it: close it";
      found = { at: start, message };
      return visit.BREAK;
    },
  });
  return found;
}

// Where a flow collection (`[` or `{`) that is never closed opens, and what to say there. yaml reports it
// where it gave up reading it: the first line indented too little to belong to it, or the end of the file.
// `reported` holds the collections already named: when nested ones are left open, yaml reports each, the
// innermost first, at the same place.
function _unclosedFlow(
  doc: Document,
  text: string,
  error: YAMLError,
  reported: Set<Node>,
): { at: number; message: string } | undefined {
  const kind = _FLOW_END.exec(error.message)?.[1];
  if (kind === undefined) return undefined;
  let found: YAMLMap | YAMLSeq | undefined;
  const consider = (node: YAMLMap | YAMLSeq) => {
    if (!node.flow || !node.range || node.range[1] !== error.pos[0] || reported.has(node)) return;
    if ((kind === "map") !== isMap(node) || _closed(text, node.range[0])) return;
    found = node;
  };
  // The innermost wins: it is the one yaml reports first.
  visit(doc, { Map: (_key, node) => consider(node), Seq: (_key, node) => consider(node) });
  if (!found) return undefined;
  reported.add(found);
  const [open, close, what] = isMap(found) ? ["{", "}", "map"] : ["[", "]", "list"];
  return {
    at: found.range![0],
    message: `this ${open} opens a ${what} that is never closed: close it with ${close}`,
  };
}

// yaml's words for a flow collection it found no end for, at the root or inside a block collection.
const _FLOW_END = /^Flow (map|sequence) (?:in block collection )?must .*end with a [\]}]$/;

// Whether the flow collection opening at `open` is closed anywhere after it, at its own depth. When it is,
// on a line indented too little for yaml, yaml's report at that line is the right one.
function _closed(text: string, open: number): boolean {
  let depth = 0;
  for (let at = open; at < text.length; at++) {
    const char = text[at];
    if (char === "[" || char === "{") depth++;
    else if (char === "]" || char === "}") {
      if (--depth === 0) return true;
    } else if (char === "#" && (at === 0 || /\s/.test(text[at - 1]))) {
      const lineBreak = text.indexOf("\n", at);
      if (lineBreak < 0) return false;
      at = lineBreak;
    } else if ((char === '"' || char === "'") && (at === 0 || /[\s[{,:]/.test(text[at - 1]))) {
      // Brackets in a quoted string are its text; a quote never closed has the rest of the file.
      at = _quoteEnd(text, at);
      if (at < 0) return false;
    }
  }
  return false;
}

// Where the quoted string opening at `at` ends, or -1 when it never does.
function _quoteEnd(text: string, at: number): number {
  const quote = text[at];
  for (let i = at + 1; i < text.length; i++) {
    if (quote === '"' && text[i] === "\\") i++;
    else if (text[i] === quote && quote === "'" && text[i + 1] === "'") i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}

// Where yaml's own wording speaks to programmers rather than to someone editing a config file.
const _MESSAGES: Partial<Record<ErrorCode, string>> = {
  MULTIPLE_DOCS: "a config file holds one YAML document: remove this `---` and what follows it",
};

// Generous for a file that shares one `timeouts: &t` among many providers, while a "billion laughs" (aliases
// of aliases, each level multiplying the copies) passes it within a few levels, long before it could take
// the memory. yaml's own default, 100, refuses the first kind.
const _MAX_ALIAS_COUNT = 10_000;
const _BOUNDED_ALIASES = { maxAliasCount: _MAX_ALIAS_COUNT };
// yaml throws a ReferenceError both for too many copies and for an alias with no anchor before it (which
// it does not report as a parse error); only its words tell them apart.
const _TOO_MANY_COPIES = /^Excessive alias count/;
const _NO_ANCHOR = /^Unresolved alias .*: (.*)$/;

/**
 * The plain value of a document, or of one of its nodes, aliases resolved. Throws `ConfigError` for
 * `file`, at the first alias of what was asked for when the aliases expand past what a config needs, or
 * at an alias whose anchor is not set before it.
 *
 * @example
 * ```ts
 * const parsed = parseYamlDocument(text);
 * const raw = plainValue(parsed, "relay.yaml");
 * ```
 */
export function plainValue(
  parsed: Pick<ParsedYaml, "doc" | "lineCounter">,
  file: string,
  node?: Node,
): unknown {
  const { doc, lineCounter } = parsed;
  try {
    return node ? node.toJS(doc, _BOUNDED_ALIASES) : doc.toJS(_BOUNDED_ALIASES);
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    const at = (alias: Alias | undefined) => alias?.range ? lineCounter.linePos(alias.range[0]) : undefined;
    if (_TOO_MANY_COPIES.test(error.message)) {
      throw new ConfigError(file, [{
        // An alias inside an anchored value multiplies: what the bomb is built of, not a value shared once.
        ...at(
          _firstAlias(node ?? doc, (_alias, within) => within.some((n) => isNode(n) && !!n.anchor)) ??
            _firstAlias(node ?? doc, () => true),
        ),
        message: `aliases (\`*name\`) expand to more than ${_MAX_ALIAS_COUNT} copies: relay refuses a file ` +
          'that may be built to exhaust memory (a "billion laughs")',
      }]);
    }
    const name = _NO_ANCHOR.exec(error.message)?.[1];
    if (name === undefined) throw error;
    throw new ConfigError(file, [{
      ...at(_firstAlias(node ?? doc, (alias) => alias.source === name && !alias.resolve(doc))),
      message: `\`*${name}\` has no anchor \`&${name}\` before it: an alias repeats a value marked so ` +
        "earlier in the file",
    }]);
  }
}

function _firstAlias(
  within: Node | Document,
  matches: (alias: Alias, ancestors: readonly unknown[]) => boolean,
): Alias | undefined {
  let found: Alias | undefined;
  visit(within, {
    Alias: (_key, alias, ancestors) => {
      if (!matches(alias, ancestors)) return undefined;
      found = alias;
      return visit.BREAK;
    },
  });
  return found;
}

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

/**
 * The text of `edited`, a document parsed from `text` and then changed: only what changed is written
 * anew, spliced into `text`, so every other node stays byte for byte as it was (comments, quoting, flow
 * style, indentation, CRLF line breaks, a byte-order mark). New lines take the file's line break. Text
 * with no collection to splice into (empty, or only comments) is written whole, and so is any edit whose
 * spliced text would not read back as exactly `edited`'s value (keeping the line break, byte-order mark
 * and flow-collection spacing).
 *
 * @example
 * ```ts
 * const { doc } = parseYamlDocument(text);
 * doc.setIn(["server", "port"], 8788);
 * await Deno.writeTextFile("relay.yaml", editedText(text, doc));
 * ```
 */
export function editedText(text: string, edited: Document): string {
  const before = parseDocument(text);
  const eol = /\r?\n/.exec(text)?.[0] ?? "\n";
  const spliced = _splicedText(text, before.contents, edited.contents, eol);
  if (spliced !== undefined && _readsAs(spliced, edited)) return spliced;
  const whole = edited.toString({ flowCollectionPadding: _flowPadding(text, before) });
  return (text.startsWith(BOM_TEXT) ? BOM_TEXT : "") + whole.replaceAll("\n", eol);
}

// `text` with the splices that make `before` into `after`; undefined when they cannot be made. A node
// written anew that holds an alias cannot be written on its own (its anchor is elsewhere): yaml throws.
function _splicedText(text: string, before: unknown, after: unknown, eol: string): string | undefined {
  let splices: _Splice[] | undefined;
  try {
    splices = isCollection(before) ? _splices(text, before, after) : undefined;
  } catch {
    return undefined;
  }
  if (!splices) return undefined;
  // In file order; at one offset, inserts before a removal, and in the order made: a nested collection's
  // new items before those of the collection holding it.
  splices.sort((a, b) => a.from - b.from || a.to - b.to);
  let out = "";
  let done = 0;
  for (const { from, to, insert } of splices) {
    out += text.slice(done, from) + insert.replaceAll("\n", eol);
    done = to;
  }
  return out + text.slice(done);
}

// The safety net under the splices: what they write must read back, without errors, as the edited value.
function _readsAs(text: string, edited: Document): boolean {
  const reread = parseDocument(text);
  try {
    return reread.errors.length === 0 &&
      isDeepStrictEqual(reread.toJS(_BOUNDED_ALIASES), edited.toJS(_BOUNDED_ALIASES));
  } catch {
    return false;
  }
}

// yaml writes `[ a ]` unless told otherwise; a file written `[a]` should stay that way.
function _flowPadding(text: string, doc: Document): boolean {
  let padded = true;
  visit(doc, (_key, node) => {
    if (!isCollection(node) || !node.flow || node.items.length === 0) return undefined;
    padded = _padded(text, node);
    return visit.BREAK;
  });
  return padded;
}

interface _Splice {
  from: number;
  to: number;
  insert: string;
}

// How `before` (as parsed from `text`) became `after`, as splices; undefined when it must be written anew.
function _splices(text: string, before: unknown, after: unknown): _Splice[] | undefined {
  if (!isNode(before) || !isNode(after) || after.range?.[0] !== before.range?.[0]) {
    return before === after ? [] : undefined;
  }
  if (isAlias(before) && isAlias(after)) return before.source === after.source ? [] : undefined;
  if (isScalar(before) && isScalar(after)) return _scalarSplices(text, before, after);
  if ((isMap(before) && isMap(after)) || (isSeq(before) && isSeq(after))) {
    return _collectionSplices(text, before, after);
  }
  return undefined;
}

function _scalarSplices(text: string, before: Scalar, after: Scalar): _Splice[] {
  if (after.value === before.value && after.type === before.type) return [];
  const [from, end] = before.range!;
  // `key:` with nothing after it: the value goes right after the colon, before any comment.
  if (from === end) {
    const at = text.slice(0, from).trimEnd().length;
    return [{ from: at, to: at, insert: ` ${_scalarText(after)}` }];
  }
  // A block scalar (`key: >-`) takes in its last line break, which the next line still needs.
  return [{ from, to: from + text.slice(from, end).trimEnd().length, insert: _scalarText(after) }];
}

function _collectionSplices(
  text: string,
  before: YAMLMap | YAMLSeq,
  after: YAMLMap | YAMLSeq,
): _Splice[] | undefined {
  const left = new Map<number | undefined, unknown>(before.items.map((item) => [_start(item), item]));
  const splices: _Splice[] = [];
  const added: unknown[] = [];
  for (const item of after.items) {
    const start = _start(item);
    const old = start === undefined ? undefined : left.get(start);
    if (old === undefined) {
      added.push(item);
      continue;
    }
    left.delete(start);
    const inner = _splices(text, isPair(old) ? old.value : old, isPair(item) ? item.value : item);
    if (inner) splices.push(...inner);
    else if (before.flow) return undefined;
    else splices.push(_rewrite(text, old, item));
  }
  const removed = [...left.values()];
  if (before.flow) return added.length + removed.length === 0 ? splices : undefined;
  // Emptied, or losing an item that shares its line with what holds the collection (`- name: x`): the
  // collection is written anew by its holder.
  if (after.items.length === 0 || removed.some((item) => !_ownLine(text, item))) return undefined;
  for (const item of removed) {
    splices.push({
      from: _lineStart(text, _itemStart(text, item)),
      to: _end(text, item),
      insert: "",
    });
  }
  if (added.length > 0) splices.push(_append(text, before, added));
  return splices;
}

// An item of a block collection whose value cannot be spliced, written anew where it stood; a pair from
// its key on, so a value that becomes a block collection can go on the lines below it.
function _rewrite(text: string, old: unknown, item: unknown): _Splice {
  const from = _start(old)!;
  const last = _last(old);
  const to = from + text.slice(from, last.range![1]).trimEnd().length;
  const node = isPair(item) ? _alone(item) : item;
  return { from, to, insert: _render(node, from - _lineStart(text, from), _padded(text, last)) };
}

// New items go after the last one, at the first one's indentation.
function _append(text: string, before: YAMLMap | YAMLSeq, added: unknown[]): _Splice {
  const at = _end(text, before.items.at(-1));
  const first = _itemStart(text, before.items[0]);
  const indent = first - _lineStart(text, first);
  const lines = added.map((item) => `${" ".repeat(indent)}${_render(_alone(item), indent, true)}\n`);
  return { from: at, to: at, insert: (text[at - 1] === "\n" ? "" : "\n") + lines.join("") };
}

// yaml's rendering of `node` on its own, its lines after the first indented to stand at `indent`.
function _render(node: unknown, indent: number, padded: boolean): string {
  const lines = new Document(node).toString({ lineWidth: 0, flowCollectionPadding: padded }).slice(0, -1);
  return lines.split("\n").map((line, i) => i === 0 || line === "" ? line : " ".repeat(indent) + line)
    .join("\n");
}

// A scalar to splice into its line, as an item of `[]` so it also fits inside a flow collection. A value
// yaml would spread over lines (a block scalar) is written as a JSON string, which YAML reads alike.
function _scalarText(node: Scalar): string {
  const seq = new YAMLSeq();
  seq.flow = true;
  seq.items.push(_bare(node));
  const text = new Document(seq).toString({ lineWidth: 0, flowCollectionPadding: false }).slice(1, -2);
  return text.includes("\n") ? JSON.stringify(node.value) : text;
}

// An item as a collection of its own, to render: the comments above a pair's key stay in the file.
function _alone(item: unknown): YAMLMap | YAMLSeq {
  if (isPair(item)) {
    const map = new YAMLMap();
    map.items.push(new Pair(isScalar(item.key) ? _bare(item.key) : item.key, item.value));
    return map;
  }
  const seq = new YAMLSeq();
  seq.items.push(item);
  return seq;
}

function _bare(node: Scalar): Scalar {
  const bare = new Scalar(node.value);
  bare.type = node.type;
  return bare;
}

// `{ a: b }` or `{a: b}`: a flow collection written anew keeps the spacing it had.
function _padded(text: string, node: Node): boolean {
  return !(isCollection(node) && node.flow && node.items.length > 0 && text[node.range![0] + 1] !== " ");
}

// Items are matched by where they start in the file; one with no place there is new.
function _start(item: unknown): number | undefined {
  const node = isPair(item) ? item.key : item;
  return isNode(node) ? node.range?.[0] : undefined;
}

// Where an item of a block collection begins: a pair at its key, a sequence item at its `-`: the last one
// before the item outside a comment (`- # first-provider` puts the item on the next line).
function _itemStart(text: string, item: unknown): number {
  if (isPair(item)) return _start(item)!;
  for (let end = _start(item)!; end > 0;) {
    const from = _lineStart(text, end);
    const dash = text.slice(from, end).replace(/(^|\s)#.*/, "").lastIndexOf("-");
    if (dash >= 0) return from + dash;
    end = from - 1;
  }
  throw new Error("a block sequence item with no `-` before it");
}

// The last node of a parsed item: a pair's value (or key, when it has none).
function _last(item: unknown): Node {
  return (isPair(item) ? (isNode(item.value) ? item.value : item.key) : item) as Node;
}

// Where an item of a block collection ends: past its last line, and the comment lines below it indented
// deeper than it starts.
function _end(text: string, item: unknown): number {
  const start = _itemStart(text, item);
  const indent = start - _lineStart(text, start);
  const last = _last(item);
  let end = _lineEnd(text, _contentEnd(last));
  for (let at = end; at < last.range![2];) {
    const next = _lineEnd(text, at + 1);
    const line = text.slice(at, next);
    const comment = /^\s*(?=#)/.exec(line);
    if (comment && comment[0].length > indent) end = next;
    else if (line.trim() !== "") break;
    at = next;
  }
  return end;
}

// Where a parsed node's own text ends. A block collection's ends with its last item: yaml's range runs on
// past the comments below that, up to the next item's first token.
function _contentEnd(node: Node): number {
  return isCollection(node) && !node.flow && node.items.length > 0
    ? _contentEnd(_last(node.items.at(-1)))
    : node.range![1];
}

function _ownLine(text: string, item: unknown): boolean {
  const start = _itemStart(text, item);
  return text.slice(_lineStart(text, start), start).trim() === "";
}

// The byte-order mark is no part of the first line: it stays when that line goes, and takes no column.
function _lineStart(text: string, pos: number): number {
  const start = text.lastIndexOf("\n", pos - 1) + 1;
  return start === 0 && text.startsWith(BOM_TEXT) ? BOM_TEXT.length : start;
}

// The end of the line that `pos` is on, past its line break (`pos` itself when a line break precedes it).
function _lineEnd(text: string, pos: number): number {
  if (text[pos - 1] === "\n") return pos;
  const lineBreak = text.indexOf("\n", pos);
  return lineBreak < 0 ? text.length : lineBreak + 1;
}
