import assert from "node:assert/strict";
import { parse } from "yaml";
import { z } from "zod";
import { ConfigError } from "../../src/config/errors.ts";
import { decodeConfigText, loadConfigFile, parseConfig } from "../../src/config/load.ts";
import { configSchema } from "../../src/config/schema.ts";
import { billionLaughs, sharedTimeouts } from "../_helpers/billion_laughs.ts";
import { configErrorWith } from "../_helpers/config.ts";

const noEnv = () => undefined;
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

/** The ConfigError `run` throws. */
function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

/** The printed report of the ConfigError `run` throws. */
function refusal(run: () => unknown): string {
  return configErrorOf(run).message;
}

const MOCK_PROVIDERS = "providers:\n  - name: mock\n    type: mock\n";

Deno.test("parseConfig returns the validated config and no warnings for a plain file", () => {
  const { config, warnings } = parseConfig(`server:\n  port: 9000\n${MOCK_PROVIDERS}`, "relay.yaml", noEnv);
  assert.equal(config.server.port, 9000);
  assert.equal(config.providers[0].type, "mock");
  assert.deepEqual(warnings, []);
});

Deno.test("parseConfig reports a YAML syntax error as file:line:col with the line and a caret", () => {
  const text = "server:\n  port: 8787\n host: x\nproviders: []\n";
  assert.equal(
    refusal(() => parseConfig(text, "relay.yaml", noEnv)),
    "relay.yaml:3:1: All mapping items must start at the same column\n   host: x\n  ^",
  );
});

Deno.test("parseConfig masks a key on the line a syntax error shows", () => {
  const secret = "sk-ant-api03-OTHERSECRETOTHERSECRET9c1d";
  const text =
    `providers:\n  - name: a\n    type: anthropic\n    keys:\n      - key: ${secret}\n        key: ${secret}\n`;
  const message = refusal(() => parseConfig(text, "relay.yaml", noEnv));
  assert.ok(!message.includes("OTHERSECRET"), message);
  assert.equal(message.split("\n")[1], "          key: sk-ant-...9c1d");
});

Deno.test("parseConfig shows only the first syntax error, counting the ones it likely caused", () => {
  const text = "providers:\n  - name: a\n    keys: [{key: ${KEY}}]\n";
  const message = refusal(() => parseConfig(text, "relay.yaml", noEnv));
  const [first, source, caret] = message.split("\n");
  assert.match(
    first,
    /^relay\.yaml:3:19: .* \(inside \{ \} or \[ \], quote a value that uses \$\{\.\.\.\}: "\$\{VAR\}"\) \(\d+ more syntax errors follow, most likely from this one\)$/,
  );
  assert.equal(source, "      keys: [{key: ${KEY}}]");
  assert.equal(caret, `${" ".repeat(20)}^`);
});

Deno.test("parseConfig refuses an unknown key, suggesting the one meant", () => {
  assert.equal(
    refusal(() => parseConfig(`server:\n  prot: 8080\n${MOCK_PROVIDERS}`, "relay.yaml", noEnv)),
    "relay.yaml:2:3: unknown key `prot` in server (did you mean `port`?)",
  );
  assert.equal(
    refusal(() => parseConfig("provders:\n  - name: mock\n    type: mock\n", "relay.yaml", noEnv)),
    [
      "relay.yaml: 2 problems",
      "relay.yaml:1:1: providers: missing: expected a list",
      "relay.yaml:1:1: unknown key `provders` at the top level (did you mean `providers`?)",
    ].join("\n"),
  );
  assert.equal(
    refusal(() =>
      parseConfig(
        `pricing:\n  m1:\n    input: 1\n    output: 2\n    cache_reed: 3\n${MOCK_PROVIDERS}`,
        "relay.yaml",
        noEnv,
      )
    ),
    "relay.yaml:5:5: unknown key `cache_reed` in pricing.m1 (did you mean `cache_read`?)",
    "inside a table keyed by model names too",
  );
});

Deno.test("parseConfig refuses a wrong type, saying what was expected and found", () => {
  assert.equal(
    refusal(() => parseConfig(`server:\n  port: "abc"\n${MOCK_PROVIDERS}`, "relay.yaml", noEnv)),
    'relay.yaml:2:9: server.port: expected a number, found the string "abc"',
  );
});

