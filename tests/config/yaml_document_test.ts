import assert from "node:assert/strict";
import type { Node, YAMLSeq } from "yaml";
import { editedText, parseYamlDocument, plainValue, yamlLocator } from "../../src/config/yaml_document.ts";
import { billionLaughs, sharedTimeouts } from "../_helpers/billion_laughs.ts";

const TEXT = `server:
  port: 8787
providers:
  - name: a
    keys:
      - key: k1
`;

Deno.test("parseYamlDocument parses a valid document with no problems", () => {
  const { doc, errors, warnings } = parseYamlDocument(TEXT);
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
  assert.equal(doc.getIn(["providers", 0, "keys", 0, "key"]), "k1");
});

Deno.test("parseYamlDocument reports syntax errors with line, column and the source line", () => {
  const { errors } = parseYamlDocument("server:\n  port: 1\n host: x\n");
  assert.deepEqual(errors, [{
    line: 3,
    col: 1,
    source: " host: x",
    message: "All mapping items must start at the same column",
  }]);
});

Deno.test("parseYamlDocument reports a quote never closed where it opens, not at the end of the file", () => {
  for (const quote of [`"`, "'"]) {
    const { errors } = parseYamlDocument(`server:\n  host: ${quote}127.0.0.1\n  port: 8787\nproviders: []\n`);
    assert.deepEqual(errors, [{
      line: 2,
      col: 9,
      source: `  host: ${quote}127.0.0.1`,
      message:
        `this ${quote} opens a string that is never closed, so the rest of the file was read into it: close it`,
    }]);
  }
});

Deno.test("parseYamlDocument reports a [ or { never closed where it opens, not on the line after it", () => {
  const list = "this [ opens a list that is never closed: close it with ]";
  const map = "this { opens a map that is never closed: close it with }";
  const cases: [string, { line: number; col: number; source: string; message: string }][] = [
    // Inside a block list, before the next item; and at the end of the file, with and without a line break.
    [
      "providers:\n  - name: a\n    models: [x, y\n  - name: b\n",
      { line: 3, col: 13, source: "    models: [x, y", message: list },
    ],
    ["log: {level: info\n", { line: 1, col: 6, source: "log: {level: info", message: map }],
    ["a: [x, y", { line: 1, col: 4, source: "a: [x, y", message: list }],
    // Over several lines, each indented enough, then a key.
    ["a: [x,\n  y,\n  z\nb: 1\n", { line: 1, col: 4, source: "a: [x,", message: list }],
    ["a:\r\n  - [x,\r\n    y\r\nb: 1\r\n", { line: 2, col: 5, source: "  - [x,", message: list }],
    // The whole document.
    ["[x, y\n", { line: 1, col: 1, source: "[x, y", message: list }],
    ["{a: 1\n", { line: 1, col: 1, source: "{a: 1", message: map }],
    // A bracket in a quoted string or a comment closes nothing.
    ["a: [\"]\", 'it''s ]', b # ]\nc: 1\n", {
      line: 1,
      col: 4,
      source: "a: [\"]\", 'it''s ]', b # ]",
      message: list,
    }],
  ];
  for (const [text, expected] of cases) assert.deepEqual(parseYamlDocument(text).errors[0], expected, text);
});

Deno.test("parseYamlDocument reports nested [ and { never closed where each opens, the innermost first", () => {
  const at = (text: string) =>
    parseYamlDocument(text).errors.map(({ line, col, message }) => [line, col, message]);
  const list = "this [ opens a list that is never closed: close it with ]";
  const map = "this { opens a map that is never closed: close it with }";
  assert.deepEqual(at("a: [x, [y\nb: 1\n"), [[1, 8, list], [1, 4, list]]);
  assert.deepEqual(at("a: [x, {y: z,\n  w: v\nb: 1\n"), [[1, 8, map], [1, 4, list]]);
  // Only the outer one is left open.
  assert.deepEqual(at("providers: [\n  {name: a, type: mock},\n  {name: b, type: mock}\n"), [[1, 12, list]]);
});

Deno.test("parseYamlDocument leaves flow collections that are closed, and their other errors, as they were", () => {
  assert.deepEqual(
    parseYamlDocument("a: [x, [y]]\nb: {c: [1, 2], d: {e: f}}\nc: [\n  1,\n  2\n]\n").errors,
    [],
  );
  const errors = (text: string) =>
    parseYamlDocument(text).errors.map(({ line, col, message }) => ({ line, col, message }));
  // Closed on a line indented too little: the line to mend is that one.
  assert.deepEqual(errors("a:\n  b: [x,\n y]\n")[0], {
    line: 3,
    col: 2,
    message: "Flow sequence in block collection must be sufficiently indented and end with a ]",
  });
  // Closed by the wrong bracket: at that bracket.
  assert.deepEqual(errors('tokens: ["x", }\n'), [{
    line: 1,
    col: 15,
    message: "Flow sequence in block collection must be sufficiently indented and end with a ]",
  }]);
  assert.deepEqual(errors("a: [x, y]]\n"), [{
    line: 1,
    col: 10,
    message: 'Unexpected flow-seq-end token in YAML stream: "]"',
  }]);
  // A quote never closed inside a list is the error shown, where the quote opens.
  assert.deepEqual(errors('a: [x, "y]\nb: 1\n')[0], {
    line: 1,
    col: 8,
    message: 'this " opens a string that is never closed, so the rest of the file was read into it: close it',
  });
});

