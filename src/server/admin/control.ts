import type { Context } from "hono";
import { errorResponse } from "../errors.ts";
import type { Runtime } from "../runtime.ts";

/**
 * `POST /admin/providers/:provider[/keys/:key]/(enable|disable)`: switches a provider or one of its
 * keys (its place in the list, from 0, or its name) on or off in the config serving now. Off, it takes
 * no new requests and those under way finish; on, its breakers close (`Router.setEnabled`), so it is
 * tried again at once. The switch lasts until a reload changes that provider.
 *
 * @example
 * ```ts
 * app.post("/admin/providers/:provider/disable", switchRoute(runtime, false));
 * ```
 */
export function switchRoute(runtime: Runtime, enabled: boolean): (c: Context) => Response {
  return (c) => {
    const provider = c.req.param("provider")!;
    const ref = c.req.param("key");
    const switched = runtime.current.router.setEnabled(provider, enabled, ref);
    if (!switched) {
      const what = ref === undefined ? `provider ${provider}` : `key ${ref} of provider ${provider}`;
      return errorResponse(404, `no ${what} in config version ${runtime.current.version}`);
    }
    // The key as logs show it, whatever the URL called it (`1`, `00`, a name).
    const { key } = switched;
    runtime.logger.warn(enabled ? "switched on" : "switched off", { provider, key, by: "admin API" });
    runtime.events.publish({ type: "switch", data: { provider, key, enabled } });
    return Response.json({ provider, ...(key === undefined ? {} : { key }), enabled });
  };
}

/**
 * `POST /admin/reload`: reads the config file again; 200 with the new version and what changed, or
 * 422 with the error when the file is refused (the previous config keeps serving); either with the
 * file's `path`, which `relay reload -c` compares with the file it was given.
 *
 * @example
 * ```ts
 * app.post("/admin/reload", reloadRoute(runtime));
 * ```
 */
export function reloadRoute(runtime: Runtime): () => Promise<Response> {
  return async () => {
    const result = await runtime.reload("admin API");
    const path = runtime.current.path ?? null;
    if (!result.ok) return Response.json({ ...result, path }, { status: 422 });
    const { changes, needsRestart, ...rest } = result;
    return Response.json({ ...rest, ...changes, needs_restart: needsRestart, path });
  };
}
