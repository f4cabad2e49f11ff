import assert from "node:assert/strict";
import { type KeyPick, KeyPool } from "../../src/routing/key_pool.ts";
import { readRateLimitHeaders } from "../../src/routing/rate_limit_headers.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { assertMonotonic } from "./_fakes.ts";

const SMALL = { input: 100, output: 100 };

const keyOf = <K>(pick: KeyPick<K>): K | string => pick.kind === "key" ? pick.key : pick.kind;

Deno.test("KeyPool takes the key with the lowest usage ratio, the one picked least recently on a tie", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([
    { key: "a", limits: { rpm: 4 } },
    { key: "b", limits: { rpm: 4 } },
    { key: "c", limits: { rpm: 8 } },
  ], { now: clock.now });
  // Ratios after each pick: a 1/4, b 1/4, c 1/8 -> c 2/8 ties a and b, listed first wins.
  const picks = Array.from({ length: 8 }, () => keyOf(pool.pick(SMALL)));
  assert.deepEqual(picks, ["a", "b", "c", "c", "a", "b", "c", "c"]);
});

Deno.test("KeyPool gives keys without limits turns while they are usable", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([{ key: "a" }, { key: "b" }, { key: "c" }], { now: clock.now });
  const picks = (count: number) => Array.from({ length: count }, () => keyOf(pool.pick(SMALL)));
  assert.deepEqual(picks(4), ["a", "b", "c", "a"]);
  assert.equal(pool.status("a").ratio, 0, "the ratios tie all along");
  pool.cool("b", 5000);
  assert.deepEqual(picks(2), ["c", "a"]);
  clock.advance(5000);
  assert.equal(keyOf(pool.pick(SMALL)), "b", "a cooled key is back at its reset, first in line");
  assert.equal(keyOf(pool.pick(SMALL, { prefer: "b" })), "b");
  assert.equal(keyOf(pool.pick(SMALL)), "c", "a preferred pick takes its key's turn too");
});

Deno.test("KeyPool says when the first key is back once every key is spent, then hands it out", () => {
  const clock = new FakeClock(1_000_000);
  const pool = new KeyPool([
    { key: "a", limits: { rpm: 1 } },
    { key: "b", limits: { rpm: 1 } },
  ], { now: clock.now });
  pool.pick(SMALL);
  clock.advance(20_000);
  pool.pick(SMALL);
  clock.advance(1_500);
  assert.deepEqual(pool.pick(SMALL), { kind: "wait", waitUntil: 1_060_000, retryAfterMs: 38_500 });
  clock.advance(38_499);
  assert.equal(pool.pick(SMALL).kind, "wait");
  clock.advance(1);
  assert.equal(keyOf(pool.pick(SMALL)), "a");
});

Deno.test("KeyPool waits for the later of a key's cooling and its spent window", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([{ key: "a", limits: { tpm: 1000 } }, { key: "b" }], { now: clock.now });
  pool.pick({ input: 900, output: 100 });
  pool.cool("a", 30_000);
  pool.cool("a", 10_000);
  pool.cool("b", 90_000);
  assert.deepEqual(pool.pick(SMALL), { kind: "wait", waitUntil: 60_000, retryAfterMs: 60_000 });
  assert.deepEqual(pool.status("a"), { cooledUntil: 30_000, ratio: 1, resetAt: 60_000 });
});

Deno.test("KeyPool skips a disabled key for good and says none when no key is left", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([{ key: "a" }, { key: "b" }], { now: clock.now });
  pool.disable("a", "401 authentication_error");
  assert.equal(keyOf(pool.pick(SMALL)), "b");
  pool.disable("b", "403 permission_error");
  clock.advance(86_400_000);
  assert.deepEqual(pool.pick(SMALL), { kind: "none" });
  assert.deepEqual(pool.status("a"), { disabled: "401 authentication_error", ratio: 0 });
});

Deno.test("KeyPool.enable puts a disabled key back into rotation", () => {
  const pool = new KeyPool([{ key: "a" }, { key: "b" }]);
  pool.disable("a", "switched off");
  assert.equal(keyOf(pool.pick(SMALL)), "b");
  pool.enable("a");
  assert.deepEqual(pool.status("a"), { ratio: 0 });
  assert.equal(keyOf(pool.pick(SMALL, { exclude: new Set(["b"]) })), "a");
});

