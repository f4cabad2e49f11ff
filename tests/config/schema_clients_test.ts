/** `server.auth.tokens` as named clients, `ledger:` and `pricing:`. */
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/errors.ts";
import { parseConfig } from "../../src/config/load.ts";
import { configSchema } from "../../src/config/schema.ts";
import { issuesOf } from "../_helpers/config.ts";

const MOCK = { name: "mock", type: "mock" };

/** The report a person sees for `text`. */
function refusal(text: string): string {
  try {
    parseConfig(text, "relay.yaml", () => undefined);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("server.auth.tokens takes bare tokens and named clients together, naming the bare ones by place", () => {
  // Frozen, as it is both what is parsed and what the result must hold: the parse cannot alter it.
  const ci = Object.freeze({
    name: "ci",
    token: "rly_ci_token_0002",
    rpm: 60,
    tpm: 100_000,
    models: Object.freeze(["claude-haiku-*"]),
    monthly_budget_usd: 50,
  });
  const config = configSchema.parse({
    server: { auth: { tokens: ["rly_plain_token_0001", ci, "rly_plain_token_0003"] } },
    providers: [MOCK],
  });
  assert.deepEqual(config.server.auth, {
    tokens: ["rly_plain_token_0001", "rly_ci_token_0002", "rly_plain_token_0003"],
    clients: [
      { name: "client-1", token: "rly_plain_token_0001" },
      ci,
      { name: "client-3", token: "rly_plain_token_0003" },
    ],
  });
});

Deno.test("a named client's problems are reported inside it, located, as a person would fix them", () => {
  const text = [
    "server:",
    "  auth:",
    "    tokens:",
    '      - name: "x y"',
    "        token: short",
    "        rpm: 1.5",
    '        tpm: "100"',
    "        models: []",
    "        monthly_budget_usd: 0",
    "        rmp: 60",
    "providers: [{ name: mock, type: mock }]",
    "",
  ].join("\n");
  assert.equal(
    refusal(text),
    [
      "relay.yaml: 7 problems",
      "relay.yaml:4:15: server.auth.tokens[0].name: must start with a letter or digit and hold only letters, digits, `_` and `-`",
      "relay.yaml:5:16: server.auth.tokens[0].token: must be at least 8 characters: short tokens are guessable",
      "relay.yaml:6:14: server.auth.tokens[0].rpm: expected a whole number, found the number 1.5",
      'relay.yaml:7:14: server.auth.tokens[0].tpm: expected a number, found the string "100" (write it without quotes or a !!str tag)',
      "relay.yaml:8:17: server.auth.tokens[0].models: must name a model (leave models out to allow any)",
      "relay.yaml:9:29: server.auth.tokens[0].monthly_budget_usd: must be above 0 (leave it out for no budget)",
      "relay.yaml:10:9: unknown key `rmp` in server.auth.tokens[0] (did you mean `rpm`?)",
    ].join("\n"),
  );
  assert.equal(
    refusal("server:\n  auth:\n    tokens: [12345678]\nproviders: [{ name: mock, type: mock }]\n"),
    "relay.yaml:3:14: server.auth.tokens[0]: expected a string or a mapping, found a number (quote it to keep it a string)",
  );
});

Deno.test("client names and tokens must be unique, bare tokens counted by their place", () => {
  assert.deepEqual(
    issuesOf({
      server: {
        auth: {
          tokens: [
            "rly_same_token_0001",
            { name: "client-1", token: "rly_other_token_02" },
            { name: "ci", token: "rly_same_token_0001" },
          ],
        },
      },
      providers: [MOCK],
    }),
    [
      "server.auth.tokens.1.name: duplicate client name `client-1` (also tokens[0])",
      "server.auth.tokens.2.token: the same token as tokens[0]: each client needs its own",
    ],
  );
});

Deno.test("a non-loopback host is allowed with named clients alone", () => {
  const config = configSchema.parse({
    server: { host: "0.0.0.0", auth: { tokens: [{ name: "ci", token: "rly_ci_token_0002" }] } },
    providers: [MOCK],
  });
  assert.equal(config.server.host, "0.0.0.0");
  assert.deepEqual(issuesOf({ server: { host: "0.0.0.0" }, providers: [MOCK] }), [
    "server.auth.tokens: binding 0.0.0.0 requires server.auth.tokens: without them anyone who can reach it spends your keys",
  ]);
});

Deno.test("ledger and pricing parse units and refuse nonsense", () => {
  const config = configSchema.parse({
    ledger: {
      path: "/var/lib/relay/ledger.db",
      flush_interval: "250ms",
      retention_days: 30,
      queue_size: 500,
    },
    pricing: { "my-deployment": { input: 3, output: 15, cache_read: 0.3 } },
    providers: [MOCK],
  });
  assert.deepEqual(config.ledger, {
    enabled: true,
    path: "/var/lib/relay/ledger.db",
    retention_days: 30,
    flush_interval: 250,
    queue_size: 500,
  });
  assert.deepEqual(config.pricing, { "my-deployment": { input: 3, output: 15, cache_read: 0.3 } });
  assert.deepEqual(
    issuesOf({
      ledger: { retention_days: 0, queue_size: -1 },
      pricing: { m: { input: -1, output: 1, cache_wirte: 1 } },
      providers: [MOCK],
    }),
    [
      "ledger.retention_days: Too small: expected number to be >0",
      "ledger.queue_size: Too small: expected number to be >0",
      "pricing.m.input: must be 0 or more (USD per million tokens)",
      'pricing.m: Unrecognized key: "cache_wirte"',
    ],
  );
});

Deno.test("pricing takes a price of web search per thousand requests, 0 or more", () => {
  const config = configSchema.parse({
    pricing: {
      "my-sonnet": { input: 3, output: 15, web_search: 10 },
      "free-search": { input: 1, output: 2, web_search: 0 },
    },
    providers: [MOCK],
  });
  assert.deepEqual(config.pricing, {
    "my-sonnet": { input: 3, output: 15, web_search: 10 },
    "free-search": { input: 1, output: 2, web_search: 0 },
  });
  assert.deepEqual(
    issuesOf({ pricing: { m: { input: 3, output: 15, web_search: -10 } }, providers: [MOCK] }),
    ["pricing.m.web_search: must be 0 or more (USD per 1,000 web searches)"],
  );
  assert.deepEqual(
    issuesOf({ pricing: { m: { input: 3, output: 15, web_searches: 10 } }, providers: [MOCK] }),
    ['pricing.m: Unrecognized key: "web_searches"'],
  );
});

Deno.test("pricing takes long-prompt prices above a whole number of prompt tokens, and refuses a misspelt field in them", () => {
  const longPrompt = { above: 100_000, input: 0.5, output: 2.5, cache_read: 0.05 };
  const config = configSchema.parse({
    pricing: { "my-haiku": { input: 0.1, output: 0.5, long_prompt: longPrompt } },
    providers: [MOCK],
  });
  assert.deepEqual(config.pricing, { "my-haiku": { input: 0.1, output: 0.5, long_prompt: longPrompt } });
  assert.deepEqual(
    issuesOf({
      pricing: {
        m: { input: 1, output: 2, long_prompt: { above: 1.5, input: -1, output: 2, cache_reed: 1 } },
        n: { input: 1, output: 2, long_prompt: { input: 1, output: 2 } },
      },
      providers: [MOCK],
    }),
    [
      "pricing.m.long_prompt.input: must be 0 or more (USD per million tokens)",
      "pricing.m.long_prompt.above: must be a whole number of prompt tokens",
      'pricing.m.long_prompt: Unrecognized key: "cache_reed"',
      "pricing.n.long_prompt.above: Invalid input: expected number, received undefined",
    ],
  );
});
