/** Deterministic numbers in [0, 1) (mulberry32), so distributions are checked the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns `values` in turn and fails the test when asked for more than it was given. */
export function randomSequence(...values: number[]): () => number {
  let next = 0;
  return () => {
    if (next >= values.length) {
      throw new Error(`random() called more than the ${values.length} times expected`);
    }
    return values[next++];
  };
}

/**
 * Asserts that `act` gives an instant `aheadMs` past `performance.now()` as it ran: on the monotonic
 * clock, which a breaker, pool or window keeps unless given another. On the wall clock it would be some
 * 1.7e12, and follow every step NTP or a suspended VM gives that clock.
 */
export function assertMonotonic(act: () => number | undefined, aheadMs: number): void {
  const before = performance.now();
  const instant = act();
  const after = performance.now();
  if (instant === undefined || instant < before + aheadMs || instant > after + aheadMs) {
    throw new Error(`${instant} is not ${aheadMs} ms past performance.now() (${before} to ${after})`);
  }
}
