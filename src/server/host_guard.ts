import type { MiddlewareHandler } from "hono";
import { isLoopbackHost } from "../config/schema.ts";
import { withoutBrackets, withoutFinalDot } from "../util/host_name.ts";
import type { Refusal } from "./auth.ts";
import type { RelayEnv } from "./request_id.ts";

/**
 * Refuses a request addressed to relay by a name that is neither a loopback one nor in `allowedHosts()`,
 * for relay on a loopback address. A web page can rebind its own name to 127.0.0.1 (DNS rebinding):
 * its requests to relay are then same-origin, so they need no CORS preflight and may carry any header
 * (the browser guard's opt-in among them: see browser_guard.ts), and its GETs carry no `Origin` at all.
 * With no client tokens, as relay runs on loopback by default, the page would spend relay's keys and
 * read `/metrics`. What the page cannot change is the `Host` its browser sends: its own name.
 *
 * Loopback names are `localhost` and `*.localhost`, 127.0.0.0/8 in any form a URL parser takes
 * (`127.1`, which browsers send as `127.0.0.1`), and `[::1]`, in any case, with or without a port or a
 * final dot; `0.0.0.0` is none (browsers reach it as this machine: the "0.0.0.0 day"). `allowedHosts()`
 * (`server.allowed_hosts`: a reverse proxy's name, an /etc/hosts alias) is read per request, so a
 * reload changes it, and its names are matched whole, in any case, whatever the port. A request with no
 * Host (HTTP/1.0) passes, as browsers always send one; so does a `CONNECT`, which no page can send and
 * which only gets relay's 405.
 *
 * Not used on any other address: relay there requires client tokens, which no page holds, and is
 * reached by LAN names and addresses no list could foresee.
 *
 * @example
 * ```ts
 * app.use(refuseOtherHosts(() => ["relay.internal"], (_, status, message) => Response.json({ message }, { status })));
 * ```
 */
export function refuseOtherHosts(
  allowedHosts: () => readonly string[],
  refuse: Refusal,
): MiddlewareHandler<RelayEnv> {
  // Built again only when a reload brings another list.
  let listed: readonly string[] | undefined;
  let allowed = new Set<string>();
  return async (c, next) => {
    const host = c.req.raw.headers.get("host");
    if (host !== null && !_isUsualLoopbackHost(host)) {
      const given = allowedHosts();
      if (given !== listed) {
        listed = given;
        allowed = new Set(given.map((name) => withoutBrackets(name.toLowerCase())));
      }
      const name = _hostName(host);
      if (!_isLoopbackName(name) && !allowed.has(name) && c.req.method !== "CONNECT") {
        const shown = host === "" ? '""' : host.slice(0, 200);
        return refuse(
          c,
          403,
          "relay on a loopback address answers only requests addressed to it by a loopback name, not " +
            `Host: ${shown} (a web page's DNS rebinding looks like this); if you reach relay by that ` +
            "name, add it to server.allowed_hosts",
        );
      }
    }
    await next();
  };
}

/** What nearly every client sends, told without parsing: `127.0.0.1:8787`, `localhost:8787`. */
function _isUsualLoopbackHost(host: string): boolean {
  return host.startsWith("127.0.0.1:") || host.startsWith("localhost:") || host === "127.0.0.1" ||
    host === "localhost";
}

/** A Host's name: lower case, without its port, its final dot, or an IPv6 address's brackets. */
function _hostName(host: string): string {
  const colon = host.lastIndexOf(":");
  const name = (colon > host.lastIndexOf("]") ? host.slice(0, colon) : host).toLowerCase();
  return withoutBrackets(withoutFinalDot(name));
}

/** `name` as {@linkcode _hostName} gives it: which no DNS answer, so no web page, can point elsewhere. */
function _isLoopbackName(name: string): boolean {
  if (name === "localhost" || name.endsWith(".localhost") || isLoopbackHost(name)) return true;
  // IPv4's other spellings (`127.1`, `0x7f.1`, `2130706433`) as a URL parser reads them: no DNS name.
  if (!/^[\da-fx.]+$/.test(name)) return false;
  const parsed = URL.parse(`http://${name}/`)?.hostname;
  return parsed !== undefined && /^127\.\d+\.\d+\.\d+$/.test(parsed);
}
