/**
 * Whether `promise` settles within `ms` of real time. The time bounds only a run that fails, which would
 * otherwise wait for ever; it is never what a test waits on.
 *
 * @example
 * ```ts
 * assert.ok(await settlesWithin(clock.whenArmed(300, 2), 5_000), "both deadlines armed");
 * ```
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
