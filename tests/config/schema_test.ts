import assert from "node:assert/strict";
import { configSchema, isLoopbackHost, maxBodyMemory, providerTimeouts } from "../../src/config/schema.ts";
import { issuesOf } from "../_helpers/config.ts";

const ANTHROPIC = { name: "anthropic", type: "anthropic", keys: [{ key: "sk-ant-api03-aaaaaaaaaaaaaaaa" }] };
const MOCK = { name: "mock", type: "mock" };

/** The issues zod reports, as `path: message` lines, for exact comparison. */
Deno.test("configSchema fills every default from a providers list alone", () => {
  assert.deepEqual(configSchema.parse({ providers: [MOCK] }), {
    server: {
      host: "127.0.0.1",
      port: 8787,
      allowed_hosts: [],
      auth: { tokens: [], clients: [] },
      admin: {},
      max_body_size: 33_554_432,
      body_timeout: 120_000,
      shutdown_grace: 30_000,
      keepalive: 15_000,
      max_concurrent: 64,
      max_queue: 256,
      queue_timeout: 30_000,
    },
    timeouts: { connect: 10_000, first_byte: 600_000, idle: 300_000 },
    routing: {
      strategy: "failover",
      affinity: true,
      max_attempts: 3,
      backoff: 250,
      max_backoff: 8_000,
      max_retry_after: 60_000,
      max_wait: 30_000,
      exploration: 0.05,
      cost_threshold_tokens: 0,
      breaker: { failures: 5, window: 60_000, cooldown: 30_000, last_resort: true },
    },
    log: { level: "info", bodies: false },
    ledger: { enabled: true, retention_days: 90, flush_interval: 1_000, queue_size: 10_000 },
    pricing: {},
    providers: [{
      name: "mock",
      type: "mock",
      keys: [],
      timeouts: {},
      mock: { ttfb: 0, chunk_delay: 0, events: 8, fault: "none", fault_after: 2 },
    }],
  });
});

Deno.test("configSchema parses units and gives anthropic its default base_url", () => {
  const config = configSchema.parse({
    server: { max_body_size: "1MiB", shutdown_grace: "5s", auth: { tokens: ["12345678"] } },
    timeouts: { idle: "2m" },
    providers: [{ ...ANTHROPIC, auth_header: "bearer", timeouts: { connect: "20s" } }],
  });
  assert.equal(config.server.max_body_size, 1_048_576);
  assert.equal(config.server.shutdown_grace, 5_000);
  assert.equal(config.timeouts.idle, 120_000);
  assert.deepEqual(config.providers[0], {
    name: "anthropic",
    type: "anthropic",
    base_url: "https://api.anthropic.com",
    auth_header: "bearer",
    keys: [{ key: "sk-ant-api03-aaaaaaaaaaaaaaaa" }],
    timeouts: { connect: 20_000 },
  });
});

Deno.test("configSchema requires at least one provider", () => {
  assert.deepEqual(issuesOf({}), ["providers: Invalid input: expected array, received undefined"]);
  assert.deepEqual(issuesOf({ providers: [] }), ["providers: at least one provider is required"]);
});

Deno.test("configSchema refuses unknown keys at every level", () => {
  for (
    const [input, path] of [
      [{ providers: [MOCK], extra: 1 }, ""],
      [{ providers: [MOCK], server: { prot: 1 } }, "server"],
      [{ providers: [MOCK], server: { auth: { token: [] } } }, "server.auth"],
      [{ providers: [MOCK], timeouts: { idel: 1 } }, "timeouts"],
      [{ providers: [MOCK], log: { format: "json" } }, "log"],
      [{ providers: [{ ...MOCK, url: "x" }] }, "providers.0"],
      [{ providers: [{ ...ANTHROPIC, keys: [{ key: "k", label: "x" }] }] }, "providers.0.keys.0"],
      [{ providers: [{ ...MOCK, timeouts: { first: 1 } }] }, "providers.0.timeouts"],
      [{ providers: [{ ...MOCK, mock: { evnts: 1 } }] }, "providers.0.mock"],
    ] as const
  ) {
    const result = configSchema.safeParse(input);
    assert.equal(result.success, false, JSON.stringify(input));
    assert.deepEqual(
      result.error!.issues.map((issue) => [issue.code, issue.path.join(".")]),
      [["unrecognized_keys", path]],
    );
  }
});

