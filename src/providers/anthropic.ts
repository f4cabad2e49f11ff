import { type TokenLimitAsked, withTokenLimitWording } from "./token_limit_wording.ts";
import { sseOrWhole } from "../stream/sse_or_whole.ts";
import { MAX_WHOLE_ANSWER_BYTES } from "../stream/translate_whole.ts";
import { type WholeAnswerOptions, wholeAnswerStream } from "../stream/whole_answer_stream.ts";
import { copyHeaders, hasMediaType, headerPairs, WITHOUT_LENGTH } from "../util/headers.ts";
import { parseJsonObject } from "../util/json.ts";
import { withoutTrailing } from "../util/without_trailing.ts";
import { editTopLevelJson } from "./json_edit.ts";
import { StreamsAnsweredWhole } from "./streams_answered_whole.ts";
import { type Provider, type ProviderKey, type ProviderRequest, UnservableError } from "./types.ts";
import { withoutUnsignedThinking } from "./unsigned_thinking.ts";

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
  /**
   * Whether a Messages request's token-limit refusal is worded as Anthropic words it, for Claude Code to
   * act on ({@linkcode withTokenLimitWording}): for servers that speak Anthropic's format but not its
   * words (DeepSeek, Kimi, Z.AI, Ollama, gateways). False unless told: Anthropic's own API, and Foundry's,
   * word it so already, and their answers go on untouched.
   */
  rewordsTokenLimits?: boolean;
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
}

/**
 * An Anthropic-format upstream. The body is forwarded as the client's own bytes and the response is
 * returned untouched, so thinking signatures and fields relay does not know survive the hop; but
 * Anthropic's own API and Foundry's, which check signatures, get no unsigned thinking block
 * ({@linkcode withoutUnsignedThinking}). Told to
 * (`rewordsTokenLimits`), a Messages request's 400, 413 or 422 has its `error.message` reworded when it
 * refuses a token limit in a server's own words, and only then.
 *
 * But a streamed Messages request answered 200 in anything but `text/event-stream` is made the stream
 * it stands for, since an SDK reads nothing else. A body whose first bytes are SSE's, however labelled,
 * is passed on as the SSE stream it should be; any other (JSON, from a server that ignores `stream`) is
 * read whole once relay reads the answer, under its deadlines for a body: a Message goes out as the
 * events Anthropic would have sent, an error body (`{"type":"error",…}`) as an `event: error` before
 * anything else, which relay retries or fails over by the status its type stands for. Anything else,
 * or a body over {@linkcode MAX_WHOLE_ANSWER_BYTES}, fails the attempt as a broken connection would:
 * relay's own 502 `api_error` naming the provider and what the 200 held, retried or failed over, and
 * logged as what it was, not as an upstream's error. A model whose stream was once answered with a
 * whole Message is waited for so from then on ({@linkcode StreamsAnsweredWhole}): under
 * `timeouts.first_byte`, not `connect`, until a stream of its is answered as a stream again.
 *
 * @example
 * ```ts
 * const provider = createAnthropicProvider({
 *   name: "anthropic", type: "anthropic", baseUrl: "https://api.anthropic.com", authHeader: "x-api-key",
 * });
 * ```
 */
export function createAnthropicProvider(options: AnthropicProviderOptions): Provider {
  const base = withoutTrailing(options.baseUrl, /\//);
  const doFetch = options.fetch ?? fetch;
  const serves = options.countsTokens === false ? _servesAllButCounting : undefined;
  const answeredWhole = new StreamsAnsweredWhole();
  const checksSignatures = _CHECKS_SIGNATURES.has(options.type);
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
      const answering = doFetch(`${base}${request.path}${request.search}`, {
        method: request.method,
        headers,
        body: _anthropicBody(request, checksSignatures),
        signal: request.signal,
        redirect: "manual",
      });
      const messages = request.method === "POST" && request.path === "/v1/messages";
      const streamed = request.stream && messages;
      if (streamed) answeredWhole.onSent(request);
      const response = await answering;
      if (response.status !== 200) {
        return options.rewordsTokenLimits && messages
          ? withTokenLimitWording(response, _asked(request))
          : response;
      }
      if (!streamed) return response;
      if (hasMediaType(response, "text/event-stream")) {
        answeredWhole.forget(request);
        return response;
      }
      return _asStream(response, request, options.name, key, answeredWhole);
    },
  };
}

/**
 * The types whose upstream checks thinking signatures. The compatible servers (DeepSeek's, Kimi's,
 * Z.AI's, Ollama's) mint their own or none, and may need their unsigned blocks back.
 */
const _CHECKS_SIGNATURES: ReadonlySet<string> = new Set(["anthropic", "azure"]);

/**
 * The body an Anthropic-format upstream gets: the client's own bytes, with only `model` rewritten when
 * the provider's `models:` table maps it to another id, and, for one that `checksSignatures`, unsigned
 * thinking blocks taken out.
 */
function _anthropicBody(request: ProviderRequest, checksSignatures: boolean): Uint8Array<ArrayBuffer> | null {
  const { model, upstreamModel } = request;
  const body = request.body && checksSignatures
    ? withoutUnsignedThinking(request.body, request.json)
    : request.body;
  if (!body || upstreamModel === undefined || upstreamModel === model) return body;
  return editTopLevelJson(body, { set: { model: upstreamModel } });
}

/**
 * What the request asked, for a refusal that names only the model's cap (DeepSeek's `valid range of
 * max_tokens is [1, 8192]`): the client's `max_tokens`, parsed only then, as an error is rare and a
 * Claude Code body hundreds of KiB.
 */
function _asked(request: ProviderRequest): TokenLimitAsked {
  return {
    get maxTokens() {
      return _maxTokensOf(request.body);
    },
  };
}

function _maxTokensOf(body: Uint8Array | null): number | undefined {
  const maxTokens = body ? parseJsonObject(new TextDecoder().decode(body))?.max_tokens : undefined;
  return typeof maxTokens === "number" ? maxTokens : undefined;
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
 * for: passed on when it starts as SSE, else read whole and translated ({@linkcode wholeAnswerStream}).
 */
function _asStream(
  response: Response,
  request: ProviderRequest,
  name: string,
  key: ProviderKey | undefined,
  answeredWhole: StreamsAnsweredWhole,
): Response {
  const headers = copyHeaders(response.headers, WITHOUT_LENGTH);
  headers.set("content-type", "text/event-stream");
  const options: WholeAnswerOptions = {
    name,
    key,
    label: response.headers.get("content-type"),
    onMessage: () => answeredWhole.learn(request),
    onOutputUnreported: () => request.usageFallback?.estimated(),
  };
  const body = sseOrWhole(
    response.body,
    MAX_WHOLE_ANSWER_BYTES,
    (whole) => wholeAnswerStream(whole, options),
    () => answeredWhole.forget(request),
  );
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}
