/**
 * Keys their upstream took out (a 401, a 402, a balance spent) wait on a person, not on time: a plan left
 * with nothing but them says the status to answer with (`refusedWith`) and the upstream's words, so relay
 * answers as the upstream refused them, which no client retries. Any key that time can bring back (cooling,
 * its breaker open) keeps the plan's wait or its `open` end, and a reload that changes the keys starts them
 * afresh.
 */
import assert from "node:assert/strict";
import { attemptOf, httpFailure, idleProvider, PROBE_OUT, where } from "./_plans.ts";
import { classifyFailure } from "../../src/routing/failure.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { type Route, Router } from "../../src/routing/router.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

const WORDS = "Incorrect API key provided: sk-proj-...6789";
const IN_ROTATION = "no provider or key that serves this model is in rotation";

const route = (name: string, keys: string[], fingerprint = `${name}:${keys.join(",")}`): Route => ({
  provider: idleProvider(name),
  keys: keys.map((secret) => ({ secret, label: secret })),
  timeouts: { connect: 1, firstByte: 1, idle: 1 },
  models: new ModelMap(undefined),
  fingerprint,
});

const request = { model: "m", estimate: { input: 10, output: 10 }, conversation: undefined };

function routerOf(routes: Route[], clock: FakeClock, previous?: Router): Router {
  return new Router(routes, {
    strategy: "failover",
    affinity: false,
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
    now: clock.now,
    random: () => 0,
  }, { previous });
}

/** An upstream's answer of `status` with its error's `message`, as relay reads its words. */
function refused(status: number, message: string, clock: FakeClock) {
  const text = JSON.stringify({ error: { type: "authentication_error", message } });
  return classifyFailure({ kind: "http", status, headers: new Headers(), text }, clock.now(), 0);
}

Deno.test("a plan left with keys their upstream refused says so with the upstream's status and words", () => {
  const clock = new FakeClock(1_000_000);
  const router = routerOf([route("a", ["a1"])], clock);
  const first = router.plan(request);
  attemptOf(first.next()).failed(refused(401, WORDS, clock));
  const expected = {
    kind: "exhausted",
    cause: "disabled",
    reason: `${IN_ROTATION}: relay took out the keys their upstream refused (upstream said: ${WORDS}); ` +
      "a fixed key and a reload, or the admin API, put them back",
    refusedWith: 401,
  };
  assert.deepEqual(first.next(), expected, "the request that met the 401");
  clock.advance(3_600_000);
  assert.deepEqual(router.plan(request).next(), expected, "an hour later: no time brings it back");

  const unpaid = routerOf([route("b", ["b1", "b2"])], clock);
  const plan = unpaid.plan(request);
  attemptOf(plan.next()).failed(httpFailure(402));
  attemptOf(plan.next()).failed(refused(401, WORDS, clock));
  assert.deepEqual(plan.next(), {
    kind: "exhausted",
    cause: "disabled",
    reason: `${IN_ROTATION}: relay took out the keys their upstream said cannot pay; a fixed key and a ` +
      "reload, or the admin API, put them back",
    refusedWith: 402,
  }, "the first key's refusal, without words when its upstream gave none");
});

Deno.test("a key refused beside one that time brings back keeps the wait, or the open breaker's end", () => {
  const clock = new FakeClock(1_000_000);
  const cooling = routerOf([route("a", ["a1", "a2"])], clock);
  const plan = cooling.plan(request);
  attemptOf(plan.next()).failed(refused(401, WORDS, clock));
  attemptOf(plan.next()).failed(httpFailure(429, { "retry-after": "20" }));
  assert.deepEqual(cooling.plan(request).next(), { kind: "wait", waitMs: 20_000, retryAfterMs: 20_000 });

  const failing = routerOf([route("a", ["a1"]), route("b", ["b1"])], clock);
  attemptOf(failing.plan(request).next()).failed(refused(401, WORDS, clock));
  const other = attemptOf(failing.plan(request).next());
  assert.equal(where(other), "b/b1");
  other.failed(httpFailure(500));
  assert.equal(where(attemptOf(failing.plan(request).next())), "b/b1", "the last resort, still out");
  assert.deepEqual(
    failing.plan(request).next(),
    PROBE_OUT,
    "looking again every second while b's probe is out",
  );
});

Deno.test("a key switched off answers as relay's own, and a reload that changes the keys puts them back", () => {
  const clock = new FakeClock(1_000_000);
  const router = routerOf([route("a", ["a1", "a2"])], clock);
  const plan = router.plan(request);
  attemptOf(plan.next()).failed(refused(401, WORDS, clock));
  attemptOf(plan.next()).abandoned();
  router.setEnabled("a", false, "1");
  assert.equal((router.plan(request).next() as { refusedWith?: number }).refusedWith, 401);
  router.setEnabled("a", false, "0");
  assert.deepEqual(router.plan(request).next(), {
    kind: "exhausted",
    cause: "disabled",
    reason: `${IN_ROTATION}: each is switched off or was refused by its upstream (401, 402, 403)`,
  }, "switched off by an operator, the refused key is the operator's");

  const unchanged = routerOf([route("a", ["a1", "a2"])], clock, router);
  assert.equal(unchanged.plan(request).next().kind, "exhausted", "an unchanged config keeps its state");
  const fixed = routerOf([route("a", ["a1", "a3"])], clock, unchanged);
  assert.equal(
    where(attemptOf(fixed.plan(request).next())),
    "a/a1",
    "a changed config starts its keys afresh",
  );
});
