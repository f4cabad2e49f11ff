import assert from "node:assert/strict";
import { roundRobinStrategy } from "../../../src/routing/strategies/round_robin.ts";
import { candidate, firstPlaces, names, REQUEST } from "./_candidates.ts";

const ABC = [candidate("a"), candidate("b"), candidate("c")];

Deno.test("round_robin starts each request one further, the rest following in turn", () => {
  const strategy = roundRobinStrategy();
  const orders = Array.from({ length: 4 }, () => names(strategy.order(ABC, REQUEST)).join(""));
  assert.deepEqual(orders, ["abc", "bca", "cab", "abc"]);
});

Deno.test("round_robin spreads first places evenly", () => {
  const strategy = roundRobinStrategy();
  assert.deepEqual(firstPlaces(9999, () => strategy.order(ABC, REQUEST)), { a: 3333, b: 3333, c: 3333 });
});

Deno.test("round_robin takes whichever candidates a request has, and none", () => {
  const strategy = roundRobinStrategy();
  assert.deepEqual(names(strategy.order([candidate("a"), candidate("b")], REQUEST)), ["a", "b"]);
  assert.deepEqual(strategy.order([], REQUEST), []);
  assert.deepEqual(names(strategy.order(ABC, REQUEST)), ["b", "c", "a"], "an empty list took no turn");
});

Deno.test("round_robin gives each model turns of its own", () => {
  const strategy = roundRobinStrategy();
  const sonnet = { ...REQUEST, model: "claude-sonnet-4-5" };
  const haiku = { ...REQUEST, model: "claude-haiku-4-5" };
  const firsts = [sonnet, haiku, sonnet, haiku].map((request) => strategy.order(ABC, request)[0].name);
  assert.deepEqual(firsts, ["a", "a", "b", "b"]);
});
