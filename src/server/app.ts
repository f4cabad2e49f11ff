import { Hono } from "hono";
import { ClientRegistry, namedClients } from "../ledger/clients.ts";
import { VERSION } from "../version.ts";
import { clientAuth } from "./auth.ts";
import { chatCompletions } from "./chat_completions.ts";
import { errorResponse } from "./errors.ts";
import { servedModels } from "./models.ts";
import { relay, type RelayOptions } from "./relay.ts";
import { type RelayEnv, requestId } from "./request_id.ts";

export interface AppOptions extends Omit<RelayOptions, "parsedBody"> {
  /**
   * Client tokens; empty means no client auth (loopback only, enforced by the config). `clients`, when
   * given, takes their place, with names and limits.
   */
  tokens: readonly string[];
}

/**
 * relay's HTTP surface: the Anthropic routes Claude Code and the SDKs call, and `/health`.
 * Anything else gets a 404 in Anthropic's error shape, which the SDKs can parse.
 *
 * @example
 * ```ts
 * Deno.serve(createApp({ ...relayOptions, tokens: [] }).fetch);
 * ```
 */
export function createApp(options: AppOptions): Hono<RelayEnv> {
  const app = new Hono<RelayEnv>();
  // The front door's translations, parsed, keyed by the request that carries them to `/v1/messages`:
  // only a request this app made can be found, and its entry goes when the request does.
  const parsedBodies = new WeakMap<Request, Record<string, unknown>>();
  const forward = relay({ ...options, parsedBody: (request) => parsedBodies.get(request) });
  app.use(requestId());
  app.get("/health", (c) => c.json({ status: "ok", version: VERSION }));
  const clients = options.clients ?? new ClientRegistry(namedClients(options.tokens));
  app.use("/v1/*", clientAuth(clients));
  app.post("/v1/messages", forward);
  app.post("/v1/messages/count_tokens", forward);
  const dispatch = async (request: Request, messages: Record<string, unknown>) => {
    parsedBodies.set(request, messages);
    return await app.fetch(request);
  };
  // What a reload changes is read per request, as relay's own handler reads it.
  const current = () => options.settings?.() ?? options;
  app.post("/v1/chat/completions", chatCompletions({ dispatch, maxBodyBytes: () => current().maxBodyBytes }));
  const models = servedModels(() => current().router, clients);
  app.get("/v1/models", models, forward);
  app.get("/v1/models/:id", models, forward);
  app.notFound((c) => errorResponse(404, `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    options.logger.error("unhandled", {
      request_id: c.get("requestId"),
      error: String(error?.stack ?? error),
    });
    return errorResponse(500, "relay failed to handle the request; see relay's log");
  });
  return app;
}
