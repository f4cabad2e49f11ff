import assert from "node:assert/strict";
import { leastBusyStrategy } from "../../../src/routing/strategies/least_busy.ts";
import { candidate, names, REQUEST } from "./_candidates.ts";

const strategy = leastBusyStrategy();

Deno.test("least_busy weighs requests in flight by time to first byte", () => {
  const order = strategy.order([
    candidate("fast_busy", { inFlight: 2, ewmaTtfbMs: 100 }), // 300
    candidate("slow_idle", { inFlight: 0, ewmaTtfbMs: 250 }), // 250
    candidate("fast_idle", { inFlight: 0, ewmaTtfbMs: 100 }), // 100
  ], REQUEST);
  assert.deepEqual(names(order), ["fast_idle", "slow_idle", "fast_busy"]);
});

Deno.test("least_busy sends to a slow provider once the fast one is busy enough", () => {
  const first = (fastInFlight: number) =>
    strategy.order([
      candidate("fast", { inFlight: fastInFlight, ewmaTtfbMs: 100 }),
      candidate("slow", { inFlight: 0, ewmaTtfbMs: 400 }),
    ], REQUEST)[0].name;
  assert.deepEqual([0, 1, 2, 3, 4].map(first), ["fast", "fast", "fast", "fast", "slow"]);
});

Deno.test("least_busy takes an unmeasured provider to be as fast as the fastest", () => {
  const order = strategy.order([
    candidate("known", { inFlight: 1, ewmaTtfbMs: 200 }), // 400
    candidate("new", { inFlight: 1 }), // 2 * 200
    candidate("new_idle"), // 200
  ], REQUEST);
  assert.deepEqual(names(order), ["new_idle", "known", "new"], "ties keep the config's order");
});

Deno.test("least_busy falls back to counting requests when nothing is measured", () => {
  const order = strategy.order([
    candidate("a", { inFlight: 3 }),
    candidate("b", { inFlight: 1 }),
    candidate("c", { inFlight: 2, ewmaTtfbMs: 0 }),
  ], REQUEST);
  assert.deepEqual(names(order), ["b", "c", "a"]);
});
