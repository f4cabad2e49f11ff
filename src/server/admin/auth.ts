import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { errorResponse } from "../errors.ts";

/**
 * Requires the admin token (`server.admin.token`) as `Authorization: Bearer`; client tokens never
 * pass. `token` is read on every request, so a reload that changes it applies at once; while none is
 * configured the routes behind it answer 404 with `off`, the reason they are off.
 *
 * @example
 * ```ts
 * app.use("/admin/*", adminAuth(() => runtime.current.config.server.admin.token, "the admin API is off"));
 * ```
 */
export function adminAuth(token: () => string | undefined, off: string): MiddlewareHandler {
  return async (c, next) => {
    const expected = token();
    if (expected === undefined) return errorResponse(404, off);
    const offered = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1].trim();
    if (offered === undefined) {
      return errorResponse(
        401,
        "missing admin token: send server.admin.token as Authorization: Bearer",
        _CHALLENGE,
      );
    }
    if (!_sameSecret(offered, expected)) return errorResponse(401, "invalid admin token", _CHALLENGE);
    await next();
  };
}

const _CHALLENGE = { "www-authenticate": 'Bearer realm="relay admin"' };

/** Compares digests, which have the same length whatever was offered, in constant time. */
function _sameSecret(offered: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(offered), digest(expected));
}
