import { setImmediate } from "node:timers";

/**
 * Resolves once everything already queued has run: an immediate runs only when the promise jobs queued
 * before it, and every job those queue in turn, have. Nothing waits on time: an immediate is the event
 * loop's next turn, not a timer. (A `MessageChannel`'s message is no such turn: Deno 2.9.6 can deliver
 * it between promise jobs.)
 *
 * @example
 * ```ts
 * await queueDrained();
 * assert.equal(pulls, 0, "nothing read before the output is");
 * ```
 */
export function queueDrained(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Whether `promise` has settled once everything already queued has run ({@linkcode queueDrained}). A
 * promise still pending then waits on something outside the test's queue (a fake's answer held back):
 * it has not settled, rather than not settled yet.
 *
 * @example
 * ```ts
 * assert.equal(await settledYet(sending), false, "held until the resend answers");
 * ```
 */
export async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await queueDrained();
  return settled;
}
