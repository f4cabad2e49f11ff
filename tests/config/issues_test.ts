import assert from "node:assert/strict";
import { problemsFromIssues } from "../../src/config/issues.ts";
import { configSchema } from "../../src/config/schema.ts";
import type { Locator } from "../../src/config/yaml_document.ts";

const MOCK = { name: "mock", type: "mock" };

/** A locator that places each path on its own made-up line, so positions can be asserted exactly. */
const locate: Locator = (path, key) => ({ line: [...path, key ?? ""].join("/").length, col: 1 });

function problems(input: unknown) {
  const result = configSchema.safeParse(input, { reportInput: true });
  assert.equal(result.success, false, "expected the config to be refused");
  return problemsFromIssues(result.error!.issues, { schema: configSchema, locate });
}

function messages(input: unknown): string[] {
  return problems(input).map((problem) =>
    problem.path ? `${problem.path}: ${problem.message}` : problem.message
  );
}

Deno.test("an unknown key suggests the nearest allowed one", () => {
  assert.deepEqual(messages({ providers: [MOCK], server: { prot: 1 } }), [
    "unknown key `prot` in server (did you mean `port`?)",
  ]);
  assert.deepEqual(messages({ providers: [MOCK], server: { prots: 1 } }), [
    "unknown key `prots` in server (did you mean `port`?)",
  ]);
  assert.deepEqual(messages({ provders: [MOCK] }), [
    "unknown key `provders` at the top level (did you mean `providers`?)",
    "providers: missing: expected a list",
  ]);
});

