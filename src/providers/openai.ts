import { jsonSyntaxReason } from "../util/json.ts";
import { errorEnvelope, readAnswerBody, unreadableAnswerError } from "../server/errors.ts";
import {
  anthropicErrorFromOpenAI,
  type AnthropicFailure,
  anthropicFailureFor,
} from "../server/openai_errors.ts";
import { AnthropicToChatError, chatRequestFor } from "../stream/anthropic_to_openai_request.ts";
import {
  completionAsAnthropicSse,
  OpenAIToAnthropic,
  type OpenAIToAnthropicOptions,
  openaiToAnthropicSse,
} from "../stream/openai_to_anthropic.ts";
import { answerChoice, anthropicMessageFor } from "../stream/openai_to_anthropic_message.ts";
import { newToolId } from "../stream/openai_tool_ids.ts";
import { finishFailure } from "../stream/openai_stop_usage.ts";
import { type ChatCompletion, messageFault } from "../stream/openai_types.ts";
import { encodeSseEvent } from "../stream/sse_encode.ts";
import { sseOrWhole } from "../stream/sse_or_whole.ts";
import {
  MAX_WHOLE_ANSWER_BYTES,
  MAX_WHOLE_ANSWER_MIB,
  readWhole,
  type WholeText,
} from "../stream/translate_whole.ts";
import { copyHeaders, hasMediaType, headerPairs, type HeaderReader } from "../util/headers.ts";
import { isJsonObject, type JsonObject } from "../util/json.ts";
import { StreamsAnsweredWhole } from "./streams_answered_whole.ts";
import { type Provider, type ProviderKey, type ProviderRequest, UnservableError } from "./types.ts";
import { withoutFinalDot } from "../util/host_name.ts";

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
 * Streams answer `message_start` as soon as the upstream accepts the request with `text/event-stream`,
 * so relay's keep-alive covers a local model that is slow to its first token. An answer under another
 * label waits for its first bytes, which tell what it is ({@linkcode sseOrWhole}): SSE (labelled
 * `text/plain`, JSON or nothing by mistake) is translated as a stream; anything else, JSON (a server that ignores `stream`, or reports a failure
 * in a 200 body) or not (a gateway's HTML page), is read whole once relay reads the answer, under
 * its deadlines for a body: a completion goes out as the stream it stands for, a failure the body
 * reports as an `error` event before anything else, which relay can still retry. A model whose stream
 * was once answered with a whole completion is waited for so from then on
 * ({@linkcode StreamsAnsweredWhole}): under `timeouts.first_byte`, not `connect`, until a stream of its
 * is answered as a stream again. Error answers' bodies are read as late.
 * A 200 answer relay cannot read as a completion (not JSON, no choice, a malformed one, or over
 * {@linkcode MAX_WHOLE_ANSWER_BYTES}, read no further: relay would have to hold it whole), streamed or
 * not, fails the attempt as a broken connection would: relay's own 502 `api_error` saying what the 200
 * held, retried or failed over, and logged as what it was rather than as an upstream's 502.
 * Chat Completions has no token counting, so `count_tokens` is a 404 `not_found_error`
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
  const hostname = new URL(base).hostname;
  const maxTokensField = _isOpenAI(hostname) ? "max_completion_tokens" : "max_tokens";
  const reasoningContent = !_refusesReasoningContent(hostname);
  const newMessageId = options.newMessageId ?? (() => `msg_${crypto.randomUUID().replaceAll("-", "")}`);
  const answeredWhole = new StreamsAnsweredWhole();
  return {
    name: options.name,
    type: "openai",
    serves: _serves,
    async send(request: ProviderRequest, key: ProviderKey | undefined): Promise<Response> {
      if (!_serves(request.method, request.path)) {
        throw new UnservableError(
          404,
          `${request.method} ${request.path} is not available from ${options.name}: ` +
            "OpenAI-compatible upstreams serve /v1/messages only (Chat Completions counts no tokens)",
        );
      }
      const body = JSON.parse(new TextDecoder().decode(request.body ?? new Uint8Array())) as JsonObject;
      const model = request.upstreamModel ?? String(body.model);
      let chat: JsonObject;
      try {
        chat = chatRequestFor(body, { model, maxTokensField, reasoningContent });
      } catch (error) {
        if (error instanceof AnthropicToChatError) throw new UnservableError(400, error.message);
        throw error;
      }
      const answering = doFetch(`${base}/chat/completions`, {
        method: "POST",
        headers: _upstreamHeaders(request.headers, request.stream, key),
        body: JSON.stringify(chat),
        signal: request.signal,
        redirect: "manual",
      });
      answeredWhole.onSent(request);
      const response = await answering;
      if (!response.ok) {
        // DeepSeek and Groq name only their cap: what was asked completes it in the words Claude Code acts on.
        const maxTokens = chat[maxTokensField] as number | undefined;
        return anthropicErrorFromOpenAI(response, _answerHeaders(response), { maxTokens });
      }
      const translation: OpenAIToAnthropicOptions = {
        messageId: newMessageId(),
        model,
        thinking: isJsonObject(body.thinking) && ["enabled", "adaptive"].includes(String(body.thinking.type)),
        newToolId: options.newToolId ?? newToolId,
        usageFallback: request.usageFallback,
      };
      if (request.stream) {
        const asAnthropic = (sse: ReadableStream<Uint8Array>) =>
          openaiToAnthropicSse(sse, new OpenAIToAnthropic(translation), { idleMs: request.idleMs });
        if (hasMediaType(response, "text/event-stream")) {
          answeredWhole.forget(request);
          const upstream = response.body ?? ReadableStream.from<Uint8Array>([]);
          return new Response(asAnthropic(upstream), { headers: _sseHeaders(response) });
        }
        // JSON, a stream labelled as something else, or a page: its first bytes tell which.
        const label = hasMediaType(response, "application/json")
          ? undefined
          : { contentType: response.headers.get("content-type") };
        const body = sseOrWhole(
          response.body,
          MAX_WHOLE_ANSWER_BYTES,
          (whole) =>
            _completionAsStream(
              whole,
              translation,
              { name: options.name, label },
              key,
              () => answeredWhole.learn(request),
            ),
          () => answeredWhole.forget(request),
          asAnthropic,
        );
        return new Response(body, { headers: _sseHeaders(response) });
      }
      const headers = _answerHeaders(response);
      // Read before relay has the answer: a stall or a cut meanwhile still tells relay these headers.
      const whole = await readAnswerBody(
        headers,
        request.signal,
        () => readWhole(response.body, MAX_WHOLE_ANSWER_BYTES),
      );
      const read = _completionIn(whole, { name: options.name });
      if ("unreadable" in read) throw unreadableAnswerError(read.unreadable, key, headers);
      if ("failure" in read) {
        const { status, type, message } = read.failure;
        return Response.json(errorEnvelope(type, message), { status, headers });
      }
      return Response.json(anthropicMessageFor(read.completion, translation), { headers });
    },
  };
}

