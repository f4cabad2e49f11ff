import assert from "node:assert/strict";
import { editedText, parseYamlDocument, yamlLocator } from "../../src/config/yaml_document.ts";

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

Deno.test("parseYamlDocument reports duplicate keys as errors", () => {
  const { errors } = parseYamlDocument("log:\n  level: info\n  level: debug\n");
  assert.equal(errors[0].line, 3);
  assert.equal(errors[0].col, 3);
  assert.match(errors[0].message, /unique/);
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