Deno.test("an unknown key that is not a word, a secret pasted as a key, is masked however short", () => {
  assert.match(
    messages({ providers: [MOCK], server: { "sk-ant-api03-AbCdEf0123456789xyz": null } })[0],
    /^unknown key \(sk-ant-\.\.\.9xyz\) in server \(allowed: /,
  );
  assert.match(
    messages({ providers: [MOCK], server: { "Secret-Tok-9": 1 } })[0],
    /^unknown key \(\.\.\.-9\) in server /,
  );
});

Deno.test("an unknown key far from every allowed one lists them", () => {
  assert.deepEqual(messages({ providers: [MOCK], log: { format: "json" } }), [
    "unknown key `format` in log (allowed: level, bodies)",
  ]);
});

Deno.test("unknown keys inside list items list that item's keys", () => {
  assert.deepEqual(messages({ providers: [MOCK, { ...MOCK, name: "m2", url: "x" }] }), [
    "unknown key `url` in providers[1] (allowed: name, type, base_url, auth_header, keys, models, timeouts, region, aws, project, credentials_file, token_url, entra, mock, max_in_flight, prices)",
  ]);
  assert.deepEqual(messages({ providers: [{ ...MOCK, keys: [{ key: "k", nmae: "x" }] }] }), [
    "unknown key `nmae` in providers[0].keys[0] (did you mean `name`?)",
  ]);
  assert.deepEqual(messages({ providers: [{ ...MOCK, mock: { evnts: 3 } }] }), [
    "unknown key `evnts` in providers[0].mock (did you mean `events`?)",
  ]);
});

Deno.test("each unknown key is its own problem, located at the key", () => {
  const found = problems({ providers: [MOCK], server: { prot: 1, hots: "x" } });
  assert.deepEqual(found.map((p) => [p.line, p.path, p.message]), [
    ["server/prot".length, undefined, "unknown key `prot` in server (did you mean `port`?)"],
    ["server/hots".length, undefined, "unknown key `hots` in server (did you mean `host`?)"],
  ]);
});

Deno.test("a type error says what was expected and what was found", () => {
  assert.deepEqual(messages({ providers: [MOCK], server: { port: "abc" } }), [
    'server.port: expected a number, found the string "abc"',
  ]);
  assert.deepEqual(messages({ providers: [MOCK], server: { port: "8080" } }), [
    'server.port: expected a number, found the string "8080" (write it without quotes or a !!str tag)',
  ]);
  assert.deepEqual(messages({ providers: [MOCK], server: { port: 1.5 } }), [
    "server.port: expected a whole number, found the number 1.5",
  ]);
  assert.deepEqual(messages({ providers: [MOCK], log: { bodies: "yes" } }), [
    'log.bodies: expected true or false, found the string "yes"',
  ]);
  assert.deepEqual(
    messages({ providers: [MOCK], server: { port: "gw-K3y-777x" } }),
    ["server.port: expected a number, found a string (***)"],
    "a short string that is no word may be a key pasted one level off",
  );
  assert.deepEqual(messages({ providers: { name: "x" } }), ["providers: expected a list, found a mapping"]);
  assert.deepEqual(messages({ providers: [MOCK], server: null }), [
    "server: expected a mapping, found an empty value or null",
  ]);
  assert.deepEqual(messages([]), ["expected a mapping, found a list"]);
});

Deno.test("a mapping of any keys (a record) is named as every other mapping", () => {
  assert.deepEqual(messages({ providers: [MOCK], routing: { model_routes: ["a"] } }), [
    "routing.model_routes: expected a mapping, found a list",
  ]);
});

Deno.test(".inf and .nan are refused as numbers that must be finite, as YAML writes them", () => {
  assert.deepEqual(messages({ providers: [MOCK], server: { max_concurrent: Infinity } }), [
    "server.max_concurrent: expected a number, found .inf (a number must be finite)",
  ]);
  assert.deepEqual(messages({ providers: [MOCK], server: { max_concurrent: NaN } }), [
    "server.max_concurrent: expected a number, found .nan (a number must be finite)",
  ]);
  assert.deepEqual(
    messages({ providers: [MOCK], timeouts: { idle: -Infinity } }),
    ["timeouts.idle: expected a number or a string, found -.inf (a number must be finite)"],
    "not told to quote it, which a duration taking a string would suggest",
  );
});

Deno.test(".inf and .nan where a string goes are told to be quoted, not to be finite", () => {
  assert.deepEqual(messages({ providers: [MOCK], server: { host: NaN } }), [
    "server.host: expected a string, found a number (quote it to keep it a string)",
  ]);
});

Deno.test("null where a string goes (`null`, `~` or nothing, or a ${VAR} set so) is told to be quoted", () => {
  assert.deepEqual(messages({ providers: [MOCK], server: { host: null } }), [
    "server.host: expected a string, found an empty value or null (quote it to keep the text)",
  ]);
  assert.deepEqual(messages({ providers: [{ ...MOCK, name: true }] }), [
    "providers[0].name: expected a string, found true (quote it to keep the text)",
  ]);
});

Deno.test("digits with a carriage return (a Windows env file) are shown escaped and said so", () => {
  assert.deepEqual(messages({ providers: [MOCK], server: { port: "8787\r" } }), [
    'server.port: expected a number, found the string "8787\\r" (it holds a carriage return: was it set from ' +
    "a file with Windows line ends?)",
  ]);
});

Deno.test("a union type error lists every accepted type", () => {
  assert.deepEqual(messages({ providers: [MOCK], timeouts: { idle: [1] } }), [
    "timeouts.idle: expected a number or a string, found a list",
  ]);
});

Deno.test("a long string found in the wrong place is masked: it may be a key", () => {
  const [message] = messages({ providers: [{ ...MOCK, keys: ["sk-ant-api03-secretsecretsecret-x7f2"] }] });
  assert.equal(message, "providers[0].keys[0]: expected a mapping, found a string (sk-ant-...x7f2)");
});

Deno.test("under a secret field, a value of the wrong shape is masked, word or number", () => {
  assert.deepEqual(
    messages({ providers: [{ ...MOCK, keys: ["mysecretpassword", "lm-studio", 918273645512] }] }),
    [
      "providers[0].keys[0]: expected a mapping, found a string (mys...word)",
      "providers[0].keys[1]: expected a mapping, found a string (***)",
      "providers[0].keys[2]: expected a mapping, found a number",
    ],
  );
  assert.deepEqual(messages({ server: { auth: { tokens: [true] } }, providers: [MOCK] }), [
    "server.auth.tokens[0]: expected a string or a mapping, found true (quote it to keep the text)",
  ]);
  // A list where a token goes is that, not also a token too short.
  assert.deepEqual(
    messages({ server: { auth: { tokens: [{ name: "ci", token: ["wordsecret"] }] } }, providers: [MOCK] }),
    [
      "server.auth.tokens[0].token: expected a string, found a list",
    ],
  );
  assert.deepEqual(messages({ server: { auth: { tokens: ["ok", ["abc"]] } }, providers: [MOCK] }), [
    "server.auth.tokens[0]: must be at least 8 characters: short tokens are guessable",
    "server.auth.tokens[1]: expected a string, found a list",
  ]);
});

Deno.test("a number found where a string belongs is not echoed: it may be an all-digit secret", () => {
  assert.deepEqual(messages({ providers: [{ ...MOCK, keys: [{ key: 918273645512 }] }] }), [
    "providers[0].keys[0].key: expected a string, found a number (quote it to keep it a string)",
  ]);
});

Deno.test("a value outside an enum lists the choices and suggests the nearest", () => {
  assert.deepEqual(messages({ providers: [MOCK], log: { level: "warning" } }), [
    'log.level: expected one of debug, info, warn, error; found the string "warning"',
  ]);
  assert.deepEqual(messages({ providers: [MOCK], log: { level: "inf" } }), [
    'log.level: expected one of debug, info, warn, error; found the string "inf" (did you mean `info`?)',
  ]);
  assert.deepEqual(messages({ providers: [{ name: "a", type: "antropic" }] }), [
    'providers[0].type: expected one of anthropic, anthropic-compatible, zai, ollama, bedrock, vertex, azure, openai, mock; found the string "antropic" (did you mean `anthropic`?)',
  ]);
});

Deno.test("other issues keep the schema's message and get the path and position", () => {
  const [problem] = problems({ providers: [MOCK, MOCK] });
  assert.deepEqual(problem, {
    path: "providers[1].name",
    line: "providers/1/name/".length,
    col: 1,
    message: "duplicate provider name `mock` (also providers[0].name)",
  });
});

Deno.test("problems are sorted by line, so a file reads top to bottom", () => {
  const found = problems({ providers: [MOCK], server: { port: "x" }, log: { level: 3 } });
  assert.deepEqual(found.map((p) => p.path), ["log.level", "server.port"]);
});
