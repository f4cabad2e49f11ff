import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/errors.ts";
import { configSchema } from "../../src/config/schema.ts";
import type { ProviderEnvironment } from "../../src/providers/registry.ts";
import { routesFromConfig, routingOptionsFromConfig } from "../../src/routing/routes.ts";
import { Router } from "../../src/routing/router.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { providerRequest } from "../_helpers/provider_request.ts";

const nothing: ProviderEnvironment = { env: () => undefined, readFile: () => undefined };

function configOf(...providers: Record<string, unknown>[]) {
  return configSchema.parse({ providers });
}

Deno.test("routesFromConfig builds one route per provider, in order, keys masked for logs", () => {
  const routes = routesFromConfig(
    configOf(
      {
        name: "z",
        type: "zai",
        keys: [{ key: "zai-key-000000000000x7f2" }],
        models: { "claude-*": "GLM-4.7" },
      },
      { name: "m", type: "mock" },
    ),
    "relay.yaml",
    nothing,
  );
  assert.deepEqual(routes.map((route) => [route.provider.name, route.provider.type]), [["z", "zai"], [
    "m",
    "mock",
  ]]);
  assert.equal(routes[0].keys[0].label, "zai...x7f2");
  assert.equal(routes[0].models.resolve("claude-opus-4-1"), "GLM-4.7");
});

Deno.test("a named key's label, the one logs and the ledger show, has its name before the masked key", () => {
  const [route] = routesFromConfig(
    configOf({ name: "a", type: "anthropic", keys: [{ key: "sk-ant-api03-namedkey-x7f2", name: "main" }] }),
  );
  assert.equal(route.keys[0].label, "main (sk-ant-...x7f2)");
});

Deno.test("a provider whose credentials cannot be found stops relay at start, named", () => {
  assert.throws(
    () =>
      routesFromConfig(
        configOf(
          { name: "br", type: "bedrock", region: "us-east-1" },
          { name: "vx", type: "vertex", project: "p", region: "global" },
        ),
        "relay.yaml",
        nothing,
      ),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems.map((problem) => problem.path), ["providers[0]", "providers[1]"]);
      assert.match(error.problems[0].message, /^br: .*AWS/);
      assert.match(error.problems[1].message, /^vx: .*GOOGLE_APPLICATION_CREDENTIALS/);
      return true;
    },
  );
});

Deno.test("bedrock finds AWS credentials in the environment", () => {
  const env: ProviderEnvironment = {
    env: (name) => ({ AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" })[name],
    readFile: () => undefined,
  };
  const [route] = routesFromConfig(
    configOf({ name: "br", type: "bedrock", region: "us-east-1" }),
    "relay.yaml",
    env,
  );
  assert.equal(route.provider.type, "bedrock");
});

Deno.test("zai sends its key as a bearer token; ollama sends no credential without keys", async () => {
  const upstream = startFakeUpstream();
  const routes = routesFromConfig(
    configOf(
      {
        name: "z",
        type: "zai",
        base_url: upstream.url,
        keys: [{ key: "zai-key-000000000000x7f2" }],
        models: { "glm-4.7": "glm-4.7" },
      },
      { name: "o", type: "ollama", base_url: upstream.url, models: { "qwen3-coder": "qwen3-coder" } },
    ),
    "relay.yaml",
    nothing,
  );
  const router = new Router(routes, routingOptionsFromConfig(configOf({ name: "m", type: "mock" })));
  for (const model of ["glm-4.7", "qwen3-coder"]) {
    const step = router.plan({ model, estimate: { input: 1, output: 1 }, conversation: undefined }).next();
    assert.equal(step.kind, "attempt");
    const { attempt } = step as Extract<typeof step, { kind: "attempt" }>;
    const body = `{"model":"${model}","max_tokens":8,"messages":[]}`;
    const request = providerRequest(body, {
      search: "",
      stream: false,
      upstreamModel: attempt.upstreamModel,
    });
    const response = await attempt.route.provider.send(request, attempt.key);
    await response.body?.cancel();
    attempt.abandoned();
  }
  const [zai, ollama] = upstream.requests;
  assert.equal(zai.headers.get("authorization"), "Bearer zai-key-000000000000x7f2");
  assert.equal(zai.headers.get("x-api-key"), null);
  assert.equal(ollama.headers.get("authorization"), null);
  assert.equal(ollama.headers.get("x-api-key"), null);
  await upstream.close();
});

Deno.test("routingOptionsFromConfig carries the routing section, with its defaults", () => {
  const options = routingOptionsFromConfig(
    configSchema.parse({
      routing: { strategy: "latency", models: { "claude-opus-*": "cost" }, breaker: { failures: 3 } },
      providers: [{ name: "m", type: "mock" }],
    }),
  );
  assert.equal(options.strategy, "latency");
  assert.equal(options.modelStrategies?.resolve("claude-opus-4-1"), "cost");
  assert.equal(options.modelStrategies?.resolve("claude-sonnet-4-5"), undefined);
  assert.deepEqual(options.breaker, {
    failureThreshold: 3,
    windowMs: 60_000,
    cooldownMs: 30_000,
    maxCooldownMs: undefined, // the breaker's own default: 10 minutes, or the cooldown when longer
    minSpanMs: 2_000,
  });
  const shortWindow = configSchema.parse({
    routing: { breaker: { window: 3_000 } },
    providers: [{ name: "m", type: "mock" }],
  });
  assert.equal(routingOptionsFromConfig(shortWindow).breaker.minSpanMs, 1_500, "half a short window");
  assert.equal(options.affinity, true);
  assert.equal(options.lastResort, true);
  const noLastResort = configSchema.parse({
    routing: { breaker: { last_resort: false } },
    providers: [{ name: "m", type: "mock" }],
  });
  assert.equal(routingOptionsFromConfig(noLastResort).lastResort, false);
});

Deno.test("a route's fingerprint changes with its provider's entry, timeouts and breaker, not with the order of a mapping", () => {
  const fingerprint = (input: Record<string, unknown>) =>
    routesFromConfig(configSchema.parse(input), "relay.yaml", nothing)[0].fingerprint;
  const base = { providers: [{ name: "m", type: "mock", models: { a: "A", b: "B" } }] };
  const same = fingerprint(base);
  assert.equal(fingerprint({ providers: [{ name: "m", type: "mock", models: { b: "B", a: "A" } }] }), same);
  assert.equal(
    fingerprint({ ...base, log: { level: "debug" } }),
    same,
    "other sections are not the provider's",
  );
  assert.equal(
    fingerprint({ ...base, routing: { breaker: { last_resort: false } } }),
    same,
    "the last resort is the router's: changing it resets no breaker",
  );
  for (
    const changed of [
      { providers: [{ name: "m", type: "mock", models: { a: "A" } }] },
      { ...base, timeouts: { idle: "9m" } },
      { ...base, routing: { breaker: { failures: 2 } } },
      { providers: [{ ...base.providers[0], keys: [{ key: "another-key-000000" }] }] },
    ]
  ) {
    assert.notEqual(fingerprint(changed), same, JSON.stringify(changed));
  }
});

Deno.test("routes carry the names the config gives keys", () => {
  const [route] = routesFromConfig(
    configOf({
      name: "m",
      type: "mock",
      keys: [{ key: "k-000000000001", name: "main" }, { key: "k-000000000002" }],
    }),
    "relay.yaml",
    nothing,
  );
  assert.deepEqual([...route.keyNames!].map(([key, name]) => [key.secret, name]), [[
    "k-000000000001",
    "main",
  ]]);
});
