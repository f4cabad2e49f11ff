/**
 * AWS Bedrock as an upstream for Anthropic-format clients (protocols.md §3): the Messages body moves
 * into InvokeModel's shape, is signed with SigV4 or sent with a Bedrock API key, and the answer comes
 * back in Anthropic's shape: event-stream frames as SSE, restJson1 errors as Anthropic error envelopes.
 */
import { AwsV4Signer } from "aws4fetch";
import { errorEnvelope } from "../server/errors.ts";
import { eventStreamToSse, type SsePart } from "../stream/eventstream_to_sse.ts";
import { MAX_ERROR_BODY_BYTES, translateWhole } from "../stream/translate_whole.ts";
import { copyHeaders } from "../util/headers.ts";
import type { AwsCredentials } from "./aws_credentials.ts";
import { type BedrockError, bedrockErrorAnswer } from "./bedrock_errors.ts";
import { editTopLevelJson } from "./json_edit.ts";
import { type Provider, type ProviderKey, type ProviderRequest, UnservableError } from "./types.ts";

/** How to reach one Bedrock upstream; {@link createBedrockProvider} takes it. */
export interface BedrockProviderOptions {
  /** The provider's name in relay's config and logs. */
  name: string;
  /** e.g. `us-east-1`; the endpoint is `https://bedrock-runtime.{region}.amazonaws.com` and it is signed into SigV4. */
  region: string;
  /** Overrides the endpoint (a VPC endpoint, a test server); the path goes after it. */
  baseUrl?: string;
  /** SigV4 with these keys, or `"api_key"`: the provider key is a Bedrock API key, sent as a bearer token. */
  credentials: AwsCredentials | "api_key";
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
  /** The SigV4 clock; injected so tests can pin the signature. */
  now?: () => Date;
}

/**
 * Betas Bedrock answers with `400 invalid beta flag`, dropped from `anthropic_beta`. A denylist rather
 * than an allowlist because Claude Code adds betas every release and Bedrock keeps adopting them
 * (protocols.md §1.2 warns against allowlists). It names only features Bedrock does not offer at all:
 * claude.ai OAuth, the Files API, the MCP connector, server-side code execution, web fetch, skills,
 * fast mode and cache scopes, per AWS's Bedrock beta list and LiteLLM's per-provider beta table
 * (`anthropic_beta_headers_config.json`). Which betas a given Bedrock model takes changes over time,
 * so this is a judgment call, not a contract.
 */
export const BEDROCK_UNSUPPORTED_BETAS: ReadonlySet<string> = new Set([
  "oauth-2025-04-20",
  "files-api-2025-04-14",
  "mcp-client-2025-04-04",
  "mcp-client-2025-11-20",
  "mcp-servers-2025-12-04",
  "code-execution-2025-05-22",
  "code-execution-2025-08-25",
  "web-fetch-2025-09-10",
  "skills-2025-10-02",
  "fast-mode-2026-02-01",
  "prompt-caching-scope-2026-01-05",
]);

/** Bedrock's name for the Messages API version; it goes in the body, not a header. */
const _ANTHROPIC_VERSION = "bedrock-2023-05-31";

/** Upstream headers that describe Bedrock's body or protocol, not the one relay sends on. */
const _BEDROCK_ONLY_HEADERS: ReadonlySet<string> = new Set([
  "content-length",
  "x-amzn-errortype",
  "x-amzn-bedrock-content-type",
]);

const _EMPTY_STREAM: BedrockError = {
  status: 502,
  type: "api_error",
  message: "Bedrock ended the stream before any event",
};

/**
 * A Bedrock upstream. `POST /v1/messages` becomes InvokeModel or InvokeModelWithResponseStream and
 * `POST /v1/messages/count_tokens` becomes CountTokens, on the model `upstreamModel` names; the
 * client's query string and headers stay behind. The core answers `/v1/models` itself.
 *
 * @example
 * ```ts
 * const provider = createBedrockProvider({
 *   name: "bedrock", region: "us-east-1",
 *   credentials: { accessKeyId: "AKIA…", secretAccessKey: "…" },
 * });
 * ```
 */
