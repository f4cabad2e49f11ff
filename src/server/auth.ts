import type { MiddlewareHandler } from "hono";
import { errorResponse } from "./errors.ts";

/**
 * Requires one of `tokens` as `x-api-key` or `Authorization: Bearer`, the two ways Claude Code sends
 * `ANTHROPIC_API_KEY` and `ANTHROPIC_AUTH_TOKEN`. With no tokens configured (allowed only on loopback)
 * every request passes.
 *
 * @example
 * ```ts
 * app.use("/v1/*", clientAuth(["rly_4f9c..."]));
 * ```
 */
export function clientAuth(tokens: readonly string[]): MiddlewareHandler {
  const expected = tokens.map((token) => _encoder.encode(token));
  return async (c, next) => {
    if (expected.length === 0) return await next();
    const offered = _offeredToken(c.req.raw.headers);
    if (offered === undefined) {
      return errorResponse(401, "missing client token: send it as x-api-key or Authorization: Bearer");
    }
    const bytes = _encoder.encode(offered);
    if (!expected.some((token) => _constantTimeEqual(token, bytes))) {
      return errorResponse(401, "invalid client token");
    }
    await next();
  };
}

const _encoder = new TextEncoder();

function _offeredToken(headers: Headers): string | undefined {
  const apiKey = headers.get("x-api-key");
  if (apiKey) return apiKey;
  const match = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "");
  return match?.[1].trim();
}

/** Compares every byte whatever the first difference, so timing does not reveal a token's prefix. */
function _constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.byteLength ^ b.byteLength;
  for (let i = 0; i < a.byteLength; i++) difference |= a[i] ^ (b[i % b.byteLength] ?? 0);
  return difference === 0;
}
