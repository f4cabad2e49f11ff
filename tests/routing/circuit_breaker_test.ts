import assert from "node:assert/strict";
import {
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
} from "../../src/routing/circuit_breaker.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { assertMonotonic, randomSequence, seededRandom } from "./_fakes.ts";

function breaker(clock: FakeClock, options: CircuitBreakerOptions = {}) {
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
  const clock = new FakeClock(1000);
  const { breaker: b, transitions } = breaker(clock);
  fail(b, 2);
  clock.advance(9_999);
  assert.equal(b.state, "closed");
  fail(b, 1);
  assert.deepEqual([b.state, b.retryAt, b.tryAcquire()], ["open", 10_999 + 30_000 * 1.25, undefined]);
  assert.deepEqual(transitions, ["closed->open"]);
});

Deno.test("CircuitBreaker forgets failures older than its window", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock);
  fail(b, 2);
  clock.advance(10_000);
  fail(b, 2);
  assert.equal(b.state, "closed", "four failures, but the first two are 10 s old");
  fail(b, 1);
  assert.equal(b.state, "open", "three within the window now");
});

Deno.test("CircuitBreaker opens only on failures that span minSpanMs: requests meeting one burst together open nothing", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock, { minSpanMs: 2_000 });
  fail(b, 10);
  assert.equal(b.state, "closed", "ten failures at one moment, a burst");
  clock.advance(1_999);
  fail(b, 1);
  assert.equal(b.state, "closed", "the last three span 1.999 s");
  b.onSuccess(b.tryAcquire()!);
  clock.advance(1);
  fail(b, 1);
  assert.equal(b.state, "closed", "a success started the count afresh");
  clock.advance(2_000);
  fail(b, 2);
  assert.equal(b.state, "open", "failures that went on for 2 s");

  const once = breaker(clock, { failureThreshold: 1, minSpanMs: 2_000 }).breaker;
  fail(once, 1);
  assert.equal(once.state, "open", "a threshold of one opens at the first, which spans no time");
});

Deno.test("CircuitBreaker opens on an upstream down for good however often it is asked, once its failures span minSpanMs", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock, { minSpanMs: 2_000 });
  let failures = 0;
  while (b.state === "closed" && failures < 100) {
    fail(b, 1);
    failures++;
    clock.advance(100); // ten a second: any three of them span 0.2 s
  }
  assert.equal(b.state, "open");
  assert.equal(failures, 21, "at the failure 2 s after the first");
  assert.throws(() => breaker(clock, { minSpanMs: 10_000 }), /minSpanMs must be less than windowMs/);
});

Deno.test("CircuitBreaker opens only on failures in a row: a success starts the count afresh", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock);
  fail(b, 2);
  b.onSuccess(b.tryAcquire()!);
  fail(b, 2);
  assert.equal(b.state, "closed");
  fail(b, 1);
  assert.equal(b.state, "open");
});

Deno.test("CircuitBreaker lets exactly one probe through once the cooldown is over", () => {
  const clock = new FakeClock();
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

Deno.test("CircuitBreaker opens again, for twice the cooldown with fresh jitter, when the probe fails", () => {
  const clock = new FakeClock();
  const { breaker: b, transitions } = breaker(clock, { random: randomSequence(0, 0.99) });
  fail(b, 3);
  clock.advance(30_000);
  const probe = b.tryAcquire()!;
  clock.advance(5_000);
  b.onFailure(probe);
  assert.deepEqual([b.state, b.retryAt], ["open", 35_000 + 60_000 * (1 + 0.5 * 0.99)]);
  assert.deepEqual(transitions, ["closed->open", "open->half_open", "half_open->open"]);
});

Deno.test("CircuitBreaker.tryProbeEarly lets one probe through before the cooldown is over; its success closes the breaker", () => {
  const clock = new FakeClock();
  const { breaker: b, transitions } = breaker(clock, { random: () => 0 });
  const closed = b.tryProbeEarly();
  assert.deepEqual(closed, { probe: false }, "closed, it gives what tryAcquire gives");
  b.onFailure(closed!);
  fail(b, 2);
  clock.advance(1_000);
  const probe = b.tryProbeEarly();
  assert.deepEqual(probe, { probe: true });
  assert.deepEqual(
    [b.tryProbeEarly(), b.tryAcquire(), b.state],
    [undefined, undefined, "open"],
    "one at a time",
  );
  b.onSuccess(probe!);
  assert.equal(b.state, "closed");
  assert.deepEqual(transitions, ["closed->open", "open->closed"]);
});

Deno.test("CircuitBreaker: an early probe's failure keeps the breaker open as long as it was to be, not doubled", () => {
  const clock = new FakeClock();
  const { breaker: b, transitions } = breaker(clock, { random: () => 0 });
  fail(b, 3);
  clock.advance(10_000);
  b.onFailure(b.tryProbeEarly()!);
  assert.deepEqual([b.state, b.retryAt], ["open", 30_000]);
  b.release(b.tryProbeEarly()!);
  assert.ok(b.tryProbeEarly(), "a probe that ended without a verdict hands the early probe on");
  clock.advance(20_000);
  assert.equal(b.tryAcquire(), undefined, "the early probe still out is the half-open breaker's probe");
  assert.equal(b.state, "half_open");
  assert.deepEqual(transitions, ["closed->open", "open->half_open"]);
});

Deno.test("CircuitBreaker: an early probe still out when the cooldown ends fails as the half-open probe, doubling it", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock, { random: () => 0 });
  fail(b, 3);
  const probe = b.tryProbeEarly()!;
  clock.advance(30_000);
  b.onFailure(probe);
  assert.deepEqual([b.state, b.retryAt! - clock.now()], ["open", 60_000]);
});

