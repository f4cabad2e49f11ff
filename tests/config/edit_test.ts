import assert from "node:assert/strict";
import { applySetup, type ConfigSetup, type ProviderSetup, readSetup } from "../../src/config/edit.ts";
import { parseConfig } from "../../src/config/load.ts";
import { billionLaughs, sharedTimeouts } from "../_helpers/billion_laughs.ts";
import { configErrorWith } from "../_helpers/config.ts";

const ENV: Record<string, string> = { ANTHROPIC_API_KEY: "sk-ant-edit-test-0000x7f2" };
const parse = (text: string) => parseConfig(text, "relay.yaml", (name) => ENV[name]).config;

const COMMENTED = `# my relay
server:
  port: \${RELAY_PORT:-8787} # the port
  auth:
    tokens: ["\${RELAY_CLIENT_TOKEN}"]
# upstreams
providers:
  - name: anthropic # the real one
    type: anthropic
    keys:
      - key: "\${ANTHROPIC_API_KEY}" # from the shell
        name: main
      - key: second-key-000000
    models:
      claude-sonnet-4-5: claude-sonnet-4-5 # pinned
      claude-haiku-*: claude-haiku-*
    timeouts:
      idle: 10m
  - name: mock
    type: mock
`;

Deno.test("readSetup reads the answers as written, references unexpanded", () => {
  assert.deepEqual(readSetup(COMMENTED, "relay.yaml"), {
    port: "${RELAY_PORT:-8787}",
    tokens: ["${RELAY_CLIENT_TOKEN}"],
    providers: [
      {
        name: "anthropic",
        type: "anthropic",
        key: "${ANTHROPIC_API_KEY}",
        models: { "claude-sonnet-4-5": "claude-sonnet-4-5", "claude-haiku-*": "claude-haiku-*" },
      },
      { name: "mock", type: "mock" },
    ],
  });
});

Deno.test("readSetup of nothing is an empty setup", () => {
  assert.deepEqual(readSetup("", "relay.yaml"), { providers: [] });
  assert.deepEqual(readSetup("# only a comment\n", "relay.yaml"), { providers: [] });
});

Deno.test("applySetup with the file's own answers changes not a byte", () => {
  assert.equal(applySetup(COMMENTED, "relay.yaml", readSetup(COMMENTED, "relay.yaml")), COMMENTED);
});