Deno.test("parseConfig locates a problem deep in the providers list", () => {
  const text = [
    "providers:",
    "  - name: a",
    "    type: anthropic",
    "    keys:",
    "      - key: sk-ant-api03-aaaaaaaaaaaa",
    "  - name: b",
    "    type: anthropic",
    "    keys:",
    "      - key: 12345",
    "",
  ].join("\n");
  assert.equal(
    refusal(() => parseConfig(text, "relay.yaml", noEnv)),
    "relay.yaml:9:14: providers[1].keys[0].key: expected a string, found a number (quote it to keep it a string)",
  );
});

const KEY_FROM_ENV = [
  "server:",
  "  port: 8787",
  "log:",
  "  level: info",
  "providers:",
  "  - name: anthropic",
  "    type: anthropic",
  "    keys:",
  "      - key: ${ANTHROPIC_API_KEY}",
  "      - key: ${SECOND_KEY}",
  "",
].join("\n");

Deno.test("parseConfig names a missing environment variable and where it is used", () => {
  assert.equal(
    refusal(() => parseConfig(KEY_FROM_ENV, "relay.yaml", envOf({ SECOND_KEY: "sk-2" }))),
    "relay.yaml:9:14: providers[0].keys[0].key: environment variable ANTHROPIC_API_KEY is not set " +
      "(use ${ANTHROPIC_API_KEY:-default} for a fallback)",
  );
});

Deno.test("parseConfig reports every missing environment variable at once", () => {
  const error = configErrorOf(() => parseConfig(KEY_FROM_ENV, "relay.yaml", noEnv));
  assert.deepEqual(error.problems.map((p) => [p.line, p.col, p.path]), [
    [9, 14, "providers[0].keys[0].key"],
    [10, 14, "providers[0].keys[1].key"],
  ]);
  assert.match(error.message, /^relay\.yaml: 2 problems\n.*ANTHROPIC_API_KEY.*\n.*SECOND_KEY/);
});

Deno.test("parseConfig expands ${VAR}, ${VAR:-default} and the $${ escape", () => {
  const text = [
    "server:",
    "  port: ${PORT:-8787}",
    "  auth:",
    '    tokens: ["$${not-a-var}", "${TOKEN}"]',
    "providers:",
    "  - name: anthropic",
    "    type: anthropic",
    '    keys: [{ key: "${ANTHROPIC_API_KEY}" }]',
    "",
  ].join("\n");
  const { config } = parseConfig(
    text,
    "relay.yaml",
    envOf({ TOKEN: "tok-123456", ANTHROPIC_API_KEY: "sk-1" }),
  );
  assert.equal(config.server.port, 8787);
  assert.deepEqual(config.server.auth.tokens, ["${not-a-var}", "tok-123456"]);
  assert.deepEqual(config.providers[0].keys, [{ key: "sk-1" }]);
});

Deno.test("parseConfig refuses duplicate provider names at the second one", () => {
  assert.equal(
    refusal(() => parseConfig(`${MOCK_PROVIDERS}  - name: mock\n    type: mock\n`, "relay.yaml", noEnv)),
    "relay.yaml:4:11: providers[1].name: duplicate provider name `mock` (also providers[0].name)",
  );
});

Deno.test("parseConfig refuses an anthropic-compatible provider without base_url", () => {
  const text = "providers:\n  - name: gw\n    type: anthropic-compatible\n    keys:\n      - key: abc\n";
  assert.equal(
    refusal(() => parseConfig(text, "relay.yaml", noEnv)),
    "relay.yaml:2:5: providers[0].base_url: an anthropic-compatible provider needs base_url, " +
      "e.g. https://api.z.ai/api/anthropic",
  );
});

Deno.test("parseConfig refuses a base_url on a port fetch blocks at its line and column", () => {
  const text = (baseUrl: string) =>
    `providers:\n  - name: gw\n    type: anthropic-compatible\n    base_url: ${baseUrl}\n    keys:\n      - key: abc\n`;
  assert.equal(
    refusal(() => parseConfig(text("http://127.0.0.1:6000"), "relay.yaml", noEnv)),
    "relay.yaml:4:15: providers[0].base_url: port 6000 is blocked by fetch (one of the Fetch standard's " +
      '"bad ports"), so no request could reach it: use another port',
  );
  // Through a variable too: the port is known only once it is expanded.
  assert.equal(
    refusal(() =>
      parseConfig(text("${GW_URL}"), "relay.yaml", envOf({ GW_URL: "http://gw.internal:6665/v1" }))
    ),
    "relay.yaml:4:15: providers[0].base_url: port 6665 is blocked by fetch (one of the Fetch standard's " +
      '"bad ports"), so no request could reach it: use another port',
  );
  for (const baseUrl of ["http://127.0.0.1:6001", "https://gw.example/api"]) {
    const gw = parseConfig(text(baseUrl), "relay.yaml", noEnv).config.providers[0];
    assert.equal(gw.type === "anthropic-compatible" && gw.base_url, baseUrl);
  }
});

