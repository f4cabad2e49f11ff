import assert from "node:assert/strict";
import { ModelRefusals } from "../../src/routing/model_refusals.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

Deno.test("a refusal holds for its model and holder only, until its instant", () => {
  const clock = new FakeClock(1_000);
  const refusals = new ModelRefusals<string | undefined>({ now: clock.now });
  assert.equal(refusals.empty, true);
  refusals.refuse("k1", "opus", 6_000);
  refusals.refuse(undefined, "opus", 4_000);
  assert.equal(refusals.empty, false);
  assert.deepEqual(
    [
      refusals.refusedUntil("k1", "opus"),
      refusals.refusedUntil("k1", "sonnet"),
      refusals.refusedUntil("k2", "opus"),
      refusals.refusedUntil(undefined, "opus"),
    ],
    [6_000, undefined, undefined, 4_000],
  );
  clock.advance(3_000);
  assert.deepEqual([refusals.refusedUntil("k1", "opus"), refusals.refusedUntil(undefined, "opus")], [
    6_000,
    undefined,
  ]);
  clock.advance(2_000);
  assert.equal(refusals.refusedUntil("k1", "opus"), undefined);
  assert.equal(refusals.empty, true, "an ended refusal is forgotten once found");
});

Deno.test("the upstream's latest words for a model are kept while a refusal of it stands", () => {
  const clock = new FakeClock(1_000);
  const refusals = new ModelRefusals<string | undefined>({ now: clock.now });
  refusals.refuse("k1", "opus", 6_000, "not enabled");
  refusals.refuse("k2", "opus", 3_000);
  refusals.refuse("k2", "sonnet", 3_000);
  assert.deepEqual([refusals.said("opus"), refusals.said("sonnet")], ["not enabled", undefined]);
  refusals.refuse("k2", "opus", 3_000, "not in this region");
  assert.equal(refusals.said("opus"), "not in this region", "the latest");
  clock.advance(4_000);
  assert.equal(refusals.said("opus"), "not in this region", "k1's refusal still stands");
  clock.advance(1_000);
  assert.equal(refusals.said("opus"), undefined, "none stands");
  refusals.refuse("k1", "opus", 9_000);
  assert.equal(refusals.said("opus"), undefined, "forgotten with the refusals it was said of");
  refusals.refuse("k1", "opus", 9_000, "again");
  refusals.clearAll();
  refusals.refuse("k1", "opus", 9_000);
  assert.equal(refusals.said("opus"), undefined, "cleared with them");
});

Deno.test("a later refusal of the same model stands over an earlier one, and the list shows those standing", () => {
  const clock = new FakeClock(0);
  const refusals = new ModelRefusals<string>({ now: clock.now });
  refusals.refuse("k1", "opus", 5_000);
  refusals.refuse("k1", "opus", 2_000);
  refusals.refuse("k1", "haiku", 1_000);
  assert.deepEqual(refusals.list("k1"), [{ model: "haiku", until: 1_000 }, { model: "opus", until: 5_000 }]);
  clock.advance(1_000);
  assert.deepEqual(refusals.list("k1"), [{ model: "opus", until: 5_000 }]);
  assert.deepEqual(refusals.list("k2"), []);
});

Deno.test("clearing forgets one holder's refusals, or all of them", () => {
  const refusals = new ModelRefusals<string>({ now: () => 0 });
  refusals.refuse("k1", "opus", 5_000);
  refusals.refuse("k2", "opus", 5_000);
  refusals.clear("k1");
  assert.deepEqual([refusals.refusedUntil("k1", "opus"), refusals.refusedUntil("k2", "opus")], [
    undefined,
    5_000,
  ]);
  refusals.clearAll();
  assert.equal(refusals.empty, true);
});

Deno.test("a holder keeps a bounded number of refused models, forgetting the one ending first", () => {
  const clock = new FakeClock(0);
  const refusals = new ModelRefusals<string>({ now: clock.now, maxPerHolder: 2 });
  refusals.refuse("k1", "a", 3_000);
  refusals.refuse("k1", "b", 1_000);
  refusals.refuse("k1", "c", 2_000);
  assert.deepEqual(refusals.list("k1").map(({ model }) => model), ["c", "a"]);
  clock.advance(2_500);
  refusals.refuse("k1", "d", 9_000);
  assert.deepEqual(refusals.list("k1").map(({ model }) => model), ["a", "d"], "ended ones go first");
});

Deno.test("once every refusal has ended, none is held, though none was looked up since", () => {
  const clock = new FakeClock(0);
  const refusals = new ModelRefusals<string>({ now: clock.now });
  refusals.refuse("k1", "opus", 5_000);
  refusals.refuse("k2", "haiku", 3_000);
  clock.advance(4_999);
  assert.equal(refusals.empty, false);
  clock.advance(1);
  assert.equal(refusals.empty, true, "a request for another model pays no lookup per key from now on");
});

Deno.test("the holders of one model are found in one lookup, those ended and cleared forgotten", () => {
  const clock = new FakeClock(0);
  const refusals = new ModelRefusals<string | undefined>({ now: clock.now, maxPerHolder: 2 });
  refusals.refuse("k1", "opus", 5_000);
  refusals.refuse("k2", "opus", 3_000);
  refusals.refuse("k2", "haiku", 9_000);
  const holders = (model: string | undefined) => [...refusals.holdersOf(model) ?? []];
  assert.deepEqual(holders("opus"), [["k1", 5_000], ["k2", 3_000]]);
  assert.deepEqual([holders("sonnet"), holders(undefined)], [[], []]);
  clock.advance(3_000);
  assert.deepEqual(holders("opus"), [["k1", 5_000]]);
  assert.deepEqual(refusals.list("k2"), [{ model: "haiku", until: 9_000 }], "the holder's own list agrees");
  refusals.clear("k1");
  assert.equal(refusals.holdersOf("opus"), undefined);
  // A holder past its bound forgets the refusal ending first, by model too.
  refusals.refuse("k2", "a", 4_000);
  refusals.refuse("k2", "b", 8_000);
  assert.deepEqual([holders("a"), holders("haiku")], [[], [["k2", 9_000]]]);
  refusals.clearAll();
  assert.equal(refusals.holdersOf("haiku"), undefined);
});
