import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { summarizeConfig } from "../../src/config/summary.ts";

const KEY_ONE = "sk-ant-api03-first-secret-value-aaaa";
const KEY_TWO = "sk-ant-api03-second-secret-value-bbbb";
const TOKEN = "rly_client-token-secret-cccc";

const CONFIG = configSchema.parse({
  server: { host: "0.0.0.0", port: 9000, auth: { tokens: [TOKEN, "short123"] }, max_body_size: "8MiB" },
  timeouts: { idle: "10m" },
  log: { level: "debug", bodies: true },
  providers: [
    {
      name: "anthropic",
      type: "anthropic",
      keys: [{ key: KEY_ONE, name: "main" }, { key: KEY_TWO }],
      timeouts: { connect: "20s" },
      models: { "claude-sonnet-4-5": "claude-sonnet-4-5", "claude-*": "claude-opus-4-1" },
    },
    {
      name: "gw",
      type: "anthropic-compatible",
      base_url: "https://gw.example/api",
      auth_header: "bearer",
      keys: [{ key: KEY_TWO }],
    },
    { name: "mock", type: "mock", mock: { events: 3, fault: "disconnect" } },
  ],
});

Deno.test("summarizeConfig describes the server, every provider and their effective timeouts", () => {
  assert.equal(
    summarizeConfig(CONFIG, "/etc/relay.yaml"),
    [
      "config: /etc/relay.yaml",
      "listen: 0.0.0.0:9000",
      "auth: 2 tokens (rly...cccc, ***)",
      "admin: off (set server.admin.token for relay status, relay reload and /admin/)",
      "max body size: 8MiB, 256MiB of bodies at once",
      "shutdown grace: 30s",
      "log: level debug, bodies logged",
      "timeouts: connect 10s, first_byte 10m, idle 10m",
      "routing: failover, up to 3 attempts, affinity on, max 64 at once (queue 256)",
      "providers (3):",
      "  anthropic: anthropic https://api.anthropic.com, key sent as x-api-key",
      "    keys: main sk-ant-...aaaa, sk-ant-...bbbb",
      "    models: claude-sonnet-4-5, claude-* -> claude-opus-4-1",
      "    timeouts: connect 20s, first_byte 10m, idle 10m (set here: connect)",
      "  gw: anthropic-compatible https://gw.example/api, key sent as bearer",
      "    keys: sk-ant-...bbbb",
      "    models: any, under its own name",
      "    timeouts: connect 10s, first_byte 10m, idle 10m",
      "  mock: mock, no upstream (events 3, ttfb 0s, chunk_delay 0s, fault disconnect)",
      "    keys: none",
      "    models: any, under its own name",
      "    timeouts: connect 10s, first_byte 10m, idle 10m",
    ].join("\n"),
  );
});

Deno.test("summarizeConfig never shows a key or token in full", () => {
  const summary = summarizeConfig(CONFIG, "relay.yaml");
  for (const secret of [KEY_ONE, KEY_TWO, TOKEN, "short123"]) assert.ok(!summary.includes(secret), secret);
});

Deno.test("summarizeConfig says when relay runs on defaults, without auth, on IPv6", () => {
  const config = configSchema.parse({ server: { host: "::1" }, providers: [{ name: "mock", type: "mock" }] });
  const lines = summarizeConfig(config, undefined).split("\n");
  assert.deepEqual(lines.slice(0, 3), [
    "config: none (built-in defaults)",
    "listen: [::1]:8787",
    "auth: none (loopback only)",
  ]);
});

Deno.test("summarizeConfig names the hosts a loopback relay answers besides loopback ones, and only there", () => {
  const hosts = (host: string) =>
    summarizeConfig(
      configSchema.parse({
        server: { host, allowed_hosts: ["relay.internal", "box.lan"], auth: { tokens: [TOKEN] } },
        providers: [{ name: "mock", type: "mock" }],
      }),
      undefined,
    ).split("\n").filter((line) => line.startsWith("hosts:"));
  assert.deepEqual(hosts("127.0.0.1"), ["hosts: loopback names, relay.internal, box.lan"]);
  assert.deepEqual(hosts("0.0.0.0"), [], "unused off loopback");
});

Deno.test("summarizeConfig describes cloud and local providers by their credentials and URLs, secrets masked", () => {
  const config = configSchema.parse({
    providers: [
      {
        name: "br",
        type: "bedrock",
        region: "us-east-1",
        aws: { access_key_id: "AKIAIOSFODNN7EXAMPLE", secret_access_key: "wJalrXUtnFEMI/K7MDENG" },
      },
      { name: "br2", type: "bedrock", region: "eu-west-1", keys: [{ key: "ABSKQmVkcm9ja0FQSUtleS1x7f2" }] },
      { name: "vx", type: "vertex", project: "proj", region: "global" },
      {
        name: "vx2",
        type: "vertex",
        project: "proj",
        region: "us-east5",
        base_url: "https://vertex.proxy.example",
        token_url: "https://tokens.proxy.example/token",
        credentials_file: "/keys/sa.json",
      },
      { name: "local", type: "ollama" },
      {
        name: "az",
        type: "azure",
        base_url: "https://res.services.ai.azure.com/anthropic",
        entra: { tenant_id: "t", client_id: "app-1", client_secret: "entra-secret-value-0042" },
      },
    ],
  });
  const lines = summarizeConfig(config, "relay.yaml").split("\n").filter((line) => /^ {2}\w/.test(line));
  assert.deepEqual(lines, [
    "  br: bedrock region us-east-1, AWS credentials (AKIA...MPLE)",
    "  br2: bedrock region eu-west-1, Bedrock API keys",
    "  vx: vertex project proj, region global, credentials from $GOOGLE_APPLICATION_CREDENTIALS",
    "  vx2: vertex project proj, region us-east5 at https://vertex.proxy.example, credentials /keys/sa.json " +
    "(tokens from https://tokens.proxy.example/token)",
    "  local: ollama http://127.0.0.1:11434, no key sent",
    "  az: azure https://res.services.ai.azure.com/anthropic, Entra ID app app-1 (secret ent...0042)",
  ]);
  const summary = summarizeConfig(config, "relay.yaml");
  for (const secret of ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", "entra-secret-value-0042"]) {
    assert.ok(!summary.includes(secret), secret);
  }
});

Deno.test("summarizeConfig says whether the admin API is on, its token masked", () => {
  const token = "adm_0123456789abcdef";
  const config = configSchema.parse({
    server: { admin: { token } },
    providers: [{ name: "m", type: "mock" }],
  });
  const summary = summarizeConfig(config, "relay.yaml");
  assert.match(summary, /^admin: on \(adm\.\.\.cdef\)$/m);
  assert.ok(!summary.includes(token));
});