Deno.test("parseYamlDocument reports duplicate keys as errors", () => {
  const { errors } = parseYamlDocument("log:\n  level: info\n  level: debug\n");
  assert.equal(errors[0].line, 3);
  assert.equal(errors[0].col, 3);
  assert.match(errors[0].message, /unique/);
});

Deno.test("parseYamlDocument reports every duplicate key at the later one, nested and in flow maps, in file order", () => {
  const text =
    "a: 1\nb:\n  c: 1\n  c: 2\n  d: [{x: 1, x: 2}, {x: 1}]\n  e: &e [1]\n  '1': one\n  1: also\na: 3\n";
  const { errors } = parseYamlDocument(text);
  assert.deepEqual(errors.map(({ line, col, message }) => ({ line, col, message })), [
    { line: 4, col: 3, message: "Map keys must be unique" },
    { line: 5, col: 14, message: "Map keys must be unique" },
    { line: 9, col: 1, message: "Map keys must be unique" },
  ]);
});

Deno.test("parseYamlDocument words the multiple-documents error for a config file", () => {
  const { errors } = parseYamlDocument("a: 1\n---\nb: 2\n");
  assert.deepEqual(errors, [{
    line: 2,
    col: 1,
    source: "---",
    message: "a config file holds one YAML document: remove this `---` and what follows it",
  }]);
});

Deno.test("parseYamlDocument keeps YAML warnings apart from errors", () => {
  const { errors, warnings } = parseYamlDocument("x: !!foo 1\n");
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings.map((w) => [w.line, w.col]), [[1, 4]]);
});

Deno.test("plainValue resolves the aliases of a file sharing one value among many providers", () => {
  const raw = plainValue(parseYamlDocument(sharedTimeouts(1_000)), "relay.yaml") as { providers: unknown[] };
  assert.equal(raw.providers.length, 1_001);
  assert.deepEqual(raw.providers.at(-1), { name: "p999", type: "mock", timeouts: { connect: "20s" } });
});

Deno.test("plainValue refuses a billion laughs at its first alias, before it takes the memory", () => {
  const parsed = parseYamlDocument(billionLaughs());
  assert.throws(() => plainValue(parsed, "relay.yaml"), {
    name: "ConfigError",
    message:
      "relay.yaml:2:8: aliases (`*name`) expand to more than 10000 copies: relay refuses a file that may " +
      'be built to exhaust memory (a "billion laughs")',
  });
});

Deno.test("plainValue of one node refuses a billion laughs at that node's first alias", () => {
  const parsed = parseYamlDocument(`shared: &s 1\nalso: *s\nbomb:\n${billionLaughs("  ")}`);
  assert.throws(() => plainValue(parsed, "relay.yaml", parsed.doc.getIn(["bomb"], true) as Node), {
    name: "ConfigError",
    message: /^relay\.yaml:5:10: aliases \(`\*name`\) expand to more than 10000 copies/,
  });
});

Deno.test("a billion laughs is refused where it multiplies, not at a value shared once before it", () => {
  const parsed = parseYamlDocument(`${sharedTimeouts(2)}bomb:\n${billionLaughs("  ")}`);
  assert.throws(() => plainValue(parsed, "relay.yaml"), {
    name: "ConfigError",
    message: /^relay\.yaml:9:10: aliases \(`\*name`\) expand to more than 10000 copies/,
  });
});

Deno.test("plainValue refuses an alias with no anchor before it at that alias, not as a billion laughs", () => {
  const parsed = parseYamlDocument("a: &x 1\nb: *x\nc: [*y, *nowhere]\ny: &y 2\n");
  assert.throws(() => plainValue(parsed, "relay.yaml"), {
    name: "ConfigError",
    message:
      "relay.yaml:3:5: `*y` has no anchor `&y` before it: an alias repeats a value marked so earlier " +
      "in the file",
  });
});

Deno.test("yamlLocator finds the value node at a path", () => {
  const { doc, lineCounter } = parseYamlDocument(TEXT);
  const locate = yamlLocator(doc, lineCounter);
  assert.deepEqual(locate(["server", "port"]), { line: 2, col: 9 });
  assert.deepEqual(locate(["providers", 0, "keys", 0, "key"]), { line: 6, col: 14 });
  assert.deepEqual(locate(["providers", 0, "name"]), { line: 4, col: 11 });
});

Deno.test("yamlLocator finds a key inside a mapping", () => {
  const { doc, lineCounter } = parseYamlDocument(TEXT);
  const locate = yamlLocator(doc, lineCounter);
  assert.deepEqual(locate(["providers", 0], "keys"), { line: 5, col: 5 });
  assert.deepEqual(locate([], "providers"), { line: 3, col: 1 });
});