Deno.test("KeyPool.enable ends a key's cooling and its upstream's last word on its windows", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([{ key: "a" }], { now: clock.now });
  pool.cool("a", clock.now() + 31 * 86_400_000);
  assert.equal(pool.pick(SMALL).kind, "wait");
  pool.enable("a");
  assert.equal(keyOf(pool.pick(SMALL)), "a");

  const spent = {
    windows: { requests: { limit: 50, remaining: 0, resetAt: clock.now() + 31 * 86_400_000 } },
  };
  pool.observe("a", spent);
  assert.equal(pool.pick(SMALL).kind, "wait", "a bogus reset holds the key shut");
  pool.enable("a");
  assert.equal(keyOf(pool.pick(SMALL)), "a");
});

Deno.test("KeyPool checks the estimate against the token windows it would land in", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([
    { key: "a", limits: { input_tpm: 10_000, output_tpm: 4000 } },
    { key: "b", limits: { tpm: 50_000 } },
  ], { now: clock.now });
  pool.pick({ input: 2000, output: 3000 });
  assert.equal(pool.status("a").ratio, 0.75, "the fullest window is the key's ratio");
  assert.equal(keyOf(pool.pick({ input: 100, output: 2000 })), "b", "b is the less used");
  const pick = pool.pick({ input: 20_000, output: 8000 });
  assert.equal(keyOf(pick), "b");
  assert.equal(pool.status("b").ratio, (2100 + 28_000) / 50_000);
});

Deno.test("KeyPool.settle gives back what a request did not use", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([{ key: "a", limits: { tpm: 10_000 } }], { now: clock.now });
  const pick = pool.pick({ input: 1000, output: 8000 });
  assert.ok(pick.kind === "key");
  assert.equal(pool.status("a").ratio, 0.9);
  assert.equal(
    pool.pick({ input: 9001, output: 0 }).kind,
    "wait",
    "the estimated input is certain until settled",
  );
  pool.settle(pick.reservation, { input: 1200, output: 300 });
  assert.equal(pool.status("a").ratio, 0.15);
  assert.equal(keyOf(pool.pick({ input: 1000, output: 7000 })), "a");
});

Deno.test("KeyPool counts max_tokens only as far as a key's windows have room", () => {
  const clock = new FakeClock();
  // relay.example.yaml's limits; Claude Code asks for 32000 output tokens and mostly uses a few.
  const pool = new KeyPool([{ key: "a", limits: { tpm: 80_000, output_tpm: 16_000 } }], { now: clock.now });
  const estimate = { input: 10_000, output: 32_000 };
  for (let i = 1; i <= 5; i++) {
    const pick = pool.pick(estimate);
    assert.ok(pick.kind === "key", `request ${i} goes out`);
    assert.equal(pool.status("a").ratio, 1, "in flight, it may use all the output window has left");
    const beside = pool.pick(SMALL);
    assert.ok(beside.kind === "key", "yet that bound holds no other request back");
    pool.release(beside.reservation);
    pool.settle(pick.reservation, { input: 10_000, output: 5 });
    assert.equal(pool.status("a").ratio, (i * 10_005) / 80_000);
    clock.advance(1000);
  }
  assert.deepEqual(
    pool.pick({ input: 40_000, output: 32_000 }),
    { kind: "wait", waitUntil: 60_000, retryAfterMs: 55_000 },
    "input, which is no bound, still has to fit in full",
  );
});

Deno.test("KeyPool.release gives back a pick's request and tokens", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([{ key: "a", limits: { rpm: 1, tpm: 10_000 } }], { now: clock.now });
  const pick = pool.pick({ input: 1000, output: 8000 });
  assert.ok(pick.kind === "key");
  pool.release(pick.reservation);
  assert.equal(pool.status("a").ratio, 0);
  const again = pool.pick({ input: 1000, output: 8000 });
  assert.ok(again.kind === "key");
  pool.settle(again.reservation, { input: 0, output: 0 });
  assert.equal(pool.status("a").ratio, 1, "settling nothing still counts the request");
});

Deno.test("KeyPool keeps a key's configured rpm when its upstream reports a bucket that refills sooner", () => {
  const clock = new FakeClock(1_000_000);
  const pool = new KeyPool([{ key: "k1", limits: { rpm: 3 } }], { now: clock.now });
  const headers = new Headers({
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "49",
    "anthropic-ratelimit-requests-reset": "2",
  });
  const sent = [];
  for (let i = 0; i < 12; i++) {
    const pick = pool.pick(SMALL);
    if (pick.kind === "key") {
      sent.push(clock.now() - 1_000_000);
      pool.observe(pick.key, readRateLimitHeaders(headers, clock.now(), clock.now()));
      pool.settle(pick.reservation, SMALL);
    } else {
      assert.deepEqual(pick, {
        kind: "wait",
        waitUntil: 1_060_000,
        retryAfterMs: 60_000 - (clock.now() - 1_000_000),
      });
    }
    clock.advance(500);
  }
  assert.deepEqual(sent, [0, 500, 1000], "three, then the fourth waits for the configured minute");
});

