import { basename, dirname, resolve } from "node:path";

/** A running {@linkcode watchConfigFile}. */
export interface ConfigWatcher {
  /** Stops watching; a change already waiting out its debounce is dropped. */
  close(): void;
}

export interface WatchOptions {
  /** Quiet time after the last event before `onChange` runs, so one save is one reload; 200 ms. */
  debounceMs?: number;
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
  const name = basename(path);
  const watcher = Deno.watchFs(dirname(resolve(path)), { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  (async () => {
    for await (const event of watcher) {
      if (!event.paths.some((changed) => basename(changed) === name)) continue;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    }
  })();
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