export function createBedrockProvider(options: BedrockProviderOptions): Provider {
  const base = options.baseUrl?.replace(/\/+$/, "") ??
    `https://bedrock-runtime.${options.region}.amazonaws.com`;
  const doFetch = options.fetch ?? fetch;

  return {
    name: options.name,
    type: "bedrock",
    serves: (method, path) => _operation({ method, path, stream: false }) !== undefined,
    async send(request: ProviderRequest, key: ProviderKey | undefined): Promise<Response> {
      const operation = _operation(request);
      if (!operation) {
        throw new UnservableError(
          404,
          `Bedrock provider ${options.name} does not serve ${request.method} ${request.path}`,
        );
      }
      if (!request.body || !request.upstreamModel || /^\.{1,2}$/.test(request.upstreamModel)) {
        // `.` and `..` would not stay one segment: URL parsing resolves them, signed with relay's keys.
        const message = `model: Bedrock has no model ${JSON.stringify(request.upstreamModel ?? null)}`;
        return _errorResponse({ status: 400, type: "invalid_request_error", message });
      }
      const invokeBody = _invokeBody(request.body, request.headers.get("anthropic-beta"));
      const body = operation === "count-tokens" ? _countTokensBody(invokeBody) : invokeBody;
      const url = `${base}/model/${_modelSegment(request.upstreamModel)}/${operation}`;
      const upstream = await doFetch(url, {
        method: "POST",
        headers: await _requestHeaders(options, url, body, key),
        body,
        signal: request.signal,
        redirect: "manual",
      });
      // A stream's answer waits for its first frame (`_sseResponse`): first_byte's time, not connect's.
      request.onHeaders?.();
      // Relay refuses a redirect itself, saying where it pointed: it is not Bedrock's error to reword.
      if (upstream.status >= 300 && upstream.status <= 399) return upstream;
      if (upstream.status < 200 || upstream.status > 299) return _errorAnswer(upstream);
      if (operation === "count-tokens") return await _countTokensResponse(upstream);
      if (upstream.headers.get("content-type")?.includes("application/vnd.amazon.eventstream")) {
        return await _sseResponse(upstream);
      }
      const headers = _headers(upstream.headers, "application/json");
      return new Response(upstream.body, { status: upstream.status, headers });
    },
  };
}

/**
 * The model id as one path segment, as Anthropic's Bedrock SDK writes it (§3.1): `:` (in `…-v1:0` and
 * ARNs) and `@` are path characters and stay literal; `/` (in ARNs) becomes `%2F`.
 */
function _modelSegment(modelId: string): string {
  return encodeURIComponent(modelId).replace(/%3A/g, ":").replace(/%40/g, "@");
}

/**
 * The client's bytes with `model` and `stream` removed (the URL says both), `anthropic_version` inserted
 * first and `anthropic_beta` holding the betas of both the `anthropic-beta` header and the body's own
 * `anthropic_beta` (a client written for Bedrock sends them there); every other byte is the client's, so
 * thinking signatures survive.
 */
function _invokeBody(body: Uint8Array, betaHeader: string | null): Uint8Array<ArrayBuffer> {
  return editTopLevelJson(body, {
    remove: ["model", "stream"],
    set: { anthropic_version: _ANTHROPIC_VERSION },
    update: { anthropic_beta: (inBody) => _bedrockBetas([..._betaList(inBody), ..._betaList(betaHeader)]) },
  });
}

/** Betas as a header (comma-separated) or a body (an array) gives them; anything else has none. */
function _betaList(given: unknown): string[] {
  if (typeof given === "string") return given.split(",");
  return Array.isArray(given) ? given.filter((beta) => typeof beta === "string") : [];
}

/** The betas Bedrock takes, each once, in order; `undefined` when none is left, so none is sent. */
function _bedrockBetas(betas: string[]): string[] | undefined {
  const kept = new Set(
    betas.map((beta) => beta.trim()).filter((beta) => beta !== "" && !BEDROCK_UNSUPPORTED_BETAS.has(beta)),
  );
  return kept.size > 0 ? [...kept] : undefined;
}

/** What Bedrock gets besides the body: JSON both ways and a credential; nothing of the client's. */
async function _requestHeaders(
  options: BedrockProviderOptions,
  url: string,
  body: Uint8Array<ArrayBuffer>,
  key: ProviderKey | undefined,
): Promise<Headers> {
  const headers = new Headers({ "content-type": "application/json", accept: "application/json" });
  if (options.credentials === "api_key") {
    if (!key) throw new Error(`Bedrock provider ${options.name} uses api_key credentials but has no key`);
    headers.set("authorization", `Bearer ${key.secret}`);
    return headers;
  }
  // The service must be explicit: aws4fetch would guess `bedrock-runtime` from the host (§3.3).
  const signer = new AwsV4Signer({
    ...options.credentials,
    method: "POST",
    url,
    headers,
    body,
    service: "bedrock",
    region: options.region,
    datetime: (options.now?.() ?? new Date()).toISOString().replace(/[:-]|\.\d{3}/g, ""),
  });
  return (await signer.sign()).headers;
}

