import { errorEnvelope, errorResponse } from "../server/errors.ts";
import { anthropicFailureFor, readOpenAIError } from "../server/openai_errors.ts";
import { chatRequestFor, RequestTranslationError } from "../stream/anthropic_to_openai_request.ts";
import {
  completionAsAnthropicSse,
  OpenAIToAnthropic,
  type OpenAIToAnthropicOptions,
  openaiToAnthropicSse,
} from "../stream/openai_to_anthropic.ts";
import { answerChoice, anthropicMessageFor } from "../stream/openai_to_anthropic_message.ts";
import { newToolId } from "../stream/openai_tool_ids.ts";
import { type ChatCompletion, isJsonObject, type JsonObject, messageFault } from "../stream/openai_types.ts";
import { copyHeaders } from "../util/headers.ts";
import type { Provider, ProviderKey, ProviderRequest } from "./types.ts";

export interface OpenAIProviderOptions {
  name: string;
  /** The API root with its version path, as OpenAI's SDKs take it: `https://api.openai.com/v1`. */
  baseUrl: string;
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
  /** Ids of the answers and of tool calls that arrive without one; random unless injected. */
  newMessageId?: () => string;
  newToolId?: () => string;
}

/**
 * An OpenAI-compatible upstream (OpenAI, LM Studio, vLLM, llama.cpp's server, Groq, OpenRouter, Ollama's
 * `/v1`): Anthropic Messages requests go out as Chat Completions and the answers come back in Anthropic's
 * format, streams translated chunk by chunk. The key travels as a bearer token; without one (local
 * servers) none is sent.
 *
 * Streams answer `message_start` as soon as the upstream accepts the request, so relay's keep-alive
 * covers a local model that is slow to its first token. A stream answered with JSON (a server that
 * ignores `stream`, or reports a failure in a 200 body) is read whole first: a failure is then the same
 * error answer as unstreamed, before anything is committed, and a completion goes out as the stream it
 * stands for. Chat Completions has no token counting, so `count_tokens` is a 404 `not_found_error`
 * (Claude Code then counts through `/v1/messages`), as is `/v1/models` (relay answers it from the
 * config when `models:` is set).
 *
 * @example
 * ```ts
 * const provider = createOpenAIProvider({ name: "lmstudio", baseUrl: "http://127.0.0.1:1234/v1" });
 * ```
 */
export function createOpenAIProvider(options: OpenAIProviderOptions): Provider {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  // OpenAI's reasoning models refuse `max_tokens`; most compatible servers know only that name.
  const maxTokensField = new URL(base).hostname === "api.openai.com" ? "max_completion_tokens" : "max_tokens";
  const newMessageId = options.newMessageId ?? (() => `msg_${crypto.randomUUID().replaceAll("-", "")}`);
  return {
    name: options.name,
    type: "openai",
    async send(request: ProviderRequest, key: ProviderKey | undefined): Promise<Response> {
      if (request.method !== "POST" || request.path !== "/v1/messages") {
        return errorResponse(
          404,
          `${request.method} ${request.path} is not available from ${options.name}: ` +
            "OpenAI-compatible upstreams serve /v1/messages only (Chat Completions counts no tokens)",
        );
      }
      const body = JSON.parse(new TextDecoder().decode(request.body ?? new Uint8Array())) as JsonObject;
      const model = request.upstreamModel ?? String(body.model);
      let chat: JsonObject;
      try {
        chat = chatRequestFor(body, { model, maxTokensField });
      } catch (error) {
        if (error instanceof RequestTranslationError) return errorResponse(400, error.message);
        throw error;
      }
      const response = await doFetch(`${base}/chat/completions`, {
        method: "POST",
        headers: _upstreamHeaders(request.stream, key),
        body: JSON.stringify(chat),
        signal: request.signal,
        redirect: "manual",
      });
      if (!response.ok) {
        const { status, type, message } = await readOpenAIError(response);
        return Response.json(errorEnvelope(type, message), { status, headers: _answerHeaders(response) });
      }
      const translation: OpenAIToAnthropicOptions = {
        messageId: newMessageId(),
        model,
        thinking: isJsonObject(body.thinking) && ["enabled", "adaptive"].includes(String(body.thinking.type)),
        newToolId: options.newToolId ?? newToolId,
      };
      if (request.stream && !_isJson(response)) return _streamed(response, translation);
      const completion = await _completion(response, options.name);
      if (completion instanceof Response) return completion;
      if (!request.stream) {
        return Response.json(anthropicMessageFor(completion, translation), {
          headers: _answerHeaders(response),
        });
      }
      return new Response(completionAsAnthropicSse(completion, translation), {
        headers: _sseHeaders(response),
      });
    },
  };
}