Deno.test("configSchema checks port, tokens, names and levels", () => {
  assert.deepEqual(issuesOf({ providers: [MOCK], server: { port: 70000 } }), [
    "server.port: must be from 0 to 65535 (0 picks any free port)",
  ]);
  assert.deepEqual(issuesOf({ providers: [MOCK], server: { port: 6000 } }), [
    'server.port: is one fetch refuses to connect to (one of the Fetch standard\'s "bad ports"), so Claude ' +
    "Code and the SDKs could not reach relay there: use another port, e.g. 8787",
  ]);
  assert.equal(
    configSchema.parse({ providers: [MOCK], server: { port: 0 } }).server.port,
    0,
    "any free port",
  );
  assert.deepEqual(issuesOf({ providers: [MOCK], server: { port: 80.5 } }), [
    "server.port: Invalid input: expected int, received number",
  ]);
  assert.deepEqual(issuesOf({ providers: [MOCK], server: { auth: { tokens: ["short"] } } }), [
    "server.auth.tokens.0: must be at least 8 characters: short tokens are guessable",
  ]);
  assert.deepEqual(issuesOf({ providers: [{ ...MOCK, name: "-x" }] }), [
    "providers.0.name: must start with a letter or digit and hold only letters, digits, `_` and `-`",
  ]);
  assert.equal(issuesOf({ providers: [MOCK], log: { level: "verbose" } }).length, 1);
  assert.equal(
    issuesOf({ providers: [{ ...ANTHROPIC, keys: [{ key: "" }] }] })[0],
    "providers.0.keys.0.key: must not be empty",
  );
});

Deno.test("configSchema refuses a host relay could not listen on, a max_body_size of 0 and a $VARIABLE key", () => {
  for (const host of ["not a host", "999.1.1.1", "1.2.3.4.5", "a..b", "-x.example", "[::1"]) {
    const tokens = { tokens: ["client-token-1"] };
    assert.deepEqual(issuesOf({ providers: [MOCK], server: { host, auth: tokens } }), [
      "server.host: is neither an IP address nor a host name (e.g. 127.0.0.1, 0.0.0.0, ::1, localhost)",
    ], host);
  }
  for (
    const host of [
      "127.0.0.1",
      "127.1",
      "0.0.0.0",
      "::1",
      "::",
      "[::1]",
      "localhost",
      "relay-1.internal",
      "fe80::1",
    ]
  ) {
    const server = { host, auth: { tokens: ["client-token-1"] } };
    assert.ok(configSchema.safeParse({ providers: [MOCK], server }).success, host);
  }
  assert.deepEqual(issuesOf({ providers: [MOCK], server: { max_body_size: 0 } }), [
    "server.max_body_size: must be more than 0: it bounds every request's body, and there is no unbounded setting",
  ]);
  assert.deepEqual(issuesOf({ providers: [{ ...ANTHROPIC, keys: [{ key: "$ANTHROPIC_API_KEY" }] }] }), [
    "providers.0.keys.0.key: is the text $ANTHROPIC_API_KEY, not a variable's value: write ${ANTHROPIC_API_KEY} to use one",
  ]);
});

Deno.test("configSchema refuses a server.max_body_memory below server.max_body_size, at its line", () => {
  assert.deepEqual(issuesOf({ providers: [MOCK], server: { max_body_memory: "16MiB" } }), [
    "server.max_body_memory: must be at least server.max_body_size (32MiB), so one body of that size fits",
  ]);
  const parsed = (server: Record<string, string>) => configSchema.parse({ providers: [MOCK], server }).server;
  assert.equal(maxBodyMemory(parsed({})), 256 * 1_048_576);
  assert.equal(
    maxBodyMemory(parsed({ max_body_size: "300MiB" })),
    300 * 1_048_576,
    "unset, it follows a max_body_size raised past 256MiB",
  );
  const server = { max_body_size: "1MiB", max_body_memory: "1MiB" };
  assert.equal(configSchema.parse({ providers: [MOCK], server }).server.max_body_memory, 1_048_576);
});

