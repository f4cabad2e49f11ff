import { basename, dirname, resolve } from "node:path";
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
  /** What watches the folder: `Deno.watchFs` unless given; tests feed events by hand. */
  watchFolder?: (folder: string) => AsyncIterable<Deno.FsEvent> & { close(): void };
}

/**
 * Calls `onChange` after the config file changes: written in place, replaced by a rename (how most
 * editors save), removed, or its mode changed. It watches the file's folder, not the file: a watch on
 * the file itself follows the old inode and goes silent after the first rename-save.
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
  const name = basename(path);
  const folder = dirname(resolve(path));
  const watcher = options.watchFolder?.(folder) ?? Deno.watchFs(folder, { recursive: false });
  let timer: unknown;
  (async () => {
    for await (const event of watcher) {
      if (!event.paths.some((changed) => basename(changed) === name)) continue;
      timers.clearTimeout(timer);
      timer = timers.setTimeout(onChange, debounceMs);
    }
  })();
  return {
    close() {
      timers.clearTimeout(timer);
      watcher.close();
    },
  };
}