Deno.test("parseConfig refuses a non-loopback host without client tokens", () => {
  assert.equal(
    refusal(() => parseConfig(`server:\n  host: 0.0.0.0\n${MOCK_PROVIDERS}`, "relay.yaml", noEnv)),
    "relay.yaml:2:3: server.auth.tokens: binding 0.0.0.0 requires server.auth.tokens: " +
      "without them anyone who can reach it spends your keys",
  );
});

Deno.test("parseConfig refuses a breaker max_cooldown below its cooldown, at max_cooldown", () => {
  const breaker = (maxCooldown: string) =>
    `routing:\n  breaker:\n    cooldown: 2m\n    max_cooldown: ${maxCooldown}\n${MOCK_PROVIDERS}`;
  assert.equal(
    refusal(() => parseConfig(breaker("90s"), "relay.yaml", noEnv)),
    "relay.yaml:4:19: routing.breaker.max_cooldown: must be at least cooldown (2m): " +
      "failed probes double the cooldown up to max_cooldown",
  );
  assert.equal(
    parseConfig(breaker("120s"), "relay.yaml", noEnv).config.routing.breaker.max_cooldown,
    120_000,
  );
});

Deno.test("parseConfig refuses a breaker min_span not under its window, at min_span", () => {
  const breaker = (minSpan: string) =>
    `routing:\n  breaker:\n    window: 10s\n    min_span: ${minSpan}\n${MOCK_PROVIDERS}`;
  assert.equal(
    refusal(() => parseConfig(breaker("10s"), "relay.yaml", noEnv)),
    "relay.yaml:4:15: routing.breaker.min_span: must be less than window (10s): " +
      "failures must span min_span within window to open the breaker",
  );
  assert.equal(parseConfig(breaker("500ms"), "relay.yaml", noEnv).config.routing.breaker.min_span, 500);
  const shortWindow = `routing:\n  breaker:\n    window: 2s\n${MOCK_PROVIDERS}`;
  assert.equal(
    parseConfig(shortWindow, "relay.yaml", noEnv).config.routing.breaker.min_span,
    undefined,
    "a window of 2 s loads without one: the default then is half the window",
  );
});

Deno.test("parseConfig refuses an empty file clearly", () => {
  const expected = "relay.yaml is empty: it needs at least a providers list (see relay.example.yaml)";
  for (const text of ["", "\n\n", "# only a comment\n", "~\n"]) {
    assert.equal(refusal(() => parseConfig(text, "relay.yaml", noEnv)), expected, JSON.stringify(text));
  }
});

Deno.test("parseConfig takes a timeouts mapping shared among more than a hundred providers", () => {
  const { config } = parseConfig(sharedTimeouts(101), "relay.yaml", noEnv);
  assert.equal(config.providers.length, 102);
  assert.deepEqual(config.providers[101].timeouts, { connect: 20_000 });
});

Deno.test("parseConfig refuses a billion laughs as a ConfigError, at its first alias", () => {
  const text = `x:\n${billionLaughs("  ")}${MOCK_PROVIDERS}`;
  const error = configErrorOf(() => parseConfig(text, "relay.yaml", noEnv));
  assert.match(error.message, /^relay\.yaml:3:10: aliases \(`\*name`\) expand to more than 10000 copies/);
});

Deno.test("parseConfig refuses a YAML 1.1 merge key at the key, without the follow-on errors", () => {
  const text = "providers:\n  - &p\n    name: a\n    type: mock\n  - <<: *p\n    name: b\n";
  assert.equal(
    refusal(() => parseConfig(text, "relay.yaml", noEnv)),
    "relay.yaml:5:5: `<<` is a YAML 1.1 merge key, which relay does not read (YAML 1.2 has none): write the " +
      "fields out (an alias can still stand for a whole value: `timeouts: *t`)",
  );
});

Deno.test("parseConfig refuses an empty models table, which would serve no model", () => {
  const text = "providers:\n  - name: mock\n    type: mock\n    models: {}\n";
  assert.equal(
    refusal(() => parseConfig(text, "relay.yaml", noEnv)),
    "relay.yaml:4:13: providers[0].models: an empty `models:` serves no model: leave it out to serve every " +
      "model under its own name, or list the models",
  );
});