Deno.test("configSchema refuses duplicate provider names at the later one", () => {
  assert.deepEqual(issuesOf({ providers: [MOCK, ANTHROPIC, { ...MOCK }] }), [
    "providers.2.name: duplicate provider name `mock` (also providers[0].name)",
  ]);
});

Deno.test("configSchema refuses a key or a key name listed twice in one provider, at the later one", () => {
  const key = "sk-ant-api03-duplicate-key-000000x7f2";
  assert.deepEqual(
    issuesOf({
      providers: [{ ...ANTHROPIC, keys: [{ key, name: "main" }, { key: `${key}9`, name: "main" }, { key }] }],
    }),
    [
      "providers.0.keys.1.name: duplicate key name `main` (also keys[0].name)",
      "providers.0.keys.2.key: the same key as keys[0]: list each key once, or its limits are counted apart",
    ],
  );
});

Deno.test("configSchema requires base_url for anthropic-compatible only", () => {
  assert.deepEqual(issuesOf({ providers: [{ ...ANTHROPIC, type: "anthropic-compatible" }] }), [
    "providers.0.base_url: an anthropic-compatible provider needs base_url, e.g. https://api.z.ai/api/anthropic",
  ]);
  const config = configSchema.parse({
    providers: [{ ...ANTHROPIC, type: "anthropic-compatible", base_url: "https://gw.example/api/anthropic" }],
  });
  assert.equal(
    config.providers[0].type === "anthropic-compatible" && config.providers[0].base_url,
    "https://gw.example/api/anthropic",
  );
});

Deno.test("configSchema keeps base_url and mock options to the provider types they apply to", () => {
  assert.deepEqual(issuesOf({ providers: [{ ...MOCK, base_url: "http://localhost:8080" }] }), [
    "providers.0.base_url: a mock provider has no upstream: remove base_url",
  ]);
  assert.deepEqual(issuesOf({ providers: [{ ...ANTHROPIC, mock: {} }] }), [
    "providers.0.mock: `mock` applies to providers of type mock, not anthropic",
  ]);
});

Deno.test("configSchema requires keys for upstream providers but not for the mock", () => {
  assert.deepEqual(issuesOf({ providers: [{ name: "a", type: "anthropic" }] }), [
    "providers.0.keys: a provider of type anthropic needs at least one key (keys: [{ key: ... }])",
  ]);
  assert.deepEqual(issuesOf({ providers: [{ name: "a", type: "anthropic", keys: [] }] }), [
    "providers.0.keys: a provider of type anthropic needs at least one key (keys: [{ key: ... }])",
  ]);
  const mock = configSchema.parse({ providers: [{ ...MOCK, keys: [{ key: "k", name: "n" }] }] }).providers[0];
  assert.deepEqual(mock.keys, [{ key: "k", name: "n" }]);
});

Deno.test("configSchema accepts only http(s) base URLs relay can append a path to", () => {
  const refusal = (base_url: string) => issuesOf({ providers: [{ ...ANTHROPIC, base_url }] })[0];
  assert.equal(
    refusal("api.anthropic.com"),
    'providers.0.base_url: expected an http(s) URL like https://api.anthropic.com, found "api.anthropic.com"',
  );
  // A key put here by mistake (two variables swapped) is not echoed whole.
  assert.equal(
    refusal("sk-proj-REALSECRETKEY1234567890abcdefABCDEF"),
    "providers.0.base_url: expected an http(s) URL like https://api.anthropic.com, found a string (sk-proj-...CDEF)",
  );
  assert.equal(refusal("ftp://host"), "providers.0.base_url: must be an http or https URL, not ftp");
  assert.equal(
    refusal("https://u:p@host"),
    "providers.0.base_url: must not contain credentials: put the key under keys",
  );
  assert.equal(
    refusal("https://host/?k=v"),
    "providers.0.base_url: must not have a query or fragment: relay appends the request path to it",
  );
  assert.equal(
    refusal("https://host/#x"),
    "providers.0.base_url: must not have a query or fragment: relay appends the request path to it",
  );
  assert.equal(
    configSchema.safeParse({ providers: [{ ...ANTHROPIC, base_url: "http://10.0.0.2:8080/api" }] }).success,
    true,
  );
});

