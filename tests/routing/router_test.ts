import assert from "node:assert/strict";
import { answered, attemptOf, httpFailure, idleProvider, PROBE_OUT, where } from "./_plans.ts";
import { asStandInRefusal, classifyFailure } from "../../src/routing/failure.ts";
import { readRateLimitHeaders } from "../../src/routing/rate_limit_headers.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import {
  type Attempt,
  type PlanRequest,
  type Route,
  Router,
  type RoutingOptions,
} from "../../src/routing/router.ts";

const timeouts = { connect: 1, firstByte: 1, idle: 1 };
const route = (
  name: string,
  keys: string[],
  models?: Record<string, string>,
  extra: Partial<Route> = {},
): Route => ({
  provider: idleProvider(name),
  keys: keys.map((secret) => ({ secret, label: secret })),
  timeouts,
  models: new ModelMap(models),
  ...extra,
});

function routerOf(routes: Route[], options: Partial<RoutingOptions> = {}, clock = { now: 1_000_000 }) {
  return new Router(routes, {
    strategy: "failover",
    affinity: true,
    breaker: { failureThreshold: 2, windowMs: 60_000, cooldownMs: 30_000 },
    now: () => clock.now,
    random: () => 0,
    ...options,
  });
}

/** A key's 429 saying its plan's period limit is spent (Z.AI's 1310): it rests for days, in those words. */
const periodSpent = (now = 1_000_000) =>
  classifyFailure(
    {
      kind: "http",
      status: 429,
      headers: new Headers(),
      text:
        '{"error":{"code":"1310","message":"Weekly/Monthly Limit Exhausted. Your limit will reset at next Monday"}}',
    },
    now,
    now,
  );

const request = (model: string | undefined, conversation?: string) => ({
  model,
  estimate: { input: 10, output: 10 },
  conversation,
});

Deno.test("a plan offers the first provider, in listed order, that serves the model, mapped", () => {
  const router = routerOf([
    route("zai", ["z1"], { "glm-*": "GLM-*" }),
    route("bedrock", ["b1"], { "claude-sonnet-4-5": "anthropic.claude-sonnet-4-5-v1:0" }),
    route("anthropic", ["a1"]),
  ]);
  const first = (model: string) => attemptOf(router.plan(request(model)).next());
  assert.deepEqual(
    ["glm-4.7", "claude-sonnet-4-5", "claude-opus-4-1"].map((model) => {
      const attempt = first(model);
      attempt.abandoned();
      return [attempt.route.provider.name, attempt.upstreamModel];
    }),
    [["zai", "GLM-4.7"], ["bedrock", "anthropic.claude-sonnet-4-5-v1:0"], ["anthropic", "claude-opus-4-1"]],
  );
  assert.equal(router.plan(request("gpt-4o")).served, true, "anthropic serves any model");
  assert.equal(routerOf([route("zai", ["z1"], { "glm-*": "x" })]).plan(request("gpt-4o")).served, false);
});

Deno.test("a key's own failure moves to the provider's next key, then the next provider; never the same key twice", () => {
  const router = routerOf([route("a", ["a1", "a2"]), route("b", ["b1"])]);
  const plan = router.plan(request("m"));
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    const attempt = attemptOf(plan.next());
    seen.push(where(attempt));
    attempt.failed(httpFailure(429));
  }
  assert.deepEqual(seen, ["a/a1", "a/a2", "b/b1"]);
});

Deno.test("a provider's failure moves to the next provider; its other keys come after the other providers", () => {
  for (const failure of [httpFailure(500), classifyFailure({ kind: "network", error: "refused" }, 0, 0)]) {
    const router = routerOf([route("a", ["a1", "a2", "a3"]), route("b", ["b1"]), route("c", ["c1"])], {
      breaker: { failureThreshold: 100, windowMs: 60_000, cooldownMs: 30_000 },
    });
    const plan = router.plan(request("m"));
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const attempt = attemptOf(plan.next());
      seen.push(where(attempt));
      attempt.failed(failure);
    }
    assert.deepEqual(seen, ["a/a1", "b/b1", "c/c1", "a/a2", "a/a3"], failure.reason);
  }
});

Deno.test("a 429 cools the key until its reset; when every key is cold the plan says how long to wait", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", ["a1"])], {}, clock);
  const plan = router.plan(request("m"));
  attemptOf(plan.next()).failed(httpFailure(429, { "retry-after": "20" }));
  const step = router.plan(request("m")).next();
  assert.deepEqual(step, { kind: "wait", waitMs: 20_000, retryAfterMs: 20_000 });
  clock.now += 20_000;
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "a/a1");
});

Deno.test("a router runs on the monotonic clock unless given one: a key relay cooled for 10 s waits 10 s", () => {
  const router = new Router([route("a", ["a1"])], {
    strategy: "failover",
    affinity: false,
    breaker: { failureThreshold: 2, windowMs: 60_000, cooldownMs: 30_000 },
  });
  const limited = { kind: "http", status: 429, headers: new Headers({ "retry-after": "10" }) } as const;
  // As relay reads an answer: its monotonic clock, and the wall clock for the upstream's dates.
  attemptOf(router.plan(request("m")).next()).failed(classifyFailure(limited, performance.now(), Date.now()));
  const step = router.plan(request("m")).next();
  assert.equal(step.kind, "wait", "a router on the wall clock would take the key for rested long ago");
  assert.ok(step.kind === "wait" && step.waitMs > 9_000 && step.waitMs <= 10_000, JSON.stringify(step));
  const cooledUntil = router.status()[0].keys[0].cooledUntil!;
  assert.ok(Math.abs(cooledUntil - (Date.now() + step.waitMs)) < 1_000, "shown on the wall clock");
});

Deno.test("status shows instants on the wall clock, which may step back; cooling and breakers run on their own", () => {
  const clock = { now: 5_000 };
  const wall = Date.UTC(2026, 10, 26, 12);
  let step = 0;
  const wallClock = () => wall + clock.now + step;
  const router = routerOf([route("a", ["a1"]), route("b", ["b1"])], { wallClock }, clock);
  attemptOf(router.plan(request("m")).next()).failed(
    classifyFailure(
      { kind: "http", status: 429, headers: new Headers({ "retry-after": "20" }) },
      clock.now,
      clock.now,
    ),
  );
  for (let i = 0; i < 2; i++) {
    const attempt = attemptOf(router.plan(request("m")).next());
    assert.equal(where(attempt), "b/b1");
    attempt.failed(httpFailure(503));
  }
  const shown = () => {
    const [a, b] = router.status();
    return [a.keys[0].cooledUntil, b.retryAt];
  };
  assert.deepEqual(shown(), [wall + 25_000, wall + 35_000]);
  step = -3_600_000;
  assert.deepEqual(shown(), [wall + 25_000 + step, wall + 35_000 + step], "still 20 and 30 s away");
  assert.deepEqual(router.plan(request("m")).next(), { kind: "wait", waitMs: 20_000, retryAfterMs: 20_000 });
  clock.now += 20_000;
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "a/a1");
});

Deno.test("401 takes a key out of rotation for good", () => {
  const router = routerOf([route("a", ["a1", "a2"])]);
  attemptOf(router.plan(request("m")).next()).failed(httpFailure(401));
  for (let i = 0; i < 3; i++) {
    const attempt = attemptOf(router.plan(request("m")).next());
    assert.equal(where(attempt), "a/a2");
    attempt.committed(5);
    attempt.finished({ input: 1, output: 1 });
  }
});

Deno.test("the provider breaker opens after failures, skips the provider, and lets one probe through after cooldown", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", ["a1"]), route("b", ["b1"])], { strategy: "failover" }, clock);
  for (let i = 0; i < 2; i++) attemptOf(router.plan(request("m")).next()).failed(httpFailure(503));
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "b/b1", "a is open");
  clock.now += 30_000 * 1.2 + 1;
  const probe = attemptOf(router.plan(request("m")).next());
  assert.equal(where(probe), "a/a1");
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "b/b1", "only one probe at a time");
  answered(probe);
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "a/a1", "closed again");
});

