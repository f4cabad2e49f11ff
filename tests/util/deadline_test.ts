import assert from "node:assert/strict";
import { MAX_STALL_GRACES, setDeadline, STALL_GRACE_MS } from "../../src/util/deadline.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

/**
 * A deadline's clock whose timers fire late as told: `late(ms)` makes the next timer to fire `ms` late,
 * as an event loop that stood still or lags behind does.
 */
function lateClock() {
  const clock = new FakeClock();
  let behind = 0;
  return {
    clock,
    deadlineClock: { now: () => clock.now() + behind, timers: clock },
    late: (ms: number) => behind += ms,
  };
}

Deno.test("setDeadline: a pause that comes back during its graces still fails nothing, up to three graces", () => {
  const { clock, deadlineClock, late } = lateClock();
  let expired = 0;
  setDeadline(() => expired++, 30_000, deadlineClock);
  clock.advance(10_000);
  late(3_600_000); // a VM paused for an hour as the deadline ran out
  clock.advance(20_000);
  for (let again = 1; again < MAX_STALL_GRACES; again++) {
    assert.deepEqual([expired, clock.armed], [0, [STALL_GRACE_MS]], `grace ${again}`);
    late(5_000);
    clock.advance(STALL_GRACE_MS);
  }
  assert.deepEqual([expired, clock.armed], [0, [STALL_GRACE_MS]], `grace ${MAX_STALL_GRACES}`);
  clock.advance(STALL_GRACE_MS);
  assert.equal(expired, 1, "after the third grace, the deadline expires");
});

Deno.test("setDeadline: a loop that fires every timer over a second late still sees the deadline, after three graces", () => {
  const { clock, deadlineClock, late } = lateClock();
  let expired = 0;
  setDeadline(() => expired++, 100, deadlineClock);
  for (let grace = 1; grace <= MAX_STALL_GRACES; grace++) {
    late(1_500);
    clock.advance(clock.armed[0]);
    assert.deepEqual([expired, clock.armed], [0, [STALL_GRACE_MS]], `grace ${grace}`);
  }
  late(1_500);
  clock.advance(STALL_GRACE_MS);
  assert.deepEqual([expired, clock.armed], [1, []], "late again, and expired all the same");
});

Deno.test("setDeadline expires on time on a running loop, after a grace when relay stood still, and not once cancelled", () => {
  const { clock, deadlineClock, late } = lateClock();
  let expired = 0;
  setDeadline(() => expired++, 100, deadlineClock);
  clock.advance(100);
  assert.equal(expired, 1);

  setDeadline(() => expired++, 100, deadlineClock);
  late(5_000);
  clock.advance(100);
  assert.equal(expired, 1, "fired 5 s late: a grace first");
  assert.deepEqual(clock.armed, [1_000]);
  late(2_000);
  clock.advance(1_000);
  assert.equal(expired, 1, "relay stood still again during the grace: another");
  clock.advance(1_000);
  assert.equal(expired, 2);

  const cancel = setDeadline(() => expired++, 100, deadlineClock);
  late(5_000);
  clock.advance(100);
  cancel();
  assert.deepEqual(clock.armed, [], "the grace's timer is the one cancelled");
  assert.equal(expired, 2);
});
