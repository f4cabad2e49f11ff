/**
 * The weight a new sample gets so that a sample's influence halves every `samples` later samples.
 *
 * @example
 * ```ts
 * alphaForHalfLife(1); // 0.5
 * alphaForHalfLife(5); // ~0.129
 * ```
 */
export function alphaForHalfLife(samples: number): number {
  if (!(samples > 0)) throw new RangeError(`a half-life must be positive, not ${samples}`);
  return 1 - 2 ** (-1 / samples);
}

/**
 * One step of an exponentially weighted moving average; the first sample is taken as it is, so an
 * average does not start from a made-up zero.
 *
 * @example
 * ```ts
 * ewmaNext(undefined, 200, 0.5); // 200
 * ewmaNext(200, 100, 0.5); // 150
 * ```
 */
export function ewmaNext(previous: number | undefined, sample: number, alpha: number): number {
  return previous === undefined ? sample : previous + alpha * (sample - previous);
}

/** How fast an {@linkcode EwmaMap} forgets: a half-life in samples, or the weight of a new sample. */
export type EwmaOptions = { halfLife: number } | { alpha: number };

/**
 * A moving average per key, e.g. the time to first byte of each provider, which `least_busy` and
 * `latency` read as `ewmaTtfbMs`. Weighted per sample, not per unit of time: an upstream that gets no
 * traffic keeps its last figure, which is why `latency` explores.
 *
 * @example
 * ```ts
 * const ttfb = new EwmaMap<string>({ halfLife: 5 });
 * ttfb.observe("anthropic", 420);
 * ttfb.get("anthropic"); // 420
 * ttfb.get("bedrock"); // undefined: never measured
 * ```
 */
export class EwmaMap<K> {
  readonly #alpha: number;
  readonly #values = new Map<K, number>();

  /** An empty map forgetting at `options`' pace: a half-life of five samples unless told. */
  constructor(options: EwmaOptions = { halfLife: 5 }) {
    this.#alpha = "alpha" in options ? options.alpha : alphaForHalfLife(options.halfLife);
    if (!(this.#alpha > 0 && this.#alpha <= 1)) {
      throw new RangeError(`alpha must be in (0, 1], not ${this.#alpha}`);
    }
  }

  /** Folds one measurement into `key`'s average. */
  observe(key: K, sample: number): void {
    this.#values.set(key, ewmaNext(this.#values.get(key), sample, this.#alpha));
  }

  /** `key`'s average; `undefined` before its first measurement. */
  get(key: K): number | undefined {
    return this.#values.get(key);
  }
}