Deno.test("streams the upstream breaks off after they committed open its breaker; a probe closes it at its first event", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", ["a1"]), route("b", ["b1"])], { strategy: "failover" }, clock);
  const streamBrokenOff = () => {
    const attempt = attemptOf(router.plan(request("m")).next());
    assert.equal(where(attempt), "a/a1");
    attempt.committed(5);
    attempt.finished({ input: 10, output: 1 }, true);
  };
  streamBrokenOff();
  streamBrokenOff();
  assert.deepEqual(router.status()[0].keys.map((key) => key.breaker), ["open"]);
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "b/b1", "a is open");

  clock.now += 30_000 * 1.2 + 1;
  const probe = attemptOf(router.plan(request("m")).next());
  assert.equal(where(probe), "a/a1");
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "b/b1", "one probe at a time");
  probe.committed(5);
  const during = attemptOf(router.plan(request("m")).next());
  assert.equal(where(during), "a/a1", "closed while the probe still streams");
  during.committed(5);
  during.finished({ input: 10, output: 40 });
  // The probe's stream breaks off after all: one failure, under the threshold of two.
  probe.finished({ input: 10, output: 1 }, true);
  assert.equal(router.status()[0].breaker, "closed");
  streamBrokenOff();
  assert.equal(router.status()[0].breaker, "open", "the probe's failure counted, as a closed breaker's");
});

Deno.test("a count or a model list neither opens nor closes a breaker, failing or answered: it says nothing of the Messages", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", ["a1"]), route("b", ["b1"])], { strategy: "failover" }, clock);
  const count = () => attemptOf(router.plan({ ...request("m"), uncounted: true }).next());
  const breakers = () => router.status().map((p) => [p.breaker, ...p.keys.map((key) => key.breaker)]);
  for (let i = 0; i < 3; i++) count().failed(httpFailure(500));
  const cut = count();
  cut.committed(5);
  cut.finished(undefined, true);
  assert.deepEqual(breakers(), [["closed", "closed"], ["closed", "closed"]]);
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "a/a1", "messages still go to a");

  for (let i = 0; i < 2; i++) attemptOf(router.plan(request("m")).next()).failed(httpFailure(500));
  assert.deepEqual(breakers()[0], ["open", "open"]);
  clock.now += 30_000 * 1.2 + 1;
  const halfOpen = count();
  assert.equal(where(halfOpen), "a/a1", "a count may go while the breaker is half-open");
  halfOpen.committed(5);
  halfOpen.finished(undefined);
  assert.notEqual(breakers()[0][0], "closed", "its answer does not close it");
  const probe = attemptOf(router.plan(request("m")).next());
  assert.equal(where(probe), "a/a1", "the probe's place is free for a message");
  probe.committed(5);
  assert.deepEqual(breakers()[0], ["closed", "closed"]);
});

Deno.test("with every provider's breaker open a request goes as the probe, early; meanwhile others look again every second, else hear when to come back", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", ["a1"])], {}, clock);
  for (let i = 0; i < 2; i++) attemptOf(router.plan(request("m")).next()).failed(httpFailure(500));
  const breakers = () => router.status().map((p) => [p.breaker, ...p.keys.map((key) => key.breaker)]);
  const probing = () => router.status().map((p) => [p.probing, ...p.keys.map((key) => key.probing)]);
  assert.deepEqual(breakers(), [["open", "open"]]);
  assert.deepEqual(probing(), [[false, false]]);
  clock.now += 1_000;
  const lastResort = attemptOf(router.plan(request("m")).next());
  assert.deepEqual([where(lastResort), lastResort.standIn], ["a/a1", false]);
  assert.deepEqual(
    [breakers(), probing()],
    [[["open", "open"]], [[true, true]]],
    "the status tells of the probe out, though the breakers read open",
  );
  const step = router.plan(request("m")).next();
  assert.ok(
    step.kind === "wait" && step.waitMs === 1_000 && step.otherwise?.kind === "exhausted" &&
      step.otherwise.cause === "open" &&
      step.otherwise.retryAfterMs === 1_000,
    "one at a time; past the caller's wait, told to send again at once, relay asking every second",
  );
  lastResort.failed(httpFailure(500));
  assert.deepEqual([breakers(), probing()], [[["open", "open"]], [[false, false]]]);
  assert.equal(router.plan(request("m")).next().kind, "wait", "early probes go a second apart");
  clock.now += 1_000;
  const again = router.plan(request("m")).next();
  assert.ok(again.kind === "attempt", "the next request goes as the next early probe");
  answered(again.attempt);
  assert.deepEqual(breakers(), [["closed", "closed"]], "its success closed both breakers");
});

Deno.test("a request that failed on a provider now open asks it again as its last resort, a wait of a second apart", () => {
  const router = routerOf([route("a", ["a1"])]);
  attemptOf(router.plan(request("m")).next()).failed(httpFailure(500));
  const plan = router.plan(request("m"));
  attemptOf(plan.next()).failed(httpFailure(500));
  assert.equal(router.status()[0].breaker, "open", "this request's failure opened it");
  const step = plan.next();
  assert.ok(
    step.kind === "wait" && step.waitMs === 1_000 && step.otherwise?.kind === "exhausted" &&
      step.otherwise.cause === "open",
    JSON.stringify(step),
  );
  const again = attemptOf(plan.next());
  assert.deepEqual([where(again), again.lastResort], ["a/a1", true], "after the wait");
  assert.equal(router.plan(request("m")).next().kind, "wait", "another request waits for that probe");
  again.failed(httpFailure(500));
  assert.equal(plan.next().kind, "wait", "and the first looks again a second later");
});

Deno.test("a request held while every breaker is open asks each provider in turn, the one asked longest ago first", () => {
  const clock = { now: 1_000_000 };
  const router = twoOpeningAtFirst(clock);
  const plan = router.plan(request("m"));
  const asked: string[] = [];
  for (let i = 0; i < 6; i++) {
    let step = plan.next();
    if (step.kind === "wait") {
      clock.now += step.waitMs;
      step = plan.next();
    }
    const attempt = attemptOf(step);
    asked.push(where(attempt));
    attempt.failed(httpFailure(500));
  }
  assert.deepEqual(router.status().map((p) => p.breaker), ["open", "open"]);
  assert.deepEqual(asked, ["a/a1", "b/b1", "a/a1", "b/b1", "a/a1", "b/b1"], "b is not left behind a");
});

Deno.test("a provider without keys that answered 429 rests for the model as long as it said: the next requests go elsewhere", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("azure", []), route("b", ["b1"])], {}, clock);
  const first = router.plan(request("m"));
  const limited = attemptOf(first.next());
  assert.equal(where(limited), "azure/-");
  limited.failed(httpFailure(429, { "retry-after": "30" }));
  assert.equal(where(attemptOf(first.next())), "b/b1");
  clock.now += 29_000;
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "b/b1", "azure still rests");
  assert.equal(where(attemptOf(router.plan(request("other")).next())), "azure/-", "for that model only");
  clock.now += 1_000;
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "azure/-", "its 30 s are over");
});

/** Providers a and b, whose breakers open at a first failure and whose probes hold their place 10 s. */
function twoOpeningAtFirst(clock: { now: number }): Router {
  const patient = { timeouts: { connect: 10_000, firstByte: 1, idle: 1 } };
  return routerOf([route("a", ["a1"], undefined, patient), route("b", ["b1"], undefined, patient)], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  }, clock);
}

Deno.test("a last resort goes to the first provider whose breaker lets a probe through early; the next one stands in", () => {
  const clock = { now: 1_000_000 };
  const router = twoOpeningAtFirst(clock);
  const plan = router.plan(request("m"));
  attemptOf(plan.next()).failed(httpFailure(500));
  attemptOf(plan.next()).failed(httpFailure(500));
  assert.equal(plan.next().kind, "wait", "both failed this request: it looks again in a second");
  const first = attemptOf(router.plan(request("m")).next());
  const second = attemptOf(router.plan(request("m")).next());
  assert.deepEqual([where(first), first.standIn, where(second), second.standIn], [
    "a/a1",
    false,
    "b/b1",
    true,
  ]);
  assert.equal(router.plan(request("m")).next().kind, "wait", "each probe is out");
  first.failed(httpFailure(500));
  clock.now += 1_000;
  const plan2 = router.plan(request("m"));
  const third = attemptOf(plan2.next());
  assert.equal(where(third), "a/a1");
  third.failed(httpFailure(503));
  assert.equal(plan2.next().kind, "wait", "b's probe is still out");
  clock.now += 10_000;
  const fourth = attemptOf(router.plan(request("m")).next());
  const fifth = attemptOf(router.plan(request("m")).next());
  assert.deepEqual(
    [where(fourth), where(fifth)],
    ["a/a1", "b/b1"],
    "b's probe, out for timeouts.connect, holds up no one longer",
  );
});

