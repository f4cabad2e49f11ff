import { basename, dirname, isAbsolute, join, parse, resolve, sep } from "node:path";
import { realTimers, type Timers } from "../stream/timeouts.ts";

/** A running {@linkcode watchConfigFile}. */
export interface ConfigWatcher {
  /** Stops watching; a change already waiting out its debounce is dropped. */
  close(): void;
}

export interface WatchOptions {
  /** Quiet time after the last event before `onChange` runs, so one save is one reload; 200 ms. */
  debounceMs?: number;
  /** The global timers unless given; tests fire them by hand. */
  timers?: Timers;
  /** What watches a folder: `Deno.watchFs` unless given; tests feed events by hand. */
  watchFolder?: (folder: string) => AsyncIterable<Deno.FsEvent> & { close(): void };
}

/**
 * Calls `onChange` after the config file changes: written in place, replaced by a rename (how most
 * editors save), removed, or its mode changed. It watches folders, not the file: a watch on the file
 * itself follows the old inode and goes silent after the first rename-save. Through symbolic links it
 * watches each link's folder for the link and the folder of the file they lead to, so an edit of the
 * target and a swapped link (a Kubernetes ConfigMap's `..data`) both count; a folder that was renamed
 * or removed counts too. What the path leads to is worked out again at each change, and the watches
 * follow it: a replaced folder is watched again if the new one is in place by then (the debounce). A
 * folder further up being replaced is not noticed.
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
  const debounceMs = options.debounceMs ?? 200;
  const timers = options.timers ?? realTimers;
  const watchFolder = options.watchFolder ??
    ((folder: string) => Deno.watchFs(folder, { recursive: false }));
  const watched = new Map<string, _Watch>();
  let timer: unknown;
  let closed = false;
  const changed = () => {
    // An event already queued when the watch was closed changes nothing.
    if (closed) return;
    timers.clearTimeout(timer);
    timer = timers.setTimeout(() => {
      // What the path leads to may have changed with it: a link swapped, a folder replaced.
      _follow(watched, watchPoints(path), watchFolder, changed, () => {});
      onChange();
    }, debounceMs);
  };
  const close = () => {
    closed = true;
    timers.clearTimeout(timer);
    for (const { watcher } of watched.values()) watcher.close();
    watched.clear();
  };
  _follow(watched, watchPoints(path), watchFolder, changed, (error) => {
    // A watch that cannot start whole does not start at all: the folders watched so far would go on
    // reloading a relay told its file is not watched.
    close();
    throw error;
  });
  return { close };
}

/**
 * The folders to watch for `path`, each with the names in it whose change can change what `path`
 * reads: every symbolic link met on the way (the config's own name when it is one, `..data` of a
 * ConfigMap), in the folder that holds it, and the file it all leads to, in its own folder. Folders are
 * real paths, free of links; a part that does not exist is taken as it is named.
 *
 * @example
 * ```ts
 * // /etc/relay/relay.yaml -> ..data/relay.yaml, ..data -> ..2026_11_25
 * watchPoints("/etc/relay/relay.yaml");
 * // Map { "/etc/relay" => Set { "relay.yaml", "..data" }, "/etc/relay/..2026_11_25" => Set { "relay.yaml" } }
 * ```
 */
export function watchPoints(path: string): Map<string, Set<string>> {
  const points = new Map<string, Set<string>>();
  const add = (entry: string) => {
    const folder = dirname(entry);
    points.set(folder, (points.get(folder) ?? new Set()).add(basename(entry)));
  };
  // `real` has no link in it, so `join` may take a `..` after it off by hand.
  let real = parse(resolve(path)).root;
  const rest = _parts(resolve(path));
  for (let links = 0; rest.length > 0;) {
    const entry = join(real, rest.shift()!);
    const target = _linkTarget(entry);
    if (target === undefined || ++links > _MAX_LINKS) {
      real = entry;
      continue;
    }
    add(entry);
    if (isAbsolute(target)) real = parse(target).root;
    rest.unshift(..._parts(target));
  }
  add(real);
  return points;
}

/** As many links as Linux follows in one path before it gives up (`ELOOP`). */
const _MAX_LINKS = 40;

/** The names `path` is made of, its root left out. */
function _parts(path: string): string[] {
  return path.slice(parse(path).root.length).split(sep).filter((part) => part !== "");
}

/** One watched folder: its watcher, and the names in it that matter. */
interface _Watch {
  watcher: AsyncIterable<Deno.FsEvent> & { close(): void };
  names: Set<string>;
}

/**
 * Brings the watches in line with `points`: a folder not watched yet gets a watch, one no longer needed
 * is let go. `cannotWatch` is told of a folder that cannot be watched (the first time, it throws; later
 * the change that follows tries again).
 */
function _follow(
  watched: Map<string, _Watch>,
  points: Map<string, Set<string>>,
  watchFolder: NonNullable<WatchOptions["watchFolder"]>,
  changed: () => void,
  cannotWatch: (error: unknown) => void,
): void {
  for (const [folder, names] of points) {
    const current = watched.get(folder);
    if (current) {
      current.names = names;
      continue;
    }
    let watcher;
    try {
      watcher = watchFolder(folder);
    } catch (error) {
      cannotWatch(error);
      continue;
    }
    const watch = { watcher, names };
    watched.set(folder, watch);
    _listen(folder, watch, watched, changed);
  }
  for (const [folder, { watcher }] of watched) {
    if (points.has(folder)) continue;
    watcher.close();
    watched.delete(folder);
  }
}

function _listen(folder: string, watch: _Watch, watched: Map<string, _Watch>, changed: () => void): void {
  (async () => {
    for await (const event of watch.watcher) {
      if (event.paths.includes(folder)) {
        // The folder itself was renamed or removed, and the watch would follow it wherever it went: let
        // go now (Deno frees a path's watch only a moment after), so the change watches what is there then.
        watch.watcher.close();
        if (watched.get(folder) === watch) watched.delete(folder);
        changed();
        return;
      }
      if (event.paths.some((path) => watch.names.has(basename(path)))) changed();
    }
  })();
}

/** What a symbolic link at `entry` points to; `undefined` when it is no link, or not there. */
function _linkTarget(entry: string): string | undefined {
  try {
    return Deno.readLinkSync(entry);
  } catch {
    return undefined;
  }
}
