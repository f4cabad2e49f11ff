/**
 * Claude on Google Vertex AI. Vertex speaks Anthropic's format with three differences, all on the way
 * in: the model goes in the URL, the body carries `anthropic_version` instead of `model`, and the
 * credential is a Google OAuth token. Answers come back as Anthropic bytes and pass through untouched,
 * except the errors Google's front end raises itself, which are rewritten into Anthropic's envelope.
 */
import { errorEnvelope, errorResponse, errorTypeForStatus } from "../server/errors.ts";
import { MAX_ERROR_BODY_BYTES, translateWhole } from "../stream/translate_whole.ts";
import { copyHeaders, headerPairs, WITHOUT_LENGTH } from "../util/headers.ts";
import { asJsonObject } from "../util/json.ts";
import { realTimers, type Timers } from "../util/timers.ts";
import { withoutTrailing } from "../util/without_trailing.ts";
import {
  betaList,
  fieldsOf,
  keptBetas,
  RefusedBetas,
  unexpectedBetas,
  withoutFields,
} from "./anthropic_betas.ts";
import { idleDeadline, peekRefusal } from "./error_peek.ts";
import { editTopLevelJson } from "./json_edit.ts";
import { withoutUnsignedThinking } from "./unsigned_thinking.ts";
import { sendWithToken, type TokenSource } from "./token_cache.ts";
import { type Provider, type ProviderRequest, UnservableError } from "./types.ts";

const _ANTHROPIC_VERSION = "vertex-2023-10-16";

/**
 * One path segment: `claude-sonnet-4-5@20250929`. Anything else could walk the URL, with relay's
 * token, to another resource (`..`, `/`) or method (`:`).
 */
const _MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;

/**
 * The token relay gets from the service account replaces any the request had; the betas go on as relay
 * filters them.
 */
const _NOT_PASSED: ReadonlySet<string> = new Set(["authorization", "anthropic-beta"]);

const _COUNT_TOKENS = "/v1/messages/count_tokens";

export interface VertexProviderOptions {
  name: string;
  /** Google Cloud project id. */
  project: string;
  /** A region (`us-east5`), `global`, or a multi-region (`us`, `eu`); picks the host too. */
  region: string;
  /** Replaces `https://{host}`, e.g. with a fake in tests; `/v1/projects/...` is appended to it. */
  baseUrl?: string;
  /** The bearer tokens, e.g. {@link googleServiceAccountTokens}. */
  tokens: TokenSource;
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
  /**
   * Told of betas a model refused for the first time (Vertex's `Unexpected value(s)` 400): they are
   * dropped from that model's requests from then on, until the provider is built anew.
   */
  onBetasRefused?: (model: string, betas: string[]) => void;
  /** The timer bounding a look into a 400 by the request's `idleMs`; injected for tests. */
  timers?: Timers;
}

/**
 * The Vertex AI host for a location, as Anthropic's Vertex SDK picks it.
 *
 * @example
 * ```ts
 * vertexBaseUrl("us-east5"); // "https://us-east5-aiplatform.googleapis.com"
 * vertexBaseUrl("global");   // "https://aiplatform.googleapis.com"
 * ```
 */
export function vertexBaseUrl(region: string): string {
  switch (region) {
    case "global":
      return "https://aiplatform.googleapis.com";
    case "us":
    case "eu":
      return `https://aiplatform.${region}.rep.googleapis.com`;
  }
  return `https://${region}-aiplatform.googleapis.com`;
}