Deno.test("a provider whose keys' breakers are all open takes a last resort on one key, its breaker's early probe", () => {
  const router = routerOf([route("a", ["a1", "a2"])], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  });
  const breakers = () => router.status().map((p) => [p.breaker, ...p.keys.map((key) => key.breaker)]);
  const plan = router.plan(request("m"));
  attemptOf(plan.next()).failed(httpFailure(500));
  // a1's failure left the provider alone (a2 worked); a2's opens the provider too.
  assert.deepEqual(breakers(), [["closed", "open", "closed"]]);
  attemptOf(plan.next()).failed(httpFailure(500));
  assert.deepEqual(breakers(), [["open", "open", "open"]]);
  const lastResort = attemptOf(router.plan(request("m")).next());
  assert.equal(where(lastResort), "a/a1");
  answered(lastResort);
  assert.deepEqual(breakers(), [["closed", "closed", "open"]], "a2's breaker waits for its own probe");
});

Deno.test("a last resort goes before a wait past what the caller would wait (keys resting for long in their upstream's words), not before one within it", () => {
  const spent = periodSpent();
  for (
    const [failure, expected] of [[spent, "attempt"], [
      httpFailure(429, { "retry-after": "10" }),
      "wait",
    ]] as const
  ) {
    const router = routerOf([route("a", ["a1"]), route("b", ["b1"])], {
      breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
    });
    const plan = router.plan(request("m"));
    attemptOf(plan.next()).failed(failure);
    attemptOf(plan.next()).failed(httpFailure(500));
    assert.deepEqual(router.status().map((p) => p.breaker), ["closed", "open"]);
    const step = router.plan(request("m")).next(30_000);
    assert.equal(step.kind, expected);
    if (step.kind === "attempt") assert.equal(where(step.attempt), "b/b1", "b may be back already");
  }
});

Deno.test("no last resort beside a provider at its max_in_flight, which frees up any moment, nor for a count", () => {
  const router = routerOf([route("a", ["a1"], undefined, { maxInFlight: 1 }), route("b", ["b1"])], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  });
  const held = attemptOf(router.plan(request("m")).next());
  assert.equal(where(held), "a/a1");
  const plan = router.plan(request("m"));
  attemptOf(plan.next()).failed(httpFailure(500));
  assert.deepEqual(router.status().map((p) => p.breaker), ["closed", "open"]);
  const step = router.plan(request("m")).next();
  assert.ok(step.kind === "exhausted" && step.cause === "busy", JSON.stringify(step));
  held.abandoned();

  const alone = routerOf([route("a", ["a1"])], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  });
  attemptOf(alone.plan(request("m")).next()).failed(httpFailure(500));
  const count = alone.plan({ ...request("m"), uncounted: true }).next();
  assert.ok(count.kind === "exhausted" && count.cause === "open", "a count probes nothing");
  assert.equal(alone.plan(request("m")).next().kind, "attempt", "a message does");
});

Deno.test("beside a key resting past what the caller waits, a request held for an open provider looks again in a second", () => {
  const clock = { now: 1_000_000 };
  const router = twoOpeningAtFirst(clock);
  const spent = periodSpent(clock.now);
  const first = router.plan(request("m"));
  attemptOf(first.next()).failed(spent);
  attemptOf(first.next()).failed(httpFailure(500));
  const plan = router.plan(request("m"));
  const probe = attemptOf(plan.next(30_000));
  assert.equal(where(probe), "b/b1");
  const other = router.plan(request("m")).next(30_000);
  assert.ok(
    other.kind === "wait" && other.waitMs === 1_000,
    `another, the probe out: ${JSON.stringify(other)}`,
  );
  assert.ok(
    other.otherwise?.kind === "exhausted" && other.otherwise.cause === "open",
    "past it, the provider failing, not the key's rest beside it: sent again, it may find the provider back",
  );
  probe.failed(httpFailure(500));
  const held = plan.next(29_000);
  assert.ok(
    held.kind === "wait" && held.waitMs === 1_000,
    `the probe's own request: ${JSON.stringify(held)}`,
  );
});

/** Provider `a` alone, open since its first failure, and a plan whose last resort there got a 429. */
function lastResortRateLimited(retryAfter: string) {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", ["a1"])], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  }, clock);
  attemptOf(router.plan(request("m")).next(30_000)).failed(httpFailure(500));
  const plan = router.plan(request("m"));
  attemptOf(plan.next(30_000)).failed(httpFailure(429, { "retry-after": retryAfter }));
  return { clock, router, plan };
}

Deno.test("beside a key spent for days, the provider's key whose breaker is open is the last resort, not the spent key's rest", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", ["a1", "a2"])], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  }, clock);
  const first = router.plan(request("m"));
  attemptOf(first.next(30_000)).failed(periodSpent(clock.now));
  attemptOf(first.next(30_000)).failed(httpFailure(500));
  assert.deepEqual(
    router.status().map((p) => [p.breaker, ...p.keys.map((key) => key.breaker)]),
    [["closed", "closed", "open"]],
    "a1 rests (counted as working), a2 failing",
  );
  clock.now += 2_000;
  const plan = router.plan(request("m"));
  const probe = attemptOf(plan.next(30_000));
  assert.deepEqual(
    [where(probe), probe.lastResort],
    ["a/a2", true],
    "not relay's 429 telling the client to stop",
  );
  const other = router.plan(request("m")).next(30_000);
  assert.ok(
    other.kind === "wait" && other.waitMs === 1_000,
    `another waits for that probe: ${JSON.stringify(other)}`,
  );
  probe.failed(httpFailure(500));
  const held = plan.next(30_000);
  assert.ok(
    held.kind === "wait" && held.waitMs === 1_000 && held.otherwise?.kind === "exhausted" &&
      held.otherwise.cause === "open",
    JSON.stringify(held),
  );
});

Deno.test("every provider open and its keys resting past the caller's wait, the plan offers the soonest rest", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", ["a1"]), route("b", ["b1"])], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  }, clock);
  const first = router.plan(request("m"));
  for (let i = 0; i < 2; i++) attemptOf(first.next(30_000)).failed(httpFailure(500));
  for (const [provider, retryAfter] of [["a", "3600"], ["b", "7200"]]) {
    clock.now += 1_000;
    const lastResort = attemptOf(router.plan(request("m")).next(30_000));
    assert.deepEqual([where(lastResort), lastResort.lastResort], [`${provider}/${provider}1`, true]);
    lastResort.failed(httpFailure(429, { "retry-after": retryAfter }));
  }
  clock.now += 1_000;
  const step = router.plan(request("m")).next(30_000);
  // The 429s' retry-after counts from 1,000,000 (`httpFailure`'s clock): a1 rests until 4,600,000.
  assert.ok(step.kind === "wait" && step.waitMs === 3_597_000, `a1's, the sooner: ${JSON.stringify(step)}`);
});

Deno.test("a last resort answered with a short 429 waits for its key, a second at a time", () => {
  const { clock, plan } = lastResortRateLimited("2");
  const steps: string[] = [];
  for (let i = 0; i < 4; i++) {
    const step = plan.next(30_000);
    steps.push(step.kind);
    if (step.kind !== "wait") break;
    clock.now += step.waitMs;
  }
  assert.deepEqual(steps, ["wait", "wait", "attempt"]);
});

