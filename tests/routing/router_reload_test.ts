import assert from "node:assert/strict";
import { attemptOf, httpFailure, idleProvider, where } from "./_plans.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { type BreakerChange, type Route, Router, type RoutingOptions } from "../../src/routing/router.ts";

/** A route as routesFromConfig builds it: fresh objects every time, the fingerprint saying what changed. */
const route = (name: string, keys: string[], fingerprint = `${name}:${keys.join(",")}`): Route => {
  const keyObjects = keys.map((secret) => ({ secret, label: `label-${secret}` }));
  return {
    provider: idleProvider(name),
    keys: keyObjects,
    keyNames: new Map(keyObjects.map((key) => [key, `name-${key.secret}`])),
    timeouts: { connect: 1, firstByte: 1, idle: 1 },
    models: new ModelMap(undefined),
    fingerprint,
  };
};

const OPTIONS: RoutingOptions = {
  strategy: "failover",
  affinity: true,
  breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 },
  now: () => 1_000_000,
  wallClock: () => 1_000_000,
  random: () => 0,
};

const request = { model: "m", estimate: { input: 1, output: 1 }, conversation: undefined };

Deno.test("a reloaded router keeps the live state of unchanged providers and starts changed ones fresh", () => {
  const old = new Router([route("a", ["a1"]), route("b", ["b1"])], OPTIONS);
  // One failure opens each breaker (failureThreshold 1).
  attemptOf(old.plan(request).next()).failed(httpFailure(500));
  assert.deepEqual(old.status().map((p) => [p.name, p.breaker]), [["a", "open"], ["b", "closed"]]);
  attemptOf(old.plan(request).next()).failed(httpFailure(500));
  assert.deepEqual(old.status().map((p) => p.breaker), ["open", "open"]);

  const reloaded = new Router([route("a", ["a1"]), route("b", ["b1"], "b:changed")], OPTIONS, {
    previous: old,
  });
  assert.deepEqual(reloaded.status().map((p) => [p.name, p.breaker]), [["a", "open"], ["b", "closed"]]);
  assert.equal(where(attemptOf(reloaded.plan(request).next())), "b/b1");
});

Deno.test("a reloaded router answers runsAs by its own routes, whatever its predecessor answered", () => {
  const old = new Router([route("a", ["a1"]), route("b", ["b1"])], OPTIONS);
  assert.deepEqual(old.runsAs("m"), [{ provider: "a", model: "m" }, { provider: "b", model: "m" }]);
  const reloaded = new Router(
    [route("a", ["a1"]), { ...route("b", ["b1"], "b:aliased"), models: new ModelMap({ m: "m-2" }) }],
    OPTIONS,
    { previous: old },
  );
  assert.deepEqual(reloaded.runsAs("m"), [{ provider: "a", model: "m" }, { provider: "b", model: "m-2" }]);
  assert.deepEqual(old.runsAs("m"), [{ provider: "a", model: "m" }, { provider: "b", model: "m" }]);
});

Deno.test("routes without a fingerprint never inherit state", () => {
  const old = new Router([{ ...route("a", ["a1"]), fingerprint: undefined }], OPTIONS);
  attemptOf(old.plan(request).next()).failed(httpFailure(500));
  const reloaded = new Router([{ ...route("a", ["a1"]), fingerprint: undefined }], OPTIONS, {
    previous: old,
  });
  assert.equal(reloaded.status()[0].breaker, "closed");
});

Deno.test("an unchanged provider takes the new adapter but keeps the key objects its pool knows", () => {
  const old = new Router([route("a", ["a1"])], OPTIONS);
  const fresh = route("a", ["a1"]);
  const reloaded = new Router([fresh], OPTIONS, { previous: old });
  const attempt = attemptOf(reloaded.plan(request).next());
  assert.equal(attempt.route.provider, fresh.provider, "credentials are read again on reload");
  assert.equal(attempt.key, old.routes[0].keys[0], "the pool and breakers know the old key object");
  attempt.committed(1);
  attempt.finished(undefined);
});

Deno.test("a removed key drains: its attempt under way finishes, new plans never offer it", () => {
  const old = new Router([route("a", ["a1", "a2"])], OPTIONS);
  const underWay = attemptOf(old.plan(request).next());
  assert.equal(where(underWay), "a/a1");
  underWay.committed(5);
  const reloaded = new Router([route("a", ["a2"])], OPTIONS, { previous: old });
  for (let i = 0; i < 3; i++) {
    const attempt = attemptOf(reloaded.plan(request).next());
    assert.equal(where(attempt), "a/a2");
    attempt.committed(1);
    attempt.finished(undefined);
  }
  underWay.finished({ input: 3, output: 4 });
  assert.equal(old.status()[0].inFlight, 0, "the old state settled");
  assert.equal(reloaded.status()[0].inFlight, 0);
});

