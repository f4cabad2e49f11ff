/**
 * A provider whose upstream limits each model apart (`rateLimitsPerModel`: Bedrock, Vertex): a 429 keeps
 * the key, or the provider without keys, from that model only, while it serves the others.
 */
import assert from "node:assert/strict";
import { attemptOf, httpFailure, idleProvider, where } from "./_plans.ts";
import { classifyFailure } from "../../src/routing/failure.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import {
  GUESSED_MODEL_COOLING_MS,
  type Route,
  Router,
  type RoutingOptions,
  type Step,
} from "../../src/routing/router.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

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
  // Bedrock's 429 names no time: the model rests a moment, not the minute a whole key's guess is.
  const wait: Step = {
    kind: "wait",
    waitMs: GUESSED_MODEL_COOLING_MS,
    retryAfterMs: GUESSED_MODEL_COOLING_MS,
    modelOnly: true,
  };
  assert.deepEqual(plan.next(), wait);
  assert.equal(nextWhere(router, "sonnet"), "bedrock/k1", "the key serves the other models");
  const [key] = router.status()[0].keys;
  assert.deepEqual(
    [key.cooledUntil, key.refusedModels, key.cooledModels],
    [undefined, undefined, [{ model: "up-opus", until: 1_000_005 + GUESSED_MODEL_COOLING_MS }]],
  );
  clock.now += 500;
  assert.deepEqual(router.plan(request("opus")).next(), {
    ...wait,
    waitMs: GUESSED_MODEL_COOLING_MS - 500,
    retryAfterMs: GUESSED_MODEL_COOLING_MS - 500,
  });
  clock.now += GUESSED_MODEL_COOLING_MS - 500;
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
  assert.deepEqual(router.status()[0].cooledModels, [{
    model: "up-opus",
    until: 1_000_005 + GUESSED_MODEL_COOLING_MS,
  }]);
  const alone = routerOf([route("bedrock", [], true)], clock);
  const waits = alone.plan(request("opus"));
  attemptOf(waits.next()).failed(classifyFailure(
    { kind: "stream_error", errorType: "rate_limit_error", headers: new Headers() },
    clock.now,
    clock.now,
  ));
  assert.deepEqual(waits.next(), {
    kind: "wait",
    waitMs: GUESSED_MODEL_COOLING_MS,
    retryAfterMs: GUESSED_MODEL_COOLING_MS,
    modelOnly: true,
  });
  clock.now += GUESSED_MODEL_COOLING_MS;
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
  // The same fingerprints: the reload keeps (`adopt`s) each provider's state, its models' cooling too.
  const kept = routerOf(routes().map((each) => ({ ...each, fingerprint: "2" })), clock, {
    previous: changed,
  });
  assert.ok(waits(kept), "as one that left them alone does");
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

/** A router on `clock` whose key breakers open at a key's first failure, for ten minutes. */
function fragileRouterOf(routes: Route[], clock: FakeClock, options: Partial<RoutingOptions> = {}): Router {
  const breaker = { failureThreshold: 1, windowMs: 60_000, cooldownMs: 600_000 };
  return new Router(routes, { ...OPTIONS, breaker, now: clock.now, wallClock: clock.now, ...options });
}

Deno.test("a key cooled for a model whose own breaker stays open longer is not waited for: it is failing", () => {
  const clock = new FakeClock(1_000_000);
  // Without the last resort, which would probe the failing key once its hold is over (below).
  const router = fragileRouterOf([route("bedrock", ["k1", "k2"], true)], clock, { lastResort: false });
  attemptOf(router.plan(request("opus")).next()).failed(httpFailure(429, { "retry-after": "5" }));
  // A 500 on another model opens k1's breaker; k2 works, so the provider's stays closed.
  assert.equal(nextWhere(router, "sonnet"), "bedrock/k2", "keys take turns");
  const failing = attemptOf(router.plan(request("sonnet")).next());
  assert.equal(where(failing), "bedrock/k1");
  failing.failed(httpFailure(500));
  assert.equal(router.status()[0].keys[0].breaker, "open");
  router.setEnabled("bedrock", false, "1");
  const step = router.plan(request("opus")).next();
  assert.equal(step.kind, "exhausted", JSON.stringify(step));
  assert.equal(step.kind === "exhausted" && step.cause, "open", "the client hears of a failing key");

  // Its breaker open for less than the model's cooling, the key is waited for, for the model alone.
  const later = fragileRouterOf([route("bedrock", ["k1", "k2"], true)], clock);
  attemptOf(later.plan(request("opus")).next()).failed(httpFailure(429, { "retry-after": "900" }));
  nextWhere(later, "sonnet");
  attemptOf(later.plan(request("sonnet")).next()).failed(httpFailure(500));
  later.setEnabled("bedrock", false, "1");
  assert.deepEqual(later.plan(request("opus")).next(), {
    kind: "wait",
    waitMs: 900_000,
    retryAfterMs: 900_000,
    modelOnly: true,
  });
});

Deno.test("the last resort probes a failing key cooled for a model once the model's hold is over, holding the request meanwhile", () => {
  const clock = new FakeClock(1_000_000);
  const router = fragileRouterOf([route("bedrock", ["k1"], true)], clock);
  attemptOf(router.plan(request("opus")).next()).failed(httpFailure(503));
  assert.deepEqual(router.status()[0].breaker, "open", "the only key's failure opened its provider too");
  const lastResort = attemptOf(router.plan(request("opus")).next(30_000));
  assert.ok(lastResort.lastResort);
  // Bedrock's throttle: the model rests a moment (no retry-after), the key's breaker still open.
  lastResort.failed(httpFailure(429));
  clock.advance(1_000);
  const plan = router.plan(request("opus"));
  const held = plan.next(30_000);
  assert.ok(held.kind === "wait" && held.waitMs === 1_000, `held a second: ${JSON.stringify(held)}`);
  clock.advance(1_000);
  const probe = attemptOf(plan.next(30_000));
  assert.deepEqual([where(probe), probe.lastResort], ["bedrock/k1", true], "the hold over, the key probed");
});

