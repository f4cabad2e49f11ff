import type { Context, Next } from "hono";
import type { Router } from "../routing/router.ts";
import { errorResponse } from "./errors.ts";

/**
 * `GET /v1/models` and `/v1/models/{id}` when the config names its models: relay answers with what it
 * serves (Claude Code's gateway model discovery reads this list). When no provider has a `models:`
 * table, every model passes through under its own name, so the request goes on to the first provider.
 * `router` is asked on every request, so the answer follows config reloads.
 *
 * @example
 * ```ts
 * app.get("/v1/models", servedModels(() => router), forward);
 * ```
 */
export function servedModels(current: () => Router) {
  return async (c: Context, next: Next): Promise<Response | void> => {
    const router = current();
    if (router.routes.every((route) => route.models.servesAll)) return await next();
    const names = [...new Set(router.routes.flatMap((route) => route.models.names))];
    const id = c.req.param("id");
    if (id === undefined) {
      const data = names.map(_modelInfo);
      return c.json({ data, has_more: false, first_id: names[0] ?? null, last_id: names.at(-1) ?? null });
    }
    if (!router.routes.some((route) => route.models.resolve(id) !== undefined)) {
      return errorResponse(404, `model ${id} is not served by any provider`);
    }
    return c.json(_modelInfo(id));
  };
}

/** Anthropic's ModelInfo; relay knows no release date, so it reports the epoch rather than invent one. */
function _modelInfo(id: string) {
  return { type: "model", id, display_name: id, created_at: "1970-01-01T00:00:00Z" };
}
