import { type Document, isMap, isScalar, isSeq, Scalar } from "yaml";
import { ConfigError } from "./errors.ts";
import { editedText, parseYamlDocument } from "./yaml_document.ts";

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
  return _setupOf(_parse(text, path));
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
  const doc = _parse(text, path);
  const before = _setupOf(doc);
  if (setup.port !== undefined && setup.port !== before.port) {
    _setScalar(doc, ["server", "port"], setup.port);
  }
  if (setup.tokens && !_sameJson(setup.tokens, before.tokens)) {
    _ensureCollections(doc, ["server", "auth", "tokens"]);
    doc.setIn(["server", "auth", "tokens"], doc.createNode(setup.tokens.map(_quoted)));
  }
  if (setup.strategy !== undefined && setup.strategy !== before.strategy) {
    _setScalar(doc, ["routing", "strategy"], setup.strategy);
  }
  for (const wanted of setup.providers) {
    const old = before.providers.find((provider) => provider.name === wanted.name);
    if (!old) {
      _ensureCollections(doc, ["providers", 0]);
      if (!isSeq(doc.get("providers"))) doc.set("providers", doc.createNode([]));
      doc.addIn(["providers"], doc.createNode({ name: wanted.name, type: wanted.type }));
    }
    _applyProvider(doc, _providerIndex(doc, wanted.name), old ?? wanted, wanted, !old);
  }
  const keep = new Set(setup.providers.map((provider) => provider.name));
  for (const name of before.providers.map((provider) => provider.name)) {
    if (!keep.has(name)) doc.deleteIn(["providers", _providerIndex(doc, name)]);
  }
  return editedText(text, doc);
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
    else if (!fresh) doc.deleteIn(at(field));
  }
  if (fresh || wanted.aws_profile !== old.aws_profile) {
    if (wanted.aws_profile !== undefined) _setScalar(doc, at("aws", "profile"), wanted.aws_profile);
    else if (!fresh) {
      doc.deleteIn(at("aws", "profile"));
      const aws = doc.getIn(at("aws"), true);
      if (isMap(aws) && aws.items.length === 0) doc.deleteIn(at("aws"));
    }
  }
  if (wanted.key !== undefined && (fresh || wanted.key !== old.key)) {
    _setScalar(doc, at("keys", 0, "key"), _quoted(wanted.key));
  }
  if (!fresh && _sameJson(wanted.models, old.models)) return;
  const table = doc.getIn(at("models"), true);
  if (wanted.models === undefined) doc.deleteIn(at("models"));
  else if (!isMap(table)) doc.setIn(at("models"), doc.createNode(wanted.models));
  else {
    for (const name of Object.keys(old.models ?? {})) {
      if (!(name in wanted.models)) doc.deleteIn(at("models", name));
    }
    for (const [name, id] of Object.entries(wanted.models)) {
      if (old.models?.[name] !== id) _setScalar(doc, at("models", name), id);
    }
  }
}

function _parse(text: string, path: string): Document {
  const { doc, errors } = parseYamlDocument(text);
  if (errors.length > 0) throw new ConfigError(path, errors);
  const contents = doc.contents;
  if (contents !== null && !isMap(contents) && !(isScalar(contents) && contents.value === null)) {
    throw new ConfigError(path, [{ message: `${path} does not hold a YAML mapping (server:, providers:)` }]);
  }
  return doc;
}

function _setupOf(doc: Document): ConfigSetup {
  const raw = _record(doc.toJS());
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
  if (_isRecord(raw.models)) {
    setup.models = Object.fromEntries(Object.entries(raw.models).map(([name, id]) => [name, String(id)]));
  }
  return setup;
}

function _providerIndex(doc: Document, name: string): number {
  const providers = doc.get("providers", true);
  if (!isSeq(providers)) return -1;
  return providers.items.findIndex((item) => isMap(item) && item.get("name") === name);
}

/** Sets one value, keeping the node (and its comment) when there is one. */
function _setScalar(doc: Document, path: (string | number)[], value: string | number | Scalar): void {
  _ensureCollections(doc, path);
  const node = doc.getIn(path, true);
  if (isScalar(node) && value instanceof Scalar) {
    node.value = value.value;
    node.type = value.type;
  } else if (isScalar(node)) node.value = value;
  else doc.setIn(path, value);
}

// `key:` with nothing after it is a null scalar, which yaml will not descend into.
function _ensureCollections(doc: Document, path: (string | number)[]): void {
  for (let depth = 1; depth < path.length; depth++) {
    const node = doc.getIn(path.slice(0, depth), true);
    if (isScalar(node) && node.value === null) {
      doc.setIn(path.slice(0, depth), doc.createNode(typeof path[depth] === "number" ? [] : {}));
    }
  }
}

function _quoted(value: string): Scalar {
  const scalar = new Scalar(value);
  scalar.type = "QUOTE_DOUBLE";
  return scalar;
}

function _record(value: unknown): Record<string, unknown> {
  return _isRecord(value) ? value : {};
}

function _isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function _sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
