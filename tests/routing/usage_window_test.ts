import assert from "node:assert/strict";
import { UsageWindow } from "../../src/routing/usage_window.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { assertMonotonic } from "./_fakes.ts";

Deno.test("UsageWindow without a limit counts but never refuses", () => {
  const clock = new FakeClock(1000);
  const window = new UsageWindow({ now: clock.now });
  assert.equal(window.resetAt, undefined, "an empty window has no end yet");
  window.reserve(1_000_000);
  assert.deepEqual([window.remaining, window.ratio, window.fits(1e9), window.resetAt], [
    Infinity,
    0,
    true,
    61_000,
  ]);
});

Deno.test("UsageWindow refuses past its limit until its reset, then starts fresh", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 3, now: clock.now });
  window.reserve(1);
  clock.advance(10_000);
  window.reserve(1);
  window.reserve(1);
  assert.deepEqual([window.remaining, window.ratio, window.fits(1)], [0, 1, false]);
  assert.equal(window.blockedUntil(1), 60_000, "the window started at the first reservation");
  clock.advance(49_999);
  assert.equal(window.fits(1), false);
  clock.advance(1);
  assert.deepEqual([window.remaining, window.ratio, window.resetAt, window.blockedUntil(1)], [
    3,
    0,
    undefined,
    undefined,
  ]);
});

Deno.test("UsageWindow lets a request larger than the limit through a fresh window only", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 1000, windowMs: 1000, now: clock.now });
  assert.equal(window.fits(5000), true);
  window.reserve(5000);
  assert.deepEqual([window.ratio, window.fits(1)], [1, false]);
  clock.advance(1000);
  window.reserve(1);
  assert.equal(window.fits(5000), false, "a window already drawn on is not fresh");
});

Deno.test("UsageWindow counts a bound only as far as there is room, beside the certain part", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 16_000, now: clock.now });
  const first = window.reserve(32_000, 0);
  assert.deepEqual([first.amount, first.bound, window.ratio], [16_000, 16_000, 1]);
  window.settle(first, 5);
  assert.deepEqual(
    [window.ratio, window.fits(32_000, 0)],
    [5 / 16_000, true],
    "a window drawn on takes a bound while it has room",
  );
  assert.equal(window.reserve(32_000, 0).amount, 15_995);

  const tokens = new UsageWindow({ limit: 10_000, now: clock.now });
  tokens.reserve(4000);
  assert.deepEqual(
    [tokens.fits(9000, 5999), tokens.fits(7000, 6000), tokens.fits(6000), tokens.fits(6001)],
    [true, false, true, false],
    "the certain part fits in full, a bound needs room beside it",
  );
  assert.equal(tokens.reserve(9000, 5999).amount, 6000);
});

Deno.test("UsageWindow: bounds of requests in flight make a window look spent but hold no other request back", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 10_000, now: clock.now });
  const streaming = window.reserve(32_000, 2000);
  assert.deepEqual([streaming.amount, streaming.bound, window.remaining, window.ratio], [10_000, 8000, 0, 1]);
  assert.deepEqual(
    [window.fits(3000, 100), window.blockedUntil(3000, 100), window.fits(8000), window.fits(8001)],
    [true, undefined, true, false],
    "only the certain 2000 tokens of the request in flight count against another",
  );
  const parallel = window.reserve(3000, 100);
  assert.deepEqual(
    [parallel.amount, parallel.bound],
    [100, 0],
    "a window full of bounds counts only the certain part",
  );
  window.settle(streaming, 2040);
  assert.equal(window.remaining, 10_000 - 2040 - 100);
  assert.equal(window.fits(7861), false, "a settled request is certain");

  const upstream = new UsageWindow({ now: clock.now });
  upstream.correct({ limit: 10_000, remaining: 10_000, resetAt: 30_000 });
  const inFlight = upstream.reserve(32_000, 0);
  assert.equal(inFlight.bound, 10_000);
  assert.deepEqual([upstream.remaining, upstream.fits(500, 0)], [0, true], "the upstream's budget alike");
  upstream.correct({ remaining: 400 });
  assert.deepEqual(
    [upstream.fits(500), upstream.blockedUntil(500)],
    [false, 30_000],
    "the upstream's own count holds no bound of relay's",
  );
  upstream.settle(inFlight, 10);
});

Deno.test("UsageWindow.settle replaces the estimate with the real amount, in its own window only", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 10_000, now: clock.now });
  const over = window.reserve(4000);
  const under = window.reserve(1000);
  window.settle(over, 2500);
  window.settle(under, 1600);
  assert.equal(window.remaining, 10_000 - 2500 - 1600);
  window.settle(window.reserve(3000), 0);
  assert.equal(window.remaining, 10_000 - 4100, "settling 0 gives the whole reservation back");

  const stale = window.reserve(5000);
  clock.advance(60_000);
  window.reserve(100);
  window.settle(stale, 0);
  assert.equal(window.remaining, 9900, "a reservation from a window that has reset changes nothing");
});

Deno.test("UsageWindow.correct tightens to the upstream's remaining until its reset, then the local count stands", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 1000, now: clock.now });
  window.reserve(100);
  window.correct({ limit: 1000, remaining: 200, resetAt: 15_000 });
  assert.deepEqual([window.remaining, window.ratio, window.resetAt], [200, 0.8, 15_000]);
  window.reserve(50);
  assert.equal(window.remaining, 150, "reservations count against the upstream's figure too");
  clock.advance(15_000);
  assert.deepEqual(
    [window.remaining, window.ratio, window.resetAt],
    [850, 0.15, 60_000],
    "the upstream's reset frees its budget, not the local window",
  );
});

