import assert from "node:assert/strict";
import { preferNamed } from "../../../src/routing/strategies/types.ts";
import { candidate, names } from "./_candidates.ts";

const ABC = [candidate("a"), candidate("b"), candidate("c")];

Deno.test("preferNamed moves the named candidate to the front and keeps the rest in order", () => {
  assert.deepEqual(names(preferNamed(ABC, "c")), ["c", "a", "b"]);
  assert.deepEqual(names(preferNamed(ABC, "b")), ["b", "a", "c"]);
});

Deno.test("preferNamed returns a copy as it was when no candidate has the name", () => {
  for (const name of ["a", "z", undefined]) {
    const order = preferNamed(ABC, name);
    assert.deepEqual(names(order), ["a", "b", "c"]);
    assert.notEqual(order, ABC);
  }
});
