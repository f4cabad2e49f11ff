import { errorEnvelope } from "../server/errors.ts";
import { jsonSyntaxReason } from "../server/body.ts";
import { anthropicErrorOf, anthropicFailureFor } from "../server/openai_errors.ts";
import { messageAsSse } from "../stream/message_as_sse.ts";
import { encodeSseEvent } from "../stream/sse_encode.ts";
import { sseOrWhole } from "../stream/sse_or_whole.ts";
import { MAX_WHOLE_ANSWER_BYTES, MAX_WHOLE_ANSWER_MIB, type WholeText } from "../stream/translate_whole.ts";
import { copyHeaders, hasMediaType, headerPairs, WITHOUT_LENGTH } from "../util/headers.ts";
import { isJsonObject } from "../util/json.ts";
import { editTopLevelJson } from "./json_edit.ts";
import { type Provider, type ProviderKey, type ProviderRequest, UnservableError } from "./types.ts";

export interface AnthropicProviderOptions {
  name: string;
  /** `anthropic`, `anthropic-compatible`, `zai`, `ollama` (or `azure`, through its own adapter): one wire format. */
  type: string;
  /** Origin plus any path prefix the upstream mounts the API under, e.g. `https://api.z.ai/api/anthropic`. */
  baseUrl: string;
  /** How the key travels: Anthropic takes `x-api-key`; many compatible gateways want a bearer token. */
  authHeader: "x-api-key" | "bearer";
  /**
   * Whether the upstream has `/v1/messages/count_tokens`; true unless told. Ollama has not: relay then
   * plans a token count over the providers that have it, and asks this one nothing.
   */
  countsTokens?: boolean;
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
}

/**
 * An Anthropic-format upstream. The body is forwarded as the client's own bytes and the response is
 * returned untouched, so thinking signatures and fields relay does not know survive the hop.
 *
 * But a streamed Messages request answered 200 in anything but `text/event-stream` is made the stream
 * it stands for, since an SDK reads nothing else. JSON (a server that ignores `stream`) is read whole
 * once relay reads the answer, under its deadlines for a body: a Message goes out as the events
 * Anthropic would have sent, an error body (`{"type":"error",…}`) as an `event: error` before
 * anything else, which relay retries or fails over by the status its type stands for, and anything
 * else, or a body over {@linkcode MAX_WHOLE_ANSWER_BYTES}, as an `api_error` event naming the
 * provider. A body labelled JSON whose first bytes are SSE's, or labelled anything else
 * (`text/plain`, none), is passed on as the SSE stream it should be: one that is not fails as a
 * stream without an event.
 *
 * @example
 * ```ts
 * const provider = createAnthropicProvider({
 *   name: "anthropic", type: "anthropic", baseUrl: "https://api.anthropic.com", authHeader: "x-api-key",
 * });
 * ```
 */
export function createAnthropicProvider(options: AnthropicProviderOptions): Provider {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const serves = options.countsTokens === false ? _servesAllButCounting : undefined;
  return {
    name: options.name,
    type: options.type,
    serves,
    async send(request: ProviderRequest, key: ProviderKey | undefined): Promise<Response> {
      if (serves && !serves(request.method, request.path)) {
        throw new UnservableError(
          404,
          `${request.method} ${request.path} is not available from ${options.name}: ${options.type} ` +
            "upstreams count no tokens",
        );
      }
      const headers = headerPairs(request.headers, _CREDENTIALS);
      if (key) headers.push(_credential(options.authHeader, key.secret));
      const response = await doFetch(`${base}${request.path}${request.search}`, {
        method: request.method,
        headers,
        body: _anthropicBody(request),
        signal: request.signal,
        redirect: "manual",
      });
      const streamed = request.stream && request.method === "POST" && request.path === "/v1/messages";
      if (!streamed || response.status !== 200 || hasMediaType(response, "text/event-stream")) {
        return response;
      }
      return _asStream(response, options.name);
    },
  };
}

/**
 * The body an Anthropic-format upstream gets: the client's own bytes, with only `model` rewritten when
 * the provider's `models:` table maps it to another id.
 */
function _anthropicBody(request: ProviderRequest): Uint8Array<ArrayBuffer> | null {
  const { body, model, upstreamModel } = request;
  if (!body || upstreamModel === undefined || upstreamModel === model) return body;
  return editTopLevelJson(body, { set: { model: upstreamModel } });
}

/** Where either style of credential goes; a key replaces whatever the request had there. */
const _CREDENTIALS: ReadonlySet<string> = new Set(["x-api-key", "authorization"]);

function _credential(style: "x-api-key" | "bearer", secret: string): [string, string] {
  return style === "bearer" ? ["authorization", `Bearer ${secret}`] : ["x-api-key", secret];
}

/** Every route but `count_tokens`. */
function _servesAllButCounting(_method: string, path: string): boolean {
  return path !== "/v1/messages/count_tokens";
}

/**
 * A 200 answer to a streamed request that is not labelled `text/event-stream`, as the stream it stands
 * for: JSON read whole and translated (unless it starts as SSE), any other body as the SSE it should be.
 */
function _asStream(response: Response, name: string): Response {
  const headers = copyHeaders(response.headers, WITHOUT_LENGTH);
  headers.set("content-type", "text/event-stream");
  const body = hasMediaType(response, "application/json")
    ? sseOrWhole(response.body, MAX_WHOLE_ANSWER_BYTES, (whole) => _wholeAsStream(whole, name))
    : response.body;
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * The stream a whole JSON answer stands for: a Message's events, or one `event: error` before anything
 * else, which relay can still retry: the upstream's own error, or why its answer is no Message.
 */
function _wholeAsStream({ text, cut }: WholeText, name: string): Uint8Array[] {
  if (cut) {
    return _failed(
      `upstream ${name} answered a stream with a JSON body over ${MAX_WHOLE_ANSWER_MIB} MiB, more than relay reads whole`,
    );
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch (error) {
    return _failed(
      `upstream ${name} answered a stream with a body labelled JSON that is neither JSON nor SSE: ` +
        jsonSyntaxReason(error as SyntaxError),
    );
  }
  if (!isJsonObject(answer)) return _failed(_notAMessage(name, answer));
  if (answer.type === "error") {
    const { type, message } = anthropicErrorOf(answer, { type: "api_error", message: _excerpt(answer) });
    const error = isJsonObject(answer.error) ? answer.error : {};
    return [encodeSseEvent("error", { ...answer, error: { ...error, type, message } })];
  }
  if (answer.type === "message") {
    const { content } = answer;
    if (
      Array.isArray(content) &&
      content.every((block) => isJsonObject(block) && typeof block.type === "string")
    ) {
      return messageAsSse({ ...answer, content });
    }
    return _failed(_notAMessage(name, answer));
  }
  // Some compatibles report a failure in a 200 body in OpenAI's words.
  const failure = answer.error === undefined ? undefined : anthropicFailureFor(answer);
  if (failure) return [encodeSseEvent("error", errorEnvelope(failure.type, failure.message))];
  return _failed(_notAMessage(name, answer));
}

function _notAMessage(name: string, answer: unknown): string {
  return `upstream ${name} answered a stream with JSON that is not a Message: ${_excerpt(answer)}`;
}

/** An answer relay cannot use, as the upstream's fault (a 502's `api_error`) before anything else. */
function _failed(message: string): Uint8Array[] {
  return [encodeSseEvent("error", errorEnvelope("api_error", message))];
}

/** The start of an answer relay could not use, for the error that says so. */
function _excerpt(json: unknown): string {
  const text = JSON.stringify(json);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