Deno.test("yamlLocator falls back to the nearest node that exists", () => {
  const { doc, lineCounter } = parseYamlDocument(TEXT);
  const locate = yamlLocator(doc, lineCounter);
  assert.deepEqual(locate(["providers", 0, "type"]), { line: 4, col: 5 });
  assert.deepEqual(locate(["server", "auth", "tokens"]), { line: 2, col: 3 });
  assert.deepEqual(locate(["log"]), { line: 1, col: 1 });
  assert.deepEqual(locate(["providers", 0], "missing"), { line: 4, col: 5 });
});

Deno.test("editedText splices each change in where it stands, in a form that reads back the same", () => {
  const text = "\uFEFFa: 1\r\nb: # empty\r\nc: { d: x }\r\ne: [1]";
  const { doc } = parseYamlDocument(text);
  doc.delete("a");
  doc.set("b", "two\nlines");
  doc.setIn(["c", "d"], "x, y");
  doc.addIn(["e"], 2);
  doc.set("g", 2);
  const edited = editedText(text, doc);
  assert.equal(edited, '\uFEFFb: "two\\nlines" # empty\r\nc: { d: "x, y" }\r\ne: [1, 2]\r\ng: 2\r\n');
  assert.deepEqual(parseYamlDocument(edited).doc.toJS(), doc.toJS());
});

Deno.test("editedText removes an item with the comments below it, and nothing of the next item", () => {
  const text = [
    "providers:",
    "  - name: old",
    "    models:",
    "      sonnet: old-sonnet",
    "      # retired next month",
    "# kept",
    "  - { name: m, type: mock }  # kept",
    "  - name: gw",
    "    models:",
    "      sonnet: gw-sonnet",
    "      # opus: not yet",
    "    max_in_flight: 4",
    "",
  ].join("\n");
  const { doc } = parseYamlDocument(text);
  doc.deleteIn(["providers", 0]);
  doc.deleteIn(["providers", 1, "models"]);
  assert.equal(
    editedText(text, doc),
    "providers:\n# kept\n  - { name: m, type: mock }  # kept\n  - name: gw\n    max_in_flight: 4\n",
  );
});

Deno.test("editedText adds to an item ending in a comment inside that item, not the next one", () => {
  const text = [
    "providers:",
    "  - name: local",
    "    models:",
    "      sonnet: qwen3",
    "      # haiku: qwen3:8b",
    "  - name: backup  # kept",
    "",
  ].join("\n");
  const { doc } = parseYamlDocument(text);
  doc.setIn(["providers", 0, "models", "opus"], "big");
  doc.setIn(["providers", 0, "keys"], doc.createNode([{ key: "k" }]));
  assert.equal(
    editedText(text, doc),
    text.replace("qwen3\n", "qwen3\n      opus: big\n").replace(":8b\n", ":8b\n    keys:\n      - key: k\n"),
  );
});

Deno.test("editedText leaves an alias that did not change as it is", () => {
  const text = "a: &k\n    - 1\nb: *k\nc: 1\n";
  const { doc } = parseYamlDocument(text);
  doc.set("c", 2);
  assert.equal(editedText(text, doc), "a: &k\n    - 1\nb: *k\nc: 2\n");
});

Deno.test("editedText finds a sequence item's `-` past a comment that holds one", () => {
  const text = "providers:\n    - # first-provider (mock)\n      name: m\n";
  const { doc } = parseYamlDocument(text);
  doc.addIn(["providers"], doc.createNode({ name: "z" }));
  assert.equal(editedText(text, doc), `${text}    - name: z\n`);
});

Deno.test("editedText replaces a block scalar, keeping the line break after it", () => {
  const text = "keys:\n  - key: >-\n      folded-key\n    name: k0\n";
  const { doc } = parseYamlDocument(text);
  doc.setIn(["keys", 0, "key"], "new-key");
  assert.equal(editedText(text, doc), 'keys:\n  - key: "new-key"\n    name: k0\n');
});

Deno.test("editedText writes the whole document, in the file's style, when splices cannot make the edit", () => {
  // Reordered items: each is where it was, so splicing would change nothing.
  const reordered = "\uFEFFs:\r\n  - x # first\r\n  - y\r\nt: {a: 1}\r\n";
  const first = parseYamlDocument(reordered).doc;
  (first.get("s", true) as YAMLSeq).items.reverse();
  assert.equal(editedText(reordered, first), "\uFEFFs:\r\n  - y\r\n  - x # first\r\nt: {a: 1}\r\n");
  // A flow collection is written anew whole, and an alias cannot be written without its anchor.
  const aliased = "a: &x 1\nb: [*x]\n";
  const second = parseYamlDocument(aliased).doc;
  second.addIn(["b"], 2);
  assert.equal(editedText(aliased, second), "a: &x 1\nb: [*x, 2]\n");
});
