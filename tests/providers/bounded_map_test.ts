import assert from "node:assert/strict";
import { BoundedMap } from "../../src/providers/bounded_map.ts";

Deno.test("BoundedMap forgets the entry added first for one past its bound; setting a held key keeps its place", () => {
  const map = new BoundedMap<string, number>(2);
  map.set("a", 1).set("b", 2);
  assert.equal(map.set("a", 10).size, 2);
  assert.equal(map.get("a"), 10, "replaced in place");
  map.set("c", 3);
  assert.deepEqual(["a", "b", "c"].map((key) => map.has(key)), [false, true, true], "the oldest, a, went");
  assert.equal(map.get("a"), undefined);
  map.set("a", 1);
  assert.deepEqual(["a", "b", "c"].map((key) => map.get(key)), [1, undefined, 3]);
  assert.equal(map.size, 2);
});

Deno.test("BoundedMap refuses a bound that holds nothing", () => {
  assert.throws(() => new BoundedMap(0), RangeError);
  assert.throws(() => new BoundedMap(Number.NaN), RangeError);
});

Deno.test("BoundedMap forgets a key it is told to, making room for another", () => {
  const map = new BoundedMap<string, number>(2);
  map.set("a", 1).set("b", 2);
  assert.equal(map.delete("a"), true);
  assert.equal(map.delete("a"), false, "no longer held");
  map.set("c", 3);
  assert.deepEqual(
    ["a", "b", "c"].map((key) => map.get(key)),
    [undefined, 2, 3],
    "b kept: a's place was free",
  );
});
