import type { Context, MiddlewareHandler } from "hono";
import type { ClientRegistry } from "../ledger/clients.ts";
import { NOT_RETRIED } from "./errors.ts";
import type { RelayEnv } from "./request_id.ts";

/** relay's own error answer to a request, in the error shape of the route it came to, with `headers`. */
export type Refusal = (
  c: Context<RelayEnv>,
  status: number,
  message: string,
  headers?: HeadersInit,
) => Response;

/**
 * Requires a client token as `x-api-key` or `Authorization: Bearer`, the two ways Claude Code sends
 * `ANTHROPIC_API_KEY` and `ANTHROPIC_AUTH_TOKEN`, and names the request's client (`c.get("client")`)
 * for limits, the access log and the ledger. Either may hold it: with both set (a shell that still has
 * the user's own `ANTHROPIC_API_KEY`, and `relay env`'s `ANTHROPIC_AUTH_TOKEN`), Claude Code sends
 * both. With no clients configured (allowed only on loopback) every request passes, unnamed.
 *
 * @example
 * ```ts
 * const clients = new ClientRegistry([{ name: "ci", token: "rly_4f9c..." }]);
 * app.use("/v1/*", clientAuth(clients, (_c, status, message) => errorResponse(status, message)));
 * ```
 */
export function clientAuth(
  clients: ClientRegistry,
  refuse: Refusal,
): MiddlewareHandler<RelayEnv> {
  // A wrong or missing token is the person's to mend: told not to retry it, Claude Code stops at once
  // (on a bare 401 it retried for three minutes).
  return async (c, next) => {
    if (clients.size === 0) return await next();
    const headers = c.req.raw.headers;
    const tokens = [headers.get("x-api-key"), bearerToken(headers)];
    const offered = tokens.filter((token): token is string => !!token);
    if (offered.length === 0) {
      return refuse(
        c,
        401,
        "missing client token: send it as x-api-key or Authorization: Bearer",
        NOT_RETRIED,
      );
    }
    let client: string | undefined;
    for (const token of offered) {
      client = clients.identify(token);
      if (client !== undefined) break;
    }
    if (client === undefined) return refuse(c, 401, "invalid client token", NOT_RETRIED);
    c.set("client", client);
    await next();
  };
}

/**
 * The token of an `Authorization: Bearer` header, if there is one.
 *
 * @example
 * ```ts
 * bearerToken(new Headers({ authorization: "Bearer rly_4f9c" })); // "rly_4f9c"
 * ```
 */
export function bearerToken(headers: Headers): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")?.[1].trim();
}