Deno.test("CircuitBreaker: an early probe released unsent does not space the next; one sent does", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock, { random: () => 0 });
  fail(b, 3);
  b.release(b.tryProbeEarly(1_000)!, false);
  const sent = b.tryProbeEarly(1_000)!;
  assert.deepEqual(sent, { probe: true });
  b.release(sent);
  assert.equal(b.tryProbeEarly(1_000), undefined, "one sent, then released (the client left), does");
});

Deno.test("CircuitBreaker: early probes go gapMs apart, and a probe out past probeTimeoutMs leaves its place", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock, { random: () => 0, probeTimeoutMs: 10_000 });
  fail(b, 3);
  b.onFailure(b.tryProbeEarly(1_000)!);
  clock.advance(999);
  assert.equal(b.tryProbeEarly(1_000), undefined, "within the gap");
  clock.advance(1);
  const stuck = b.tryProbeEarly(1_000)!;
  clock.advance(9_999);
  assert.equal(b.tryProbeEarly(1_000), undefined, "the probe still holds its place");
  assert.equal(b.probing, true);
  clock.advance(1);
  assert.equal(b.probing, false, "past probeTimeoutMs, no probe is said to be out");
  const next = b.tryProbeEarly(1_000)!;
  assert.deepEqual(next, { probe: true }, "the stuck one's place is the next request's");
  b.onFailure(stuck);
  assert.deepEqual([b.state, b.tryProbeEarly(1_000)], ["open", undefined], "its failure counts for nothing");
  b.onSuccess(stuck);
  assert.equal(b.state, "closed", "its success, slow as it was, says the upstream answers");
  b.onFailure(next);
  assert.equal(b.state, "closed", "the other probe's report, after, counts for nothing");
  b.release(b.tryAcquire()!);

  fail(b, 3);
  clock.advance(30_000);
  const halfOpen = b.tryAcquire()!;
  clock.advance(10_000);
  assert.deepEqual(b.tryAcquire(), { probe: true }, "a half-open breaker's probe too");
  b.onFailure(halfOpen);
  assert.equal(b.state, "half_open", "the stale probe's failure opens nothing");
});

Deno.test("CircuitBreaker: no early probe goes within gapMs of a failed probe, half-open or early, however long it took", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock, { random: () => 0 });
  fail(b, 3);
  clock.advance(30_000);
  b.onFailure(b.tryAcquire()!);
  assert.equal(b.tryProbeEarly(1_000), undefined, "straight after the half-open probe failed");
  clock.advance(1_000);
  const early = b.tryProbeEarly(1_000)!;
  assert.deepEqual(early, { probe: true });
  clock.advance(900);
  b.onFailure(early);
  clock.advance(100);
  assert.equal(
    b.tryProbeEarly(1_000),
    undefined,
    "a second after the early one went, but just after it failed",
  );
  clock.advance(900);
  assert.deepEqual(b.tryProbeEarly(1_000), { probe: true });
});

/** Waits out the open breaker's rest, then fails its probe; returns how long the rest was. */
function failProbe(clock: FakeClock, target: CircuitBreaker): number {
  const rest = target.retryAt! - clock.now();
  clock.advance(rest);
  target.onFailure(target.tryAcquire()!);
  return rest;
}

