/**
 * The timer pair a deadline runs on. Stateful pieces take one so tests inject a fake
 * (`tests/_helpers/fake_clock.ts`) and fire deadlines without waiting.
 */
export interface Timers {
  /** Returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The global timers, as the default {@link Timers}.
 *
 * @example
 * ```ts
 * const timers: Timers = options.timers ?? realTimers;
 * const handle = timers.setTimeout(() => controller.abort(), 30_000);
 * ```
 */
export const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