Deno.test("a conversation keeps its key across a reload that changes its provider, and moves once the key is gone", () => {
  const old = new Router([route("a", ["a1", "a2"])], OPTIONS);
  old.plan(request).next(); // an unrelated request takes a1, so the conversation lands on a2
  const conversation = { ...request, conversation: "conv-1" };
  const serve = (router: Router) => {
    const attempt = attemptOf(router.plan(conversation).next());
    attempt.committed(1);
    attempt.finished({ input: 1, output: 1 });
    return where(attempt);
  };
  assert.equal(serve(old), "a/a2");
  const changed = new Router([{ ...route("a", ["a1", "a2"], "a:max_in_flight"), maxInFlight: 10 }], OPTIONS, {
    previous: old,
  });
  assert.deepEqual([serve(changed), serve(changed)], ["a/a2", "a/a2"], "new key objects, the same secret");
  const dropped = new Router([route("a", ["a1", "a3"])], OPTIONS, { previous: changed });
  assert.equal(serve(dropped), "a/a1");
});

Deno.test("breaker changes reach the router's listener, the new router's once a reload carried the state over", () => {
  const heard: [string, BreakerChange][] = [];
  const listen = (who: string) => (change: BreakerChange) => heard.push([who, change]);
  const old = new Router([route("a", ["a1"])], { ...OPTIONS, onBreakerChange: listen("old") });
  const reloaded = new Router([route("a", ["a1"])], { ...OPTIONS, onBreakerChange: listen("new") }, {
    previous: old,
  });
  attemptOf(reloaded.plan(request).next()).failed(httpFailure(500));
  assert.deepEqual(heard, [
    ["new", { provider: "a", key: "label-a1", from: "closed", to: "open" }],
    ["new", { provider: "a", key: undefined, from: "closed", to: "open" }],
  ]);
});

Deno.test("setEnabled switches a provider off and on; with every provider off the plan says so", () => {
  const router = new Router([route("a", ["a1"]), route("b", ["b1"])], OPTIONS);
  assert.deepEqual(router.setEnabled("a", false), {});
  assert.equal(where(attemptOf(router.plan(request).next())), "b/b1");
  router.setEnabled("b", false);
  assert.deepEqual(router.plan(request).next(), {
    kind: "exhausted",
    cause: "disabled",
    reason: "every provider that serves this model is switched off",
  });
  router.setEnabled("a", true);
  assert.equal(where(attemptOf(router.plan(request).next())), "a/a1");
  assert.equal(router.setEnabled("nope", false), undefined);
  assert.deepEqual(router.status().map((p) => [p.name, p.enabled]), [["a", true], ["b", false]]);
});

Deno.test("setEnabled switches a key off by its place or its name, and back on, saying which key", () => {
  const router = new Router([route("a", ["a1", "a2"])], OPTIONS);
  const [first, second] = router.status()[0].keys;
  assert.deepEqual(router.setEnabled("a", false, "0"), { key: first.label });
  assert.equal(where(attemptOf(router.plan(request).next())), "a/a2");
  assert.deepEqual(router.setEnabled("a", false, "name-a2"), { key: second.label });
  assert.equal(router.plan(request).next().kind, "exhausted");
  router.setEnabled("a", true, "name-a1");
  assert.equal(where(attemptOf(router.plan(request).next())), "a/a1");
  assert.equal(router.setEnabled("a", false, "7"), undefined);
  assert.equal(router.setEnabled("a", false, "name-zz"), undefined);
  const [a] = router.status();
  assert.deepEqual(a.keys.map((key) => [key.index, key.name, key.label, key.disabled]), [
    [0, "name-a1", "label-a1", undefined],
    [1, "name-a2", "label-a2", "switched off at runtime"],
  ]);
});

Deno.test("setEnabled switching on closes the breakers of what it switches: the operator wants it tried again now", () => {
  const changes: string[] = [];
  const router = new Router([route("a", ["a1"]), route("b", ["b1"])], {
    ...OPTIONS,
    onBreakerChange: (change) =>
      changes.push(`${change.key ?? change.provider} ${change.from}->${change.to}`),
  });
  const breakers = () => router.status().map((p) => [p.breaker, ...p.keys.map((key) => key.breaker)]);
  const failA = () => {
    const attempt = attemptOf(router.plan(request).next());
    assert.equal(where(attempt), "a/a1");
    attempt.failed(httpFailure(500));
  };
  failA();
  assert.deepEqual(breakers(), [["open", "open"], ["closed", "closed"]]);
  router.setEnabled("a", true);
  assert.deepEqual(
    breakers(),
    [["closed", "closed"], ["closed", "closed"]],
    "a provider's own and its keys'",
  );
  assert.deepEqual(changes.slice(2), ["a open->closed", "label-a1 open->closed"]);
  failA();
  router.setEnabled("a", true, "0");
  assert.deepEqual(breakers(), [["open", "closed"], ["closed", "closed"]], "a key's alone");
  assert.equal(where(attemptOf(router.plan(request).next())), "b/b1");
  router.setEnabled("a", false);
  assert.deepEqual(breakers()[0], ["open", "closed"], "switching off leaves them");
});