Deno.test("parseConfig reads an unquoted ${VAR} as the same text written in place", () => {
  const text = `server:\n  port: \${P}\n${MOCK_PROVIDERS}`;
  for (const [value, port] of [["1e3", 1000], ["0x1F90", 8080], ["0o17540", 8032], ["8787", 8787]] as const) {
    assert.equal(parseConfig(text, "relay.yaml", envOf({ P: value })).config.server.port, port, value);
  }
});

Deno.test("parseConfig reports a quote never closed on the line it opens", () => {
  const text = `server:\n  host: "127.0.0.1\n  port: 8787\n${MOCK_PROVIDERS}`;
  assert.match(
    refusal(() => parseConfig(text, "relay.yaml", noEnv)),
    /^relay\.yaml:2:9: .*\n {2} {2}host: "127/,
  );
});

Deno.test("parseConfig reports a [ never closed on the line it opens", () => {
  const text =
    `providers:\n  - name: mock\n    type: mock\n    models: [claude-*, gpt-*\nlog:\n  level: info\n`;
  assert.equal(
    refusal(() => parseConfig(text, "relay.yaml", noEnv)),
    "relay.yaml:4:13: this [ opens a list that is never closed: close it with ]\n" +
      "      models: [claude-*, gpt-*\n" +
      `  ${" ".repeat(12)}^`,
  );
});

Deno.test("parseConfig warns about timeouts that are surely a mistake", () => {
  const { warnings } = parseConfig(`timeouts:\n  idle: 2s\n${MOCK_PROVIDERS}`, "relay.yaml", noEnv);
  assert.deepEqual(warnings, [
    "timeouts.idle is 2s: streams with long thinking will be cut; 5m is the default",
  ]);
});

Deno.test("parseConfig passes YAML warnings on, located", () => {
  const { warnings } = parseConfig(`log:\n  level: !!foo info\n${MOCK_PROVIDERS}`, "relay.yaml", noEnv);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^relay\.yaml:2:10: Unresolved tag/);
});

const EXAMPLE_ENV = {
  ANTHROPIC_API_KEY: "sk-ant-api03-example-example-0000",
  RELAY_CLIENT_TOKEN: "tok-example-1234",
  RELAY_ADMIN_TOKEN: "adm-example-0123456789",
  // ledger.path starts with ~/.
  HOME: "/home/me",
};

/** Variables the commented-out providers of relay.example.yaml reference. */
const OPTIONAL_ENV = {
  GATEWAY_API_KEY: "gw-key",
  ZAI_API_KEY: "zai-key",
  AZURE_API_KEY: "az-key",
  AZURE_CLIENT_SECRET: "az-secret",
  AWS_ACCESS_KEY_ID: "AKIAEXAMPLE000000000",
  AWS_SECRET_ACCESS_KEY: "aws-secret",
  AWS_SESSION_TOKEN: "aws-session",
  OPENAI_API_KEY: "sk-openai-example",
  RELAY_CI_TOKEN: "tok-example-ci-5678",
};

/**
 * relay.example.yaml with every commented-out list item (`# - name: ...` blocks: providers, named
 * clients) switched on.
 */
function exampleWithOptional(text: string): string {
  const lines = text.split("\n");
  const out: string[] = [];
  let indent: string | undefined;
  for (const line of lines) {
    const start = /^( *)# - name: /.exec(line);
    if (start) indent = start[1];
    else if (indent !== undefined && !line.startsWith(`${indent}#   `)) indent = undefined;
    out.push(indent === undefined ? line : `${indent}${line.slice(indent.length + 2)}`);
  }
  assert.ok(out.join("\n") !== text, "the example has commented-out providers");
  return out.join("\n");
}

Deno.test("relay.example.yaml is valid given the variables it references", async () => {
  const text = await Deno.readTextFile(new URL("../../relay.example.yaml", import.meta.url));
  const { config, warnings } = parseConfig(text, "relay.example.yaml", envOf(EXAMPLE_ENV));
  assert.deepEqual(warnings, []);
  assert.equal(config.server.port, 8787);
  assert.deepEqual(config.server.auth.tokens, ["tok-example-1234"]);
  assert.deepEqual(config.providers.map((p) => [p.name, p.type]), [["anthropic", "anthropic"], [
    "mock",
    "mock",
  ]]);
  assert.deepEqual(config.providers[0].keys, [{
    key: EXAMPLE_ENV.ANTHROPIC_API_KEY,
    name: "main",
    rpm: 50,
    tpm: 80000,
    input_tpm: 40000,
    output_tpm: 16000,
  }]);
});

