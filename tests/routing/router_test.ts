import assert from "node:assert/strict";
import { ModelMap } from "../../src/routing/model_map.ts";
import { type Route, Router } from "../../src/routing/router.ts";
import type { Provider } from "../../src/providers/types.ts";

const provider = (name: string): Provider => ({
  name,
  type: "test",
  send: () => Promise.reject(new Error()),
});
const timeouts = { connect: 1, firstByte: 1, idle: 1 };
const route = (name: string, keys: string[], models?: Record<string, string>): Route => ({
  provider: provider(name),
  keys: keys.map((secret) => ({ secret, label: secret })),
  timeouts,
  models: new ModelMap(models),
});

Deno.test("Router picks the first provider, in listed order, that serves the model", () => {
  const router = new Router([
    route("zai", ["z1"], { "glm-*": "GLM-*" }),
    route("bedrock", ["b1"], { "claude-sonnet-4-5": "anthropic.claude-sonnet-4-5-v1:0" }),
    route("anthropic", ["a1"]),
  ]);
  assert.deepEqual(
    [router.choose("glm-4.7"), router.choose("claude-sonnet-4-5"), router.choose("claude-opus-4-1")]
      .map((choice) => [choice?.route.provider.name, choice?.upstreamModel]),
    [["zai", "GLM-4.7"], ["bedrock", "anthropic.claude-sonnet-4-5-v1:0"], ["anthropic", "claude-opus-4-1"]],
  );
  assert.equal(router.choose(undefined)?.route.provider.name, "zai", "model-less requests go to the first");
});

Deno.test("Router says when no provider serves a model, and what they do serve", () => {
  const router = new Router([route("zai", ["z1"], { "glm-4.7": "GLM-4.7", "glm-*": "GLM-*" })]);
  assert.equal(router.choose("claude-opus-4-1"), undefined);
  assert.deepEqual(router.servedModels(), ["glm-4.7", "glm-*"]);
});

Deno.test("Router takes a provider's keys in turn", () => {
  const router = new Router([route("a", ["k1", "k2", "k3"])]);
  const keys = Array.from({ length: 7 }, () => router.choose("m")?.key?.secret);
  assert.deepEqual(keys, ["k1", "k2", "k3", "k1", "k2", "k3", "k1"]);
});

Deno.test("Router refuses to be built without providers", () => {
  assert.throws(() => new Router([]), /at least one provider/);
});