Deno.test("a failing key resting a moment for a model, beside a key resting an hour for it, is probed early once its moment is over", () => {
  const clock = new FakeClock(1_000_000);
  const router = fragileRouterOf([route("bedrock", ["k1", "k2"], true)], clock);
  const failing = attemptOf(router.plan(request("sonnet")).next());
  assert.equal(where(failing), "bedrock/k1");
  failing.failed(httpFailure(500)); // k1's breaker opens; k2 works, so the provider's stays closed
  const throttled = attemptOf(router.plan(request("opus")).next());
  assert.equal(where(throttled), "bedrock/k2");
  throttled.failed(httpFailure(429, { "retry-after": "3600" }));
  const probe = attemptOf(router.plan(request("opus")).next(30_000));
  assert.deepEqual([where(probe), probe.lastResort], ["bedrock/k1", true]);
  probe.failed(httpFailure(429)); // Bedrock's throttle: k1 rests a moment for opus
  clock.advance(1_000);
  const plan = router.plan(request("opus"));
  const held = plan.next(30_000);
  assert.ok(held.kind === "wait" && held.waitMs === 1_000, `not k2's hour: ${JSON.stringify(held)}`);
  clock.advance(1_000);
  assert.equal(where(attemptOf(plan.next(30_000))), "bedrock/k1");
});

Deno.test("a key cooled for a model is waited for until its own limits let it go too, and then not for the model alone", () => {
  const clock = new FakeClock(1_000_000);
  const limited = (retryAfter: string) => {
    const bedrock = route("bedrock", ["k1"], true);
    const router = new Router(
      [{ ...bedrock, limits: new Map([[bedrock.keys[0], { rpm: 1 }]]) }],
      { ...OPTIONS, now: clock.now, wallClock: clock.now },
    );
    // The 429 counts as the key's one request of the minute.
    attemptOf(router.plan(request("opus")).next()).failed(httpFailure(429, { "retry-after": retryAfter }));
    return router;
  };
  const windowFull = { kind: "wait", waitMs: 60_000, retryAfterMs: 60_000 };
  const router = limited("5");
  assert.deepEqual(router.plan(request("opus")).next(), windowFull, "every model waits for the key's rpm");
  assert.deepEqual(router.plan(request("sonnet")).next(), windowFull);
  assert.deepEqual(limited("90").plan(request("opus")).next(), {
    kind: "wait",
    waitMs: 90_000,
    retryAfterMs: 90_000,
    modelOnly: true,
  }, "the model's cooling outlasting the key's window, the wait is the model's");
});

Deno.test("a token count ignores its model's cooling: its quota is its own, and its 429 cools nothing", () => {
  const clock = new FakeClock(1_000_000);
  const router = new Router(
    [route("bedrock", ["k1"], true), route("vertex", [], true)],
    { ...OPTIONS, strategy: "failover", now: clock.now, wallClock: clock.now },
  );
  const plan = router.plan(request("opus"));
  attemptOf(plan.next()).failed(httpFailure(429, { "retry-after": "30" }));
  attemptOf(plan.next()).failed(httpFailure(429, { "retry-after": "30" }));
  assert.equal(plan.next().kind, "wait");
  const counts = router.plan(request("opus", true));
  const first = attemptOf(counts.next());
  assert.equal(where(first), "bedrock/k1");
  first.failed(httpFailure(500));
  assert.equal(where(attemptOf(counts.next())), "vertex/-", "the provider without keys counts too");
});

Deno.test("a request for a model nothing cools reads the clock no more for another model's cooling", () => {
  // Two routers with the same history, but for a 400 where the other had a 429 that cooled the model.
  const readsAfter = (status: number) => {
    let reads = 0;
    const clock = new FakeClock(1_000_000);
    const router = new Router(
      [route("bedrock", ["k1", "k2"], true), route("vertex", [], true)],
      { ...OPTIONS, now: () => (reads++, clock.now()), wallClock: clock.now },
    );
    const plan = router.plan(request("opus"));
    for (let i = 0; i < 2; i++) attemptOf(plan.next()).failed(httpFailure(status, { "retry-after": "30" }));
    const cooled = router.status()[0].keys.map((key) => key.cooledModels?.length);
    reads = 0;
    attemptOf(router.plan(request("sonnet")).next()).cancelled();
    return { cooled, reads };
  };
  const [limited, refused] = [readsAfter(429), readsAfter(400)];
  assert.deepEqual([limited.cooled, refused.cooled], [[1, 1], [undefined, undefined]]);
  assert.equal(limited.reads, refused.reads);
});

Deno.test("a key refused a model is not waited for as one cooled for it: the plan ends as refused", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("bedrock", ["k1"], true)], clock);
  // Two requests already under way on the key: one answered 429, the other 403.
  const [cooled, refused] = [router.plan(request("opus")), router.plan(request("opus"))]
    .map((plan) => attemptOf(plan.next()));
  cooled.failed(httpFailure(429, { "retry-after": "5" }));
  refused.failed(httpFailure(403));
  const step = router.plan(request("opus")).next();
  assert.equal(step.kind, "exhausted", JSON.stringify(step));
  assert.equal(step.kind === "exhausted" && step.cause, "refused");
  assert.equal(step.kind === "exhausted" && step.retryAfterMs, 300_000);
  assert.equal(nextWhere(router, "sonnet"), "bedrock/k1", "the key serves the other models");
});