Deno.test("configSchema refuses a base URL on a port fetch blocks, naming the port", () => {
  const refusal = (base_url: string) => issuesOf({ providers: [{ ...ANTHROPIC, base_url }] });
  const blocked = (port: number) =>
    `providers.0.base_url: port ${port} is blocked by fetch (one of the Fetch standard's "bad ports"), ` +
    "so no request could reach it: use another port";
  assert.deepEqual(refusal("http://127.0.0.1:6000"), [blocked(6000)]);
  assert.deepEqual(refusal("https://gateway.example:10080/api"), [blocked(10080)]);
  assert.deepEqual(refusal("http://[::1]:5060/"), [blocked(5060)]);
  for (
    const base_url of [
      "http://127.0.0.1:6001",
      "http://127.0.0.1",
      "https://gateway.example/api",
      "http://h:80",
    ]
  ) {
    assert.equal(configSchema.safeParse({ providers: [{ ...ANTHROPIC, base_url }] }).success, true, base_url);
  }
});

Deno.test("configSchema refuses a non-loopback host without client tokens", () => {
  assert.deepEqual(issuesOf({ providers: [MOCK], server: { host: "0.0.0.0" } }), [
    "server.auth.tokens: binding 0.0.0.0 requires server.auth.tokens: without them anyone who can reach it spends your keys",
  ]);
  const open = configSchema.parse({
    providers: [MOCK],
    server: { host: "0.0.0.0", auth: { tokens: ["0123456789"] } },
  });
  assert.equal(open.server.host, "0.0.0.0");
  assert.equal(configSchema.parse({ providers: [MOCK], server: { host: "::1" } }).server.host, "::1");
});

Deno.test("isLoopbackHost accepts localhost, 127.0.0.0/8 and ::1 only", () => {
  for (
    const host of [
      "localhost",
      "LOCALHOST",
      "127.0.0.1",
      "127.1.2.3",
      "127.255.255.255",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "[0::1]",
      "::ffff:127.0.0.1",
      "::FFFF:7F01:203",
    ]
  ) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (
    const host of [
      "0.0.0.0",
      "::",
      "192.168.1.2",
      "127.0.0.256",
      "127.0.0",
      "128.0.0.1",
      "localhost.evil",
      "",
      "example.com",
      "::2",
      "::ffff:128.0.0.1",
      "::ffff:10.0.0.1",
      "::1:",
      "[::1",
    ]
  ) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});

Deno.test("providerTimeouts lays a provider's own timeouts over the global ones", () => {
  const config = configSchema.parse({
    timeouts: { connect: "5s", idle: "1m" },
    providers: [{ ...MOCK, timeouts: { idle: "10m" } }, { ...MOCK, name: "plain" }],
  });
  assert.deepEqual(providerTimeouts(config, config.providers[0]), {
    connect: 5_000,
    first_byte: 600_000,
    idle: 600_000,
  });
  assert.deepEqual(providerTimeouts(config, config.providers[1]), {
    connect: 5_000,
    first_byte: 600_000,
    idle: 60_000,
  });
});

Deno.test("configSchema takes routing, limits per key, in-flight caps and prices", () => {
  const config = configSchema.parse({
    routing: {
      strategy: "cost",
      models: { "claude-haiku-*": "round_robin" },
      max_attempts: 5,
      max_wait: "10s",
    },
    providers: [{
      ...ANTHROPIC,
      keys: [{ key: "sk-ant-api03-aaaaaaaaaaaaaaaa", rpm: 50, tpm: 80_000 }],
      max_in_flight: 8,
      prices: { "claude-sonnet-4-5": { input: 3, output: 15 } },
    }],
  });
  assert.equal(config.routing.strategy, "cost");
  assert.equal(config.routing.max_wait, 10_000);
  assert.deepEqual(config.providers[0].keys[0], {
    key: "sk-ant-api03-aaaaaaaaaaaaaaaa",
    rpm: 50,
    tpm: 80_000,
  });
  assert.equal(config.providers[0].max_in_flight, 8);
  assert.deepEqual(
    issuesOf({ routing: { strategy: "fastest" }, providers: [MOCK] }).map((l) => l.split(":")[0]),
    [
      "routing.strategy",
    ],
  );
  assert.deepEqual(issuesOf({ providers: [{ ...ANTHROPIC, keys: [{ key: "k".repeat(20), rpm: 0 }] }] }), [
    "providers.0.keys.0.rpm: must be a whole number above 0 (per minute)",
  ]);
});

