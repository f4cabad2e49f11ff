import assert from "node:assert/strict";
import { ConcurrencyLimiter, OverloadedError } from "../../src/routing/concurrency.ts";

Deno.test("ConcurrencyLimiter hands out slots up to max at once", async () => {
  const limiter = new ConcurrencyLimiter({ max: 2, maxQueue: 0 });
  await limiter.acquire();
  const second = limiter.tryAcquire();
  assert.ok(second);
  assert.equal(limiter.tryAcquire(), undefined);
  assert.deepEqual([limiter.inFlight, limiter.queued], [2, 0]);
  second();
  second();
  assert.equal(limiter.inFlight, 1, "releasing twice frees one slot");
});

Deno.test("ConcurrencyLimiter serves waiters first in, first out", async () => {
  const limiter = new ConcurrencyLimiter({ max: 1, maxQueue: 3 });
  const first = limiter.tryAcquire()!;
  const served: string[] = [];
  const [a, b, c] = ["a", "b", "c"].map((name) =>
    limiter.acquire().then((release) => {
      served.push(name);
      return release;
    })
  );
  assert.deepEqual([limiter.inFlight, limiter.queued], [1, 3]);
  assert.equal(limiter.tryAcquire(), undefined, "a newcomer does not overtake the queue");
  first();
  await Promise.race([a, b, c]);
  assert.deepEqual(served, ["a"]);
  assert.deepEqual([limiter.inFlight, limiter.queued], [1, 2], "the slot passed straight on");
  (await a)();
  await Promise.race([b, c]);
  assert.deepEqual(served, ["a", "b"]);
  (await b)();
  const releaseC = await c;
  assert.deepEqual(served, ["a", "b", "c"]);
  releaseC();
  assert.deepEqual([limiter.inFlight, limiter.queued], [0, 0]);
});

Deno.test("ConcurrencyLimiter refuses at once when the queue is full", async () => {
  const limiter = new ConcurrencyLimiter({ max: 1, maxQueue: 1 });
  const first = limiter.tryAcquire()!;
  const waiting = limiter.acquire();
  const error = await limiter.acquire().catch((error) => error);
  assert.ok(error instanceof OverloadedError);
  assert.deepEqual(
    [error.inFlight, error.queued, error.message],
    [1, 1, "at capacity: 1 requests in flight and 1 waiting"],
  );
  assert.equal(limiter.queued, 1, "the refused request never queued");
  first();
  (await waiting)();
  assert.equal(limiter.inFlight, 0);
});

Deno.test("ConcurrencyLimiter with no queue refuses as soon as every slot is taken", async () => {
  const limiter = new ConcurrencyLimiter({ max: 1, maxQueue: 0 });
  limiter.tryAcquire();
  await assert.rejects(limiter.acquire(), OverloadedError);
});

Deno.test("ConcurrencyLimiter drops a waiter whose signal aborts, with the signal's reason", async () => {
  const limiter = new ConcurrencyLimiter({ max: 1, maxQueue: 2 });
  const first = limiter.tryAcquire()!;
  const controller = new AbortController();
  const leaving = limiter.acquire(controller.signal);
  const staying = limiter.acquire();
  const reason = new Error("client gone");
  controller.abort(reason);
  await assert.rejects(leaving, (error) => error === reason);
  assert.equal(limiter.queued, 1);
  first();
  const release = await staying;
  assert.deepEqual([limiter.inFlight, limiter.queued], [1, 0]);
  release();
  controller.abort();
  assert.equal(limiter.inFlight, 0);
});

Deno.test("ConcurrencyLimiter refuses an already aborted signal without taking a slot", async () => {
  const limiter = new ConcurrencyLimiter({ max: 1, maxQueue: 1 });
  await assert.rejects(limiter.acquire(AbortSignal.abort(new Error("late"))), /late/);
  assert.deepEqual([limiter.inFlight, limiter.queued], [0, 0]);
});

Deno.test("ConcurrencyLimiter keeps a granted slot when the signal aborts afterwards", async () => {
  const limiter = new ConcurrencyLimiter({ max: 1, maxQueue: 1 });
  const first = limiter.tryAcquire()!;
  const controller = new AbortController();
  const granted = limiter.acquire(controller.signal);
  first();
  const release = await granted;
  controller.abort();
  assert.deepEqual([limiter.inFlight, limiter.queued], [1, 0]);
  release();
  assert.equal(limiter.inFlight, 0);
});

Deno.test("ConcurrencyLimiter refuses a size it cannot work with", () => {
  assert.throws(() => new ConcurrencyLimiter({ max: 0, maxQueue: 1 }), /max must be at least 1/);
  assert.throws(() => new ConcurrencyLimiter({ max: 1, maxQueue: -1 }), /must not be negative/);
});

Deno.test("ConcurrencyLimiter.resize: slots taken past a lowered max stay taken, none given until under it; a rise serves waiters", async () => {
  const limiter = new ConcurrencyLimiter({ max: 3, maxQueue: 5 });
  const held = [0, 1, 2].map(() => limiter.tryAcquire()!);
  limiter.resize(1);
  const waiting = limiter.acquire();
  held.pop()!();
  held.pop()!();
  assert.deepEqual([limiter.inFlight, limiter.queued], [1, 1], "one running, at a max of one: still waiting");
  limiter.resize(2);
  assert.deepEqual([limiter.inFlight, limiter.queued], [2, 0], "the rise gave the waiter a slot");
  (await waiting)();
  held.pop()!();
  assert.equal(limiter.inFlight, 0);
  assert.throws(() => limiter.resize(0), RangeError);
});
