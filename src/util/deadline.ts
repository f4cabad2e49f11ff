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
 * beside any deadline a config sets. A stall during the grace earns another, up to
 * {@linkcode MAX_STALL_GRACES}.
 */
export const STALL_GRACE_MS = 1_000;

/**
 * How many graces one deadline gets at most, one after another. A pause, however long, makes one timer
 * late: the grace's own timer, armed once relay runs again, fires on time, so one grace covers it, and
 * three cover a pause that comes back twice within a second of relay resuming (a debugger, a VM paused
 * again). An event loop so loaded that every timer fires over a second late looks paused at every one:
 * without a bound, its deadlines would never come; with it, they come at most three graces, and the lag
 * of each, late.
 */
export const MAX_STALL_GRACES = 3;

/** Whether a timer due at `due` that fires at `now` fired so late that relay itself stood still meanwhile. */
function _isStalled(due: number, now: number): boolean {
  return now - due > _STALL_MS;
}

/**
 * Whether a deadline whose timer, due at `due`, fires at `now` waits a grace more (relay stood still
 * meanwhile) after the `graces` it had, or expires.
 */
export function earnsGrace(due: number, now: number, graces: number): boolean {
  return graces < MAX_STALL_GRACES && _isStalled(due, now);
}

/**
 * Calls `expired` once `ms` have passed, as `timers.setTimeout` would, except when relay itself stood
 * still as the time ran out (its timer fires over a second late): what the deadline waits on may have
 * come in meanwhile and be waiting in a socket, so `expired` waits a grace for it first, and the caller
 * cancels it as it would the timer, up to {@linkcode MAX_STALL_GRACES} times. For deadlines on an
 * upstream: relay's own pause must not count as the upstream's silence, fail its requests and open its
 * breaker. Returns what cancels the deadline.
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
  let graces = 0;
  const fire = () => {
    const now = clock.now();
    if (!earnsGrace(due, now, graces)) return expired();
    graces++;
    due = now + STALL_GRACE_MS;
    timer = clock.timers.setTimeout(fire, STALL_GRACE_MS);
  };
  let timer = clock.timers.setTimeout(fire, ms);
  return () => clock.timers.clearTimeout(timer);
}