Deno.test("UsageWindow keeps a configured limit whose window outlasts the upstream's resets", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 3, now: clock.now });
  for (let i = 0; i < 3; i++) {
    assert.equal(window.fits(1), true, `request ${i + 1}`);
    window.reserve(1);
    // The upstream's bucket is nearly full and refills in 2 s, every time.
    window.correct({ limit: 50, remaining: 49, resetAt: clock.now() + 2000 });
    clock.advance(2000);
  }
  assert.deepEqual(
    [window.fits(1), window.blockedUntil(1), window.ratio, window.resetAt],
    [false, 60_000, 1, 60_000],
    "the fourth waits for the configured minute",
  );
  clock.advance(60_000 - 6000);
  assert.deepEqual([window.fits(1), window.remaining], [true, 3]);
});

Deno.test("UsageWindow lets an upstream that says it has nothing left block a key with local room until its reset", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 50, now: clock.now });
  window.reserve(1);
  window.correct({ limit: 1000, remaining: 0, resetAt: 12_000 });
  assert.deepEqual(
    [window.fits(1), window.blockedUntil(1), window.ratio, window.resetAt],
    [false, 12_000, 1, 12_000],
  );
  clock.advance(12_000);
  assert.deepEqual(
    [window.fits(1), window.remaining, window.ratio, window.resetAt],
    [true, 49, 0.02, 60_000],
  );
});

Deno.test("UsageWindow.blockedUntil is the first end, local or upstream, after which the amount fits", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 10, now: clock.now });
  for (let i = 0; i < 9; i++) window.reserve(1);
  window.correct({ remaining: 0, resetAt: 5000 });
  assert.equal(window.blockedUntil(1), 5000, "the upstream's reset leaves one of the local ten");
  assert.equal(window.blockedUntil(2), 60_000, "two need the local window's end too");
  window.correct({ remaining: 0, resetAt: 90_000 });
  assert.equal(window.blockedUntil(1), 90_000, "an upstream that rests longer holds it past the local end");
});

Deno.test("UsageWindow.settle corrects each budget only within its own window", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 1000, now: clock.now });
  window.correct({ limit: 1000, remaining: 500, resetAt: 10_000 });
  const reservation = window.reserve(100);
  assert.equal(window.remaining, 400);
  clock.advance(10_000);
  window.correct({ limit: 1000, remaining: 750, resetAt: 30_000 });
  window.settle(reservation, 40);
  assert.deepEqual(
    [window.remaining, window.ratio],
    [750, 0.25],
    "the local window still holds the 40 used; the upstream's new figure already counts them",
  );
  clock.advance(20_000);
  assert.equal(window.remaining, 960);
});

Deno.test("UsageWindow.correct takes the upstream's figure as counting every request sent before it: their settling leaves it be", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ now: clock.now });
  const before = window.reserve(100);
  // The answer's headers: the upstream counted the 30,000 the request really read.
  window.correct({ limit: 40_000, remaining: 10_000, resetAt: 60_000 });
  window.settle(before, 30_000);
  assert.deepEqual([window.remaining, window.ratio], [10_000, 0.75], "not 0: counted once");
  // A request sent after the figure is not in it: its estimate counts, then its real amount.
  const after = window.reserve(2_000);
  assert.equal(window.remaining, 8_000);
  window.settle(after, 500);
  assert.equal(window.remaining, 9_500);
});

Deno.test("UsageWindow keeps a configured limit below the upstream's", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ limit: 50, now: clock.now });
  for (let i = 0; i < 40; i++) window.reserve(1);
  window.correct({ limit: 1000, remaining: 990, resetAt: 30_000 });
  assert.deepEqual([window.remaining, window.ratio], [10, 0.8]);
});

Deno.test("UsageWindow learns a limit from the upstream when the config gives none", () => {
  const clock = new FakeClock(0);
  const window = new UsageWindow({ now: clock.now });
  window.correct({ limit: 80_000, remaining: 20_000 });
  assert.deepEqual([window.remaining, window.ratio, window.resetAt], [20_000, 0.75, 60_000]);
  window.correct({ remaining: 0 });
  assert.deepEqual([window.ratio, window.blockedUntil(1)], [1, 60_000]);
});

Deno.test("UsageWindow.correct keeps the local end when the upstream's reset has already passed", () => {
  const clock = new FakeClock(100_000);
  const window = new UsageWindow({ limit: 10, now: clock.now });
  window.reserve(1);
  window.correct({ remaining: 10, resetAt: 99_000 });
  assert.deepEqual([window.remaining, window.resetAt], [9, 160_000]);
});

Deno.test("UsageWindow refuses a limit that is not positive", () => {
  assert.throws(() => new UsageWindow({ limit: 0 }), /must be positive, not 0/);
});

Deno.test("UsageWindow runs on the monotonic clock unless given one, not on the wall clock", () => {
  const window = new UsageWindow({ limit: 2 });
  assertMonotonic(() => {
    window.reserve(1);
    return window.resetAt;
  }, 60_000);
});
