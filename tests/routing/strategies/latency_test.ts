import assert from "node:assert/strict";
import { latencyStrategy } from "../../../src/routing/strategies/latency.ts";
import { randomSequence, seededRandom } from "../_fakes.ts";
import { candidate, firstPlaces, names, REQUEST } from "./_candidates.ts";

const MEASURED = [
  candidate("a", { ewmaTtfbMs: 300 }),
  candidate("b", { ewmaTtfbMs: 120 }),
  candidate("c", { ewmaTtfbMs: 200 }),
];

Deno.test("latency orders by time to first byte when it does not explore", () => {
  const strategy = latencyStrategy({ explorationRate: 0.1, random: randomSequence(0.1) });
  assert.deepEqual(names(strategy.order(MEASURED, REQUEST)), ["b", "c", "a"]);
});

Deno.test("latency puts unmeasured providers first, in the config's order", () => {
  const strategy = latencyStrategy({ explorationRate: 0 });
  const order = strategy.order([candidate("x"), ...MEASURED, candidate("y")], REQUEST);
  assert.deepEqual(names(order), ["x", "y", "b", "c", "a"]);
});

Deno.test("latency explores: a random other provider leads at the exploration rate", () => {
  const runs = 10_000;
  const strategy = latencyStrategy({ explorationRate: 0.1, random: seededRandom(7) });
  const counts = firstPlaces(runs, () => strategy.order(MEASURED, REQUEST));
  const expected = { b: 0.9, c: 0.05, a: 0.05 };
  for (const [name, share] of Object.entries(expected)) {
    assert.ok(Math.abs(counts[name] / runs - share) < 0.01, `${name} first ${counts[name]} times in ${runs}`);
  }
});

Deno.test("latency keeps the rest in latency order behind an explored provider", () => {
  const strategy = latencyStrategy({ explorationRate: 0.1, random: randomSequence(0.05, 0.99) });
  assert.deepEqual(names(strategy.order(MEASURED, REQUEST)), ["a", "b", "c"]);
});
