import type { Timers } from "./timers.ts";

/**
 * How late a timer may fire before relay takes it that its own thread stood still (SIGSTOP, a paused
 * container or VM, a long synchronous stall) rather than that the time went by on a running event loop,
 * which fires a timer within milliseconds of its time, tens under a heavy load or a garbage collection.
 */
const _STALL_MS = 1_000;

/**
 * How long a deadline that passed while relay stood still waits beyond it. What the upstream sent
 * meanwhile is waiting in the socket and takes a few turns of the event loop to come through, while the
 * late timer runs on the first: a turn takes milliseconds, and a grace of a second is still nothing
 * beside any deadline a config sets. A stall during the grace earns another.
 */
export const STALL_GRACE_MS = 1_000;

/** Whether a timer due at `due` that fires at `now` fired so late that relay itself stood still meanwhile. */
export function isStalled(due: number, now: number): boolean {
  return now - due > _STALL_MS;
}

/**
 * Calls `expired` once `ms` have passed, as `timers.setTimeout` would, except when relay itself stood
 * still as the time ran out (its timer fires over a second late): what the deadline waits on may have
 * come in meanwhile and be waiting in a socket, so `expired` waits a grace for it first, and the caller
 * cancels it as it would the timer. For deadlines on an upstream: relay's own pause must not count as
 * the upstream's silence, fail its requests and open its breaker. Returns what cancels the deadline.
 *
 * @example
 * ```ts
 * const cancel = setDeadline(() => upstream.abort(new Error("no answer")), 30_000, { now, timers });
 * try {
 *   return await answer;
 * } finally {
 *   cancel();
 * }
 * ```
 */
export function setDeadline(
  expired: () => void,
  ms: number,
  clock: { now: () => number; timers: Timers },
): () => void {
  let due = clock.now() + ms;
  const fire = () => {
    const now = clock.now();
    if (!isStalled(due, now)) return expired();
    due = now + STALL_GRACE_MS;
    timer = clock.timers.setTimeout(fire, STALL_GRACE_MS);
  };
  let timer = clock.timers.setTimeout(fire, ms);
  return () => clock.timers.clearTimeout(timer);
}
