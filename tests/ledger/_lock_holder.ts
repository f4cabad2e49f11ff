/** A `flock` another process holds on a folder, as `flock(1)` in a shell, a backup tool or another relay do. */
export interface LockHolder extends AsyncDisposable {
  /** Lets go of the lock: resolves once the process holding it has ended. */
  release(): Promise<void>;
}

/**
 * Takes an exclusive `flock` on `folder` in another process (`flock(1)`) and resolves once it holds it,
 * until {@linkcode LockHolder.release}. It lets go by itself after 10 s: a relay whose thread blocks on
 * the lock then fails the test that holds it, rather than hanging it for good.
 */
export async function holdLock(folder: string): Promise<LockHolder> {
  const child = new Deno.Command("flock", {
    args: ["--exclusive", folder, "timeout", "10", "sh", "-c", "echo held; read line"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const output = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  // Written once flock(1) holds the lock and runs the command.
  const { done } = await output.read();
  if (done) throw new Error(`flock ${folder} ended before it held the lock`);
  let released: Promise<void> | undefined;
  const release = () =>
    released ??= (async () => {
      await child.stdin.close();
      await output.cancel();
      await child.status;
    })();
  return { release, [Symbol.asyncDispose]: release };
}

/** Whether a process holds the lock on `folder`: tried, and let go of at once if it was free. */
export function lockedElsewhere(folder: string): boolean {
  using handle = Deno.openSync(folder);
  return !handle.tryLockSync(true);
}
