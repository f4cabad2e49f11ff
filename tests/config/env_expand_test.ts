import assert from "node:assert/strict";
import { expandEnvInDocument, expandString } from "../../src/config/env_expand.ts";
import { parseYamlDocument } from "../../src/config/yaml_document.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("expandString substitutes ${VAR}", () => {
  assert.deepEqual(expandString("key-${A}-${B}", env({ A: "1", B: "2" })), {
    value: "key-1-2",
    problems: [],
  });
  assert.deepEqual(expandString("${A}", env({ A: "" })), { value: "", problems: [] });
});

Deno.test("expandString reports an unset variable and how to give a fallback", () => {
  assert.deepEqual(expandString("x${MISSING}y", env({})), {
    value: "x${MISSING}y",
    problems: [{
      reference: "${MISSING}",
      message: "environment variable MISSING is not set (use ${MISSING:-default} for a fallback)",
    }],
  });
});

Deno.test("expandString reports every unset variable", () => {
  const { problems } = expandString("${A}${B}${C}", env({ B: "b" }));
  assert.deepEqual(problems.map((p) => p.reference), ["${A}", "${C}"]);
});

Deno.test("expandString uses ${VAR:-default} when VAR is unset or empty", () => {
  assert.equal(expandString("${PORT:-8787}", env({})).value, "8787");
  assert.equal(expandString("${PORT:-8787}", env({ PORT: "" })).value, "8787");
  assert.equal(expandString("${PORT:-8787}", env({ PORT: "9000" })).value, "9000");
  assert.equal(expandString("${A:-}", env({})).value, "");
  assert.equal(expandString("${A:-x:-y {z}", env({})).value, "x:-y {z");
});

Deno.test("expandString turns $${ into a literal ${ without expanding it", () => {
  assert.deepEqual(expandString("$${HOME} and ${H}", env({ HOME: "/root", H: "h" })), {
    value: "${HOME} and h",
    problems: [],
  });
  assert.equal(expandString("cost: $$5", env({})).value, "cost: $$5");
});

Deno.test("expandString does not expand what a variable expands to", () => {
  assert.equal(expandString("${A}", env({ A: "${B}", B: "no" })).value, "${B}");
  assert.equal(expandString("${A:-${B}", env({ B: "no" })).problems.length, 1);
});

Deno.test("expandString refuses malformed references", () => {
  const hint = "use ${NAME} or ${NAME:-default}, and $${ for a literal ${";
  assert.deepEqual(expandString("a ${OPEN", env({})).problems, [
    { reference: "${", message: `unterminated \`\${\`: ${hint}` },
  ]);
  assert.deepEqual(expandString("${1X} ${} ${A B}", env({})).problems.map((p) => p.message), [
    `invalid reference \`\${1X}\`: ${hint}`,
    `invalid reference \`\${}\`: ${hint}`,
    `invalid reference \`\${A B}\`: ${hint}`,
  ]);
  assert.equal(expandString("plain $HOME text", env({ HOME: "/root" })).value, "plain $HOME text");
});

Deno.test("expandString takes time linear in a long run of ${ that nothing closes", () => {
  // Each `${` once looked to the end for its `}`: 1.5 to 2.6 s for 64 KiB.
  const text = "${A}" + "${".repeat(32_768) + "$${";
  const started = performance.now();
  const { value, problems } = expandString(text, env({ A: "a" }));
  const elapsed = performance.now() - started;
  assert.equal(value, "a" + "${".repeat(32_769));
  assert.equal(problems.length, 32_768);
  assert.deepEqual(problems[0], problems.at(-1));
  assert.equal(problems[0].reference, "${");
  assert.ok(elapsed < 1_000, `${elapsed} ms`);
});

const TEXT = `server:
  port: \${PORT:-8787}
  host: "\${HOST:-localhost}"
log:
  bodies: \${BODIES:-false}
providers:
  - name: \${NAME}
    keys:
      - key: \${KEY_ONE}
      - key: "a-\${KEY_TWO}-\${KEY_THREE}"
  \${NOT_A_KEY}: x
`;

function expand(text: string, vars: Record<string, string>) {
  const { doc, lineCounter } = parseYamlDocument(text);
  const problems = expandEnvInDocument(doc, { text, lineCounter, env: env(vars) });
  return { doc, problems };
}

Deno.test("expandEnvInDocument expands values in place and never keys", () => {
  const { doc, problems } = expand(TEXT, { NAME: "main", KEY_ONE: "k1", KEY_TWO: "k2", KEY_THREE: "k3" });
  assert.deepEqual(problems, []);
  assert.deepEqual(doc.toJS(), {
    server: { port: 8787, host: "localhost" },
    log: { bodies: false },
    providers: [{ name: "main", keys: [{ key: "k1" }, { key: "a-k2-k3" }] }],
    "${NOT_A_KEY}": "x",
  });
});

Deno.test("expandEnvInDocument re-reads only unquoted scalars as numbers or booleans", () => {
  const text = "a: ${N}\nb: \"${N}\"\nc: ${T}\nd: ${N}x\ne: '${T}'\n";
  const { doc } = expand(text, { N: "42", T: "true" });
  assert.deepEqual(doc.toJS(), { a: 42, b: "42", c: true, d: "42x", e: "true" });
});

Deno.test("expandEnvInDocument reads an unquoted value as YAML reads the same text written in place", () => {
  const values = ["1e3", "0x1F", "0o17", ".5", "+12", "-.inf", ".nan", "True", "~", "", "8_787", "12:30"];
  for (const value of values) {
    const { doc } = expand("a: ${V}\n", { V: value });
    assert.deepEqual(doc.toJS(), parseYamlDocument(`a: ${value}\n`).doc.toJS(), `V=${value}`);
  }
});

Deno.test("expandEnvInDocument leaves a tagged value as its tag reads it", () => {
  const { doc } = expand("a: !!str ${N}\n", { N: "42" });
  assert.deepEqual(doc.toJS(), { a: "42" });
});

Deno.test("expandEnvInDocument reports every missing variable with its path and position", () => {
  const { problems } = expand(TEXT, { KEY_TWO: "k2" });
  assert.deepEqual(problems, [
    {
      path: "providers[0].name",
      line: 7,
      col: 11,
      message: "environment variable NAME is not set (use ${NAME:-default} for a fallback)",
    },
    {
      path: "providers[0].keys[0].key",
      line: 9,
      col: 14,
      message: "environment variable KEY_ONE is not set (use ${KEY_ONE:-default} for a fallback)",
    },
    {
      path: "providers[0].keys[1].key",
      line: 10,
      col: 28,
      message: "environment variable KEY_THREE is not set (use ${KEY_THREE:-default} for a fallback)",
    },
  ]);
});

Deno.test("expandEnvInDocument places a repeated reference at each of its occurrences", () => {
  const { problems } = expand("k: ${X}-${X}\n", {});
  assert.deepEqual(problems.map((p) => [p.line, p.col]), [[1, 4], [1, 9]]);
});
