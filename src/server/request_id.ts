import type { MiddlewareHandler } from "hono";

/** The Hono environment of relay's routes: what middleware leaves for handlers. */
export interface RelayEnv {
  /**
   * `client`: the name of the client whose token the request carries (`clientAuth`). `handlerLogs`:
   * the handler writes the request's access line itself (relay's, once the answer has ended); other
   * requests get theirs from the app.
   */
  Variables: { requestId: string; client?: string; handlerLogs?: boolean };
}

/** Printable, short, no separators that would let a client forge log fields. */
const _ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id: the client's `x-request-id` when it is sane, else a fresh one. It is
 * returned in `x-request-id` and logged beside the upstream's `request-id`, so one line ties the two.
 * An answer without a `request-id` of its own (relay's errors, an upstream that sends none) gets the
 * same id there too: that header is what Anthropic's SDKs show as an error's `requestID`.
 *
 * @example
 * ```ts
 * app.use(requestId());
 * app.get("/", (c) => c.text(c.get("requestId")));
 * ```
 */
export function requestId(generate: () => string = _newRequestId): MiddlewareHandler<RelayEnv> {
  return async (c, next) => {
    const offered = c.req.header("x-request-id");
    const id = offered && _ACCEPTABLE.test(offered) ? offered : generate();
    c.set("requestId", id);
    await next();
    const { headers } = c.res;
    headers.set("x-request-id", id);
    if (!headers.has("request-id")) headers.set("request-id", id);
  };
}

/** A fresh request id, `relay_` and 32 hex digits. */
function _newRequestId(): string {
  return `relay_${crypto.randomUUID().replaceAll("-", "")}`;
}
