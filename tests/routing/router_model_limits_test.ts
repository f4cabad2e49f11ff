/**
 * A provider whose upstream limits each model apart (`rateLimitsPerModel`: Bedrock, Vertex): a 429 keeps
 * the key, or the provider without keys, from that model only, while it serves the others.
 */
import assert from "node:assert/strict";
import { attemptOf, httpFailure, idleProvider, where } from "./_plans.ts";
import { classifyFailure } from "../../src/routing/failure.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { type Route, Router, type RoutingOptions, type Step } from "../../src/routing/router.ts";

const MODELS = { opus: "up-opus", sonnet: "up-sonnet" };

function route(name: string, keys: string[], perModel: boolean, extra: Partial<Route> = {}): Route {
  return {
    provider: { ...idleProvider(name), ...(perModel ? { rateLimitsPerModel: true } : {}) },
    keys: keys.map((secret) => ({ secret, label: secret })),
    timeouts: { connect: 1, firstByte: 1, idle: 1 },
    models: new ModelMap(MODELS),
    ...extra,
  };
}

const OPTIONS: RoutingOptions = {
  strategy: "failover",
  affinity: false,
  breaker: { failureThreshold: 2, windowMs: 60_000, cooldownMs: 30_000 },
  random: () => 0,
};

function routerOf(routes: Route[], clock: { now: number }, from: { previous?: Router } = {}): Router {
  return new Router(routes, { ...OPTIONS, now: () => clock.now, wallClock: () => clock.now + 5 }, from);
}

const request = (model: string, uncounted = false) => ({
  model,
  estimate: { input: 10, output: 10 },
  conversation: undefined,
  uncounted,
});

/** The next step's attempt, given back unsent, as where it goes. */
function nextWhere(router: Router, model: string): string {
  const attempt = attemptOf(router.plan(request(model)).next());
  attempt.cancelled();
  return where(attempt);
}

Deno.test("a 429 of a per-model upstream cools its key for that model only: other models keep the key", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("bedrock", ["k1"], true)], clock);
  const plan = router.plan(request("opus"));
  attemptOf(plan.next()).failed(httpFailure(429));
  const wait: Step = { kind: "wait", waitMs: 60_000, retryAfterMs: 60_000, modelOnly: true };
  assert.deepEqual(plan.next(), wait, "the model waits for the cooling a whole key would have had");
  assert.equal(nextWhere(router, "sonnet"), "bedrock/k1", "the key serves the other models");
  const [key] = router.status()[0].keys;
  assert.deepEqual(
    [key.cooledUntil, key.refusedModels, key.cooledModels],
    [undefined, undefined, [{ model: "up-opus", until: 1_060_005 }]],
  );
  clock.now += 20_000;
  assert.deepEqual(router.plan(request("opus")).next(), { ...wait, waitMs: 40_000, retryAfterMs: 40_000 });
  clock.now += 40_000;
  assert.equal(nextWhere(router, "opus"), "bedrock/k1", "asked again once it ends");
  assert.equal(router.status()[0].keys[0].cooledModels, undefined);

  // An upstream whose limits are the key's keeps cooling the whole key.
  const keyed = routerOf([route("anthropic", ["a1"], false)], { now: 1_000_000 });
  attemptOf(keyed.plan(request("opus")).next()).failed(httpFailure(429));
  assert.deepEqual(keyed.plan(request("sonnet")).next(), {
    kind: "wait",
    waitMs: 60_000,
    retryAfterMs: 60_000,
  });
});

