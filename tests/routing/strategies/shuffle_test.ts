import assert from "node:assert/strict";
import { shuffleStrategy } from "../../../src/routing/strategies/shuffle.ts";
import { seededRandom } from "../_fakes.ts";
import { candidate, firstPlaces, names, REQUEST } from "./_candidates.ts";

const RUNS = 10_000;

Deno.test("shuffle puts a provider first in proportion to its remaining capacity", () => {
  const strategy = shuffleStrategy({ random: seededRandom(1) });
  const candidates = [
    candidate("a", { remainingCapacityRatio: 0.6 }),
    candidate("b", { remainingCapacityRatio: 0.3 }),
    candidate("c", { remainingCapacityRatio: 0.1 }),
  ];
  const counts = firstPlaces(RUNS, () => strategy.order(candidates, REQUEST));
  for (const [name, share] of [["a", 0.6], ["b", 0.3], ["c", 0.1]] as const) {
    assert.ok(
      Math.abs(counts[name] / RUNS - share) < 0.015,
      `${name} first ${counts[name]} times in ${RUNS}`,
    );
  }
});

Deno.test("shuffle draws the rest of the order by capacity too", () => {
  const strategy = shuffleStrategy({ random: seededRandom(2) });
  const candidates = [
    candidate("a", { remainingCapacityRatio: 0.5 }),
    candidate("b", { remainingCapacityRatio: 0.25 }),
    candidate("c", { remainingCapacityRatio: 0.25 }),
  ];
  // After a leads (half the time), b and c are equally likely second.
  let secondB = 0;
  let aFirst = 0;
  for (let i = 0; i < RUNS; i++) {
    const order = names(strategy.order(candidates, REQUEST));
    assert.deepEqual([...order].sort(), ["a", "b", "c"], "every candidate, once");
    if (order[0] !== "a") continue;
    aFirst++;
    if (order[1] === "b") secondB++;
  }
  assert.ok(Math.abs(secondB / aFirst - 0.5) < 0.025, `b second in ${secondB} of ${aFirst}`);
});

Deno.test("shuffle puts providers with no capacity left last, in the config's order", () => {
  const strategy = shuffleStrategy({ random: seededRandom(3) });
  const candidates = [
    candidate("spent1", { remainingCapacityRatio: 0 }),
    candidate("a", { remainingCapacityRatio: 0.5 }),
    candidate("spent2", { remainingCapacityRatio: 0 }),
  ];
  for (let i = 0; i < 100; i++) {
    assert.deepEqual(names(strategy.order(candidates, REQUEST)), ["a", "spent1", "spent2"]);
  }
});

Deno.test("shuffle gives a draw at the very top of the range to the last provider", () => {
  const strategy = shuffleStrategy({ random: () => 0.9999999999999999 });
  const candidates = [
    candidate("a", { remainingCapacityRatio: 0.1 }),
    candidate("b", { remainingCapacityRatio: 0.2 }),
  ];
  assert.deepEqual(names(strategy.order(candidates, REQUEST)), ["b", "a"]);
});
