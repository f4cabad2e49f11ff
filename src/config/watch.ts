import { outOfFileDescriptors } from "../util/error_message.ts";
import { realTimers, type Timers } from "../util/timers.ts";

/** A running {@linkcode watchConfigFile}. */
export interface ConfigWatcher {
  /**
   * Takes the file as it is now for seen: called just before a reload reads it (one SIGHUP or the admin
   * API asked for), so that change is no news; a save after this is, even one the reload then read too
   * (it is loaded twice: no change is ever missed).
   */
  rebase(): void;
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
  /** What reads a file of a config's size at each look: `Deno.readFile` unless given; tests fail it. */
  readFile?: (path: string) => Promise<Uint8Array>;
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
  const files = { stat: options.stat ?? Deno.stat, readFile: options.readFile ?? Deno.readFile };
  let seen = _versionNow(path);
  /** Counts rebases: a look under way when one came read the file before it, and its news is stale. */
  let rebases = 0;
  let closed = false;
  const look = async () => {
    const started = rebases;
    const version = await _versionLooked(path, files);
    if (closed) return;
    if (started === rebases && version !== undefined) {
      if (!_same(version, seen)) onChange();
      seen = version;
    }
    timer = timers.setTimeout(look, intervalMs);
  };
  let timer = timers.setTimeout(look, intervalMs);
  return {
    rebase() {
      rebases++;
      seen = _versionNow(path);
    },
    close() {
      closed = true;
      timers.clearTimeout(timer);
    },
  };
}

/**
 * What tells one state of the file from another: which file the path leads to, its size, modification
 * time, mode and, for a file of a config's size, its bytes: a rewrite can keep the size and the
 * modification time (two saves within one tick of the clock, `touch -r`). A file that cannot be looked
 * at (gone, its folder unreadable) is one more state.
 */
function _version(info: Deno.FileInfo | undefined, bytes: Uint8Array | undefined): _Version {
  if (!info) return { stat: "gone" };
  return { stat: [info.dev, info.ino, info.size, info.mtime?.getTime(), info.mode].join(":"), bytes };
}

interface _Version {
  stat: string;
  bytes?: Uint8Array;
}

function _same(a: _Version, b: _Version): boolean {
  if (a.stat !== b.stat || a.bytes?.length !== b.bytes?.length) return false;
  return a.bytes === undefined || a.bytes.every((byte, i) => byte === b.bytes![i]);
}

/** Larger files (or what is not a file) are told apart by what `stat` says alone. */
function _worthReading(info: Deno.FileInfo): boolean {
  return info.isFile && info.size <= 1024 * 1024;
}

/**
 * The version of what `path` leads to now, as a look finds it; `undefined` when the look tells nothing:
 * relay was out of file descriptors, which says nothing of the file (counted as a change, it would
 * reload a file that did not change and log the read's failure). A read failing otherwise leaves what
 * `stat` says, as for a file too large to read.
 */
async function _versionLooked(
  path: string,
  files: Required<Pick<WatchOptions, "stat" | "readFile">>,
): Promise<_Version | undefined> {
  const info = await files.stat(path).catch(() => undefined);
  if (!info || !_worthReading(info)) return _version(info, undefined);
  try {
    return _version(info, await files.readFile(path));
  } catch (error) {
    return outOfFileDescriptors(error) ? undefined : _version(info, undefined);
  }
}

/** The version of what `path` leads to now. */
function _versionNow(path: string): _Version {
  try {
    const info = Deno.statSync(path);
    return _version(info, _worthReading(info) ? Deno.readFileSync(path) : undefined);
  } catch {
    return _version(undefined, undefined);
  }
}
