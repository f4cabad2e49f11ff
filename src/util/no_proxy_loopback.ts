import { withoutTrailing } from "./without_trailing.ts";

/** The environment as relay reads and changes it: `Deno.env` in use, a record in tests. */
export type ProxyEnv = Pick<Deno.Env, "get" | "set">;

/** The variables Deno's fetch (and curl, and relay's child processes) take a proxy from. */
const _PROXY_VARIABLES = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];

/**
 * Loopback as Deno's `NO_PROXY` matches it: `127.0.0.0/8` for a relay or upstream on another 127 address
 * (with `127.0.0.1` for tools that take no ranges), and `::1`, as an IPv6 address in brackets (`[::1]`)
 * would not match.
 */
const _LOOPBACK = ["127.0.0.1", "127.0.0.0/8", "localhost", "::1"];

/**
 * Deno's fetch sends even 127.0.0.1 through a configured proxy unless `NO_PROXY` names it, where Go's
 * net/http and curl never proxy loopback: on a machine with `HTTP_PROXY` set, relay would hand the proxy
 * its admin token (`relay status`), a provider key and prompts (an `http://127.0.0.1` upstream), and the
 * bench's traffic. So when a proxy is configured, loopback joins `NO_PROXY` and `no_proxy`, keeping what
 * they name. Deno reads them once, when the first request is made: this must run before any fetch. The
 * processes and workers relay starts see the same environment.
 *
 * @example
 * ```ts
 * bypassProxyForLoopback(); // HTTP_PROXY=http://proxy:3128 NO_PROXY=.corp -> NO_PROXY=.corp,127.0.0.1,127.0.0.0/8,localhost,::1
 * ```
 */
export function bypassProxyForLoopback(env: ProxyEnv = Deno.env): void {
  if (!_PROXY_VARIABLES.some((name) => env.get(name))) return;
  const upper = env.get("NO_PROXY");
  const lower = env.get("no_proxy");
  // Deno reads NO_PROXY first and curl no_proxy: each keeps its own list, or takes the other's.
  env.set("NO_PROXY", _withLoopback(upper || lower || ""));
  env.set("no_proxy", _withLoopback(lower || upper || ""));
}

function _withLoopback(current: string): string {
  // Even beside `*`, which Deno matches against host names only, never an address such as 127.0.0.1.
  const hosts = current.split(",").map((host) => host.trim().toLowerCase());
  const missing = _LOOPBACK.filter((host) => !hosts.includes(host));
  return [withoutTrailing(current, /[\s,]/), ...missing].filter(Boolean).join(",");
}