Deno.test("routing.model_routes must name providers that exist", () => {
  assert.deepEqual(
    issuesOf({
      routing: { strategy: "model", model_routes: { "claude-opus-4-1": "bedrok" } },
      providers: [MOCK],
    }),
    ["routing.model_routes.claude-opus-4-1: no provider is named `bedrok` (providers: mock)"],
  );
});

Deno.test("server.admin.token is optional, at least 16 characters and never a client token", () => {
  const token = "adm_0123456789abcdef";
  assert.equal(
    configSchema.parse({ providers: [MOCK], server: { admin: { token } } }).server.admin.token,
    token,
  );
  assert.deepEqual(issuesOf({ providers: [MOCK], server: { admin: { token: "short" } } }), [
    "server.admin.token: must be at least 16 characters: it reloads and switches providers off",
  ]);
  assert.deepEqual(issuesOf({ providers: [MOCK], server: { auth: { tokens: [token] }, admin: { token } } }), [
    "server.admin.token: must differ from every client token: a client must not reach the admin API",
  ]);
});

Deno.test("secrets relay sends in HTTP headers must be printable ASCII with no space at the ends", () => {
  const tail = "it travels in an HTTP header, which takes printable ASCII only";
  const spaces = "starts or ends with a space: it travels in an HTTP header, which drops spaces at the ends";
  const withKey = (key: string) => ({ providers: [{ ...ANTHROPIC, keys: [{ key }] }] });
  const cases: [unknown, string][] = [
    [withKey("sk-ant-\uFFFD\uFFFDsecret"), `providers.0.keys.0.key: character 8 is not ASCII: ${tail}`],
    [withKey("sk-ant-secret\n"), `providers.0.keys.0.key: character 14 is a line break: ${tail}`],
    [withKey(" sk-ant-secret"), `providers.0.keys.0.key: ${spaces}`],
    [withKey("sk-ant-secret "), `providers.0.keys.0.key: ${spaces}`],
    [
      { providers: [MOCK], server: { auth: { tokens: ["client\tsecret"] } } },
      `server.auth.tokens.0: character 7 is a tab: ${tail}`,
    ],
    [
      { providers: [MOCK], server: { auth: { tokens: [{ name: "ci", token: "client-secret\u00e9" }] } } },
      `server.auth.tokens.0.token: character 14 is not ASCII: ${tail}`,
    ],
    [
      { providers: [MOCK], server: { admin: { token: "admin-secret-0123\u007f" } } },
      `server.admin.token: character 18 is a control character: ${tail}`,
    ],
    [
      {
        providers: [{
          name: "b",
          type: "bedrock",
          region: "us-east-1",
          aws: { access_key_id: "AKIA secret " },
        }],
      },
      `providers.0.aws.access_key_id: ${spaces}`,
    ],
    [
      {
        providers: [{
          name: "b",
          type: "bedrock",
          region: "us-east-1",
          aws: { session_token: "secret\r\n" },
        }],
      },
      `providers.0.aws.session_token: character 7 is a line break: ${tail}`,
    ],
  ];
  for (const [input, issue] of cases) {
    const issues = issuesOf(input);
    assert.deepEqual(issues, [issue]);
    assert.ok(!issues[0].includes("secret"), "the value is never shown");
  }
  const printable = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join("");
  const key = `${printable} inner space`;
  assert.equal(configSchema.parse(withKey(key)).providers[0].keys[0].key, key);
});
