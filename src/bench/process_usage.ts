/** How much memory and CPU a server of the bench has used: a child process's from /proc. */

/** What a server has used so far. */
export interface Usage {
  /** Memory now, in MiB: a process's resident memory (`VmRSS`), or a worker's JS heap. */
  memoryMib: number;
  /** The most resident memory it has held (`VmHWM`), in MiB; unknown for a worker. */
  peakMib?: number;
  /** CPU time of all its threads, user and system, in milliseconds (10 ms resolution); likewise. */
  cpuMs?: number;
}

/** Clock ticks per second in /proc/<pid>/stat: USER_HZ, 100 on every Linux Deno runs on. */
const _TICKS_PER_S = 100;

/**
 * The usage of process `pid` from `/proc/<pid>/status` and `/proc/<pid>/stat`, or `undefined` when
 * they cannot be read: no /proc (macOS), the process is gone, or no permission. Deno refuses a
 * script any read under another process's `/proc/<pid>/` (even with `--allow-read`) unless it has
 * `--allow-all`, so the files are read by `cat`, which needs `--allow-run`.
 *
 * @example
 * ```ts
 * const usage = await childUsage(child.pid);
 * if (usage) console.log(`${usage.memoryMib.toFixed(1)} MiB`);
 * ```
 */
export async function childUsage(pid: number): Promise<Usage | undefined> {
  const [status, stat] = await Promise.all([_cat(`/proc/${pid}/status`), _cat(`/proc/${pid}/stat`)]);
  if (status === undefined || stat === undefined) return undefined;
  const mib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) / 1024;
  // utime and stime are the 14th and 15th fields; the 2nd, the command name, may hold spaces.
  const [utime, stime] = stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(11, 13).map(Number);
  return { memoryMib: mib("VmRSS"), peakMib: mib("VmHWM"), cpuMs: (utime + stime) * 1000 / _TICKS_PER_S };
}

async function _cat(path: string): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command("cat", {
      args: [path],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    return success ? new TextDecoder().decode(stdout) : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
