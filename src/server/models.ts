import type { Context, Next } from "hono";
import type { Router } from "../routing/router.ts";
import { copyHeaders, WITHOUT_LENGTH } from "../util/headers.ts";
import { readBody } from "./body.ts";
import { errorResponse } from "./errors.ts";
import type { RelayEnv } from "./request_id.ts";

/** Which models each client (by name, `undefined` when unnamed) may use: a `ClientRegistry`. */
export interface ClientModels {
  /** Whether the client may use only some models. */
  limitsModels(client: string | undefined): boolean;
  /** Why the client may not use `model`; `undefined` when it may. */
  modelRefusal(client: string | undefined, model: string): string | undefined;
}

/**
 * The longest upstream model list relay reads to filter it; a client limited to some models gets an
 * error rather than an unfiltered list or a list held whole in memory.
 */
const _MAX_LIST_BYTES = 4 * 1024 * 1024;

/**
 * `GET /v1/models` and `/v1/models/{id}`. When the config names its models, relay answers with what it
 * serves (Claude Code's gateway model discovery reads this list). When no provider has a `models:`
 * table, every model passes through under its own name, so the request goes on to the first provider;
 * an id that could not stay one segment of the upstream's path is a 404 instead, and goes nowhere.
 * Either way a client limited to some models (`server.auth.tokens[].models`) sees only those, and asking
 * for another one by id is the 403 a request for it would get. `router` is asked on every request, so
 * the answer follows config reloads.
 *
 * @example
 * ```ts
 * app.get("/v1/models", servedModels(() => router, clients), forward);
 * ```
 */
export function servedModels(current: () => Router, clients: ClientModels) {
  return async (c: Context<RelayEnv>, next: Next): Promise<Response | void> => {
    const client = c.get("client");
    const allowed = (model: string) => clients.modelRefusal(client, model) === undefined;
    const id = c.req.param("id");
    const refused = id === undefined ? undefined : clients.modelRefusal(client, id);
    if (refused !== undefined) return errorResponse(403, refused);
    const router = current();
    if (router.routes.every((route) => route.models.servesAll)) {
      if (id !== undefined && !_isPathSegment(id)) {
        return errorResponse(
          404,
          `model ${
            JSON.stringify(id)
          } does not exist: no model id is "." or ".." or holds "/", "\\" or a control character`,
        );
      }
      await next();
      if (id === undefined && clients.limitsModels(client)) c.res = await _onlyAllowed(c.res, allowed);
      return;
    }
    if (id === undefined) {
      const names = [...new Set(router.routes.flatMap((route) => route.models.names))].filter(allowed);
      const page = _page(names, (name) => c.req.query(name));
      if (typeof page === "string") return errorResponse(400, page);
      // OpenAI's list too, for OpenAI-style clients of the front door.
      return c.json({ object: "list", ..._modelList(page.names.map(_modelInfo), page.hasMore) });
    }
    // A glob's own text matches it (`anth-*` resolves as `anth-*`), but names no model anyone serves.
    if (id.includes("*") || !router.routes.some((route) => route.models.resolve(id) !== undefined)) {
      return errorResponse(404, `model ${id} is not served by any provider`);
    }
    return c.json(_modelInfo(id));
  };
}

/**
 * Whether `id` can stay one path segment of the upstream's URL: URL parsing takes a `\` for a `/` and
 * resolves `.` and `..`, so such an id would reach another of the upstream's endpoints with relay's key.
 * No model's name has a control character.
 */
function _isPathSegment(id: string): boolean {
  return id !== "." && id !== ".." && !/[/\\\p{Cc}]/u.test(id);
}

/**
 * The page of `names` a list request asks for, as Anthropic's API pages it: `after_id` or `before_id`
 * (a model of the list) and at most `limit` (1 to 1000) models; or why the query is wrong. Without
 * `limit` the page is every model from there on: Claude Code reads the list without paging it.
 */
function _page(
  names: string[],
  query: (name: string) => string | undefined,
): { names: string[]; hasMore: boolean } | string {
  const limitText = query("limit");
  const limit = limitText === undefined ? names.length : Number(limitText);
  if (limitText !== undefined && !(/^\d+$/.test(limitText) && limit >= 1 && limit <= 1000)) {
    return `limit: expected a whole number from 1 to 1000, got ${JSON.stringify(limitText)}`;
  }
  const afterId = query("after_id");
  const beforeId = query("before_id");
  if (afterId !== undefined && beforeId !== undefined) return "after_id and before_id: give one, not both";
  const marker = afterId ?? beforeId;
  const at = marker === undefined ? -1 : names.indexOf(marker);
  if (marker !== undefined && at < 0) {
    return `${afterId !== undefined ? "after_id" : "before_id"}: ${
      JSON.stringify(marker)
    } is not in the list`;
  }
  if (beforeId !== undefined) {
    const from = Math.max(0, at - limit);
    return { names: names.slice(from, at), hasMore: from > 0 };
  }
  const from = at + 1;
  return { names: names.slice(from, from + limit), hasMore: from + limit < names.length };
}

/**
 * Anthropic's ModelInfo, with the fields OpenAI's model object adds for OpenAI-style clients of the
 * front door. relay knows no release date, so it reports the epoch (both ways) rather than invent one.
 * The owner is relay: a request for the model may go to any provider that serves it, so none owns it.
 */
function _modelInfo(id: string) {
  return {
    type: "model",
    id,
    display_name: id,
    created_at: "1970-01-01T00:00:00Z",
    object: "model",
    created: 0,
    owned_by: "relay",
  };
}

function _modelList(data: { id: string }[], hasMore = false) {
  return { data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

/** An upstream's model list without the models the client may not use; any other answer as it came. */
async function _onlyAllowed(response: Response, allowed: (model: string) => boolean): Promise<Response> {
  if (!response.ok || !(response.headers.get("content-type") ?? "").includes("json")) return response;
  let text: string;
  try {
    text = new TextDecoder().decode(await readBody(response, _MAX_LIST_BYTES));
  } catch {
    return errorResponse(
      502,
      `the upstream's model list is over ${_MAX_LIST_BYTES / 1_048_576} MiB or broke off; relay cannot ` +
        "filter it for a client limited to some models",
    );
  }
  const rebuilt = (body: string) =>
    new Response(body, { status: response.status, headers: response.headers });
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    return rebuilt(text);
  }
  const { data, has_more } = (list ?? {}) as { data?: unknown; has_more?: unknown };
  if (!Array.isArray(data)) return rebuilt(text);
  const kept = data.filter((model) => typeof model?.id === "string" && allowed(model.id));
  if (kept.length === data.length) return rebuilt(text);
  return new Response(JSON.stringify({ ...list as object, ..._modelList(kept, has_more === true) }), {
    status: response.status,
    headers: copyHeaders(response.headers, WITHOUT_LENGTH),
  });
}
