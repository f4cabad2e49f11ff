import assert from "node:assert/strict";
import {
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
} from "../../src/routing/circuit_breaker.ts";
import { ManualClock, randomSequence } from "./_fakes.ts";

function breaker(clock: ManualClock, options: CircuitBreakerOptions = {}) {
  const transitions: string[] = [];
  const instance = new CircuitBreaker({
    failureThreshold: 3,
    windowMs: 10_000,
    cooldownMs: 30_000,
    jitterRatio: 0.5,
    now: clock.now,
    random: () => 0.5,
    onTransition: (from: BreakerState, to: BreakerState) => transitions.push(`${from}->${to}`),
    ...options,
  });
  return { breaker: instance, transitions };
}

/** Fails `count` requests on a closed breaker. */
function fail(target: CircuitBreaker, count: number): void {
  for (let i = 0; i < count; i++) target.onFailure(target.tryAcquire()!);
}

Deno.test("CircuitBreaker opens at the threshold of failures within its window", () => {
  const clock = new ManualClock(1000);
  const { breaker: b, transitions } = breaker(clock);
  fail(b, 2);
  clock.advance(9_999);
  assert.equal(b.state, "closed");
  fail(b, 1);
  assert.deepEqual([b.state, b.retryAt, b.tryAcquire()], ["open", 10_999 + 30_000 * 1.25, undefined]);
  assert.deepEqual(transitions, ["closed->open"]);
});

Deno.test("CircuitBreaker forgets failures older than its window", () => {
  const clock = new ManualClock();
  const { breaker: b } = breaker(clock);
  fail(b, 2);
  clock.advance(10_000);
  fail(b, 2);
  assert.equal(b.state, "closed", "four failures, but the first two are 10 s old");
  fail(b, 1);
  assert.equal(b.state, "open", "three within the window now");
});

Deno.test("CircuitBreaker lets exactly one probe through once the cooldown is over", () => {
  const clock = new ManualClock();
  const { breaker: b, transitions } = breaker(clock, { random: randomSequence(0) });
  fail(b, 3);
  clock.advance(29_999);
  assert.equal(b.tryAcquire(), undefined);
  clock.advance(1);
  const permits = Array.from({ length: 100 }, () => b.tryAcquire());
  assert.deepEqual(permits.filter(Boolean), [{ probe: true }]);
  assert.equal(permits[0]?.probe, true, "the first to ask gets the probe");
  assert.deepEqual([b.state, b.retryAt], ["half_open", undefined]);
  b.onSuccess(permits[0]!);
  assert.equal(b.state, "closed");
  assert.deepEqual(transitions, ["closed->open", "open->half_open", "half_open->closed"]);
  fail(b, 2);
  assert.equal(b.state, "closed", "closing starts the count afresh");
});

Deno.test("CircuitBreaker opens again, for a fresh cooldown with fresh jitter, when the probe fails", () => {
  const clock = new ManualClock();
  const { breaker: b, transitions } = breaker(clock, { random: randomSequence(0, 0.99) });
  fail(b, 3);
  clock.advance(30_000);
  const probe = b.tryAcquire()!;
  clock.advance(5_000);
  b.onFailure(probe);
  assert.deepEqual([b.state, b.retryAt], ["open", 35_000 + 30_000 * (1 + 0.5 * 0.99)]);
  assert.deepEqual(transitions, ["closed->open", "open->half_open", "half_open->open"]);
});

Deno.test("CircuitBreaker hands the probe on when the probe ends without a verdict", () => {
  const clock = new ManualClock();
  const { breaker: b } = breaker(clock, { random: () => 0 });
  fail(b, 3);
  clock.advance(30_000);
  const probe = b.tryAcquire()!;
  assert.equal(b.tryAcquire(), undefined);
  b.release(probe);
  assert.deepEqual(b.tryAcquire(), { probe: true });
  assert.equal(b.state, "half_open");
});

Deno.test("CircuitBreaker ignores results of requests let through before it opened", () => {
  const clock = new ManualClock();
  const { breaker: b, transitions } = breaker(clock, { random: () => 0 });
  const early = [b.tryAcquire()!, b.tryAcquire()!];
  fail(b, 3);
  b.onFailure(early[0]);
  clock.advance(30_000);
  const probe = b.tryAcquire()!;
  b.onSuccess(early[1]);
  assert.equal(b.state, "half_open", "only the probe decides");
  assert.equal(b.tryAcquire(), undefined);
  b.onSuccess(probe);
  const late = Array.from({ length: 3 }, () => b.tryAcquire()!);
  for (const permit of late) b.onFailure(permit);
  assert.equal(b.state, "open", "the new period's failures count");
  assert.deepEqual(transitions, ["closed->open", "open->half_open", "half_open->closed", "closed->open"]);
});

Deno.test("CircuitBreaker does not reopen on late failures of requests from before it opened", () => {
  const clock = new ManualClock();
  const { breaker: b } = breaker(clock, { random: () => 0 });
  const early = Array.from({ length: 3 }, () => b.tryAcquire()!);
  fail(b, 3);
  clock.advance(30_000);
  b.onSuccess(b.tryAcquire()!);
  for (const permit of early) b.onFailure(permit);
  assert.equal(b.state, "closed");
});

Deno.test("CircuitBreaker refuses a threshold below one", () => {
  assert.throws(() => new CircuitBreaker({ failureThreshold: 0 }), /at least 1/);
});
