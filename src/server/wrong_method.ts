import type { Context, Env, Hono } from "hono";
import { RelayError } from "./errors.ts";

/**
 * Answers a route of `app` asked with a method it does not take (`GET /admin/reload`) with `405` and an
 * `Allow` header naming the methods it takes: a 404 would say the route is not there, and send whoever
 * mistyped the method looking for another path. Call it once every route is added; the middleware `app`
 * has (the admin token, client tokens) runs first, so a caller it refuses learns nothing of the routes.
 * `answer` shapes the error (OpenAI's on OpenAI routes); Anthropic's unless given.
 *
 * @example
 * ```ts
 * admin.post("/reload", reloadRoute(runtime));
 * refuseWrongMethods(admin);
 * ```
 */
export function refuseWrongMethods<E extends Env>(
  app: Hono<E>,
  answer: (c: Context<E>, error: RelayError) => Response = (_c, error) => error.toResponse(),
): void {
  const methods = new Map<string, Set<string>>();
  // Middleware (`use`) is registered for every method: not a route.
  for (const { path, method } of app.routes) {
    if (method === "ALL") continue;
    methods.set(path, (methods.get(path) ?? new Set()).add(method));
    // Hono answers HEAD as GET.
    if (method === "GET") methods.get(path)!.add("HEAD");
  }
  for (const [path, allowed] of methods) {
    const allow = [...allowed].join(", ");
    app.all(
      path,
      (c) => answer(c, new RelayError(405, `${c.req.path} takes ${allow}, not ${c.req.method}`, { allow })),
    );
  }
}
