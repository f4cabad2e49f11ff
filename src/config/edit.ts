import {
  type Alias,
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  type Node,
  Scalar,
  visit,
} from "yaml";
import { isJsonObject } from "../util/json.ts";
import { ConfigError } from "./errors.ts";
import { editedText, parseYamlDocument, plainValue } from "./yaml_document.ts";

/** The fields of one provider that `relay init` asks about, as written in the file (unexpanded). */
export interface ProviderSetup {
  name: string;
  type: string;
  base_url?: string;
  region?: string;
  project?: string;
  credentials_file?: string;
  /** `aws.profile`. */
  aws_profile?: string;
  /** The first key (`keys[0].key`): a `${VAR}` reference or the key itself. */
  key?: string;
  /** `undefined`: no `models:` table, the provider serves any model under its own name. */
  models?: Record<string, string>;
}

/** What `relay init` sets in a config file; everything else in the file is left as it is. */
export interface ConfigSetup {
  /** A number, or the text written in the file (`${RELAY_PORT:-8787}`) when it was left alone. */
  port?: number | string;
  tokens?: string[];
  /** `routing.strategy`: how relay picks among the providers. */
  strategy?: string;
  /** Every provider wanted, in order; one missing from this list is removed from the file. */
  providers: ProviderSetup[];
}

const _FIELDS = ["base_url", "region", "project", "credentials_file"] as const;

/**
 * Reads the parts of a config file that {@linkcode applySetup} edits, values as written (a `${VAR}`
 * stays a reference), so a wizard can offer them as the current answers. Throws `ConfigError` for text
 * that is not YAML or not a mapping.
 *
 * @example
 * ```ts
 * readSetup("server:\n  port: 8788\nproviders:\n  - { name: m, type: mock }\n", "relay.yaml");
 * // { port: 8788, providers: [{ name: "m", type: "mock" }] }
 * ```
 */
export function readSetup(text: string, path: string): ConfigSetup {
  return _setupOf(_parse(text, path).raw);
}

/**
 * Edits config text so it holds `setup`, touching only the nodes whose value changes: comments, key
 * order, quoting and every field `setup` does not cover survive. New providers are appended; keys and
 * tokens are written double-quoted, so an all-digit secret stays a string after `${VAR}` expansion.
 *
 * @example
 * ```ts
 * const text = applySetup(await Deno.readTextFile("relay.yaml"), "relay.yaml", {
 *   port: 8788,
 *   providers: [{ name: "anthropic", type: "anthropic", key: "${ANTHROPIC_API_KEY}" }],
 * });
 * ```
 */
export function applySetup(text: string, path: string, setup: ConfigSetup): string {
  const { doc, raw } = _parse(text, path);
  const before = _setupOf(raw);
  if (setup.port !== undefined && setup.port !== before.port) {
    _setScalar(doc, ["server", "port"], setup.port);
  }
  if (setup.tokens && !_sameJson(setup.tokens, before.tokens)) _setTokens(doc, setup.tokens);
  if (setup.strategy !== undefined && setup.strategy !== before.strategy) {
    _setScalar(doc, ["routing", "strategy"], setup.strategy);
  }
  for (const wanted of setup.providers) {
    const old = before.providers.find((provider) => provider.name === wanted.name);
    if (!old) {
      if (!isSeq(doc.get("providers"))) doc.set("providers", doc.createNode([]));
      doc.addIn(["providers"], doc.createNode({ name: wanted.name, type: wanted.type }));
    }
    _applyProvider(doc, _providerIndex(doc, wanted.name), old ?? wanted, wanted, !old);
  }
  const keep = new Set(setup.providers.map((provider) => provider.name));
  for (const name of before.providers.map((provider) => provider.name)) {
    if (!keep.has(name)) _delete(doc, ["providers", _providerIndex(doc, name)]);
  }
  _withoutRoutesTo(doc, keep);
  return editedText(text, doc);
}

