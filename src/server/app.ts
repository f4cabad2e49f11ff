import { type Context, Hono, type MiddlewareHandler } from "hono";
import { namedClients } from "../config/clients.ts";
import { ClientRegistry } from "../ledger/clients.ts";
import type { LogFields } from "../util/logger.ts";
import { VERSION } from "../version.ts";
import { clientAuth, type Refusal } from "./auth.ts";
import { refuseWebPages } from "./browser_guard.ts";
import { headLength } from "./head_length.ts";
import { refuseOtherHosts } from "./host_guard.ts";
import { BodyBudget } from "./body_budget.ts";
import { chatCompletions } from "./chat_completions.ts";
import type { FrontDoorOptions } from "./openai_front_door.ts";
import { RelayError } from "./errors.ts";
import { logRequest } from "./events.ts";
import { type InFlight, shutDownError } from "./in_flight.ts";
import { openaiErrorResponse } from "./openai_errors.ts";
import { realTimers } from "../util/timers.ts";
import { servedModels } from "./models.ts";
import { relay, type RelayOptions } from "./relay.ts";
import { responses } from "./responses.ts";
import { type RelayEnv, requestId } from "./request_id.ts";
import { refuseWrongMethods } from "./wrong_method.ts";

const _CHAT_COMPLETIONS_PATH = "/v1/chat/completions";
const _RESPONSES_PATH = "/v1/responses";
/** The routes of OpenAI's clients, which parse only OpenAI's error shape, and the paths under them. */
const _OPENAI_PATHS: readonly string[] = [_CHAT_COMPLETIONS_PATH, _RESPONSES_PATH];

export interface AppOptions extends Omit<RelayOptions, "parsedBody"> {
  /**
   * Client tokens; empty means no client auth (loopback only, enforced by the config). `clients`, when
   * given, takes their place, with names and limits.
   */
  tokens: readonly string[];
  /**
   * Given when relay listens on a loopback address: the names other than loopback ones a request may be
   * addressed to (`server.allowed_hosts`), read per request; any other `Host` is refused, as a web page's
   * DNS rebinding sends (see host_guard.ts). Left out, the `Host` is not checked.
   */
  allowedHosts?: () => readonly string[];
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
  // One clock for both routes' deadlines and keep-alives.
  const clock = { now: options.now ?? (() => performance.now()), timers: options.timers ?? realTimers };
  // One budget for both routes' bodies.
  const bodyBudget = options.bodyBudget ?? new BodyBudget();
  const forward = relay({
    ...options,
    ...clock,
    bodyBudget,
    parsedBody: (request) => parsedBodies.get(request),
  });
  // What a reload changes is read per request, as relay's own handler reads it.
  const current = () => options.settings?.() ?? options;
  app.use(requestId());
  app.use(_accessLine(current));
  // Before anything that reads state or spends a key, /metrics and the admin API included.
  if (options.allowedHosts) app.use(refuseOtherHosts(options.allowedHosts, _answerError));
  app.use(_refuseWhileShuttingDown(options.inFlight, (request) => parsedBodies.has(request)));
  app.use(headLength());
  app.get("/health", (c) => c.json({ status: "ok", version: VERSION }));
  // Claude Code warms its connection up at every start and ignores the answer: 2.1.328 with a
  // `HEAD /api/hello`, earlier 2.1 versions with a `HEAD` of its base URL. A 404 would be an error line
  // in relay's log each time.
  for (const path of ["/", "/api/hello"]) app.get(path, (c) => c.json({ status: "ok" }));
  const clients = clientsOf(options);
  app.use("/v1/*", refuseWebPages(_answerError));
  app.use("/v1/*", clientAuth(clients, _answerError));
  app.post("/v1/messages", forward);
  app.post("/v1/messages/count_tokens", forward);
  const dispatch = async (request: Request, messages: Record<string, unknown>) => {
    parsedBodies.set(request, messages);
    return await app.fetch(request);
  };
  const frontDoor: FrontDoorOptions = {
    dispatch,
    maxBodyBytes: () => current().maxBodyBytes,
    bodyTimeoutMs: () => current().bodyTimeoutMs,
    bodyHold: () => bodyBudget.open(current().maxBodyMemory),
    keepaliveMs: () => current().keepaliveMs,
    cut: options.inFlight.cut,
    clock,
  };
  app.post(_CHAT_COMPLETIONS_PATH, chatCompletions(frontDoor));
  app.post(_RESPONSES_PATH, responses(frontDoor));
  const models = servedModels(() => current().router, clients);
  app.get("/v1/models", models, forward);
  app.get("/v1/models/:id", models, forward);
  refuseWrongMethods(app, _refusal);
  app.notFound((c) =>
    c.req.method === "CONNECT"
      ? _refusal(
        c,
        new RelayError(
          405,
          `relay is not an HTTP proxy (CONNECT ${_shownPath(c)}): a client reaches relay at its own URL ` +
            "(ANTHROPIC_BASE_URL), not through HTTPS_PROXY",
          { allow: "GET, HEAD, POST" },
        ),
      )
      : _answerError(c, 404, `no route for ${c.req.method} ${c.req.path}`)
  );
  app.onError((error, c) => {
    options.logger.error("unhandled", {
      request_id: c.get("requestId"),
      error: String(error?.stack ?? error),
    });
    return _answerError(c, 500, "relay failed to handle the request; see relay's log");
  });
  return app;
}

