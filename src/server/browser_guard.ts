import type { MiddlewareHandler } from "hono";
import type { Refusal } from "./auth.ts";
import type { RelayEnv } from "./request_id.ts";

/**
 * Refuses a request a web page made. A browser adds `Origin` to every POST and every cross-origin
 * request; API clients (Claude Code, the SDKs outside a browser) send none. relay holds provider keys
 * and on loopback may need no client token, so without this any page its user visits could spend them
 * with a request no CORS preflight guards (`mode: "no-cors"`, `text/plain`), and relay's dropping of
 * `Origin` upstream would hide it from Anthropic's own check. As Anthropic's API does, a request that
 * says `anthropic-dangerous-direct-browser-access: true` passes: a page can send that header only after
 * a preflight, which relay never grants.
 *
 * @example
 * ```ts
 * app.use("/v1/*", refuseWebPages((c, status, message) => c.json({ error: message }, status)));
 * ```
 */
export function refuseWebPages(refuse: Refusal): MiddlewareHandler<RelayEnv> {
  return async (c, next) => {
    const { headers } = c.req.raw;
    const origin = headers.get("origin");
    if (origin !== null && headers.get("anthropic-dangerous-direct-browser-access") !== "true") {
      return refuse(
        c,
        403,
        `relay does not take requests from web pages (this one came from Origin ${
          JSON.stringify(origin.slice(0, 200))
        }): any page could spend relay's keys. API clients send no Origin header`,
      );
    }
    await next();
  };
}
