import type { MiddlewareHandler } from "hono";
import type { RelayEnv } from "./request_id.ts";

/**
 * Gives a HEAD answer the `content-length` its GET would have. Hono answers HEAD as GET with the body
 * left out, and Deno then sends `content-length: 0`, which says the GET's body is empty (RFC 9110 §8.6
 * allows only its real length). For the short answers a HEAD is sent to (a health check, the model list,
 * a scrape, the admin API, a 404), the body is read to count it. Never for an event stream, which does
 * not end (`/admin/events`).
 *
 * @example
 * ```ts
 * app.use(headLength());
 * ```
 */
export function headLength(): MiddlewareHandler<RelayEnv> {
  return async (c, next) => {
    if (c.req.method !== "HEAD") return await next();
    await next();
    const { res } = c;
    if (!res.body || res.headers.has("content-length")) return;
    if (res.headers.get("content-type")?.startsWith("text/event-stream")) return;
    const bytes = await c.res.arrayBuffer();
    const counted = new Response(bytes, c.res);
    counted.headers.set("content-length", String(bytes.byteLength));
    c.res = counted;
  };
}
