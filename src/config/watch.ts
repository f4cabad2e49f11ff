import { realTimers, type Timers } from "../stream/timeouts.ts";

/** A running {@linkcode watchConfigFile}. */
export interface ConfigWatcher {
  /** Stops watching; a look already under way reports nothing. */
  close(): void;
}

export interface WatchOptions {
  /** Time between two looks at the file; 1 s. */
  intervalMs?: number;
  /** The global timers unless given; tests fire them by hand. */
  timers?: Timers;
  /**
   * What looks at the file each second, through symbolic links: `Deno.stat` unless given; tests wait
   * on it. The first look, at the start, is `Deno.statSync`: a change right after counts.
   */
  stat?: (path: string) => Promise<Deno.FileInfo>;
}

/**
 * Calls `onChange` after the config file changes: written, replaced by a rename (how most editors
 * save), removed or back, or its mode changed. Through symbolic links it follows what the path leads to
 * at each look, so an edit of the target, a swapped link (a Kubernetes ConfigMap's `..data`) and a
 * replaced folder at any level all count. Saves between two looks are one change.
 *
 * It looks at the file every second rather than watching its folder: Deno's `watchFs` opens and closes
 * every file that changes in a watched folder, and closing any descriptor of a file drops the POSIX
 * locks the process holds on it, those of relay's SQLite ledger when it sits beside the config (other
 * connections then delete its WAL and write over its batches); it also hangs on a named pipe there.
 *
 * @example
 * ```ts
 * const watcher = watchConfigFile("relay.yaml", () => runtime.reload("file changed"));
 * // ... at shutdown:
 * watcher.close();
 * ```
 */
export function watchConfigFile(
  path: string,
  onChange: () => void,
  options: WatchOptions = {},
): ConfigWatcher {
  const intervalMs = options.intervalMs ?? 1_000;
  const timers = options.timers ?? realTimers;
  const stat = options.stat ?? Deno.stat;
  let seen = _version(_statNow(path));
  let closed = false;
  const look = async () => {
    const version = _version(await stat(path).catch(() => undefined));
    if (closed) return;
    if (version !== seen) onChange();
    seen = version;
    timer = timers.setTimeout(look, intervalMs);
  };
  let timer = timers.setTimeout(look, intervalMs);
  return {
    close() {
      closed = true;
      timers.clearTimeout(timer);
    },
  };
}

/**
 * What tells one state of the file from another: which file the path leads to, its size, modification
 * time and mode. A file that cannot be looked at (gone, its folder unreadable) is one more state.
 */
function _version(info: Deno.FileInfo | undefined): string {
  return info ? [info.dev, info.ino, info.size, info.mtime?.getTime(), info.mode].join(":") : "gone";
}

/** What `path` leads to now; `undefined` when it cannot be looked at. */
function _statNow(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch {
    return undefined;
  }
}