Deno.test("CircuitBreaker doubles the cooldown with each failed probe in a row, up to maxCooldownMs", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock, { random: () => 0, maxCooldownMs: 200_000 });
  fail(b, 3);
  const rests = Array.from({ length: 5 }, () => failProbe(clock, b));
  assert.deepEqual(rests, [30_000, 60_000, 120_000, 200_000, 200_000]);
  assert.deepEqual([b.state, b.retryAt! - clock.now()], ["open", 200_000]);
});

Deno.test("CircuitBreaker keeps its cooldown when the probe ends without a verdict", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock, { random: () => 0 });
  fail(b, 3);
  failProbe(clock, b);
  clock.advance(60_000);
  b.release(b.tryAcquire()!);
  b.onFailure(b.tryAcquire()!);
  assert.equal(b.retryAt! - clock.now(), 120_000, "the released probe was no failure in the row");
});

Deno.test("CircuitBreaker rests for the base cooldown again once a probe closes it", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock, { random: () => 0 });
  fail(b, 3);
  failProbe(clock, b);
  failProbe(clock, b);
  assert.equal(b.retryAt! - clock.now(), 120_000);
  clock.advance(120_000);
  b.onSuccess(b.tryAcquire()!);
  assert.equal(b.state, "closed");
  fail(b, 3);
  assert.equal(b.retryAt! - clock.now(), 30_000);
  assert.equal(failProbe(clock, b), 30_000);
  assert.equal(b.retryAt! - clock.now(), 60_000, "doubling starts over from the base");
});

Deno.test("CircuitBreaker adds jitter within its ratio to every cooldown, the capped one too", () => {
  const clock = new FakeClock();
  const { breaker: b } = breaker(clock, { random: seededRandom(7), maxCooldownMs: 100_000 });
  fail(b, 3);
  const rests: number[] = [];
  for (const cooldown of [30_000, 60_000, 100_000, 100_000, 100_000, 100_000]) {
    const rest = failProbe(clock, b);
    assert.ok(rest >= cooldown && rest < cooldown * 1.5, `${rest} ms for a cooldown of ${cooldown} ms`);
    rests.push(rest);
  }
  assert.ok(rests.slice(2).some((rest) => rest > 100_000), "jitter goes on top of the cap");
});

Deno.test("CircuitBreaker hands the probe on when the probe ends without a verdict", () => {
  const clock = new FakeClock();
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
  const clock = new FakeClock();
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
  const clock = new FakeClock();
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

Deno.test("CircuitBreaker refuses a maximum cooldown below its cooldown", () => {
  assert.throws(
    () => new CircuitBreaker({ cooldownMs: 60_000, maxCooldownMs: 59_999 }),
    /maxCooldownMs must be at least cooldownMs/,
  );
  new CircuitBreaker({ cooldownMs: 60_000, maxCooldownMs: 60_000 });
});

Deno.test("CircuitBreaker caps at 10 minutes by default, or at a longer cooldown itself", () => {
  const clock = new FakeClock();
  const capped = breaker(clock, { random: () => 0, cooldownMs: 400_000 }).breaker;
  fail(capped, 3);
  assert.deepEqual([failProbe(clock, capped), failProbe(clock, capped)], [400_000, 600_000]);
  const long = breaker(clock, { random: () => 0, cooldownMs: 900_000 }).breaker;
  fail(long, 3);
  assert.deepEqual([failProbe(clock, long), failProbe(clock, long)], [900_000, 900_000]);
});

Deno.test("CircuitBreaker.reset closes it at once, whatever its state, its cooldown back to the start", () => {
  const clock = new FakeClock();
  const { breaker: b, transitions } = breaker(clock, { random: () => 0 });
  fail(b, 3);
  failProbe(clock, b);
  assert.equal(b.retryAt! - clock.now(), 60_000);
  b.reset();
  assert.deepEqual([b.state, b.retryAt, b.tryAcquire()], ["closed", undefined, { probe: false }]);
  assert.deepEqual(transitions, ["closed->open", "open->half_open", "half_open->open", "open->closed"]);
  fail(b, 3);
  assert.equal(b.retryAt! - clock.now(), 30_000, "the cooldown starts over from the base");

  clock.advance(30_000);
  const probe = b.tryAcquire()!;
  b.reset();
  b.onFailure(probe);
  assert.equal(b.state, "closed", "a probe out when it closed counts for nothing");
  fail(b, 2);
  assert.equal(b.state, "closed", "and no failure before it either");
});

Deno.test("CircuitBreaker runs on the monotonic clock unless given one, not on the wall clock", () => {
  const b = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 30_000, jitterRatio: 0 });
  assertMonotonic(() => {
    b.onFailure(b.tryAcquire()!);
    return b.retryAt;
  }, 30_000);
});
