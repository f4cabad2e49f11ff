import type { Timers } from "../../src/stream/timeouts.ts";

/** Timers that fire only when a test says so, in the order they are due. */
export class ManualTimers implements Timers {
  readonly #pending = new Map<number, { callback: () => void; ms: number }>();
  #nextId = 1;

  setTimeout(callback: () => void, ms: number): number {
    this.#pending.set(this.#nextId, { callback, ms });
    return this.#nextId++;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  /** The delays of the timers still armed, in the order they were armed. */
  get armed(): number[] {
    return [...this.#pending.values()].map((timer) => timer.ms);
  }

  /** Fires every timer armed now (not those their callbacks arm), soonest first. */
  fire(): void {
    const due = [...this.#pending.entries()].sort(([, a], [, b]) => a.ms - b.ms);
    for (const [id, { callback }] of due) {
      if (!this.#pending.delete(id)) continue;
      callback();
    }
  }
}