Deno.test("applySetup changes only what changed: comments, other keys and fields survive", () => {
  const setup = readSetup(COMMENTED, "relay.yaml");
  setup.port = 8788;
  setup.providers[0].key = "sk-ant-pasted-0000000000x7f2";
  const text = applySetup(COMMENTED, "relay.yaml", setup);
  for (
    const comment of [
      "# my relay",
      "# the port",
      "# upstreams",
      "# the real one",
      "# from the shell",
      "# pinned",
    ]
  ) {
    assert.ok(text.includes(comment), `${comment} kept:\n${text}`);
  }
  assert.match(text, /^ {2}port: 8788 # the port$/m);
  assert.match(
    text,
    /- key: "sk-ant-pasted-0000000000x7f2" # from the shell\n {8}name: main\n {6}- key: second-key/,
  );
  assert.match(text, /idle: 10m/);
  assert.match(text, /tokens: \["\$\{RELAY_CLIENT_TOKEN\}"\]/);
});

Deno.test("applySetup removes providers left out and appends new ones after the rest", () => {
  const setup = readSetup(COMMENTED, "relay.yaml");
  setup.providers = [
    setup.providers[0],
    { name: "zai", type: "zai", key: "${ZAI_API_KEY}", models: { "claude-*": "GLM-4.7" } },
  ];
  const text = applySetup(COMMENTED, "relay.yaml", setup);
  assert.doesNotMatch(text, /name: mock/);
  assert.match(
    text,
    /# the real one[\s\S]*- name: zai\n {4}type: zai\n {4}keys:\n {6}- key: "\$\{ZAI_API_KEY\}"/,
  );
  const config = parseConfig(
    text,
    "relay.yaml",
    (name) => ({ ...ENV, ZAI_API_KEY: "zai-key", RELAY_CLIENT_TOKEN: "token-123456" })[name],
  ).config;
  assert.deepEqual(config.providers.map((p) => p.name), ["anthropic", "zai"]);
  assert.deepEqual(config.providers[1].models, { "claude-*": "GLM-4.7" });
});

Deno.test("applySetup takes a provider's model_routes out with it, and keeps those to providers left", () => {
  const routed =
    `${COMMENTED}routing:\n  strategy: model\n  model_routes:\n    m1: mock # cheap\n    m2: anthropic\n`;
  const setup = readSetup(routed, "relay.yaml");
  setup.providers = [setup.providers[0]];
  const text = applySetup(routed, "relay.yaml", setup);
  assert.match(text, /model_routes:\n {4}m2: anthropic\n/);
  assert.deepEqual(parse(text.replace("${RELAY_CLIENT_TOKEN}", "token-123456")).routing.model_routes, {
    m2: "anthropic",
  });
  setup.providers = [{ name: "mock", type: "mock" }];
  const mock = applySetup(routed, "relay.yaml", setup);
  assert.match(mock, /model_routes:\n {4}m1: mock # cheap\n(?! {4}m2)/);
  setup.providers = [{ name: "zai", type: "zai", key: "${ZAI_API_KEY}" }];
  assert.doesNotMatch(
    applySetup(routed, "relay.yaml", setup),
    /model_routes/,
    "no route left: no table left",
  );
  const referred = routed.replace("m2: anthropic", "m2: ${CHEAP_PROVIDER}");
  assert.match(
    applySetup(referred, "relay.yaml", setup),
    /m2: \$\{CHEAP_PROVIDER\}/,
    "named only once expanded",
  );
});

Deno.test("applySetup edits a models table entry by entry, keeping its comments", () => {
  const setup = readSetup(COMMENTED, "relay.yaml");
  setup.providers[0].models = {
    "claude-sonnet-4-5": "claude-sonnet-4-5",
    "claude-opus-4-1": "claude-opus-4-1",
  };
  const text = applySetup(COMMENTED, "relay.yaml", setup);
  assert.match(text, /claude-sonnet-4-5: claude-sonnet-4-5 # pinned\n {6}claude-opus-4-1: claude-opus-4-1\n/);
  assert.doesNotMatch(text, /claude-haiku/);
  setup.providers[0].models = undefined;
  assert.doesNotMatch(applySetup(COMMENTED, "relay.yaml", setup), /models:/);
});

Deno.test("applySetup builds a new file from a header that relay loads", () => {
  const setup: ConfigSetup = {
    port: 8788,
    tokens: ["rly_0123456789abcdef0123456789abcdef"],
    providers: [{ name: "anthropic", type: "anthropic", key: "${ANTHROPIC_API_KEY}" }],
  };
  const text = applySetup("# written by a test\n", "relay.yaml", setup);
  assert.equal(
    text,
    [
      "# written by a test",
      "",
      "server:",
      "  port: 8788",
      "  auth:",
      "    tokens:",
      '      - "rly_0123456789abcdef0123456789abcdef"',
      "providers:",
      "  - name: anthropic",
      "    type: anthropic",
      "    keys:",
      '      - key: "${ANTHROPIC_API_KEY}"',
      "",
    ].join("\n"),
  );
  const config = parse(text);
  assert.equal(config.server.port, 8788);
  assert.deepEqual(config.server.auth.tokens, ["rly_0123456789abcdef0123456789abcdef"]);
  assert.equal(config.providers[0].keys[0].key, ENV.ANTHROPIC_API_KEY);
});

Deno.test("applySetup quotes keys, so an all-digit one is still a string once loaded", () => {
  const text = applySetup("", "relay.yaml", {
    providers: [{ name: "a", type: "anthropic", key: "12345678" }],
  });
  assert.equal(parse(text).providers[0].keys[0].key, "12345678");
});

Deno.test("applySetup sets and clears a Bedrock profile and the provider's own fields", () => {
  const start = "providers:\n  - name: bedrock\n    type: bedrock\n    region: us-east-1\n";
  const withProfile = applySetup(start, "relay.yaml", {
    providers: [{ name: "bedrock", type: "bedrock", region: "eu-west-1", aws_profile: "work" }],
  });
  assert.match(withProfile, /region: eu-west-1\n {4}aws:\n {6}profile: work\n/);
  const without = applySetup(withProfile, "relay.yaml", {
    providers: [{ name: "bedrock", type: "bedrock", region: "eu-west-1" }],
  });
  assert.equal(without, "providers:\n  - name: bedrock\n    type: bedrock\n    region: eu-west-1\n");
});

Deno.test("applySetup fills in sections written empty (`server:` with nothing under it)", () => {
  const text = applySetup("server:\nproviders:\n", "relay.yaml", {
    port: 9000,
    providers: [{ name: "mock", type: "mock" }],
  });
  assert.equal(parse(text).server.port, 9000);
  assert.equal(parse(text).providers[0].name, "mock");
});

Deno.test("readSetup and applySetup refuse text that is not a YAML mapping, naming the file", () => {
  assert.throws(
    () => readSetup("server: [\n", "my.yaml"),
    configErrorWith(/my\.yaml:/),
  );
  assert.throws(
    () => applySetup("- a\n- b\n", "my.yaml", { providers: [] }),
    /my\.yaml does not hold a YAML mapping/,
  );
});

Deno.test("readSetup and applySetup take a value shared among many providers, editing in place", () => {
  // Written in a style yaml would not write the whole file in: a list not indented under its key.
  const text = `server:\n  port: 8787\n${sharedTimeouts(101, "")}`;
  const setup = readSetup(text, "relay.yaml");
  assert.equal(setup.providers.length, 102);
  assert.equal(applySetup(text, "relay.yaml", { ...setup, port: 9000 }), text.replace("8787", "9000"));
});

Deno.test("readSetup refuses a billion laughs as a ConfigError naming the file", () => {
  assert.throws(
    () => readSetup(billionLaughs(), "my.yaml"),
    configErrorWith(/^my\.yaml:2:8: aliases/),
  );
});

Deno.test("applySetup keeps the file's own spacing inside flow collections", () => {
  for (const tokens of ['["token-one-1234"]', '[ "token-one-1234" ]']) {
    const text =
      `server:\n  port: 1\n  auth:\n    tokens: ${tokens}\nproviders:\n  - name: m\n    type: mock\n`;
    const edited = applySetup(text, "relay.yaml", { ...readSetup(text, "relay.yaml"), port: 2 });
    assert.equal(edited, text.replace("port: 1", "port: 2"));
  }
});

Deno.test("applySetup reads and sets routing.strategy, adding the section only when it changes", () => {
  const start = "providers:\n  - { name: a, type: mock }\n  - { name: b, type: mock }\n";
  assert.equal(readSetup(start, "relay.yaml").strategy, undefined);
  const text = applySetup(start, "relay.yaml", {
    ...readSetup(start, "relay.yaml"),
    strategy: "round_robin",
  });
  assert.equal(text, `${start}routing:\n  strategy: round_robin\n`);
  assert.equal(readSetup(text, "relay.yaml").strategy, "round_robin");
  assert.equal(parse(text).routing.strategy, "round_robin");
  const edited = applySetup("routing:\n  strategy: failover # for now\n" + start, "relay.yaml", {
    ...readSetup(start, "relay.yaml"),
    strategy: "latency",
  });
  assert.match(edited, /^ {2}strategy: latency # for now$/m);
});

Deno.test("readSetup reads a named client's token, so keeping the tokens leaves the clients as written", () => {
  const text = [
    "server:",
    "  auth:",
    "    tokens:",
    '      - "${RELAY_CLIENT_TOKEN}"',
    "      - name: ci # limited",
    '        token: "${CI_TOKEN}"',
    "        rpm: 60",
    "providers:",
    "  - name: mock",
    "    type: mock",
    "",
  ].join("\n");
  const setup = readSetup(text, "relay.yaml");
  assert.deepEqual(setup.tokens, ["${RELAY_CLIENT_TOKEN}", "${CI_TOKEN}"]);
  assert.equal(applySetup(text, "relay.yaml", setup), text);
});

Deno.test("applySetup keeps CRLF line breaks and a byte-order mark, in the lines it adds too", () => {
  const text = "\uFEFF# notes\r\nserver:\r\n  port: 1\r\nproviders:\r\n  - name: m\r\n    type: mock\r\n";
  const edited = applySetup(text, "relay.yaml", {
    port: 2,
    providers: [{ name: "m", type: "mock" }, { name: "z", type: "zai", key: "${ZAI_API_KEY}" }],
  });
  assert.equal(
    edited,
    text.replace("port: 1", "port: 2") +
      '  - name: z\r\n    type: zai\r\n    keys:\r\n      - key: "${ZAI_API_KEY}"\r\n',
  );
});

Deno.test("applySetup leaves untouched flow collections and quoting byte for byte", () => {
  const text = [
    "server:",
    "  port: 1",
    "  auth:",
    '    tokens: ["${RELAY_CLIENT_TOKEN}"]',
    "providers:",
    "  - { name: m, type: mock } # flow",
    "  - name: v",
    "    type: vertex",
    "    project: 'my-project'",
    '    region: "europe\\x2dwest4"',
    "    models: {a: 'x', b: \"y\"}",
    "",
  ].join("\n");
  const setup = readSetup(text, "relay.yaml");
  assert.equal(applySetup(text, "relay.yaml", { ...setup, port: 2 }), text.replace("port: 1", "port: 2"));
  const retyped = applySetup(text, "relay.yaml", {
    ...setup,
    providers: [setup.providers[0], { ...setup.providers[1], project: "other-project" }],
  });
  assert.equal(retyped, text.replace("'my-project'", "'other-project'"));
});

Deno.test("applySetup gives the last provider a new field and appends a provider after it, each in its place", () => {
  const text = "providers:\n  - name: a\n    type: mock\n";
  const edited = applySetup(text, "relay.yaml", {
    providers: [{ name: "a", type: "mock", base_url: "http://a" }, { name: "z", type: "mock" }],
  });
  assert.equal(edited, `${text}    base_url: http://a\n  - name: z\n    type: mock\n`);
});

const ALIASED = `providers:
  - name: gw1
    type: anthropic-compatible
    keys: &k [{ key: "sk-gw1-0000000000x7f2" }]
    models: &glm
      claude-sonnet-4-5: glm-4.7
  - name: gw2
    type: anthropic-compatible
    keys: *k
    models: *glm
`;

Deno.test("applySetup edits one of two providers sharing nodes through YAML aliases, and only that one", () => {
  const [gw1, gw2] = readSetup(ALIASED, "relay.yaml").providers;
  assert.equal(
    applySetup(ALIASED, "relay.yaml", { port: 9000, providers: [gw1, gw2] }),
    `${ALIASED}server:\n  port: 9000\n`,
    "an alias nothing changes stays an alias",
  );
  const cases: [string, ProviderSetup[]][] = [
    ["a key for the provider holding the alias", [gw1, { ...gw2, key: "sk-gw2-0000000000x7f2" }]],
    ["models for the provider holding the anchor", [{ ...gw1, models: { "claude-*": "glm-5" } }, gw2]],
    ["one more model for it", [{ ...gw1, models: { ...gw1.models, "claude-opus-4-1": "glm-5" } }, gw2]],
    ["the provider holding the anchors removed", [gw2]],
  ];
  for (const [what, providers] of cases) {
    const text = applySetup(ALIASED, "relay.yaml", { providers });
    assert.deepEqual(readSetup(text, "relay.yaml").providers, providers, what);
  }
});

Deno.test("applySetup gives a new token the first client's place: named clients keep their names and limits", () => {
  const text = [
    "server:",
    "  auth:",
    "    tokens:",
    "      - name: cc # Claude Code",
    "        token: tok-cc-0123456789",
    "        monthly_budget_usd: 50",
    '      - "${CI_TOKEN}"',
    "      - name: ci",
    "        token: tok-ci-0123456789",
    "providers: []",
    "",
  ].join("\n");
  const edited = applySetup(text, "relay.yaml", { tokens: ["rly_new"], providers: [] });
  assert.equal(
    edited,
    text.replace("tok-cc-0123456789", '"rly_new"').replace('      - "${CI_TOKEN}"\n', ""),
  );
  const bare = 'server:\n  auth:\n    tokens: ["one-token", "two-token"]\n';
  assert.equal(
    applySetup(bare, "relay.yaml", { tokens: ["rly_new"], providers: [] }),
    'server:\n  auth:\n    tokens: ["rly_new"]\n',
  );
});
