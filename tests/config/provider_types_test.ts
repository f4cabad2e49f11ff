import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";

const KEY = [{ key: "sk-test-0000000000000000" }];

function issuesOf(provider: Record<string, unknown>): string[] {
  const result = configSchema.safeParse({ providers: [{ name: "p", ...provider }] });
  assert.equal(result.success, false, "expected the provider to be refused");
  return result.error!.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

function parsed(provider: Record<string, unknown>) {
  return configSchema.parse({ providers: [{ name: "p", ...provider }] }).providers[0];
}

Deno.test("zai and ollama come with their known base URL and bearer auth; ollama needs no key", () => {
  assert.deepEqual(parsed({ type: "zai", keys: KEY }), {
    name: "p",
    type: "zai",
    keys: KEY,
    timeouts: {},
    base_url: "https://api.z.ai/api/anthropic",
    auth_header: "bearer",
  });
  const ollama = parsed({ type: "ollama" });
  assert.equal(ollama.type === "ollama" && ollama.base_url, "http://127.0.0.1:11434");
  assert.deepEqual(issuesOf({ type: "zai" }), [
    "providers.0.keys: a provider of type zai needs at least one key (keys: [{ key: ... }])",
  ]);
});

Deno.test("bedrock needs a region; keys (Bedrock API keys) or AWS credentials are both fine", () => {
  assert.deepEqual(issuesOf({ type: "bedrock" }), [
    "providers.0.region: a bedrock provider needs region, e.g. us-east-1",
  ]);
  const bedrock = parsed({ type: "bedrock", region: "us-east-1", aws: { profile: "work" } });
  assert.equal(bedrock.type === "bedrock" && bedrock.aws?.profile, "work");
  assert.equal(parsed({ type: "bedrock", region: "eu-west-1", keys: KEY }).keys.length, 1);
});

Deno.test("bedrock refuses keys and aws together: one of them would be ignored", () => {
  assert.deepEqual(issuesOf({ type: "bedrock", region: "us-east-1", keys: KEY, aws: { profile: "work" } }), [
    "providers.0.aws: use keys (Bedrock API keys) or aws (SigV4 credentials), not both",
  ]);
});

Deno.test("a region is a region name: it goes into the host name, so it cannot point anywhere else", () => {
  for (
    const region of [
      "us-east-1",
      "us-gov-west-1",
      "ap-southeast-2",
      "us-east5",
      "europe-west4",
      "global",
      "eu",
    ]
  ) {
    assert.equal(parsed({ type: "vertex", project: "proj", region }).type, "vertex", region);
    assert.equal(parsed({ type: "bedrock", region }).type, "bedrock", region);
  }
  const refused = (region: string) =>
    `providers.0.region: must be a region name such as us-east-1, us-east5 or global (lowercase letters, ` +
    `digits and \`-\`), found ${JSON.stringify(region)}`;
  for (
    const region of ["127.0.0.1:18443/sink#", "evil.example/x", "us-east-1@x", "US-EAST-1", "", "us--east"]
  ) {
    assert.deepEqual(issuesOf({ type: "vertex", project: "proj", region }), [refused(region)]);
    assert.deepEqual(issuesOf({ type: "bedrock", region }), [refused(region)]);
  }
});

Deno.test("vertex needs project and region, and takes no keys", () => {
  assert.deepEqual(issuesOf({ type: "vertex", keys: KEY }), [
    "providers.0.project: a vertex provider needs project, e.g. my-project",
    "providers.0.region: a vertex provider needs region, e.g. us-east5 or global",
    "providers.0.keys: vertex authenticates with credentials_file, not keys",
  ]);
  const vertex = parsed({ type: "vertex", project: "proj", region: "global", credentials_file: "/sa.json" });
  assert.equal(vertex.type === "vertex" && vertex.credentials_file, "/sa.json");
});

Deno.test("azure needs its resource URL and either keys or an entra block", () => {
  const base_url = "https://res.services.ai.azure.com/anthropic";
  assert.deepEqual(issuesOf({ type: "azure", base_url }), [
    "providers.0.keys: an azure provider needs keys (sent as x-api-key) or an entra block",
  ]);
  const entra = { tenant_id: "t", client_id: "c", client_secret: "s" };
  assert.deepEqual(issuesOf({ type: "azure", base_url, keys: KEY, entra }), [
    "providers.0.entra: use keys or entra, not both",
  ]);
  assert.equal(parsed({ type: "azure", base_url, entra }).type, "azure");
});

Deno.test("every upstream URL of every provider type is refused on a port fetch blocks", () => {
  const url = "https://upstream.example:6667/api";
  const blocked = (path: string) =>
    `providers.0.${path}: port 6667 is blocked by fetch (one of the Fetch standard's "bad ports"), ` +
    "so no request could reach it: use another port";
  const cases: [Record<string, unknown>, string][] = [
    [{ type: "anthropic", keys: KEY, base_url: url }, "base_url"],
    [{ type: "anthropic-compatible", keys: KEY, base_url: url }, "base_url"],
    [{ type: "zai", keys: KEY, base_url: url }, "base_url"],
    [{ type: "ollama", base_url: url }, "base_url"],
    [{ type: "openai", keys: KEY, base_url: url }, "base_url"],
    [{ type: "bedrock", region: "us-east-1", base_url: url }, "base_url"],
    [{ type: "vertex", project: "proj", region: "global", base_url: url }, "base_url"],
    [{ type: "vertex", project: "proj", region: "global", token_url: url }, "token_url"],
    [{ type: "azure", keys: KEY, base_url: url }, "base_url"],
    [{
      type: "azure",
      base_url: "https://res.services.ai.azure.com/anthropic",
      entra: { tenant_id: "t", client_id: "c", client_secret: "s", token_url: url },
    }, "entra.token_url"],
  ];
  for (const [provider, path] of cases) {
    assert.deepEqual(issuesOf(provider), [blocked(path)], `${provider.type} ${path}`);
  }
});

Deno.test("a field that belongs to other provider types is refused, naming the types it applies to", () => {
  assert.deepEqual(issuesOf({ type: "anthropic", keys: KEY, region: "us-east-1" }), [
    "providers.0.region: `region` applies to providers of type bedrock or vertex, not anthropic",
  ]);
  assert.deepEqual(issuesOf({ type: "bedrock", region: "us-east-1", auth_header: "bearer" }), [
    "providers.0.auth_header: `auth_header` applies to providers of type anthropic or anthropic-compatible or zai or ollama, not bedrock",
  ]);
});

Deno.test("models mappings are checked at load", () => {
  assert.deepEqual(issuesOf({ type: "anthropic", keys: KEY, models: { "claude-sonnet-4-5": "x-*" } }), [
    "providers.0.models: `claude-sonnet-4-5: x-*`: a * in the upstream id needs exactly one * in the name to copy",
  ]);
  assert.deepEqual(issuesOf({ type: "anthropic", keys: KEY, models: { "claude-x": "" } }).length, 1);
  assert.deepEqual(parsed({ type: "zai", keys: KEY, models: { "claude-*": "GLM-4.7" } }).models, {
    "claude-*": "GLM-4.7",
  });
});