Deno.test("KeyPool.observe corrects a key from its response headers", () => {
  const clock = new FakeClock(Date.UTC(2025, 7, 21, 12, 41, 0));
  const pool = new KeyPool([{ key: "a" }, { key: "b" }], { now: clock.now });
  const headers = new Headers({
    "anthropic-ratelimit-output-tokens-limit": "16000",
    "anthropic-ratelimit-output-tokens-remaining": "0",
    "anthropic-ratelimit-output-tokens-reset": "2025-08-21T12:41:12Z",
    "anthropic-ratelimit-requests-limit": "1000",
    "anthropic-ratelimit-requests-remaining": "750",
  });
  pool.observe("a", readRateLimitHeaders(headers, clock.now(), clock.now()));
  assert.deepEqual(
    pool.status("a"),
    { ratio: 1, resetAt: Date.UTC(2025, 7, 21, 12, 41, 12) },
    "limits the config left out are learned, with the reset of the fullest window",
  );
  assert.equal(keyOf(pool.pick(SMALL)), "b");
  pool.disable("b", "401");
  assert.deepEqual(pool.pick(SMALL), { kind: "wait", waitUntil: clock.now() + 12_000, retryAfterMs: 12_000 });
  clock.advance(12_000);
  assert.equal(pool.status("a").ratio, 0.25, "the requests window still holds what the upstream reported");
  assert.equal(keyOf(pool.pick(SMALL)), "a");
});

Deno.test("KeyPool.observe ends a window's figures at the upstream's retry-after", () => {
  const clock = new FakeClock(1_000_000);
  const pool = new KeyPool([{ key: "a" }], { now: clock.now });
  const refused = (headers: Record<string, string>) => {
    pool.observe("a", readRateLimitHeaders(new Headers(headers), clock.now(), clock.now()));
    const pick = pool.pick(SMALL);
    return pick.kind === "wait" ? pick.retryAfterMs : pick.kind;
  };
  assert.equal(refused({ "retry-after": "2", "anthropic-ratelimit-requests-remaining": "0" }), 2000);
  clock.advance(2000);
  assert.equal(
    refused({
      "retry-after": "2",
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": "60",
    }),
    2000,
    "a reset only says when the window is full again",
  );
  clock.advance(2000);
  assert.equal(
    refused({
      "retry-after": "20",
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": "5",
    }),
    5000,
    "an earlier reset stands (the 429 cools the key until the retry-after)",
  );
  clock.advance(5000);
  assert.equal(
    refused({ "anthropic-ratelimit-requests-remaining": "0" }),
    60_000,
    "without either, a minute",
  );
});

Deno.test("KeyPool.pick of an uncounted request neither reserves nor waits for a spent window", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([
    { key: "a", limits: { rpm: 1 } },
    { key: "b", limits: { rpm: 1, tpm: 1000 } },
  ], { now: clock.now });
  pool.pick(SMALL);
  pool.pick(SMALL);
  assert.equal(pool.pick(SMALL).kind, "wait");
  const pick = pool.pick({ input: 5000, output: 0 }, { uncounted: true });
  assert.ok(pick.kind === "key");
  assert.deepEqual([pick.key, pick.reservation.windows.size], ["a", 0]);
  pool.settle(pick.reservation, { input: 5000, output: 0 });
  assert.deepEqual([pool.status("a").ratio, pool.status("b").ratio], [1, 1]);
  assert.equal(keyOf(pool.pick(SMALL, { uncounted: true })), "b", "and takes turns of its own");
  pool.cool("a", 1000);
  pool.disable("b", "401");
  assert.deepEqual(pool.pick(SMALL, { uncounted: true }), {
    kind: "wait",
    waitUntil: 1000,
    retryAfterMs: 1000,
  });
});

Deno.test("KeyPool gives uncounted requests turns of their own, which move none of the counted ones", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([{ key: "a" }, { key: "b" }], { now: clock.now });
  const picks = [false, true, false, true, true, false].map((uncounted) =>
    `${uncounted ? "count" : "message"}:${keyOf(pool.pick(SMALL, { uncounted }))}`
  );
  assert.deepEqual(picks, ["message:a", "count:a", "message:b", "count:b", "count:a", "message:a"]);
});