Deno.test("relay.example.yaml names each variable it needs when they are unset", async () => {
  const text = await Deno.readTextFile(new URL("../../relay.example.yaml", import.meta.url));
  const error = configErrorOf(() => parseConfig(text, "relay.example.yaml", noEnv));
  assert.deepEqual(error.problems.map((p) => p.path), [
    "server.auth.tokens[0]",
    "server.admin.token",
    "providers[0].keys[0].key",
  ]);
});

Deno.test("relay.example.yaml's commented-out providers are valid once uncommented", async () => {
  const text = exampleWithOptional(
    await Deno.readTextFile(new URL("../../relay.example.yaml", import.meta.url)),
  );
  const { config } = parseConfig(text, "relay.example.yaml", envOf({ ...EXAMPLE_ENV, ...OPTIONAL_ENV }));
  assert.deepEqual(config.providers.map((provider) => provider.type), [
    "anthropic",
    "anthropic-compatible",
    "zai",
    "ollama",
    "bedrock",
    "vertex",
    "azure",
    "azure",
    "openai",
    "openai",
    "mock",
  ]);
  assert.deepEqual(config.providers[1], {
    name: "gateway",
    type: "anthropic-compatible",
    base_url: "https://api.z.ai/api/anthropic",
    auth_header: "bearer",
    keys: [{ key: "gw-key", name: "gateway" }],
    timeouts: { connect: 20_000, first_byte: 900_000 },
  });
});

Deno.test("relay.example.yaml documents every field of the schema", async () => {
  const example = parse(
    exampleWithOptional(await Deno.readTextFile(new URL("../../relay.example.yaml", import.meta.url))),
  );
  const fields = _fieldPaths(
    z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as _JsonSchema,
  );
  assert.ok(fields.length > 20, "the walk found the schema's fields");
  const missing = fields.filter((path) => !_has(example, path.split(".")));
  assert.deepEqual(missing, []);
});

type _JsonSchema = { properties?: Record<string, _JsonSchema>; items?: _JsonSchema; anyOf?: _JsonSchema[] };

// Dotted paths to every leaf field, through each option of a union; `[]` stands for "any item of the list".
function _fieldPaths(schema: _JsonSchema, prefix = ""): string[] {
  if (schema.anyOf) return schema.anyOf.flatMap((option) => _fieldPaths(option, prefix));
  if (schema.items) return _fieldPaths(schema.items, `${prefix}.[]`);
  if (!schema.properties) return [prefix];
  return Object.entries(schema.properties).flatMap(([key, inner]) =>
    _fieldPaths(inner, prefix ? `${prefix}.${key}` : key)
  );
}

function _has(value: unknown, path: string[]): boolean {
  if (path.length === 0) return value !== undefined;
  const [head, ...rest] = path;
  if (head === "[]") return Array.isArray(value) && value.some((item) => _has(item, rest));
  return typeof value === "object" && value !== null && head in value &&
    _has((value as Record<string, unknown>)[head], rest);
}

async function inTempDir(run: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeConfig(path: string, text: string, mode: number) {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, mode);
}

Deno.test("loadConfigFile reads, expands and validates a private file", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/relay.yaml`;
    await writeConfig(path, `timeouts:\n  connect: \${CONNECT}\n${MOCK_PROVIDERS}`, 0o600);
    const { config, warnings } = await loadConfigFile(path, {
      env: envOf({ CONNECT: "1s" }),
      uid: Deno.uid(),
    });
    assert.equal(config.timeouts.connect, 1_000);
    assert.deepEqual(warnings, [
      "timeouts.connect is 1s: slow upstreams will fail before they send headers; 10s is the default",
    ]);
  });
});

Deno.test("loadConfigFile says where a missing path came from", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/absent.yaml`;
    await assert.rejects(
      () => loadConfigFile(path, { source: "flag" }),
      configErrorWith(`config file not found: ${path} (from --config)`),
    );
    await assert.rejects(
      () => loadConfigFile(path, { source: "RELAY_CONFIG" }),
      configErrorWith(`config file not found: ${path} (from $RELAY_CONFIG)`),
    );
    await assert.rejects(() => loadConfigFile(path), configErrorWith(`config file not found: ${path}`));
  });
});