/**
 * `routing.model_routes` without its entries to a provider no longer in the file (`kept` names those
 * that are), which relay would refuse to load: a provider taken out takes its routes with it.
 */
function _withoutRoutesTo(doc: Document, kept: ReadonlySet<string>): void {
  const at = ["routing", "model_routes"];
  const routes = doc.getIn(at, true);
  if (!isMap(routes)) return;
  for (const item of [...routes.items]) {
    const provider = isScalar(item.value) ? item.value.value : undefined;
    // A `${VAR}` names a provider only once expanded: it stays.
    if (typeof provider === "string" && !provider.includes("${") && !kept.has(provider)) {
      routes.delete(item.key);
    }
  }
  if (routes.items.length === 0) _delete(doc, at);
}

function _applyProvider(
  doc: Document,
  index: number,
  old: ProviderSetup,
  wanted: ProviderSetup,
  fresh: boolean,
): void {
  const at = (...rest: (string | number)[]) => ["providers", index, ...rest];
  if (wanted.type !== old.type) _setScalar(doc, at("type"), wanted.type);
  for (const field of _FIELDS) {
    const value = wanted[field];
    if (!fresh && value === old[field]) continue;
    if (value !== undefined) _setScalar(doc, at(field), value);
    else if (!fresh) _delete(doc, at(field));
  }
  if (fresh || wanted.aws_profile !== old.aws_profile) {
    if (wanted.aws_profile !== undefined) _setScalar(doc, at("aws", "profile"), wanted.aws_profile);
    else if (!fresh) {
      _delete(doc, at("aws", "profile"));
      const aws = doc.getIn(at("aws"), true);
      if (isMap(aws) && aws.items.length === 0) _delete(doc, at("aws"));
    }
  }
  if (wanted.key !== undefined && (fresh || wanted.key !== old.key)) {
    _setScalar(doc, at("keys", 0, "key"), _quoted(wanted.key));
  }
  if (!fresh && _sameJson(wanted.models, old.models)) return;
  const table = doc.getIn(at("models"), true);
  if (wanted.models === undefined) _delete(doc, at("models"));
  else if (!isMap(table)) doc.setIn(at("models"), doc.createNode(wanted.models));
  else {
    for (const name of Object.keys(old.models ?? {})) {
      if (!(name in wanted.models)) _delete(doc, at("models", name));
    }
    for (const [name, id] of Object.entries(wanted.models)) {
      if (old.models?.[name] !== id) _setScalar(doc, at("models", name), id);
    }
  }
}

// The document to edit, and its plain value to read the setup from.
function _parse(text: string, path: string): { doc: Document; raw: unknown } {
  const parsed = parseYamlDocument(text);
  const { doc, errors } = parsed;
  if (errors.length > 0) throw new ConfigError(path, errors);
  const contents = doc.contents;
  if (contents !== null && !isMap(contents) && !(isScalar(contents) && contents.value === null)) {
    throw new ConfigError(path, [{ message: `${path} does not hold a YAML mapping (server:, providers:)` }]);
  }
  return { doc, raw: plainValue(parsed, path) };
}

function _setupOf(value: unknown): ConfigSetup {
  const raw = _record(value);
  const server = _record(raw.server);
  const tokens = _record(server.auth).tokens;
  const port = server.port;
  const strategy = _record(raw.routing).strategy;
  return {
    ...(typeof port === "number" || typeof port === "string" ? { port } : {}),
    // A named client is a mapping; its token is what init shows and keeps.
    ...(Array.isArray(tokens)
      ? { tokens: tokens.map((token) => String(_record(token).token ?? token)) }
      : {}),
    ...(typeof strategy === "string" ? { strategy } : {}),
    providers: (Array.isArray(raw.providers) ? raw.providers : []).map(_providerOf),
  };
}

