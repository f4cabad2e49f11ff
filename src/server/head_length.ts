import type { MiddlewareHandler } from "hono";
import type { RelayEnv } from "./request_id.ts";

/**
 * Gives a HEAD answer the `content-length` its GET would have. Hono answers HEAD as GET with the body
 * left out, and Deno then sends `content-length: 0`, which says the GET's body is empty (RFC 9110 §8.6
 * allows only its real length). For the short answers a HEAD is sent to (a health check, the model list,
 * a scrape), the body is read to count it. Never for a stream that does not end (`/admin/events`).
 *
 * @example
 * ```ts
 * app.get("/health", headLength(), (c) => c.json({ status: "ok" }));
 * ```
 */
export function headLength(): MiddlewareHandler<RelayEnv> {
  return async (c, next) => {
    await next();
    if (c.req.method !== "HEAD" || !c.res.body || c.res.headers.has("content-length")) return;
    const bytes = await c.res.arrayBuffer();
    const counted = new Response(bytes, c.res);
    counted.headers.set("content-length", String(bytes.byteLength));
    c.res = counted;
  };
}