Deno.test("KeyPool.pick leaves out the keys a request already tried and keeps to a preferred key", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([
    { key: "a", limits: { rpm: 10 } },
    { key: "b", limits: { rpm: 10 } },
    { key: "c", limits: { rpm: 10 } },
  ], { now: clock.now });
  assert.equal(keyOf(pool.pick(SMALL, { exclude: new Set(["a"]) })), "b");
  assert.deepEqual(
    Array.from({ length: 3 }, () => keyOf(pool.pick(SMALL, { prefer: "b" }))),
    ["b", "b", "b"],
    "affinity outranks the ratio while the key is usable",
  );
  pool.cool("b", 1000);
  assert.equal(keyOf(pool.pick(SMALL, { prefer: "b" })), "a");
  assert.deepEqual(pool.pick(SMALL, { exclude: new Set(["a", "b", "c"]) }), { kind: "none" });
});

Deno.test("KeyPool.remainingCapacity averages what its keys have left, cooling and disabled keys none", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([
    { key: "a", limits: { rpm: 4 } },
    { key: "b" },
    { key: "c" },
    { key: "d" },
  ], { now: clock.now });
  assert.equal(pool.remainingCapacity(), 1);
  pool.pick(SMALL);
  pool.cool("b", 1000);
  pool.disable("c", "401");
  assert.equal(pool.remainingCapacity(), (0.75 + 0 + 0 + 1) / 4);
  assert.equal(new KeyPool([]).remainingCapacity(), 0);
});

Deno.test("KeyPool refuses a key twice and keys it does not hold", () => {
  assert.throws(() => new KeyPool([{ key: "a" }, { key: "a" }]), /same key twice/);
  assert.throws(() => new KeyPool([{ key: "a" }]).cool("b", 1), /not in this pool/);
});

Deno.test("KeyPool runs on the monotonic clock unless given one: a key cooled 10 s waits 10 s", () => {
  const pool = new KeyPool([{ key: "a", limits: { rpm: 1 } }, { key: "b" }]);
  assertMonotonic(() => {
    pool.pick(SMALL);
    return pool.status("a").resetAt;
  }, 60_000);
  pool.cool("b", performance.now() + 10_000);
  const pick = pool.pick(SMALL);
  assert.equal(pick.kind, "wait", "a wall-clock pool would take the monotonic instants for long past");
  assert.ok(pick.kind === "wait" && pick.retryAfterMs <= 10_000 && pick.retryAfterMs > 9_000);
});

Deno.test("KeyPool.pick waits for a held key until the later of its hold and its own limits, unless it is failing longer", () => {
  const clock = new FakeClock(1_000);
  const pool = new KeyPool([{ key: "a", limits: { rpm: 1 } }, { key: "b" }, { key: "c" }], {
    now: clock.now,
  });
  assert.equal(
    keyOf(pool.pick(SMALL, { exclude: new Set(["b", "c"]) })),
    "a",
    "a's window is spent until 61 s",
  );
  const holds = new Map([["a", 30_000], ["b", 50_000]]);
  const failing = new Map<string, number>();
  const pick = (exclude: string[] = []) =>
    pool.pick(SMALL, {
      exclude: new Set(exclude),
      prefer: "b",
      heldUntil: (key) => holds.get(key),
      failingUntil: (key) => failing.get(key),
    });
  assert.equal(keyOf(pick()), "c", "a held key is no preferred key's while it is held");
  assert.deepEqual(pick(["a", "c"]), {
    kind: "wait",
    waitUntil: 50_000,
    retryAfterMs: 49_000,
    heldOnly: true,
  });
  assert.deepEqual(
    pick(["c"]),
    { kind: "wait", waitUntil: 50_000, retryAfterMs: 49_000 },
    "a, waited for too, is held longer by its own window than by its hold",
  );
  assert.deepEqual(
    pick(["b", "c"]),
    { kind: "wait", waitUntil: 61_000, retryAfterMs: 60_000 },
    "a's own window outlasts its hold: the wait is not the hold's alone",
  );
  failing.set("b", 60_000).set("a", 61_000);
  assert.deepEqual(
    pick(["c"]),
    { kind: "wait", waitUntil: 61_000, retryAfterMs: 60_000, openUntil: 60_000 },
    "b is failing past its hold: set aside, and told of",
  );
  failing.set("a", 61_001);
  assert.deepEqual(pick(["c"]), { kind: "none", openUntil: 60_000 });
  pool.cool("c", 40_000);
  assert.deepEqual(
    pick(),
    { kind: "wait", waitUntil: 40_000, retryAfterMs: 39_000, openUntil: 60_000 },
    "c cools for every request; b, failing, is still told of",
  );
  pool.disable("c", "401");
  holds.set("b", 1_000);
  assert.equal(keyOf(pick()), "b", "a hold that ended holds nothing");
});