Deno.test("a last resort answered with a rest past what the caller waits is held no longer: the plan offers the rest", () => {
  const { clock, router, plan } = lastResortRateLimited("3600");
  const looked = plan.next(30_000);
  assert.ok(looked.kind === "wait" && looked.waitMs === 1_000, "its own look again, a second on");
  clock.now += 1_000;
  const rest = plan.next(30_000);
  assert.ok(rest.kind === "wait" && rest.waitMs === 3_599_000 && !rest.otherwise, JSON.stringify(rest));
  const other = router.plan(request("m")).next(30_000);
  assert.ok(other.kind === "wait" && other.waitMs === 3_599_000, "another request hears of it at once");
});

/** A router before provider `a` with `keys`, every one failed once so its breakers are open, 2 s on. */
function openedOnce(keys: string[]) {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", keys)], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  }, clock);
  const plan = router.plan(request("m"));
  for (const _ of keys) attemptOf(plan.next(30_000)).failed(httpFailure(500));
  assert.equal(router.status()[0].breaker, "open");
  clock.now += 2_000;
  return router;
}

Deno.test("a last resort that went upstream spaces the next a second, whatever its end; one that never went does not", () => {
  const ends: [string, (attempt: Attempt) => void, keys: string[], next: string][] = [
    ["answered with a 429", (attempt) => attempt.failed(httpFailure(429, { "retry-after": "1" })), [
      "a1",
      "a2",
    ], "wait"],
    ["left by its client", (attempt) => attempt.abandoned(), ["a1"], "wait"],
    ["cancelled unsent", (attempt) => attempt.cancelled(), ["a1"], "attempt"],
    [
      "passed over unsent (skip_provider)",
      (attempt) => attempt.failed(classifyFailure({ kind: "unservable", reason: "no price for m" }, 0, 0)),
      ["a1"],
      "attempt",
    ],
  ];
  for (const [how, end, keys, next] of ends) {
    const router = openedOnce(keys);
    const lastResort = attemptOf(router.plan(request("m")).next(30_000));
    assert.ok(lastResort.lastResort);
    end(lastResort);
    assert.equal(router.plan(request("m")).next(30_000).kind, next, how);
  }
});

Deno.test("routing's lastResort off: every provider open, the plan is exhausted", () => {
  const router = routerOf([route("a", ["a1"])], { lastResort: false });
  for (let i = 0; i < 2; i++) attemptOf(router.plan(request("m")).next()).failed(httpFailure(500));
  const step = router.plan(request("m")).next();
  assert.ok(step.kind === "exhausted" && step.cause === "open" && step.retryAfterMs! >= 30_000);
});

Deno.test("a 400 is the request's fault: no breaker counts it", () => {
  const router = routerOf([route("a", ["a1"])]);
  for (let i = 0; i < 5; i++) attemptOf(router.plan(request("m")).next()).failed(httpFailure(400));
  assert.equal(router.plan(request("m")).next().kind, "attempt");
});

Deno.test("a provider at its in-flight cap is skipped until a request finishes", () => {
  const router = routerOf([route("a", ["a1"], undefined, { maxInFlight: 1 }), route("b", ["b1"])]);
  const busy = attemptOf(router.plan(request("m")).next());
  assert.equal(where(busy), "a/a1");
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "b/b1");
  answered(busy);
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "a/a1");
});

Deno.test("a paused attempt gives its provider's place to others, and takes it back only if it is free", () => {
  const router = routerOf([route("a", ["a1"], undefined, { maxInFlight: 1 })]);
  const waiting = attemptOf(router.plan(request("m")).next());
  const resume = waiting.paused();
  assert.equal(router.status()[0].inFlight, 0);
  const other = attemptOf(router.plan(request("m")).next());
  assert.equal(where(other), "a/a1", "the place it gave up is taken");
  assert.equal(resume(), false, "full again: the waiting attempt is to be cancelled");
  waiting.cancelled();
  assert.equal(router.status()[0].inFlight, 1, "cancelling gives back nothing it no longer held");
  answered(other);
  const again = attemptOf(router.plan(request("m")).next());
  const resumeAgain = again.paused();
  assert.equal(resumeAgain(), true);
  assert.equal(router.status()[0].inFlight, 1);
  assert.equal(router.plan(request("m")).next().kind, "exhausted", "its place is held again");
});

Deno.test("conversation affinity keeps a conversation on the provider and key that served it", () => {
  const router = routerOf([route("a", ["a1"]), route("b", ["b1", "b2"])], { strategy: "round_robin" });
  const first = attemptOf(router.plan(request("m", "conv-1")).next());
  answered(first);
  for (let i = 0; i < 4; i++) {
    const again = attemptOf(router.plan(request("m", "conv-1")).next());
    assert.equal(where(again), where(first));
    answered(again);
  }
});

Deno.test("a conversation moved to a provider without keys stays there", () => {
  const router = routerOf([route("a", ["a1"]), route("local", [])]);
  const plan = router.plan(request("m", "conv-1"));
  attemptOf(plan.next()).failed(httpFailure(500));
  const moved = attemptOf(plan.next());
  assert.equal(where(moved), "local/-");
  answered(moved);
  const next = attemptOf(router.plan(request("m", "conv-1")).next());
  assert.equal(where(next), "local/-", "a is healthy again, but the conversation is on local");
});

Deno.test("a token count goes where it can and moves no pin", () => {
  const router = routerOf([route("a", ["a1"]), route("b", ["b1"])]);
  const plan = router.plan(request("m", "conv-1"));
  attemptOf(plan.next()).failed(httpFailure(500));
  const moved = attemptOf(plan.next());
  answered(moved);
  // b cannot count tokens (an OpenAI-compatible upstream), so a, healthy again, counts them.
  const countPlan = router.plan({ ...request("m", "conv-1"), uncounted: true });
  const count = attemptOf(countPlan.next());
  assert.equal(where(count), "b/b1");
  count.failed(classifyFailure({ kind: "unservable", reason: "no count_tokens" }, 1_000_000, 1_000_000));
  const counted = attemptOf(countPlan.next());
  assert.equal(where(counted), "a/a1");
  answered(counted);
  assert.equal(
    where(attemptOf(router.plan(request("m", "conv-1")).next())),
    "b/b1",
    "the conversation stays on b",
  );
});

Deno.test("a side call on another model does not move the conversation's pin", () => {
  const router = routerOf([
    route("a", ["a1"]),
    route("b", ["b1"], { "claude-sonnet-*": "claude-sonnet-*" }),
  ]);
  const plan = router.plan(request("claude-sonnet-4-5", "session"));
  attemptOf(plan.next()).failed(httpFailure(500));
  const moved = attemptOf(plan.next());
  assert.equal(where(moved), "b/b1");
  answered(moved);
  // Claude Code's haiku call, same session: only a serves it.
  const side = attemptOf(router.plan(request("claude-haiku-4-5", "session")).next());
  assert.equal(where(side), "a/a1");
  answered(side);
  assert.equal(where(attemptOf(router.plan(request("claude-sonnet-4-5", "session")).next())), "b/b1");
});

Deno.test("a request planned before its conversation moved, and ranked after, follows the move", () => {
  const router = routerOf([route("a", ["a1"]), route("b", ["b1"])]);
  const first = attemptOf(router.plan(request("m", "session")).next());
  answered(first);
  // Planned, then queued for a slot while another turn of the conversation fails over to b.
  const queued = router.plan(request("m", "session"));
  const failing = router.plan(request("m", "session"));
  attemptOf(failing.next()).failed(httpFailure(500));
  const moved = attemptOf(failing.next());
  assert.equal(where(moved), "b/b1");
  answered(moved);
  const late = attemptOf(queued.next());
  assert.equal(where(late), "b/b1");
  answered(late);
  assert.equal(where(attemptOf(router.plan(request("m", "session")).next())), "b/b1");
});