/**
 * Whether the host is OpenAI's own API: `api.openai.com` or a data-residency host under it
 * (`eu.api.openai.com`, `us.api.openai.com`, ...). Its reasoning models refuse `max_tokens`; most
 * compatible servers know only that name. Azure OpenAI is left out: some of its deployments (older
 * model and API versions) refuse `max_completion_tokens` ("Unrecognized request argument").
 */
function _isOpenAI(hostname: string): boolean {
  // A fully qualified name's final dot names the same host.
  const host = withoutFinalDot(hostname);
  return host === "api.openai.com" || host.endsWith(".api.openai.com");
}

/**
 * Whether the host refuses `reasoning_content` on an assistant message, which relay sends back to the
 * rest (DeepSeek and Kimi require it in a tool loop): OpenAI's own hosts, and Groq and Mistral, which
 * validate message fields strictly (`property 'reasoning_content' is unsupported`, `extra_forbidden`)
 * and whose own reasoning (Groq's `reasoning`, Magistral's thinking parts) relay makes thinking blocks of.
 */
function _refusesReasoningContent(hostname: string): boolean {
  const host = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
  return _isOpenAI(host) || host === "api.groq.com" || host === "api.mistral.ai";
}

/** Chat Completions counts no tokens and lists no models relay could pass on. */
function _serves(method: string, path: string): boolean {
  return method === "POST" && path === "/v1/messages";
}