Deno.test("loadConfigFile checks the mode before reading anything", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/relay.yaml`;
    await writeConfig(path, "this: is: not yaml\n  at all", 0o644);
    await assert.rejects(
      () => loadConfigFile(path, { uid: Deno.uid() }),
      configErrorWith(
        `${path} has mode 0644: its group and others can read it, and it holds API keys. Fix: chmod 600 ${path}`,
      ),
    );
  });
});

Deno.test("loadConfigFile refuses a file owned by another user", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/relay.yaml`;
    await writeConfig(path, MOCK_PROVIDERS, 0o600);
    const other = (Deno.uid() ?? 0) + 1;
    await assert.rejects(
      () => loadConfigFile(path, { uid: other }),
      configErrorWith(new RegExp(`Fix: chown ${other} ${RegExp.escape(path)}$`)),
    );
  });
});

Deno.test("loadConfigFile refuses a path it cannot read in one line naming the file and why", async () => {
  await inTempDir(async (dir) => {
    await writeConfig(`${dir}/file`, MOCK_PROVIDERS, 0o600);
    await Deno.symlink("loop.yaml", `${dir}/loop.yaml`);
    await assert.rejects(
      () => loadConfigFile(`${dir}/file/relay.yaml`, { source: "flag" }),
      configErrorWith(`cannot read ${dir}/file/relay.yaml: part of its path is not a directory`),
    );
    await assert.rejects(
      () => loadConfigFile(`${dir}/loop.yaml`),
      configErrorWith(`cannot read ${dir}/loop.yaml: its path runs into a symlink loop`),
    );
  });
});

const UTF8_REFUSAL =
  "not valid UTF-8 (relay reads config files as UTF-8): retype the text here or save the file as UTF-8";

Deno.test("loadConfigFile refuses invalid UTF-8 at the first bad byte, without showing the line", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/relay.yaml`;
    const head = new TextEncoder().encode(
      `providers:\n  - name: a\n    type: anthropic\n    keys:\n      - key: "sk-ant-api03-SECRETSECRET`,
    );
    await Deno.writeFile(path, new Uint8Array([...head, 0xff, 0xfe, ...new TextEncoder().encode('x7f2"\n')]));
    await Deno.chmod(path, 0o600);
    await assert.rejects(
      () => loadConfigFile(path, { uid: Deno.uid() }),
      configErrorWith(`${path}:5:40: ${UTF8_REFUSAL}`),
    );
  });
});

Deno.test("decodeConfigText passes valid UTF-8 through, a byte-order mark dropped", () => {
  const bytes = new TextEncoder().encode("# café \uFFFD 🙂\nproviders: []\n");
  assert.equal(decodeConfigText(bytes, "relay.yaml"), "# café \uFFFD 🙂\nproviders: []\n");
  assert.equal(decodeConfigText(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]), "relay.yaml"), "a");
});

Deno.test("decodeConfigText locates the first bad byte as every other problem is located", () => {
  const encode = (text: string) => [...new TextEncoder().encode(text)];
  const cases: [string, number[], string][] = [
    ["a lone bad byte", [0xff], "1:1"],
    ["after a byte-order mark", [0xef, 0xbb, 0xbf, ...encode("ab"), 0x80], "1:3"],
    // é and the spelled-out U+FFFD are one column each, the emoji two: UTF-16, as every other position.
    ["after wide characters", [...encode("x\n# é\uFFFD🙂 "), 0xc3, 0x28], "2:8"],
    ["in a sequence whose first two bytes look like U+FFFD", [...encode("ab"), 0xef, 0xbf, 0x41], "1:3"],
    ["cut off at the end", [...encode("ab\ncd"), 0xe2, 0x82], "2:3"],
    ["after a CRLF line", [...encode("a\r\nb"), 0xfe], "2:2"],
  ];
  for (const [what, bytes, at] of cases) {
    assert.equal(
      refusal(() => decodeConfigText(new Uint8Array(bytes), "relay.yaml")),
      `relay.yaml:${at}: ${UTF8_REFUSAL}`,
      what,
    );
  }
});

Deno.test("parseConfig refuses a key a header cannot carry at its line:col, never showing it", () => {
  const text =
    'providers:\n  - name: a\n    type: anthropic\n    keys:\n      - key: "sk-ant-api03-SECRET\\u00e9"\n';
  const message = refusal(() => parseConfig(text, "relay.yaml", noEnv));
  assert.equal(
    message,
    "relay.yaml:5:14: providers[0].keys[0].key: character 20 is not ASCII: it travels in an HTTP header, " +
      "which takes printable ASCII only",
  );
});
