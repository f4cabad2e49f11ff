import { watchConfigFile } from "../config/watch.ts";
import type { Runtime } from "../server/runtime.ts";

/**
 * What makes `relay serve` read its config again besides `POST /admin/reload`: SIGHUP, and any change
 * to the file, looked at every second ({@linkcode watchConfigFile}). On the built-in defaults there is
 * no file to watch, and SIGHUP only logs that there is nothing to reload: nothing failed, and an alert
 * on `relay_config_reloads_total{result="failure"}` must not fire.
 *
 * @example
 * ```ts
 * const triggers = reloadTriggers(runtime, resolved.path);
 * await server.finished;
 * triggers.stop();
 * ```
 */
export function reloadTriggers(runtime: Runtime, path: string | undefined): { stop(): void } {
  const onHangup = path === undefined
    ? () => runtime.logger.info("nothing to reload", { reason: "SIGHUP", config: "none (built-in defaults)" })
    : () => runtime.reload("SIGHUP");
  const signals = Deno.build.os !== "windows";
  if (signals) Deno.addSignalListener("SIGHUP", onHangup);
  const watcher = path === undefined
    ? undefined
    : watchConfigFile(path, () => runtime.reload("file changed"));
  // Whatever asks for a reload, the watcher takes the file as it is just before the reload reads it:
  // it does not reload that change once more (taken or refused), and a save after the read is news.
  if (watcher) runtime.beforeEachReload(() => watcher.rebase());
  return {
    stop() {
      if (signals) Deno.removeSignalListener("SIGHUP", onHangup);
      watcher?.close();
    },
  };
}
