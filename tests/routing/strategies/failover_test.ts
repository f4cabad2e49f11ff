import assert from "node:assert/strict";
import { failoverStrategy } from "../../../src/routing/strategies/failover.ts";
import { candidate, names, REQUEST } from "./_candidates.ts";

Deno.test("failover keeps the config's order, whatever the providers' state", () => {
  const candidates = [
    candidate("a", { inFlight: 50, ewmaTtfbMs: 9000, remainingCapacityRatio: 0 }),
    candidate("b", { ewmaTtfbMs: 10 }),
    candidate("c"),
  ];
  const order = failoverStrategy().order(candidates, REQUEST);
  assert.deepEqual(names(order), ["a", "b", "c"]);
  assert.notEqual(order, candidates, "a copy, so the caller may reorder it");
  assert.equal(order[0], candidates[0], "the caller's own objects come back");
});