Deno.test("of two requests of a conversation planned together, the first answered pins it", () => {
  for (const firstAnswered of ["turn", "side"] as const) {
    const router = routerOf([route("a", ["a1"]), route("b", ["b1"])], { strategy: "round_robin" });
    // Claude Code's title call and the first turn leave together, round robin sending them apart.
    const turn = attemptOf(router.plan(request("m", "session")).next());
    const side = attemptOf(router.plan(request("m", "session")).next());
    assert.notEqual(where(turn), where(side));
    const [first, second] = firstAnswered === "turn" ? [turn, side] : [side, turn];
    first.committed(5);
    second.committed(5);
    for (const attempt of [turn, side]) attempt.finished(undefined);
    for (let i = 0; i < 3; i++) {
      const next = attemptOf(router.plan(request("m", "session")).next());
      assert.equal(where(next), where(first), `${firstAnswered} answered first, turn ${i + 2}`);
      answered(next);
    }
  }
});

Deno.test("a provider that cannot serve the request is left out of the plan for good", () => {
  const router = routerOf([route("a", ["a1"], undefined), route("b", ["b1"])], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  });
  const plan = router.plan(request("m"));
  const unservable = classifyFailure(
    { kind: "unservable", reason: "no such route upstream" },
    1_000_000,
    1_000_000,
  );
  assert.equal(unservable.action, "skip_provider");
  attemptOf(plan.next()).failed(unservable);
  const b = attemptOf(plan.next());
  assert.equal(where(b), "b/b1");
  b.failed(httpFailure(500));
  // A new round offers b again (it failed once), after a second's wait now that it is open; never a.
  assert.equal(plan.next().kind, "wait", "b's breaker is open now, and a is out");
  assert.equal(where(attemptOf(plan.next())), "b/b1");
  assert.deepEqual(router.status().map((p) => p.breaker), ["closed", "open"], "a's breaker counted nothing");
});

Deno.test("a plan that tried everything goes round again, bounded by its caller", () => {
  const router = routerOf([route("a", ["a1"])], {
    breaker: { failureThreshold: 100, windowMs: 1, cooldownMs: 1 },
  });
  const plan = router.plan(request("m"));
  const seen = [];
  for (let i = 0; i < 3; i++) {
    const attempt = attemptOf(plan.next());
    seen.push(where(attempt));
    attempt.failed(httpFailure(529));
  }
  assert.deepEqual(seen, ["a/a1", "a/a1", "a/a1"]);
});

Deno.test("a key that failed once is retried before the request waits for a key at its limit", () => {
  const router = routerOf([route("a", ["a1", "a2"])], {
    breaker: { failureThreshold: 100, windowMs: 60_000, cooldownMs: 1 },
  });
  attemptOf(router.plan(request("m")).next()).failed(httpFailure(429, { "retry-after": "60" }));
  const plan = router.plan(request("m"));
  const first = attemptOf(plan.next());
  assert.equal(where(first), "a/a2");
  first.failed(httpFailure(500));
  assert.equal(where(attemptOf(plan.next())), "a/a2", "not a wait of 60 s for a1");
});

Deno.test("servedModels names what the providers serve", () => {
  assert.deepEqual(
    routerOf([route("z", ["z"], { "glm-4.7": "G", "glm-*": "G" }), route("a", ["a"])]).servedModels(),
    [
      "glm-4.7",
      "glm-*",
      "*",
    ],
  );
  assert.throws(() => routerOf([]), /at least one provider/);
});

Deno.test("a key's token window is charged the estimate, then settled to the usage the stream reported", () => {
  const limited = route("a", ["a1"]);
  const router = routerOf([{ ...limited, limits: new Map([[limited.keys[0], { tpm: 100 }]]) }]);
  const big = { model: "m", estimate: { input: 60, output: 30 }, conversation: undefined };
  const first = attemptOf(router.plan(big).next());
  assert.equal(router.plan(big).next().kind, "wait", "90 of 100 reserved: another 90 does not fit");
  first.committed(5);
  first.finished({ input: 6, output: 4 });
  const second = attemptOf(router.plan(big).next());
  assert.equal(where(second), "a/a1", "settled to 10, so 90 more fits");
});

Deno.test("an attempt cancelled before it was sent gives back its request and tokens; one abandoned after keeps them", () => {
  const limited = route("a", ["a1"]);
  const router = routerOf([{ ...limited, limits: new Map([[limited.keys[0], { rpm: 1, tpm: 100 }]]) }]);
  attemptOf(router.plan(request("m")).next()).cancelled();
  assert.equal(router.status()[0].keys[0].ratio, 0, "never sent: nothing counted");
  const sent = attemptOf(router.plan(request("m")).next());
  assert.equal(where(sent), "a/a1");
  sent.abandoned();
  assert.equal(router.status()[0].keys[0].ratio, 1, "the upstream got it: its one request a minute is spent");
  assert.equal(router.plan(request("m")).next().kind, "wait");
});

Deno.test("an attempt whose usage never comes keeps its input counted and its max_tokens only as a bound", () => {
  const limited = route("a", ["a1"]);
  const limits = new Map([[limited.keys[0], { tpm: 1000, output_tpm: 500 }]]);
  // Claude Code asks for 32000 output tokens: far more than the key's windows have room for.
  const claudeCode = { model: "m", estimate: { input: 10, output: 32_000 }, conversation: undefined };
  const small = { model: "m", estimate: { input: 10, output: 100 }, conversation: undefined };
  const ends = {
    "the client left before the answer": (attempt: Attempt) => attempt.abandoned(),
    "an answer without usage": answered,
  };
  for (const [how, end] of Object.entries(ends)) {
    const router = routerOf([{ ...limited, limits }]);
    end(attemptOf(router.plan(claudeCode).next()));
    assert.equal(router.status()[0].keys[0].ratio, 1, `${how}: the key looks busy`);
    const next = router.plan(small).next();
    assert.equal(next.kind, "attempt", `${how}: yet holds no request back`);
    attemptOf(next).cancelled();
    const input = router.plan({ ...small, estimate: { input: 991, output: 0 } }).next();
    assert.equal(input.kind, "wait", `${how}: the input stays counted`);
  }
});

Deno.test("a key skipped for its open breaker is not charged a request", () => {
  const clock = { now: 0 };
  const keyed = route("a", ["a1", "a2"]);
  const [a1, a2] = keyed.keys;
  const router = routerOf([{ ...keyed, limits: new Map([[a1, { rpm: 10 }], [a2, { rpm: 2 }]]) }], {}, clock);
  const ratios = () => router.status()[0].keys.map((key) => key.ratio);
  // Open a1's breaker but not the provider's for good: a1's second failure comes from an attempt
  // sent before two others opened the provider, and the provider's probe later closes it again.
  const early = attemptOf(router.plan(request("m")).next());
  assert.equal(where(early), "a/a1");
  for (const expected of ["a/a2", "a/a1"]) {
    const attempt = attemptOf(router.plan(request("m")).next());
    assert.equal(where(attempt), expected);
    attempt.failed(httpFailure(500));
  }
  clock.now = 10_000;
  early.failed(httpFailure(500));
  clock.now = 30_000;
  assert.deepEqual(
    [router.status()[0].breaker, router.status()[0].keys.map((key) => key.breaker), ratios()],
    ["half_open", ["open", "closed"], [2 / 10, 1 / 2]],
  );
  const probe = attemptOf(router.plan(request("m")).next());
  assert.equal(where(probe), "a/a2", "a1, the least used, is skipped for its breaker");
  assert.deepEqual(ratios(), [2 / 10, 2 / 2], "a1 is not charged for the request it did not take");
});

Deno.test("a provider without keys whose credential is refused is not asked again in the plan; others are", () => {
  const router = routerOf([route("bedrock", []), route("anthropic", ["a1"])], {
    breaker: { failureThreshold: 100, windowMs: 1, cooldownMs: 1 },
  });
  for (const status of [401, 403]) {
    const plan = router.plan(request("m"));
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const attempt = attemptOf(plan.next());
      seen.push(where(attempt));
      attempt.failed(httpFailure(attempt.key ? 500 : status));
    }
    assert.deepEqual(seen, ["bedrock/-", "anthropic/a1", "anthropic/a1"], `${status}`);
  }
  const alone = routerOf([route("bedrock", [])]);
  const plan = alone.plan(request("m"));
  attemptOf(plan.next()).failed(httpFailure(401));
  assert.deepEqual(plan.next(), {
    kind: "exhausted",
    cause: "disabled",
    reason:
      "no provider or key that serves this model is in rotation: each is switched off or was refused by its upstream (401, 402, 403)",
  });
  const transient = alone.plan(request("m"));
  attemptOf(transient.next()).failed(httpFailure(529));
  assert.equal(where(attemptOf(transient.next())), "bedrock/-", "a transient failure still goes round again");
});

