import type { Timers } from "../../src/util/timers.ts";

/**
 * A monotonic clock and the timers that run on it, both moved only by the test: `advance` fires every
 * timer that falls due on the way, in order, at its own time, including timers those callbacks arm.
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * const reader = new WatchedReader(source.getReader(), { idleMs: 50, now: clock.now, timers: clock });
 * clock.advance(50);
 * ```
 */
export class FakeClock implements Timers {
  readonly #pending = new Map<number, { due: number; callback: () => void }>();
  readonly #waiting: { ms: number; count: number; armed: () => void }[] = [];
  #time: number;
  #nextId = 1;
  #set = 0;

  /** `start`: the time the clock shows first, in ms. */
  constructor(start = 0) {
    this.#time = start;
  }

  readonly now = (): number => this.#time;

  setTimeout(callback: () => void, ms: number): number {
    this.#set++;
    this.#pending.set(this.#nextId, { due: this.#time + ms, callback });
    for (const waiter of this.#waiting.filter((waiter) => this.#armedFor(waiter.ms) >= waiter.count)) {
      this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
      waiter.armed();
    }
    return this.#nextId++;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  /** How many timers were ever set. */
  get timersSet(): number {
    return this.#set;
  }

  /** How long from now each armed timer is due, soonest first. */
  get armed(): number[] {
    return [...this.#pending.values()].map((timer) => timer.due - this.#time).sort((a, b) => a - b);
  }

  /**
   * Resolves once `count` timers are due `ms` from now: at once if they are, else when the last of them
   * is set. For code that arms its deadlines after steps the test cannot see (an exchange over HTTP).
   */
  whenArmed(ms: number, count = 1): Promise<void> {
    if (this.#armedFor(ms) >= count) return Promise.resolve();
    return new Promise((armed) => this.#waiting.push({ ms, count, armed }));
  }

  #armedFor(ms: number): number {
    return this.armed.filter((due) => due === ms).length;
  }

  /** Moves time on by `ms`, firing the timers due by then. */
  advance(ms: number): void {
    const end = this.#time + ms;
    for (;;) {
      let next: [number, { due: number; callback: () => void }] | undefined;
      for (const entry of this.#pending) {
        if (entry[1].due <= end && (!next || entry[1].due < next[1].due)) next = entry;
      }
      if (!next) break;
      this.#pending.delete(next[0]);
      this.#time = next[1].due;
      next[1].callback();
    }
    this.#time = end;
  }
}