type _Operation = "invoke" | "invoke-with-response-stream" | "count-tokens";

function _operation(request: Pick<ProviderRequest, "method" | "path" | "stream">): _Operation | undefined {
  if (request.method !== "POST") return undefined;
  if (request.path === "/v1/messages") return request.stream ? "invoke-with-response-stream" : "invoke";
  if (request.path === "/v1/messages/count_tokens") return "count-tokens";
  return undefined;
}

function _countTokensBody(invokeBody: Uint8Array): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(
    JSON.stringify({ input: { invokeModel: { body: invokeBody.toBase64() } } }),
  );
}

async function _countTokensResponse(upstream: Response): Promise<Response> {
  const answer = await upstream.json().catch(() => undefined);
  if (!Number.isInteger(answer?.inputTokens)) {
    const message = "Bedrock's CountTokens answer has no inputTokens";
    return _errorResponse({ status: 502, type: "api_error", message }, upstream.headers);
  }
  const headers = _headers(upstream.headers, "application/json");
  return new Response(JSON.stringify({ input_tokens: answer.inputTokens }), { headers });
}

/**
 * Waits for Bedrock's first frame before answering: a stream that opens with an exception (throttling,
 * an overloaded model) becomes a plain HTTP error that clients and retry logic understand, instead of
 * a 200 whose only event is an error.
 */
async function _sseResponse(upstream: Response): Promise<Response> {
  const parts = upstream.body!.pipeThrough(eventStreamToSse()).getReader();
  const first = await parts.read();
  if (first.done || first.value.error) {
    await parts.cancel();
    return _errorResponse(first.value?.error ?? _EMPTY_STREAM, upstream.headers);
  }
  const headers = _headers(upstream.headers, "text/event-stream");
  headers.set("cache-control", "no-cache");
  return new Response(_prepended(first.value, parts), { status: 200, headers });
}

/** The SSE body: the part already read, then the rest as the client pulls it. */
function _prepended(first: SsePart, parts: ReadableStreamDefaultReader<SsePart>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(first.bytes);
    },
    async pull(controller) {
      const { done, value } = await parts.read();
      if (done) controller.close();
      else controller.enqueue(value.bytes);
    },
    cancel: (reason) => parts.cancel(reason),
  }, { highWaterMark: 0 });
}

/**
 * Bedrock's error answer in Anthropic's terms, at once: its headers give the status, and its body, which
 * only holds the message, is read as relay reads the answer, under its deadlines for a body, rather
 * than under first_byte's wait for an answer that has in fact come (and not at all when relay retries),
 * up to {@linkcode MAX_ERROR_BODY_BYTES}.
 */
function _errorAnswer(upstream: Response): Response {
  const { status, type, messageIn } = bedrockErrorAnswer(upstream);
  const headers = _headers(upstream.headers, "application/json");
  const body = translateWhole(upstream.body, MAX_ERROR_BODY_BYTES, ({ text }) => [
    _errorBody({ status, type, message: messageIn(text) }, headers),
  ]);
  return new Response(body, { status, headers });
}

function _errorResponse(error: BedrockError, upstream?: Headers): Response {
  const headers = _headers(upstream ?? new Headers(), "application/json");
  return new Response(_errorBody(error, headers), { status: error.status, headers });
}

/** Anthropic's envelope for `error`, with the answer's `request-id` in it as Anthropic's own carry it. */
function _errorBody(error: BedrockError, headers: Headers): Uint8Array<ArrayBuffer> {
  const requestId = headers.get("request-id");
  const body = {
    ...errorEnvelope(error.type, error.message),
    ...(requestId ? { request_id: requestId } : {}),
  };
  return new TextEncoder().encode(JSON.stringify(body));
}

/**
 * Bedrock's response headers minus those describing its own body, plus Anthropic's `request-id` from
 * `x-amzn-requestid`. `retry-after` and the `x-amzn-bedrock-*` token counts pass on.
 */
function _headers(upstream: Headers, contentType: string): Headers {
  const headers = copyHeaders(upstream, _BEDROCK_ONLY_HEADERS);
  headers.set("content-type", contentType);
  const requestId = upstream.get("x-amzn-requestid");
  if (requestId) headers.set("request-id", requestId);
  return headers;
}