Deno.test("a key failing on its own opens its breaker, not its provider's, and the request still gets the other key", () => {
  const router = routerOf([route("a", ["a1", "a2"]), route("b", ["b1"])], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  });
  const plan = router.plan(request("m"));
  const first = attemptOf(plan.next());
  assert.equal(where(first), "a/a1");
  first.failed(httpFailure(500));
  const breakers = () => router.status().map((p) => [p.breaker, ...p.keys.map((key) => key.breaker)]);
  assert.deepEqual(breakers(), [["closed", "open", "closed"], ["closed", "closed"]], "a2 still works");
  const second = attemptOf(plan.next());
  assert.equal(where(second), "b/b1");
  second.failed(httpFailure(500));
  assert.equal(where(attemptOf(plan.next())), "a/a2", "b is open, a is not");
});

Deno.test("the provider's breaker counts failures on every key, and any key's success starts it afresh", () => {
  const router = routerOf([route("a", ["a1", "a2"])]); // failureThreshold 2
  for (let i = 0; i < 4; i++) {
    const plan = router.plan(request("m"));
    let attempt = attemptOf(plan.next());
    if (where(attempt) === "a/a1") {
      attempt.failed(httpFailure(500));
      attempt = attemptOf(plan.next());
    }
    assert.equal(where(attempt), "a/a2", `request ${i + 1}`);
    answered(attempt);
  }
  attemptOf(router.plan(request("m")).next()).failed(httpFailure(503));
  assert.equal(router.status()[0].breaker, "closed");
  attemptOf(router.plan(request("m")).next()).failed(httpFailure(503));
  assert.equal(router.status()[0].breaker, "open", "a2 failing too: the provider is down");
});

Deno.test("a request's retries on the same key that the upstream answers count once for its breakers; on another key, once more for the provider's", () => {
  for (const keys of [["a1"], []]) {
    const router = routerOf([route("a", keys)]); // failureThreshold 2
    const breakers = () => router.status().map((p) => [p.breaker, ...p.keys.map((key) => key.breaker)]);
    const closed = [["closed", ...keys.map(() => "closed")]];
    const burst = router.plan(request("m"));
    for (let attempt = 1; attempt <= 3; attempt++) {
      attemptOf(burst.next()).failed(httpFailure(529));
      assert.deepEqual(breakers(), closed, `${keys.length} keys, attempt ${attempt}: one failure so far`);
    }
    attemptOf(router.plan(request("m")).next()).failed(httpFailure(529));
    assert.deepEqual(
      breakers(),
      [["open", ...keys.map(() => "open")]],
      "a second request's failure opens them",
    );
  }

  const router = routerOf([route("a", ["a1", "a2"])]);
  const plan = router.plan(request("m"));
  attemptOf(plan.next()).failed(httpFailure(503));
  attemptOf(plan.next()).failed(httpFailure(503));
  assert.equal(router.status()[0].breaker, "open", "two keys failing in one request: the provider is down");
});

Deno.test("a request's retries that find no upstream (a timeout, a refused connection) count each time", () => {
  const noUpstream = [
    classifyFailure({ kind: "timeout" }, 0, 0),
    classifyFailure({ kind: "network", error: new Error("connection refused") }, 0, 0),
  ];
  for (const failure of noUpstream) {
    const router = routerOf([route("a", ["a1"])]); // failureThreshold 2
    const plan = router.plan(request("m"));
    attemptOf(plan.next()).failed(failure);
    assert.equal(router.status()[0].breaker, "closed", failure.reason);
    attemptOf(plan.next()).failed(failure);
    assert.equal(
      router.status()[0].breaker,
      "open",
      `${failure.reason}: a hanging upstream opens it as before`,
    );
  }
});

Deno.test("a transient failure goes round again while another provider's breaker is open", () => {
  const router = routerOf([route("a", ["a1"]), route("b", ["b1"])]);
  router.setEnabled("a", false);
  for (let i = 0; i < 2; i++) attemptOf(router.plan(request("m")).next()).failed(httpFailure(500));
  router.setEnabled("a", true);
  assert.deepEqual(router.status().map((p) => p.breaker), ["closed", "open"]);
  const plan = router.plan(request("m"));
  attemptOf(plan.next()).failed(httpFailure(500));
  assert.equal(where(attemptOf(plan.next())), "a/a1");
});

Deno.test("beside a provider at max_in_flight, a key's rate-limit wait is looked at again every second", () => {
  const clock = { now: 1_000_000 };
  const limited = route("a", ["a1"]);
  const router = routerOf(
    [
      { ...limited, limits: new Map([[limited.keys[0], { rpm: 1 }]]) },
      route("b", ["b1"], undefined, { maxInFlight: 1 }),
    ],
    {},
    clock,
  );
  const first = attemptOf(router.plan(request("m")).next());
  const second = attemptOf(router.plan(request("m")).next());
  assert.deepEqual([where(first), where(second)], ["a/a1", "b/b1"]);
  // b frees up as soon as its request ends, most often long before a1's minute is over.
  assert.deepEqual(router.plan(request("m")).next(), {
    kind: "wait",
    waitMs: 1_000,
    retryAfterMs: 60_000,
    busy: true,
  });
  clock.now += 59_500;
  assert.deepEqual(router.plan(request("m")).next(), {
    kind: "wait",
    waitMs: 500,
    retryAfterMs: 500,
    busy: true,
  });
  answered(second);
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "b/b1", "b, free again, serves at once");
  // Without a busy provider, the wait is the key's whole.
  const alone = routerOf([{ ...limited, limits: new Map([[limited.keys[0], { rpm: 1 }]]) }], {}, clock);
  attemptOf(alone.plan(request("m")).next()).abandoned();
  assert.deepEqual(alone.plan(request("m")).next(), { kind: "wait", waitMs: 60_000, retryAfterMs: 60_000 });
});

Deno.test("an exhausted plan says why: providers busy, failing, or out of rotation", () => {
  const busy = routerOf([route("a", ["a1"], undefined, { maxInFlight: 1 })]);
  const held = attemptOf(busy.plan(request("m")).next());
  assert.deepEqual(busy.plan(request("m")).next(), {
    kind: "exhausted",
    cause: "busy",
    reason: "every provider that can take this model now is at its max_in_flight",
  });
  held.abandoned();

  const refused = routerOf([route("a", ["a1"]), route("b", ["b1"])]);
  for (let i = 0; i < 2; i++) attemptOf(refused.plan(request("m")).next()).failed(httpFailure(401));
  const step = refused.plan(request("m")).next();
  assert.ok(step.kind === "exhausted" && step.cause === "disabled", JSON.stringify(step));

  const clock = { now: 1_000_000 };
  const failing = routerOf([route("a", ["a1", "a2"])], {
    breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  }, clock);
  attemptOf(failing.plan(request("m")).next()).failed(httpFailure(500));
  failing.setEnabled("a", false, "1");
  assert.equal(where(attemptOf(failing.plan(request("m")).next())), "a/a1", "the last resort, still out");
  assert.deepEqual(
    failing.plan(request("m")).next(),
    PROBE_OUT,
    "a1's breaker is open, its early probe out; a2 switched off",
  );
});

Deno.test("round_robin takes a turn when a plan is first asked for a step, apart for uncounted requests", () => {
  const router = routerOf([route("a", ["a1"]), route("b", ["b1"])], { strategy: "round_robin" });
  const first = (planned: PlanRequest) => {
    const attempt = attemptOf(router.plan(planned).next());
    answered(attempt);
    return attempt.route.provider.name;
  };
  router.plan(request("m")); // never got a slot: never sent
  const counting = { ...request("m"), uncounted: true };
  const seen = [request("m"), counting, request("m"), counting, request("m")].map(first);
  assert.deepEqual(seen, ["a", "a", "b", "b", "a"]);
});

