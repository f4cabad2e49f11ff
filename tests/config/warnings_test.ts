import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { configWarnings } from "../../src/config/warnings.ts";

const MOCK = { name: "mock", type: "mock" };

Deno.test("configWarnings is silent for the defaults and for timeouts of 5s or more", () => {
  assert.deepEqual(configWarnings(configSchema.parse({ providers: [MOCK] })), []);
  const config = configSchema.parse({
    timeouts: { connect: "5s" },
    providers: [{ ...MOCK, timeouts: { idle: "1m" } }],
  });
  assert.deepEqual(configWarnings(config), []);
});

Deno.test("configWarnings names each global timeout under 5s, its consequence and the default", () => {
  const config = configSchema.parse({
    timeouts: { connect: "2s", first_byte: 4999, idle: "2s" },
    providers: [MOCK],
  });
  assert.deepEqual(configWarnings(config), [
    "timeouts.connect is 2s: slow upstreams will fail before they send headers; 10s is the default",
    "timeouts.first_byte is 4.999s: long prompts will fail before the first token; 10m is the default",
    "timeouts.idle is 2s: streams with long thinking will be cut; 5m is the default",
  ]);
});

Deno.test("configWarnings checks each provider's own timeouts under its path", () => {
  const config = configSchema.parse({
    providers: [MOCK, { ...MOCK, name: "fast", timeouts: { idle: 500 } }],
  });
  assert.deepEqual(configWarnings(config), [
    "providers[1].timeouts.idle is 500ms: streams with long thinking will be cut; 5m is the default",
  ]);
});

Deno.test("configWarnings says server.allowed_hosts is unused off loopback, where no Host is checked", () => {
  const on = (host: string) =>
    configWarnings(configSchema.parse({
      server: { host, allowed_hosts: ["relay.internal"], auth: { tokens: ["rly_client_token_1"] } },
      providers: [MOCK],
    }));
  assert.deepEqual(on("127.0.0.1"), []);
  assert.deepEqual(on("0.0.0.0"), [
    "server.allowed_hosts is unused on 0.0.0.0: relay checks the Host only on a loopback address " +
    "(client tokens guard it elsewhere)",
  ]);
});

/** An `anthropic` provider, which takes any model name, then an OpenAI-compatible one serving `models`. */
function behindAnthropic(models: Record<string, string>) {
  return [
    { name: "anthropic", type: "anthropic", keys: [{ key: "sk-ant-api03-test-key-000000000000" }] },
    { name: "oai", type: "openai", base_url: "http://127.0.0.1:8000/v1", models },
  ];
}

Deno.test("configWarnings names a model another provider's table maps that a Claude-only provider before it takes", () => {
  const providers = behindAnthropic({ "gpt-4o": "big", "claude-haiku-4-5": "mini", "claude-*-lite": "lite" });
  assert.deepEqual(configWarnings(configSchema.parse({ providers })), [
    "providers[1].models.gpt-4o is never used: providers[0] (anthropic, anthropic) comes first and takes any " +
    "model name, and its upstream has no gpt-4o; list oai first, or send gpt-4o to it in routing.model_routes " +
    "with routing.strategy: model",
  ], "a Claude model's name there is its backup, and so is a glob a Claude model's name may match");
  const [modelStrategy] = configWarnings(configSchema.parse({ providers, routing: { strategy: "model" } }));
  assert.match(modelStrategy, /send gpt-4o to it in routing\.model_routes$/, "the strategy is already model");
  // A per-model strategy by glob that does not take the name leaves it under the default, as relay.example.yaml's.
  const globbed = configWarnings(
    configSchema.parse({ providers, routing: { models: { "claude-haiku-*": "round_robin" } } }),
  );
  assert.equal(globbed.length, 1, "the glob is not gpt-4o's");
  // Routed there, listed first, spread by another strategy, or behind an upstream that may serve it: silent.
  const silent = [
    { providers, routing: { strategy: "model", model_routes: { "gpt-4o": "oai" } } },
    { providers: [providers[1], providers[0]] },
    { providers, routing: { strategy: "round_robin" } },
    { providers, routing: { models: { "gpt-*": "round_robin" } } },
    {
      providers: [{
        ...providers[0],
        name: "gw",
        type: "anthropic-compatible",
        base_url: "https://gw.example",
      }, providers[1]],
    },
    { providers: [{ ...providers[0], models: { "claude-*": "claude-*" } }, providers[1]] },
  ];
  for (const config of silent) {
    assert.deepEqual(configWarnings(configSchema.parse(config)), [], JSON.stringify(config));
  }
});

Deno.test("configWarnings names a glob no Claude model's name matches, shadowed as a name is", () => {
  const providers = behindAnthropic({ "Qwen*": "qwen3", "*": "big" });
  assert.deepEqual(configWarnings(configSchema.parse({ providers })), [
    "providers[1].models.Qwen* is never used: providers[0] (anthropic, anthropic) comes first and takes any " +
    "model name, and its upstream has no Qwen*; list oai first",
  ], "routing.model_routes names models one by one: not offered for a glob");
});

Deno.test("configWarnings says an Anthropic-format base_url ending in /v1 doubles it, and not an OpenAI one's", () => {
  const key = [{ key: "gw-key-0000000000" }];
  const config = configSchema.parse({
    providers: [
      { name: "gw", type: "anthropic-compatible", base_url: "https://gw.example/api/v1/", keys: key },
      { name: "gw2", type: "anthropic-compatible", base_url: "https://gw.example/v1beta", keys: key },
      { name: "gw3", type: "anthropic-compatible", base_url: "https://gw.example/v1/messages", keys: key },
      { name: "oai", type: "openai", base_url: "https://api.example/v1", keys: key },
    ],
  });
  assert.deepEqual(configWarnings(config), [
    "providers[0].base_url ends in /v1, which relay adds itself (anthropic-compatible requests go to " +
    "base_url + /v1/messages): leave it out",
    "providers[2].base_url ends in /v1/messages, which relay adds itself (anthropic-compatible requests go " +
    "to base_url + /v1/messages): leave it out",
  ]);
});