function _providerOf(value: unknown): ProviderSetup {
  const raw = _record(value);
  const setup: ProviderSetup = { name: String(raw.name ?? ""), type: String(raw.type ?? "") };
  for (const field of _FIELDS) {
    if (typeof raw[field] === "string") setup[field] = raw[field];
  }
  const profile = _record(raw.aws).profile;
  if (typeof profile === "string") setup.aws_profile = profile;
  const key = Array.isArray(raw.keys) ? _record(raw.keys[0]).key : undefined;
  if (typeof key === "string") setup.key = key;
  if (isJsonObject(raw.models)) {
    setup.models = Object.fromEntries(Object.entries(raw.models).map(([name, id]) => [name, String(id)]));
  }
  return setup;
}

function _providerIndex(doc: Document, name: string): number {
  const providers = doc.get("providers", true);
  if (!isSeq(providers)) return -1;
  return providers.items.findIndex((item) => isMap(item) && item.get("name") === name);
}

// The tokens wanted take the places of the file's, in order. A named client keeps its name, limits and
// budget, only its token changes, and it stays when fewer tokens are wanted; a bare token then goes.
function _setTokens(doc: Document, tokens: string[]): void {
  const path = ["server", "auth", "tokens"];
  _writable(doc, path);
  const list = doc.getIn(path, true);
  if (!isSeq(list)) {
    doc.setIn(path, doc.createNode(tokens.map(_quoted)));
    return;
  }
  for (let index = list.items.length - 1; index >= 0; index--) {
    const named = isMap(list.items[index]);
    const at = named ? [...path, index, "token"] : [...path, index];
    if (index < tokens.length) {
      if (doc.getIn(at) !== tokens[index]) _setScalar(doc, at, _quoted(tokens[index]));
    } else if (!named) _delete(doc, at);
  }
  for (const token of tokens.slice(list.items.length)) doc.addIn(path, _quoted(token));
}

/** Sets one value, keeping the node (and its comment) when there is one. */
function _setScalar(doc: Document, path: (string | number)[], value: string | number | Scalar): void {
  _writable(doc, path);
  const node = doc.getIn(path, true);
  if (isScalar(node) && value instanceof Scalar) {
    node.value = value.value;
    node.type = value.type;
  } else if (isScalar(node)) node.value = value;
  else doc.setIn(path, value);
}

function _delete(doc: Document, path: (string | number)[]): void {
  _writable(doc, path);
  doc.deleteIn(path);
}

// Makes way for a change at `path`. yaml descends into neither `key:` with nothing after it (a null
// scalar, which becomes an empty collection) nor an alias (which becomes a copy of what it stands for).
// Aliases of a node the change reaches (on the way, or inside what is changed or removed) each take a
// copy of it as it was first, so a change made for one provider never reaches another sharing its nodes.
function _writable(doc: Document, path: (string | number)[]): void {
  const reached = new Set<unknown>();
  for (let depth = 1; depth < path.length; depth++) {
    const at = path.slice(0, depth);
    let node = doc.getIn(at, true);
    if (isAlias(node)) doc.setIn(at, node = _copy(doc, node));
    else if (isScalar(node) && node.value === null) {
      doc.setIn(at, node = doc.createNode(typeof path[depth] === "number" ? [] : {}));
    }
    reached.add(node);
  }
  const target = doc.getIn(path, true);
  if (isNode(target)) visit(target, (_key, node) => void reached.add(node));
  visit(doc, { Alias: (_key, alias) => reached.has(alias.resolve(doc)) ? _copy(doc, alias) : undefined });
}

// What an alias stands for, as a node of its own standing where the alias was (so it is written there
// anew); without anchors, whose names stay with the original.
function _copy(doc: Document, alias: Alias): Node {
  const copy = alias.resolve(doc)!.clone() as Node;
  visit(copy, (_key, node) => {
    if (isNode(node) && !isAlias(node)) node.anchor = undefined;
  });
  copy.range = alias.range;
  return copy;
}

function _quoted(value: string): Scalar {
  const scalar = new Scalar(value);
  scalar.type = "QUOTE_DOUBLE";
  return scalar;
}

function _record(value: unknown): Record<string, unknown> {
  return isJsonObject(value) ? value : {};
}

function _sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