Deno.test("setEnabled takes a key's name before its place, so names made of digits work", () => {
  const keyed = route("a", ["a1", "a2", "a3"]);
  const [a1, a2] = keyed.keys;
  const router = new Router([{ ...keyed, keyNames: new Map([[a1, "2"], [a2, "0"]]) }], OPTIONS);
  assert.deepEqual(router.setEnabled("a", false, "2"), { key: a1.label }, "the key named 2");
  assert.deepEqual(
    router.setEnabled("a", false, "1"),
    { key: a2.label },
    "no key is named 1: the second in the list",
  );
  assert.deepEqual(router.status()[0].keys.map((key) => key.disabled !== undefined), [true, true, false]);
});

Deno.test("status reports breakers, in flight, caps and each key's pool", () => {
  const router = new Router([{ ...route("a", ["a1"]), maxInFlight: 4 }], OPTIONS);
  const attempt = attemptOf(router.plan(request).next());
  assert.deepEqual(router.status(), [{
    name: "a",
    type: "test",
    enabled: true,
    breaker: "closed",
    probing: false,
    inFlight: 1,
    maxInFlight: 4,
    keys: [{
      index: 0,
      label: "label-a1",
      name: "name-a1",
      ratio: 0,
      resetAt: 1_060_000,
      breaker: "closed",
      probing: false,
    }],
  }]);
  attempt.abandoned();
});

/** `route` whose first key has `rpm`. */
const limited = (fingerprint: string, rpm: number): Route => {
  const built = route("a", ["a1", "a2"], fingerprint);
  return { ...built, limits: new Map([[built.keys[0], { rpm }]]) };
};

Deno.test("a changed provider's keys keep what they spent of the same limits: a reload resets no rate limit", () => {
  const old = new Router([limited("a:1", 1)], OPTIONS);
  const first = attemptOf(old.plan(request).next());
  assert.equal(where(first), "a/a1");
  first.committed(1);
  const kept = new Router([limited("a:2", 1)], OPTIONS, { previous: old });
  const second = attemptOf(kept.plan(request).next());
  assert.equal(where(second), "a/a2", "a1 spent its one request a minute before the reload");
  second.abandoned();
  first.finished({ input: 1, output: 1 });

  // Still one request a minute, with a token limit added: a count carried over would keep a1 out.
  const changed = limited("a:3", 1);
  const raised = new Router(
    [{ ...changed, limits: new Map([[changed.keys[0], { rpm: 1, tpm: 1_000_000 }]]) }],
    OPTIONS,
    { previous: old },
  );
  assert.equal(where(attemptOf(raised.plan(request).next())), "a/a1", "a new limit starts a new count");
});

Deno.test("a changed provider counts the requests still running from before the reload, and keeps its max_in_flight", () => {
  const capped = (fingerprint: string, maxInFlight: number): Route => ({
    ...route("a", ["a1"], fingerprint),
    maxInFlight,
  });
  const old = new Router([capped("a:1", 1)], OPTIONS);
  const underWay = attemptOf(old.plan(request).next());
  underWay.committed(1);
  const kept = new Router([capped("a:2", 1)], OPTIONS, { previous: old });
  assert.equal(kept.status()[0].inFlight, 1, "the request under way counts");
  assert.equal(kept.plan(request).next().kind, "exhausted", "at its cap of one");
  underWay.finished({ input: 1, output: 1 });
  assert.equal(kept.status()[0].inFlight, 0);
  const next = attemptOf(kept.plan(request).next());
  assert.equal(where(next), "a/a1", "its place freed");
  next.abandoned();
});

Deno.test("a reload that changes max_in_flight holds the requests still running to the new cap", () => {
  const capped = (fingerprint: string, maxInFlight?: number): Route => ({
    ...route("a", ["a1"], fingerprint),
    maxInFlight,
  });
  const old = new Router([capped("a:3", 3)], OPTIONS);
  const underWay = [0, 1, 2].map(() => attemptOf(old.plan(request).next()));
  const lowered = new Router([capped("a:1", 1)], OPTIONS, { previous: old });
  assert.equal(lowered.plan(request).next().kind, "exhausted", "three running, at a cap of one");
  underWay.pop()!.finished({ input: 1, output: 1 });
  underWay.pop()!.finished({ input: 1, output: 1 });
  assert.equal(lowered.plan(request).next().kind, "exhausted", "one running, at a cap of one");
  const raised = new Router([capped("a:2", 2)], OPTIONS, { previous: lowered });
  underWay.push(attemptOf(raised.plan(request).next()));
  assert.equal(raised.plan(request).next().kind, "exhausted", "two running, at a cap of two");
  const uncapped = new Router([capped("a:none")], OPTIONS, { previous: raised });
  underWay.push(attemptOf(uncapped.plan(request).next()));
  const capAgain = new Router([capped("a:2b", 2)], OPTIONS, { previous: uncapped });
  assert.equal(capAgain.plan(request).next().kind, "exhausted", "three running from before, a cap of two");
  for (const attempt of underWay) attempt.finished({ input: 1, output: 1 });
  assert.equal(where(attemptOf(capAgain.plan(request).next())), "a/a1", "places freed");
});
