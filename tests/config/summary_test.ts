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
      "max body size: 8MiB",
      "shutdown grace: 30s",
      "log: level debug, bodies logged",
      "timeouts: connect 10s, first_byte 10m, idle 10m",
      "providers (3):",
      "  anthropic: anthropic https://api.anthropic.com, key sent as x-api-key",
      "    keys: main sk-ant-...aaaa, sk-ant-...bbbb",
      "    timeouts: connect 20s, first_byte 10m, idle 10m (set here: connect)",
      "  gw: anthropic-compatible https://gw.example/api, key sent as bearer",
      "    keys: sk-ant-...bbbb",
      "    timeouts: connect 10s, first_byte 10m, idle 10m",
      "  mock: mock, no upstream (events 3, ttfb 0s, chunk_delay 0s, fault disconnect)",
      "    keys: none",
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