/** Only what Chat Completions needs: Anthropic's headers mean nothing to these upstreams. */
function _upstreamHeaders(stream: boolean, key: ProviderKey | undefined): Headers {
  const headers = new Headers({
    "content-type": "application/json",
    accept: stream ? "text/event-stream" : "application/json",
  });
  if (key) headers.set("authorization", `Bearer ${key.secret}`);
  return headers;
}

function _streamed(response: Response, translation: OpenAIToAnthropicOptions): Response {
  const upstream = response.body ?? ReadableStream.from<Uint8Array>([]);
  const body = openaiToAnthropicSse(upstream, new OpenAIToAnthropic(translation));
  return new Response(body, { headers: _sseHeaders(response) });
}

/** Whether a 200 answer is JSON (a completion or an error), whatever was asked for. */
function _isJson(response: Response): boolean {
  // Media types are case-insensitive (RFC 9110 §8.3.1).
  return (response.headers.get("content-type") ?? "").toLowerCase().startsWith("application/json");
}

/** The completion in a 200 answer, or the error answer the body calls for instead. */
async function _completion(response: Response, name: string): Promise<ChatCompletion | Response> {
  const headers = _answerHeaders(response);
  let completion: unknown;
  try {
    completion = await response.json();
  } catch (error) {
    return errorResponse(
      502,
      `upstream ${name} answered 200 without a JSON body: ${(error as Error).message}`,
    );
  }
  // Some compatibles report a failure in a 200 body.
  const failure = isJsonObject(completion) && completion.error ? anthropicFailureFor(completion) : undefined;
  if (failure) {
    return Response.json(errorEnvelope(failure.type, failure.message), { status: failure.status, headers });
  }
  // Passed on as a Message, an answer without a choice would read as a finished, empty turn; as a 502,
  // relay can retry it or fail over, and the client sees why.
  const choice = isJsonObject(completion) ? answerChoice(completion) : undefined;
  if (!choice) {
    return errorResponse(502, `upstream ${name} answered 200 without a choice: ${_excerpt(completion)}`);
  }
  const fault = messageFault(choice.message);
  if (fault) {
    return errorResponse(
      502,
      `upstream ${name} answered 200 with a malformed completion (${fault}): ${_excerpt(completion)}`,
    );
  }
  return completion as ChatCompletion;
}

/**
 * The upstream's headers (rate limits, `retry-after`), with a content type for the body relay makes in
 * place of the upstream's; the core drops `content-length` and `content-encoding`. OpenAI's
 * `x-request-id` is also given as `request-id`, the name relay logs and Anthropic clients read.
 */
function _answerHeaders(upstream: Response, contentType = "application/json"): Headers {
  const headers = copyHeaders(upstream.headers);
  headers.set("content-type", contentType);
  const requestId = upstream.headers.get("x-request-id");
  if (requestId && !headers.has("request-id")) headers.set("request-id", requestId);
  return headers;
}

/** {@linkcode _answerHeaders} for an Anthropic stream. */
function _sseHeaders(upstream: Response): Headers {
  const headers = _answerHeaders(upstream, "text/event-stream");
  headers.set("cache-control", "no-cache");
  return headers;
}

/** The start of an answer relay could not use, for the error that says so. */
function _excerpt(json: unknown): string {
  const text = JSON.stringify(json);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
