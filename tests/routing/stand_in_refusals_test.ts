import assert from "node:assert/strict";
import { StandInRefusals } from "../../src/routing/stand_in_refusals.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("StandInRefusals tells a request sent again within its time from one sent once", async () => {
  let now = 0;
  const refusals = new StandInRefusals({ now: () => now, ttlMs: 1_000, max: 2 });
  assert.equal(await refusals.refusedBefore(bytes("a")), false, "first refused: passed over");
  assert.equal(await refusals.refusedBefore(bytes("b")), false, "another request");
  assert.equal(await refusals.refusedBefore(bytes("a")), true, "the same bytes again");
  now += 1_000;
  assert.equal(await refusals.refusedBefore(bytes("a")), false, "remembered no longer than its time");
  await refusals.refusedBefore(bytes("c"));
  await refusals.refusedBefore(bytes("d"));
  assert.equal(await refusals.refusedBefore(bytes("a")), false, "bounded: the first remembered is forgotten");
});
