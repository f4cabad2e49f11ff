/**
 * A key rested by a 429 that said why in words (a plan's limit spent) keeps those words with its rest: a
 * pick that waits for the key passes them on, for relay's own answer to quote; a key taken out keeps how
 * its upstream refused it, which a pick left with no key passes on.
 */
import assert from "node:assert/strict";
import { KeyPool } from "../../src/routing/key_pool.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

const SMALL = { input: 100, output: 100 };
const SAID = "Weekly/Monthly Limit Exhausted. Your limit will reset at 2026-12-01 08:00:00";

Deno.test("KeyPool passes on the upstream's words for the rest of the key a pick waits for", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([{ key: "a" }, { key: "b" }], { now: clock.now });
  pool.cool("a", 3_600_000, SAID);
  pool.cool("b", 60_000);
  // The first back is b, a throttle's: no words.
  assert.deepEqual(pool.pick(SMALL), { kind: "wait", waitUntil: 60_000, retryAfterMs: 60_000 });
  clock.advance(60_000);
  pool.cool("b", 7_200_000);
  assert.deepEqual(pool.pick(SMALL, { exclude: new Set() }), {
    kind: "wait",
    waitUntil: 3_600_000,
    retryAfterMs: 3_540_000,
    said: SAID,
  });
});

Deno.test("KeyPool keeps the words of the rest that stands, and forgets them once the key is back in rotation", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([{ key: "a" }], { now: clock.now });
  pool.cool("a", 3_600_000, SAID);
  // A shorter rest (a throttle's, meanwhile) neither shortens the rest nor takes its words.
  pool.cool("a", 60_000);
  const standing = pool.pick(SMALL);
  assert.ok(standing.kind === "wait" && standing.waitUntil === 3_600_000 && standing.said === SAID);
  // A longer one without words is not the one they were said of.
  pool.cool("a", 4_000_000);
  const longer = pool.pick(SMALL);
  assert.ok(longer.kind === "wait" && longer.said === undefined);
  pool.cool("a", 5_000_000, SAID);
  pool.enable("a");
  pool.cool("a", 10_000);
  const after = pool.pick(SMALL);
  assert.ok(after.kind === "wait" && after.said === undefined, "enabled by an operator: the words went too");
});

Deno.test("KeyPool gives the words for a wait on the key's rest only, not on its own count of its windows", () => {
  const clock = new FakeClock();
  const pool = new KeyPool([{ key: "a", limits: { rpm: 1 } }], { now: clock.now });
  pool.cool("a", 1_000, SAID);
  const rested = pool.pick(SMALL);
  assert.ok(rested.kind === "wait" && rested.said === SAID, JSON.stringify(rested));
  clock.advance(1_000);
  assert.equal(pool.pick(SMALL).kind, "key");
  const full = pool.pick(SMALL);
  assert.ok(full.kind === "wait" && full.said === undefined, JSON.stringify(full));
});

Deno.test("KeyPool carries a key's words over a reload with its rest", () => {
  const clock = new FakeClock();
  const before = new KeyPool([{ key: "a" }], { now: clock.now });
  before.cool("a", 3_600_000, SAID);
  const after = new KeyPool([{ key: "a" }], { now: clock.now });
  after.carryOver(before, (key) => key);
  const pick = after.pick(SMALL);
  assert.ok(pick.kind === "wait" && pick.said === SAID);
});

Deno.test("KeyPool passes on how the upstream refused the first key it took out when a pick has no key left", () => {
  const pool = new KeyPool([{ key: "a" }, { key: "b" }]);
  const spent = { status: 402, said: "Insufficient balance" };
  pool.disable("a", "429 from upstream, quota or balance spent: Insufficient balance", spent);
  pool.disable("b", "401 from upstream", { status: 401 });
  assert.deepEqual(pool.pick(SMALL), { kind: "none", refusal: spent });
  pool.enable("a");
  pool.disable("a", "switched off at runtime");
  assert.deepEqual(
    pool.pick(SMALL),
    { kind: "none", refusal: { status: 401 } },
    "a key back in rotation forgets its refusal, and one an operator switched off has none",
  );
  pool.disable("b", "switched off at runtime");
  assert.deepEqual(pool.pick(SMALL), { kind: "none" }, "switched off, a refused key is the operator's");
});