/**
 * A Vertex AI upstream. `/v1/messages` goes to the model's `:streamRawPredict` or `:rawPredict`,
 * `/v1/messages/count_tokens` to `count-tokens:rawPredict`; the query string (`?beta=true`) means
 * nothing to Vertex and is dropped. A 401 drops the token and the request is sent once more with a
 * fresh one.
 *
 * Betas stay in the `anthropic-beta` header, but Vertex refuses a whole request, with a 400 no client
 * retries, for any value the model has not taken up (claude-code#34802, #12429, #53855; sub2api#3358),
 * and Claude Code sends Anthropic's first-party list. So the header goes without
 * {@linkcode FIRST_PARTY_ONLY_BETAS} and without those the model refused before; a 400 naming others is
 * sent once more without them, which are then remembered for the model. A count goes with no betas at
 * all: counting needs none, and `count-tokens:rawPredict` refuses most (claude-code#11154; LiteLLM PR
 * #39597 drops the header there). A body field of a beta asked for that does not go (`BETA_FIELDS`:
 * `context_management`, `output_config.effort`) goes neither, as Vertex would refuse it by name.
 *
 * @example
 * ```ts
 * const provider = createVertexProvider({
 *   name: "vertex", project: "my-project", region: "global",
 *   tokens: googleServiceAccountTokens({ credentialsFile: "/etc/relay/vertex-sa.json" }),
 * });
 * ```
 */
