import { Hono } from "hono";
import { adminAuth } from "./auth.ts";
import { reloadRoute, switchRoute } from "./control.ts";
import { eventsRoute } from "./events.ts";
import { adminStatus, type StatusSources } from "./status.ts";
import { refuseWrongMethods } from "../wrong_method.ts";

/** What the admin API reads: the same as its status. */
export type AdminOptions = StatusSources;

/** Where the admin API answers, once mounted. */
export const ADMIN_PREFIX = "/admin";

/**
 * The admin API, to mount under {@linkcode ADMIN_PREFIX}. Every route needs `server.admin.token` as a
 * bearer token; with none configured the API is off (404), whatever the address relay binds.
 *
 * - `GET /status`: providers, keys (masked), breakers, pools, load, config version, last reload error,
 *   the usage ledger's health
 * - `POST /reload`: reads the config file again
 * - `POST /providers/:provider/(enable|disable)`, `POST /providers/:provider/keys/:key/(enable|disable)`
 * - `GET /events`: the live event stream (SSE)
 *
 * Another method on one of these is a 405 with `Allow`, once the token passed.
 *
 * @example
 * ```ts
 * const started = { at: Date.now(), monotonic: runtime.monotonic() };
 * app.route(ADMIN_PREFIX, adminRoutes({ runtime, limiter, inFlight, started, ledger }));
 * ```
 */
export function adminRoutes(options: AdminOptions): Hono {
  const { runtime } = options;
  const admin = new Hono();
  admin.use(
    "*",
    adminAuth(
      () => runtime.current.config.server.admin.token,
      "the admin API is off: set server.admin.token in relay's config",
    ),
  );
  admin.get("/status", (c) => c.json(adminStatus(options)));
  admin.post("/reload", reloadRoute(runtime));
  for (const [action, enabled] of [["enable", true], ["disable", false]] as const) {
    admin.post(`/providers/:provider/${action}`, switchRoute(runtime, enabled));
    admin.post(`/providers/:provider/keys/:key/${action}`, switchRoute(runtime, enabled));
  }
  admin.get("/events", eventsRoute(runtime));
  refuseWrongMethods(admin);
  return admin;
}