Deno.test("shuffle weighs a provider without keys as one with all its capacity left", () => {
  const router = routerOf([route("a", ["a1"]), route("bedrock", [])], {
    strategy: "shuffle",
    random: () => 0.75,
  });
  assert.equal(where(attemptOf(router.plan(request("m")).next())), "bedrock/-");
});

Deno.test("cost finds a model's price by exact name, else by the most specific glob", () => {
  const price = (inputPerMTok: number) => ({ inputPerMTok, outputPerMTok: inputPerMTok * 5 });
  const router = routerOf([
    route("a", ["a1"], undefined, { prices: new Map([["claude-*", price(3)]]) }),
    route("b", ["b1"], undefined, {
      prices: new Map([["*", price(10)], ["claude-sonnet-*", price(1)], ["claude-sonnet-4-5", price(5)]]),
    }),
  ], { strategy: "cost" });
  const cheapest = (model: string) => {
    const attempt = attemptOf(router.plan(request(model)).next());
    attempt.cancelled();
    return attempt.route.provider.name;
  };
  assert.deepEqual(
    ["claude-sonnet-4", "claude-sonnet-4-5", "claude-haiku-4-5", "gpt-4o"].map(cheapest),
    ["b", "a", "a", "b"],
  );
});

Deno.test("an uncounted request takes a key whose rpm is spent, and spends none of it", () => {
  const limited = route("a", ["a1"]);
  const router = routerOf([{ ...limited, limits: new Map([[limited.keys[0], { rpm: 1 }]]) }]);
  const sent = attemptOf(router.plan(request("m")).next());
  answered(sent);
  assert.equal(router.plan(request("m")).next().kind, "wait");
  const counting = attemptOf(router.plan({ ...request("m"), uncounted: true }).next());
  assert.equal(where(counting), "a/a1");
  answered(counting);
  assert.equal(router.status()[0].keys[0].ratio, 1, "still the one request");
});

Deno.test("what an uncounted request's answer says of rate limits, a 429 included, leaves the key to Messages", () => {
  const router = routerOf([route("a", ["a1"])]);
  const counting = () => attemptOf(router.plan({ ...request("m"), uncounted: true }).next());
  const spent = counting();
  spent.observe(readRateLimitHeaders(
    new Headers({
      "anthropic-ratelimit-requests-limit": "50",
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": new Date(1_000_000 + 60_000).toISOString(),
    }),
    1_000_000,
    1_000_000,
  ));
  answered(spent);
  counting().failed(httpFailure(429, { "retry-after": "30" }));
  assert.equal(
    where(attemptOf(router.plan(request("m")).next())),
    "a/a1",
    "no wait for count_tokens' limits",
  );
});

Deno.test("runsAs names the ids a model runs as and where, on every provider that serves it", () => {
  const router = routerOf([
    route("z", ["z"], { "sonnet": "claude-sonnet-4-5", "glm-*": "glm-4.7" }),
    route("off", ["o"], { "sonnet": "us.anthropic.claude-sonnet-4-5-20250929-v1:0" }),
    route("a", ["a"]),
  ]);
  router.setEnabled("off", false);
  assert.deepEqual(router.runsAs("sonnet"), [
    { provider: "z", model: "claude-sonnet-4-5" },
    { provider: "off", model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" },
    { provider: "a", model: "sonnet" },
  ]);
  assert.deepEqual(router.runsAs("glm-4.6"), [{ provider: "z", model: "glm-4.7" }, {
    provider: "a",
    model: "glm-4.6",
  }]);
});

Deno.test("runsAs walks the routes once per model: a budgeted request's hold asks it every time", () => {
  const models = new ModelMap({ "sonnet": "claude-sonnet-4-5", "glm-*": "glm-4.7" });
  const resolve = models.resolve.bind(models);
  let resolved = 0;
  models.resolve = (model) => {
    resolved++;
    return resolve(model);
  };
  const router = routerOf([route("z", ["z"], undefined, { models }), route("a", ["a"])]);
  const sonnet = [{ provider: "z", model: "claude-sonnet-4-5" }, { provider: "a", model: "sonnet" }];
  assert.deepEqual(router.runsAs("sonnet"), sonnet);
  assert.deepEqual(router.runsAs("sonnet"), sonnet);
  assert.equal(resolved, 1, "the second answer is the first's");
  // Model names come from clients: past the bound, what was kept is dropped, and found again.
  for (let n = 0; n < 2_000; n++) {
    assert.deepEqual(router.runsAs(`glm-${n}`), [{ provider: "z", model: "glm-4.7" }, {
      provider: "a",
      model: `glm-${n}`,
    }]);
  }
  assert.deepEqual(router.runsAs("sonnet"), sonnet);
  assert.equal(resolved, 2_002);
});

Deno.test("a 403 refuses the key the model it was sent as, only: the model moves on at once, others keep the key", () => {
  const clock = { now: 1_000_000 };
  const models = { opus: "up-opus", sonnet: "up-sonnet" };
  const router = routerOf([route("bedkey", ["k1"], models), route("other", ["o1"], { opus: "o-opus" })], {
    wallClock: () => clock.now + 5,
  }, clock);
  const plan = router.plan(request("opus"));
  attemptOf(plan.next()).failed(httpFailure(403));
  assert.equal(where(attemptOf(plan.next())), "other/o1", "the refused model fails over in the same request");
  const sonnet = attemptOf(router.plan(request("sonnet")).next());
  assert.deepEqual(
    [where(sonnet), sonnet.upstreamModel],
    ["bedkey/k1", "up-sonnet"],
    "the key serves the rest",
  );
  sonnet.cancelled();
  const opus = attemptOf(router.plan(request("opus")).next());
  assert.equal(where(opus), "other/o1", "the refused key is not asked for opus again");
  opus.cancelled();
  const [key] = router.status()[0].keys;
  assert.deepEqual(
    [key.disabled, key.refusedModels],
    [undefined, [{ model: "up-opus", until: 1_000_000 + 300_000 + 5 }]],
  );
  clock.now += 300_000;
  assert.equal(
    where(attemptOf(router.plan(request("opus")).next())),
    "bedkey/k1",
    "asked again once it ends",
  );
  assert.equal(router.status()[0].keys[0].refusedModels, undefined);
});

Deno.test("a 403 refuses a provider without keys the model across requests, while it serves the others", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf(
    [
      route("bedrock", [], { opus: "b-opus", sonnet: "b-sonnet" }),
      route("anthropic", ["a1"]),
    ],
    { wallClock: () => clock.now },
    clock,
  );
  const plan = router.plan(request("opus"));
  attemptOf(plan.next()).failed(httpFailure(403, { "retry-after": "60" }));
  assert.equal(where(attemptOf(plan.next())), "anthropic/a1");
  assert.equal(where(attemptOf(router.plan(request("opus")).next())), "anthropic/a1", "still refused");
  assert.equal(where(attemptOf(router.plan(request("sonnet")).next())), "bedrock/-");
  assert.deepEqual(router.status()[0].refusedModels, [{ model: "b-opus", until: 1_060_000 }]);
  clock.now += 60_000;
  assert.equal(where(attemptOf(router.plan(request("opus")).next())), "bedrock/-", "its retry-after is over");
});

Deno.test("an attempt names what follows its failure: a 429 of a provider without keys moves on to the next provider", () => {
  const [keyed, keyless] = [route("keyed", ["k1"]), route("keyless", [])].map((only) => {
    const attempt = attemptOf(routerOf([only]).plan(request("m")).next());
    attempt.cancelled();
    return attempt;
  });
  assert.deepEqual([where(keyed), where(keyless)], ["keyed/k1", "keyless/-"]);
  const next = (attempt: Attempt, status: number) => attempt.nextAction(httpFailure(status));
  assert.deepEqual(
    [429, 401, 403, 500, 400].map((status) => [status, next(keyed, status), next(keyless, status)]),
    [
      [429, "retry_next_key", "retry_next_provider"],
      [401, "disable_key", "disable_key"],
      [403, "refuse_model", "refuse_model"],
      [500, "retry_next_provider", "retry_next_provider"],
      [400, "return", "return"],
    ],
  );
});