/** The clients `options` names: its `clients`, else its bare `tokens` as unlimited clients. */
export function clientsOf(options: Pick<AppOptions, "clients" | "tokens">): ClientRegistry {
  return options.clients ?? new ClientRegistry(namedClients(options.tokens));
}

/** `status` and `message` answered as {@linkcode _refusal} answers a {@linkcode RelayError}. */
const _answerError: Refusal = (c, status, message, headers) =>
  _refusal(c, new RelayError(status, message, headers));

/**
 * OpenAI's clients parse only OpenAI's error shape, on their routes and under them (a stored response's
 * `GET /v1/responses/{id}`, which relay has not, a path with a final `/`); everyone else gets Anthropic's.
 */
function _refusal(c: Context<RelayEnv>, error: RelayError): Response {
  const path = c.req.path;
  return _OPENAI_PATHS.some((route) => path === route || path.startsWith(`${route}/`))
    ? openaiErrorResponse(error.status, error.message, { type: error.type, headers: error.headers })
    : error.toResponse();
}

/**
 * Once a shutdown has begun, every new request (admin and `/health` too) is answered 503 on a connection
 * that closes, so the client's retry finds the next relay, or this one restarted, and not this one.
 * A request relay made itself (`ownRequest`: the front door's, for a client already under way) is not
 * new.
 */
function _refuseWhileShuttingDown(
  inFlight: InFlight,
  ownRequest: (request: Request) => boolean,
): MiddlewareHandler<RelayEnv> {
  const shuttingDown = shutDownError();
  return async (c, next) => {
    if (inFlight.shuttingDown && !ownRequest(c.req.raw)) return _refusal(c, shuttingDown);
    await next();
  };
}

/**
 * The access line of a request no handler logs itself: relay's own refusals (a missing token, an
 * unknown route, a front-door request it could not translate) and the model list it answers from the
 * config. Successful `/health`, `/metrics` and admin calls are left out: probes and scrapers would
 * bury the rest. Like relay's own lines, each goes to `onRequest` too: the event stream and metrics.
 */
function _accessLine(
  current: () => Pick<RelayOptions, "logger" | "onRequest">,
): MiddlewareHandler<RelayEnv> {
  return async (c, next) => {
    const start = performance.now();
    await next();
    const { status } = c.res;
    if (c.get("handlerLogs") || (status < 400 && !c.req.path.startsWith("/v1/"))) return;
    const { logger, onRequest } = current();
    const line: LogFields = {
      request_id: c.get("requestId"),
      client: c.get("client"),
      method: c.req.method,
      path: _shownPath(c),
      status,
      outcome: status < 400 ? "complete" : "relay_error",
      duration_ms: Math.round(performance.now() - start),
      error: status < 400 ? undefined : await _errorMessage(c.res),
    };
    logRequest(logger, onRequest, line);
  };
}

/**
 * A request's path as relay names it: a `CONNECT` (a client that took relay for its HTTPS proxy) has
 * none, only the host and port it asks for, of which Hono's `path` would keep the last character.
 */
function _shownPath(c: Context<RelayEnv>): string {
  return c.req.method === "CONNECT" ? new URL(c.req.url).host : c.req.path;
}

/** The message of an error answer in either shape, read from a copy. */
async function _errorMessage(response: Response): Promise<string | undefined> {
  try {
    const body = await response.clone().json();
    return typeof body?.error?.message === "string" ? body.error.message : undefined;
  } catch {
    return undefined;
  }
}
