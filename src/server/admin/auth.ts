import type { MiddlewareHandler } from "hono";
import { sameSecret } from "../../util/secret.ts";
import { bearerToken } from "../auth.ts";
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
    const offered = bearerToken(c.req.raw.headers);
    if (offered === undefined) {
      return errorResponse(
        401,
        "missing admin token: send server.admin.token as Authorization: Bearer",
        _CHALLENGE,
      );
    }
    if (!sameSecret(_encoder.encode(offered), _encoder.encode(expected))) {
      return errorResponse(401, "invalid admin token", _CHALLENGE);
    }
    await next();
  };
}

const _CHALLENGE = { "www-authenticate": 'Bearer realm="relay admin"' };
const _encoder = new TextEncoder();