Deno.test("a model every key refused ends the plan as refused, saying when it is asked again", () => {
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", ["a1", "a2"]), route("b", [])], {}, clock);
  const plan = router.plan(request("opus"));
  for (const expected of ["a/a1", "a/a2", "b/-"]) {
    const attempt = attemptOf(plan.next());
    assert.equal(where(attempt), expected);
    attempt.failed(httpFailure(403));
  }
  clock.now += 1_500;
  const refused = {
    kind: "exhausted",
    cause: "refused",
    reason:
      "every provider and key in rotation that serves this model was refused it by its upstream (403); relay asks again in 299 s",
    retryAfterMs: 298_500,
  };
  assert.deepEqual(router.plan(request("opus")).next(), refused);
  assert.equal(where(attemptOf(router.plan(request("sonnet")).next())), "a/a1");

  const words = routerOf([route("a", ["a1"]), route("b", [])], {}, clock);
  const said = (text: string) =>
    classifyFailure({ kind: "http", status: 403, headers: new Headers(), text }, clock.now, clock.now);
  const plan2 = words.plan(request("opus"));
  attemptOf(plan2.next()).failed(
    said('{"type":"error","error":{"type":"permission_error","message":"a1 may not"}}'),
  );
  attemptOf(plan2.next()).failed(httpFailure(403));
  const step = words.plan(request("opus")).next();
  assert.ok(
    step.kind === "exhausted" && step.reason.includes("(403, upstream said: a1 may not); relay asks"),
    JSON.stringify(step),
  );
});

Deno.test("switching a key, or a provider, on takes back the models its upstream refused it", () => {
  const router = routerOf([route("a", ["a1"]), route("b", []), route("c", ["c1"])]);
  for (const name of ["a", "b"]) {
    const plan = router.plan(request("opus"));
    while (true) {
      const attempt = attemptOf(plan.next());
      if (attempt.route.provider.name === "c") break;
      attempt.failed(httpFailure(403));
    }
    assert.equal(where(attemptOf(router.plan(request("opus")).next())), "c/c1", `${name} refused`);
  }
  router.setEnabled("a", true, "0");
  assert.equal(where(attemptOf(router.plan(request("opus")).next())), "a/a1");
  router.setEnabled("a", false, "0");
  router.setEnabled("b", true);
  assert.equal(where(attemptOf(router.plan(request("opus")).next())), "b/-");
});

Deno.test("a model asked for with the 1M-context mark is routed, mapped and pinned as the model without it", () => {
  const router = routerOf([
    route("a", ["a1"], { "claude-sonnet-4-5": "up-sonnet" }),
    route("b", ["b1"], { "anth-*": "claude-*" }),
    route("c", ["c1"]),
  ]);
  const first = (model: string) => {
    const attempt = attemptOf(router.plan(request(model)).next());
    attempt.cancelled();
    return [where(attempt), attempt.upstreamModel];
  };
  assert.deepEqual(
    ["claude-sonnet-4-5[1m]", "anth-opus-4-8[1m]"].map(first),
    [["a/a1", "up-sonnet"], ["b/b1", "claude-opus-4-8"]],
  );
  // A conversation moved to y by a failover stays there, whether or not its requests carry the mark.
  const pinning = routerOf([route("x", ["x1"]), route("y", ["y1"])]);
  const plan = pinning.plan(request("m", "conversation"));
  attemptOf(plan.next()).failed(httpFailure(500));
  answered(attemptOf(plan.next()));
  const marked = attemptOf(pinning.plan(request("m[1m]", "conversation")).next());
  assert.deepEqual([where(marked), marked.upstreamModel], ["y/y1", "m"]);
});

Deno.test("a model asked for with the 1M-context mark takes its model's entry of routing.model_routes", () => {
  const router = routerOf([route("a", ["a1"]), route("b", ["b1"])], {
    strategy: "model",
    modelRoutes: { "claude-sonnet-4-5": "b" },
  });
  assert.equal(where(attemptOf(router.plan(request("claude-sonnet-4-5[1m]")).next())), "b/b1");
});

Deno.test("an attempt stands in only for a provider that cannot take the request now", () => {
  const label = (attempt: Attempt) =>
    `${attempt.route.provider.name}${attempt.standIn ? " standing in" : ""}`;
  const standsIn = (router: Router) => {
    const attempt = attemptOf(router.plan(request("m")).next());
    attempt.cancelled();
    return label(attempt);
  };
  const clock = { now: 1_000_000 };
  const router = routerOf([route("a", ["a1", "a2"]), route("b", ["b1"])], { affinity: false }, clock);
  assert.equal(standsIn(router), "a", "the provider the request goes to first");

  // In one plan: the same provider's next key is no stand-in, the next provider is.
  const plan = router.plan(request("m"));
  const tried: string[] = [];
  for (let i = 0; i < 3; i++) {
    const attempt = attemptOf(plan.next());
    tried.push(label(attempt));
    attempt.failed(
      attempt.route.provider.name === "a" ? httpFailure(429, { "retry-after": "10" }) : httpFailure(500),
    );
  }
  assert.deepEqual(tried, ["a", "a", "b standing in"]);

  // Later plans: while a's keys cool, or its breaker is open, b stands in; once a is back, a.
  clock.now += 5_000;
  assert.equal(standsIn(router), "b standing in", "a's keys are cooling");
  clock.now += 5_000;
  assert.equal(standsIn(router), "a");
  for (let i = 0; i < 2; i++) attemptOf(router.plan(request("m")).next()).failed(httpFailure(500));
  assert.equal(router.status()[0].breaker, "open");
  assert.equal(standsIn(router), "b standing in", "a's breaker is open");

  const full = routerOf([route("a", ["a1"], undefined, { maxInFlight: 1 }), route("b", ["b1"])], {
    affinity: false,
  });
  const busy = attemptOf(full.plan(request("m")).next());
  assert.equal(standsIn(full), "b standing in", "a is at its max_in_flight");
  busy.cancelled();

  // Nor for a provider whose key rests for days, its plan's limit spent: the next one serves meanwhile.
  const spent = routerOf([route("a", ["a1"]), route("b", ["b1"])], { affinity: false });
  const plan2 = spent.plan(request("m"));
  attemptOf(plan2.next()).failed(periodSpent());
  const next = attemptOf(plan2.next());
  next.cancelled();
  assert.equal(label(next), "b", "in the plan of the request that found the limit spent");
  assert.equal(standsIn(spent), "b", "and in a later one");

  // A provider out of rotation leaves the next one the provider the request goes to.
  const off = routerOf([route("a", ["a1"]), route("b", ["b1"])], { affinity: false });
  off.setEnabled("a", false);
  assert.equal(standsIn(off), "b");
  const refused = routerOf([route("a", ["a1"]), route("b", ["b1"])], { affinity: false });
  attemptOf(refused.plan(request("m")).next()).failed(httpFailure(401));
  assert.equal(standsIn(refused), "b", "a's only key was taken out");
});

Deno.test("a stand-in's refusal sent keeps its key's request counted, and its provider is offered no more", () => {
  const b = route("b", ["b1"]);
  const router = routerOf([route("a", ["a1"]), {
    ...b,
    limits: new Map([[b.keys[0], { rpm: 1, tpm: 100 }]]),
  }], {
    affinity: false,
    breaker: { failureThreshold: 100, windowMs: 60_000, cooldownMs: 30_000 },
  });
  const plan = router.plan(request("m"));
  attemptOf(plan.next()).failed(httpFailure(529));
  const standIn = attemptOf(plan.next());
  assert.equal(where(standIn), "b/b1");
  const outcome = { kind: "http", status: 400, headers: new Headers() } as const;
  standIn.failed(asStandInRefusal(classifyFailure(outcome, 1_000_000, 1_000_000), outcome));
  assert.equal(router.status()[1].keys[0].ratio, 1, "the upstream got it: its one request a minute is spent");
  const seen: string[] = [];
  for (let step = plan.next(); step.kind === "attempt" && seen.length < 3; step = plan.next()) {
    seen.push(where(step.attempt));
    step.attempt.failed(httpFailure(529));
  }
  assert.deepEqual(seen, ["a/a1", "a/a1", "a/a1"], "round after round, a alone");
});
