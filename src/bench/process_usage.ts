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
 * `--allow-all`, so both files are read by one `cat`, which needs `--allow-run`.
 *
 * @example
 * ```ts
 * const usage = await childUsage(child.pid);
 * if (usage) console.log(`${usage.memoryMib.toFixed(1)} MiB`);
 * ```
 */
export async function childUsage(pid: number): Promise<Usage | undefined> {
  const text = await _cat(`/proc/${pid}/status`, `/proc/${pid}/stat`);
  return text === undefined ? undefined : parseProcUsage(text);
}

/**
 * A process's usage from its `/proc/<pid>/status` followed by its `/proc/<pid>/stat`, as one text.
 *
 * @example
 * ```ts
 * const { memoryMib, cpuMs } = parseProcUsage(statusText + statText);
 * ```
 */
export function parseProcUsage(text: string): Usage {
  const mib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1]) / 1024;
  // stat comes last, and only its 2nd field, the command name, may hold spaces or parentheses: utime
  // and stime, its 14th and 15th fields, are the 12th and 13th after its last ")".
  const [utime, stime] = text.slice(text.lastIndexOf(")") + 2).split(" ").slice(11, 13).map(Number);
  return { memoryMib: mib("VmRSS"), peakMib: mib("VmHWM"), cpuMs: (utime + stime) * 1000 / _TICKS_PER_S };
}

async function _cat(...paths: string[]): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command("cat", {
      args: paths,
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
