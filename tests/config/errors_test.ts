import assert from "node:assert/strict";
import { ConfigError, formatPath, formatProblem } from "../../src/config/errors.ts";

Deno.test("formatPath writes indexes in brackets and fields with dots", () => {
  assert.equal(formatPath(["providers", 1, "keys", 0, "key"]), "providers[1].keys[0].key");
  assert.equal(formatPath(["server", "port"]), "server.port");
  assert.equal(formatPath([0]), "[0]");
  assert.equal(formatPath([]), "");
});

Deno.test("formatProblem puts file, position and path before the message", () => {
  assert.equal(
    formatProblem("relay.yaml", { path: "server.port", line: 2, col: 9, message: "expected a number" }),
    "relay.yaml:2:9: server.port: expected a number",
  );
  assert.equal(
    formatProblem("relay.yaml", { line: 3, col: 1, message: "unknown key" }),
    "relay.yaml:3:1: unknown key",
  );
  assert.equal(
    formatProblem("relay.yaml", { path: "providers", message: "missing" }),
    "relay.yaml: providers: missing",
  );
});

Deno.test("formatProblem prints a problem without path or position bare: its message names the file", () => {
  assert.equal(
    formatProblem("relay.yaml", { message: "config file not found: relay.yaml" }),
    "config file not found: relay.yaml",
  );
});

Deno.test("formatProblem draws the source line with a caret under the column", () => {
  const text = formatProblem("relay.yaml", { line: 4, col: 7, message: "bad indent", source: "  port:: 1" });
  assert.equal(text, "relay.yaml:4:7: bad indent\n    port:: 1\n        ^");
});

Deno.test("formatProblem masks a short client token or key on the line it draws", () => {
  const token = formatProblem("a.yaml", {
    line: 3,
    col: 30,
    message: "Flow sequence in block collection must be sufficiently indented and end with a ]",
    source: '    tokens: ["Secret-Tok-9", }',
  });
  assert.deepEqual(token.split("\n").slice(1), ['      tokens: ["...-9", }', `  ${" ".repeat(22)}^`]);
  const key = formatProblem("b.yaml", {
    line: 7,
    col: 9,
    message: "Map keys must be unique",
    source: "        key: gw-K3y-777x",
  });
  assert.equal(key.split("\n")[1], "          key: ***");
});

Deno.test("formatProblem keeps tabs before the caret so it lines up", () => {
  const text = formatProblem("r.yaml", { line: 1, col: 3, message: "tab", source: "\t\tx" });
  assert.equal(text.split("\n")[2], "  \t\t^");
});

Deno.test("ConfigError carries the file and problems, and its message is the whole report", () => {
  const single = new ConfigError("relay.yaml", [{ path: "log.level", line: 5, col: 10, message: "nope" }]);
  assert.equal(single.message, "relay.yaml:5:10: log.level: nope");
  assert.equal(single.file, "relay.yaml");
  assert.equal(single.name, "ConfigError");
  assert.ok(single instanceof Error);

  const several = new ConfigError("relay.yaml", [
    { path: "a", line: 1, col: 1, message: "first" },
    { path: "b", line: 2, col: 3, message: "second" },
  ]);
  assert.equal(
    several.message,
    "relay.yaml: 2 problems\nrelay.yaml:1:1: a: first\nrelay.yaml:2:3: b: second",
  );
  assert.equal(several.problems.length, 2);
});