/**
 * The client's headers (OpenRouter's `HTTP-Referer` and `X-Title`, its user agent), but Anthropic's,
 * which mean nothing to these upstreams, and, with relay's key, the organisation and project the client
 * names: they belong with the client's own key, and one relay's key is not in gets it refused (a 401
 * that takes the key out of rotation for every client). Keyless (a local server), they go on.
 */
function _upstreamHeaders(client: HeaderReader, stream: boolean, key: ProviderKey | undefined): Headers {
  const headers = new Headers(
    headerPairs(client, key ? _KEY_BOUND : undefined).filter(([name]) => !name.startsWith("anthropic-")),
  );
  headers.set("content-type", "application/json");
  headers.set("accept", stream ? "text/event-stream" : "application/json");
  if (key) headers.set("authorization", `Bearer ${key.secret}`);
  return headers;
}

const _KEY_BOUND: ReadonlySet<string> = new Set(["openai-organization", "openai-project"]);

/**
 * The Anthropic stream a JSON answer to a streamed request stands for. A failure the body reports is an
 * `error` event before `message_start`: still a failure relay retries or fails over, by the status its
 * type stands for. A body relay cannot read fails the stream before anything of it is sent.
 */
function _completionAsStream(
  whole: WholeText,
  translation: OpenAIToAnthropicOptions,
  answer: _Answer,
  key: ProviderKey | undefined,
  onCompletion: () => void,
): Uint8Array[] {
  const read = _completionIn(whole, answer);
  if ("unreadable" in read) throw unreadableAnswerError(read.unreadable, key);
  if ("completion" in read) {
    onCompletion();
    return completionAsAnthropicSse(read.completion, translation);
  }
  return [encodeSseEvent("error", errorEnvelope(read.failure.type, read.failure.message))];
}

/**
 * Who answered, and, for an answer to a stream labelled neither SSE nor JSON (a gateway's HTML page), its
 * `content-type`, which the error names when the body is not JSON either.
 */
interface _Answer {
  readonly name: string;
  readonly label?: { readonly contentType: string | null };
}

/**
 * The completion in a 200 answer's body, the failure the body reports instead, or why it is no
 * completion relay can read.
 */
function _completionIn(
  { text, cut }: WholeText,
  { name, label }: _Answer,
): { completion: ChatCompletion } | { failure: AnthropicFailure } | { unreadable: string } {
  if (cut) {
    return _bad(
      `upstream ${name} answered 200 with a body over ${MAX_WHOLE_ANSWER_MIB} MiB, more than relay reads whole`,
    );
  }
  let completion: unknown;
  try {
    completion = JSON.parse(text);
  } catch (error) {
    if (label) {
      return _bad(
        `upstream ${name} answered a stream with a body (${label.contentType ?? "no content-type"}) ` +
          `that is neither SSE nor JSON: ${jsonSyntaxReason(error as SyntaxError)}`,
      );
    }
    return _bad(`upstream ${name} answered 200 without a JSON body: ${(error as Error).message}`);
  }
  // Some compatibles report a failure in a 200 body.
  const failure = isJsonObject(completion) && completion.error ? anthropicFailureFor(completion) : undefined;
  if (failure) return { failure };
  // Passed on as a Message, an answer without a choice would read as a finished, empty turn; as a 502,
  // relay can retry it or fail over, and the client sees why.
  const choice = isJsonObject(completion) ? answerChoice(completion) : undefined;
  if (!choice) return _bad(`upstream ${name} answered 200 without a choice: ${_excerpt(completion)}`);
  const failed = finishFailure(choice);
  if (failed) return { failure: failed };
  const fault = messageFault(choice.message);
  if (fault) {
    return _bad(
      `upstream ${name} answered 200 with a malformed completion (${fault}): ${_excerpt(completion)}`,
    );
  }
  return { completion: completion as ChatCompletion };
}

/** A 200 answer relay cannot use: the upstream's fault, thrown as {@linkcode unreadableAnswerError} says. */
function _bad(message: string): { unreadable: string } {
  return { unreadable: message };
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
