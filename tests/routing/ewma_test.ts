import assert from "node:assert/strict";
import { alphaForHalfLife, EwmaMap, ewmaNext } from "../../src/routing/ewma.ts";

Deno.test("alphaForHalfLife halves an old sample's weight every half-life", () => {
  assert.equal(alphaForHalfLife(1), 0.5);
  const alpha = alphaForHalfLife(5);
  let average = 1000;
  for (let i = 0; i < 5; i++) average = ewmaNext(average, 0, alpha);
  assert.ok(Math.abs(average - 500) < 1e-9, `after five samples of 0: ${average}`);
  assert.throws(() => alphaForHalfLife(0), /must be positive/);
});

Deno.test("ewmaNext starts from the first sample and moves by alpha", () => {
  assert.equal(ewmaNext(undefined, 200, 0.5), 200);
  assert.equal(ewmaNext(200, 100, 0.5), 150);
  assert.equal(ewmaNext(200, 100, 0.25), 175);
});

Deno.test("EwmaMap keeps one average per key", () => {
  const ttfb = new EwmaMap<string>({ alpha: 0.5 });
  ttfb.observe("a", 400);
  ttfb.observe("a", 200);
  ttfb.observe("b", 50);
  assert.deepEqual([ttfb.get("a"), ttfb.get("b"), ttfb.get("c")], [300, 50, undefined]);
});

Deno.test("EwmaMap takes a half-life, five samples unless told", () => {
  const byDefault = new EwmaMap<string>();
  const halfLife = new EwmaMap<string>({ halfLife: 5 });
  for (const map of [byDefault, halfLife]) {
    map.observe("a", 0);
    map.observe("a", 1000);
  }
  assert.equal(byDefault.get("a"), 1000 * alphaForHalfLife(5));
  assert.equal(halfLife.get("a"), byDefault.get("a"));
  assert.throws(() => new EwmaMap({ alpha: 1.5 }), /alpha must be in \(0, 1\]/);
});