Deno.test("a per-model 429 cools the model for its retry-after, moves the request on, and leaves a token count alone", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("bedrock", ["k1", "k2"], true), route("vertex", [], true)], clock);
  const plan = router.plan(request("opus"));
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    const attempt = attemptOf(plan.next());
    seen.push(where(attempt));
    attempt.failed(httpFailure(429, { "retry-after": `${7 + i}` }));
  }
  assert.deepEqual(seen, ["bedrock/k1", "bedrock/k2", "vertex/-"], "next key, then next provider");
  assert.deepEqual(plan.next(), { kind: "wait", waitMs: 7_000, retryAfterMs: 7_000, modelOnly: true });
  assert.equal(nextWhere(router, "sonnet"), "bedrock/k1");
  assert.deepEqual(router.status()[1].cooledModels, [{ model: "up-opus", until: 1_009_005 }]);
  clock.now += 7_000;
  assert.equal(nextWhere(router, "opus"), "bedrock/k1");

  // A 429 to a token count (limited apart) cools nothing, per model as per key.
  const counting = routerOf([route("bedrock", ["k1"], true)], clock);
  attemptOf(counting.plan(request("opus", true)).next()).failed(httpFailure(429));
  assert.equal(nextWhere(counting, "opus"), "bedrock/k1");
});

Deno.test("a provider without keys whose upstream limits each model apart waits out a 429 for that model only", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("bedrock", [], true), route("anthropic", ["a1"], false)], clock);
  const plan = router.plan(request("opus"));
  attemptOf(plan.next()).failed(httpFailure(429));
  assert.equal(where(attemptOf(plan.next())), "anthropic/a1", "the request moves on");
  assert.equal(nextWhere(router, "opus"), "anthropic/a1", "later requests skip the cooling model");
  assert.equal(nextWhere(router, "sonnet"), "bedrock/-", "its other models are served");
  assert.deepEqual(router.status()[0].cooledModels, [{ model: "up-opus", until: 1_060_005 }]);
  const alone = routerOf([route("bedrock", [], true)], clock);
  const waits = alone.plan(request("opus"));
  attemptOf(waits.next()).failed(classifyFailure(
    { kind: "stream_error", errorType: "rate_limit_error", headers: new Headers() },
    clock.now,
    clock.now,
  ));
  assert.deepEqual(waits.next(), { kind: "wait", waitMs: 60_000, retryAfterMs: 60_000, modelOnly: true });
  clock.now += 60_000;
  assert.equal(nextWhere(router, "opus"), "bedrock/-", "asked again once it ends");
});

Deno.test("switching a key, or a provider without keys, on ends its models' cooling; a reload keeps it", () => {
  const clock = { now: 1_000_000 };
  const routes =
    () => [route("a", ["k1"], true, { fingerprint: "1" }), route("b", [], true, { fingerprint: "1" })];
  const router = routerOf(routes(), clock);
  for (const failing of ["a/k1", "b/-"]) {
    const attempt = attemptOf(router.plan(request("opus")).next());
    assert.equal(where(attempt), failing);
    attempt.failed(httpFailure(429));
  }
  const waits = (of: Router) => of.plan(request("opus")).next().kind === "wait";
  assert.ok(waits(router));
  const changed = routerOf(routes().map((each) => ({ ...each, fingerprint: "2" })), clock, {
    previous: router,
  });
  assert.ok(waits(changed), "a reload that changed the providers keeps what their upstreams said");
  assert.ok(waits(routerOf(routes(), clock, { previous: changed })), "as one that left them alone does");
  changed.setEnabled("b", true);
  assert.equal(nextWhere(changed, "opus"), "b/-");
  changed.setEnabled("a", true, "0");
  assert.equal(nextWhere(changed, "opus"), "a/k1");
});

Deno.test("a wait for keys at their limit for every model is not the model's alone", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("bedrock", ["k1"], true), route("anthropic", ["a1"], false)], clock);
  const plan = router.plan(request("opus"));
  attemptOf(plan.next()).failed(httpFailure(429, { "retry-after": "30" }));
  attemptOf(plan.next()).failed(httpFailure(429, { "retry-after": "10" }));
  assert.deepEqual(plan.next(), { kind: "wait", waitMs: 10_000, retryAfterMs: 10_000 });
  assert.equal(nextWhere(router, "sonnet"), "bedrock/k1", "while the per-model key serves other models");
});