export function createVertexProvider(options: VertexProviderOptions): Provider {
  const base = withoutTrailing(options.baseUrl ?? vertexBaseUrl(options.region), /\//);
  const project = encodeURIComponent(options.project);
  const location = encodeURIComponent(options.region);
  const models = `${base}/v1/projects/${project}/locations/${location}/publishers/anthropic/models`;
  const doFetch = options.fetch ?? fetch;
  const refused = new RefusedBetas();
  const timers = options.timers ?? realTimers;
  return {
    name: options.name,
    type: "vertex",
    rateLimitsPerModel: true, // quotas are per model and region
    serves: _serves,
    async send(request: ProviderRequest): Promise<Response> {
      const target = _target(request, models);
      if (target instanceof Response) return target;
      const model = request.upstreamModel!;
      const headers = headerPairs(request.headers, _NOT_PASSED);
      const post = (betas: readonly string[]) => {
        const body = target.body(betas);
        return sendWithToken(options.tokens, "Vertex auth", request, (token) =>
          doFetch(target.url, {
            method: "POST",
            headers: [
              ...headers,
              ...(betas.length > 0 ? [["anthropic-beta", betas.join(",")] as [string, string]] : []),
              ["authorization", `Bearer ${token}`],
            ],
            body,
            signal: request.signal,
            redirect: "manual",
          }));
      };
      const betas = request.path === _COUNT_TOKENS
        ? []
        : target.asked.filter((beta) => !refused.has(model, beta));
      let response = await post(betas);
      if (response.status === 400 && betas.length > 0) {
        // A resend is a second connection: a stream waits for its headers under connect, as for the first
        // (`send` resolves with them). The peek is bounded as relay would bound reading that body.
        const seen = await peekRefusal(
          response,
          idleDeadline(request, timers),
          (text) => _unexpected(betas, text),
        );
        if (seen.answer) response = seen.answer;
        else {
          const unexpected = seen.refused;
          const learned = refused.learn(model, unexpected);
          if (learned.length > 0) options.onBetasRefused?.(model, learned);
          response = await post(betas.filter((beta) => !unexpected.includes(beta)));
        }
      }
      return response.ok ? response : _inAnthropicShape(response);
    },
  };
}

/**
 * Those of `betas` a 400's text (its first 16 KiB) names as unexpected values of the `anthropic-beta`
 * header, or `undefined` when it names none of them: the request then goes once more without those.
 */
function _unexpected(betas: readonly string[], text: string): string[] | undefined {
  const named = new Set(unexpectedBetas(text));
  const unexpected = betas.filter((beta) => named.has(beta));
  return unexpected.length > 0 ? unexpected : undefined;
}

/** Vertex has Messages and its token count, and no model list. */
function _serves(_method: string, path: string): boolean {
  return path === "/v1/messages" || path === _COUNT_TOKENS;
}

/**
 * Where a request goes, and its body for the betas it goes with: without the fields of those the client
 * asked for that do not go (`BETA_FIELDS`), which Vertex would refuse by name; or the error answer when
 * Vertex cannot serve it.
 */
function _target(
  request: ProviderRequest,
  models: string,
): { url: string; asked: string[]; body: (betas: readonly string[]) => Uint8Array<ArrayBuffer> } | Response {
  const { path, upstreamModel: model } = request;
  if (!_serves(request.method, path)) {
    throw new UnservableError(404, `Vertex AI has no ${request.method} ${path} endpoint`);
  }
  if (!request.body || model === undefined) {
    return errorResponse(400, `${path} needs a JSON body with a model`);
  }
  if (!_MODEL_ID.test(model)) {
    return errorResponse(
      400,
      `model ${JSON.stringify(model)} is not a Vertex AI model id (e.g. claude-x@20250101)`,
    );
  }
  const counting = path === _COUNT_TOKENS;
  const asked = keptBetas(betaList(request.headers.get("anthropic-beta")));
  const fields = fieldsOf(asked);
  // Vertex checks thinking signatures as Anthropic's API does.
  const body = withoutUnsignedThinking(request.body, request.json);
  const bodyWith = (betas: readonly string[]) => {
    const { remove, removeWithin } = withoutFields(fields.filter(({ beta }) => !betas.includes(beta)));
    return editTopLevelJson(body, {
      remove: counting ? remove : ["model", ...remove],
      set: { ...(counting && { model }), anthropic_version: _ANTHROPIC_VERSION },
      removeWithin,
    });
  };
  return {
    url: counting
      ? `${models}/count-tokens:rawPredict`
      : `${models}/${model}:${request.stream ? "streamRawPredict" : "rawPredict"}`,
    asked,
    body: bodyWith,
  };
}

/**
 * An error response the client's SDK can parse, at once. Google's front end answers auth, quota and
 * routing failures in its own shape, `{"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED"}}`;
 * those become Anthropic's envelope with the same status and message, except `503 UNAVAILABLE`, which
 * becomes `529 overloaded_error` like Anthropic's own overload. Any other JSON error keeps its text,
 * read as UTF-8 (a byte-order mark or an invalid sequence does not survive), and its status but 503,
 * which becomes 529 all the same: the status goes out before the body is read, and Anthropic's own
 * overload is already a 529. A body that is not JSON passes on untouched. A JSON body is read as
 * relay reads the answer, under its deadlines for a body rather than connect's or first_byte's wait for
 * an answer that has in fact come (and not at all when relay retries), up to
 * {@linkcode MAX_ERROR_BODY_BYTES}: past that, the envelope says so and quotes its start.
 */
function _inAnthropicShape(response: Response): Response {
  if (!(response.headers.get("content-type") ?? "").includes("json")) return response;
  const status = response.status === 503 ? 529 : response.status;
  const headers = copyHeaders(response.headers, WITHOUT_LENGTH);
  headers.set("content-type", "application/json");
  const body = translateWhole(response.body, MAX_ERROR_BODY_BYTES, ({ text, cut }) => {
    const message = cut
      ? `Vertex AI answered HTTP ${response.status} with an error body over ` +
        `${MAX_ERROR_BODY_BYTES / 1_048_576} MiB, which begins: ${text.slice(0, 500)}`
      : _googleErrorMessage(text);
    const json = message === undefined
      ? text
      : JSON.stringify(errorEnvelope(errorTypeForStatus(status), message));
    return [new TextEncoder().encode(json)];
  });
  return new Response(body, { status, headers });
}

/** `error.message` of a Google error body, whether bare or (as streaming methods send it) in an array. */
function _googleErrorMessage(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const body = asJsonObject(Array.isArray(parsed) && parsed.length === 1 ? parsed[0] : parsed);
  // Anthropic's envelope has an `error` object too, but also `"type": "error"`.
  const error = body?.type === undefined ? asJsonObject(body?.error) : undefined;
  if (typeof error?.code !== "number" || typeof error.message !== "string") return undefined;
  return error.message;
}
