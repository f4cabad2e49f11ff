/**
 * A provider's memory of what it learnt of an upstream, keyed by what clients send (a model that cannot
 * count tokens, a beta or a set of betas a model refused, a model whose streams come back whole): its
 * keys come from clients, so it is bounded, and forgetting the oldest costs no more than learning it again.
 */

/**
 * A `Map` holding at most `max` entries: adding one more forgets the one added first. Setting a key it
 * holds replaces its value and keeps its place.
 *
 * @example
 * ```ts
 * const uncountable = new BoundedMap<string, string>(2);
 * uncountable.set("a", "no").set("b", "no").set("c", "no");
 * uncountable.has("a"); // false: forgotten for "c"
 * ```
 */
export class BoundedMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #max: number;

  constructor(max: number) {
    if (!(max >= 1)) throw new RangeError(`max must be at least 1, not ${max}`);
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key);
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Forgets `key`; whether it was held. */
  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  set(key: K, value: V): this {
    if (!this.#entries.has(key) && this.#entries.size >= this.#max) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, value);
    return this;
  }
}
