import { errorEnvelope, readAnswerBody, unreadableAnswerError } from "../server/errors.ts";
import {
  anthropicErrorFromOpenAI,
  type AnthropicFailure,
  anthropicFailureFor,
  openaiErrorMessage,
} from "../server/openai_errors.ts";
import { errorOwnWords, refusedTokenLimit, TOKEN_LIMIT_STATUSES } from "./token_limit_wording.ts";
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
import { isJsonObject, type JsonObject, jsonSyntaxReason, parseJsonObject } from "../util/json.ts";
import { realTimers, type Timers } from "../util/timers.ts";
import { BoundedMap } from "./bounded_map.ts";
import { idleDeadline, peekRefusal } from "./error_peek.ts";
import { StreamsAnsweredWhole } from "./streams_answered_whole.ts";
import { type Provider, type ProviderKey, type ProviderRequest, UnservableError } from "./types.ts";
import { withoutFinalDot } from "../util/host_name.ts";
import { withoutTrailing } from "../util/without_trailing.ts";

export interface OpenAIProviderOptions {
  name: string;
  /** The API root with its version path, as OpenAI's SDKs take it: `https://api.openai.com/v1`. */
  baseUrl: string;
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
  /** Ids of the answers and of tool calls that arrive without one; random unless injected. */
  newMessageId?: () => string;
  newToolId?: () => string;
  /**
   * Told the first time a model's upstream refused a field relay adds (`reasoning_content`, see
   * {@linkcode createOpenAIProvider}): that model's requests go without it from then on, until the
   * provider is built anew.
   */
  onFieldRefused?: (model: string, field: string) => void;
  /**
   * Told the first time a model's upstream asked for a field relay adds only where it has one
   * (`reasoning_content` on a tool-calling message): that model's requests carry it empty where they
   * lack it from then on, until the provider is built anew.
   */
  onFieldAsked?: (model: string, field: string) => void;
  /**
   * Told when a model's upstream named its output cap, refusing a larger `max_tokens`: that model's
   * requests ask for at most `cap` from then on, until the provider is built anew.
   */
  onMaxTokensCapped?: (model: string, cap: number) => void;
  /** The timer bounding a look into a 400, 413 or 422 by the request's `idleMs`; injected for tests. */
  timers?: Timers;
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
 * Thinking goes back as `reasoning_content` to hosts not known to refuse it. A strict server relay does
 * not know (Cerebras, a gateway that forbids extra fields) answers a request carrying it with a 400 or
 * 422 naming it as unsupported, unexpected or extra: that request is sent once more without it, and the
 * model's later requests go without it at once ({@linkcode _remedy}). DeepSeek's `Missing
 * reasoning_content` (and Kimi's `reasoning_content is missing`) means the opposite: its thinking mode
 * wants the field on every assistant message with tool calls, and one came without, as it does when the
 * client did not ask for thinking (relay then drops the reasoning DeepSeek streams, by default, on its way
 * back) or the turn came from another model. That request is sent once more with an empty
 * `reasoning_content` where it lacked one, and so are the model's later requests at once.
 *
 * @example
 * ```ts
 * const provider = createOpenAIProvider({ name: "lmstudio", baseUrl: "http://127.0.0.1:1234/v1" });
 * ```
 */
export function createOpenAIProvider(options: OpenAIProviderOptions): Provider {
  const base = withoutTrailing(options.baseUrl, /\//);
  const doFetch = options.fetch ?? fetch;
  const hostname = new URL(base).hostname;
  const maxTokensField = _isOpenAI(hostname) ? "max_completion_tokens" : "max_tokens";
  const reasoningContent = !_refusesReasoningContent(hostname);
  const newMessageId = options.newMessageId ?? (() => `msg_${crypto.randomUUID().replaceAll("-", "")}`);
  const answeredWhole = new StreamsAnsweredWhole();
  // The models whose upstream refused `reasoning_content`: their thinking goes back without it.
  const refusedReasoning = new BoundedMap<string, true>(_MAX_REFUSING_MODELS);
  // The models whose upstream asked for `reasoning_content` on every tool-calling message.
  const askedReasoning = new BoundedMap<string, true>(_MAX_REFUSING_MODELS);
  // The output cap each model's upstream named when it refused a larger `max_tokens`.
  const outputCaps = new BoundedMap<string, number>(_MAX_REFUSING_MODELS);
  const timers = options.timers ?? realTimers;
  // The Chat Completions body for `body`, with what the model's upstream taught relay so far.
  const chatFor = (body: JsonObject, model: string, reasoning: boolean): JsonObject => {
    let chat = chatRequestFor(body, { model, maxTokensField, reasoningContent: reasoning });
    if (reasoning && askedReasoning.has(model)) chat = _withReasoningOnToolCalls(chat);
    const cap = outputCaps.get(model);
    const asked = chat[maxTokensField];
    return cap !== undefined && typeof asked === "number" && asked > cap
      ? { ...chat, [maxTokensField]: cap }
      : chat;
  };
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
      const withReasoning = reasoningContent && !refusedReasoning.has(model);
      let chat: JsonObject;
      try {
        chat = chatFor(body, model, withReasoning);
      } catch (error) {
        if (error instanceof AnthropicToChatError) throw new UnservableError(400, error.message);
        throw error;
      }
      const post = () =>
        doFetch(`${base}/chat/completions`, {
          method: "POST",
          headers: _upstreamHeaders(request.headers, request.stream, key),
          body: JSON.stringify(chat),
          signal: request.signal,
          redirect: "manual",
        });
      const answering = post();
      answeredWhole.onSent(request);
      let response = await answering;
      // Each kind of remedy once a request: a server may refuse its fields one at a time (a token limit,
      // then a missing reasoning_content), and a remedy that did not cure its refusal is not tried again.
      const remedied = new Set<_Remedy["kind"]>();
      // A refused field comes with the statuses of a token limit.
      while (TOKEN_LIMIT_STATUSES.has(response.status)) {
        const asks: _Asks = {
          carried: withReasoning && _carriesReasoning(chat),
          lacked: withReasoning && _lacksReasoning(chat),
          maxTokens: chat[maxTokensField] as number | undefined,
          remedied,
        };
        // Read for no longer than relay would wait for that body. A resend is a second connection: a stream
        // still waits for its headers under connect, as for the first (`send` resolves with them).
        const within = idleDeadline(request, timers);
        const status = response.status;
        const seen = await peekRefusal(response, within, (text) => _remedy(text, status, asks));
        if (seen.answer) {
          response = seen.answer;
          break;
        }
        const remedy = seen.refused;
        remedied.add(remedy.kind);
        if (remedy.kind === "reasoning_refused") {
          if (!refusedReasoning.has(model)) {
            refusedReasoning.set(model, true);
            options.onFieldRefused?.(model, "reasoning_content");
          }
          chat = _withoutReasoning(chat);
        } else if (remedy.kind === "reasoning_asked") {
          if (!askedReasoning.has(model)) {
            askedReasoning.set(model, true);
            options.onFieldAsked?.(model, "reasoning_content");
          }
          chat = _withReasoningOnToolCalls(chat);
        } else {
          // An output cap holds for every request to the model; what a window leaves, for this one only.
          if (remedy.cap && outputCaps.get(model) !== remedy.maxTokens) {
            outputCaps.set(model, remedy.maxTokens);
            options.onMaxTokensCapped?.(model, remedy.maxTokens);
          }
          chat = { ...chat, [maxTokensField]: remedy.maxTokens };
        }
        response = await post();
      }
      if (!response.ok) {
        // DeepSeek and Groq name only their cap: what was asked completes it in the words Claude Code acts on.
        const maxTokens = chat[maxTokensField] as number | undefined;
        return anthropicErrorFromOpenAI(response, _answerHeaders(response), { maxTokens }, key ? [key] : []);
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
 * rest (DeepSeek and Kimi require it in a tool loop): OpenAI's own hosts, and Groq, Mistral and
 * Cerebras, which validate message fields strictly (`property 'reasoning_content' is unsupported`,
 * `extra_forbidden`) and whose own reasoning (`reasoning`, Magistral's thinking parts) relay makes
 * thinking blocks of. Another host that refuses it costs one resend a model ({@linkcode _REFUSALS}).
 */
function _refusesReasoningContent(hostname: string): boolean {
  const host = withoutFinalDot(hostname);
  return _isOpenAI(host) || _STRICT_HOSTS.has(host);
}

const _STRICT_HOSTS: ReadonlySet<string> = new Set(["api.groq.com", "api.mistral.ai", "api.cerebras.ai"]);

/** How many models one provider remembers refusing `reasoning_content`; past it, the first learnt is learnt again. */
const _MAX_REFUSING_MODELS = 256;

/** Whether an assistant message of `chat` carries `reasoning_content`: without it, no refusal of it to look for. */
function _carriesReasoning(chat: JsonObject): boolean {
  return (chat.messages as JsonObject[]).some((message) => "reasoning_content" in message);
}

/** Whether an assistant message of `chat` calls tools without `reasoning_content`, which DeepSeek may ask. */
function _lacksReasoning(chat: JsonObject): boolean {
  return (chat.messages as JsonObject[]).some(_toolCallsWithoutReasoning);
}

function _toolCallsWithoutReasoning(message: JsonObject): boolean {
  return message.role === "assistant" && "tool_calls" in message && !("reasoning_content" in message);
}

/** `chat` without the `reasoning_content` of its messages, for a server that refused the field. */
function _withoutReasoning(chat: JsonObject): JsonObject {
  const messages = (chat.messages as JsonObject[]).map(({ reasoning_content: _, ...message }) => message);
  return { ...chat, messages };
}

/**
 * `chat` with an empty `reasoning_content` on each assistant message that calls tools without one: what
 * DeepSeek's and Kimi's thinking modes check for is the field; the reasoning of a turn relay never had
 * (the client did not ask for thinking, or another model answered it) cannot be sent back.
 */
function _withReasoningOnToolCalls(chat: JsonObject): JsonObject {
  const messages = (chat.messages as JsonObject[]).map((message) =>
    _toolCallsWithoutReasoning(message) ? { ...message, reasoning_content: "" } : message
  );
  return { ...chat, messages };
}

// The field's name, as the end of a path or not, then the quotes around it, escaped or not (a message
// quoted in a JSON string). A pattern that begins with it looks for it alone: a search tries every
// position, and one that began by skipping a path's characters would rescan a long run of them from each.
const _FIELD_NAME = String.raw`reasoning_content(?![\w.\[])[\\"'\x60]*`;
// A path ending in the field (`messages.2.assistant.reasoning_content`, `messages[1].reasoning_content`),
// in quotes or not, for a pattern where the words before it come first.
const _FIELD = String.raw`[\\"'\x60(]*[\w.\[\]-]*${_FIELD_NAME}`;
// Pydantic's wordings for a field a model forbids (v2, v1), as its type or its message.
const _EXTRA = String
  .raw`(?:extra_forbidden|extra inputs are not permitted|extra fields not permitted|value_error\.extra)`;

/**
 * How strict servers refuse a field they do not know, naming `reasoning_content`: the field then
 * refused (Groq and Cerebras `property '...reasoning_content' is unsupported`; OpenAI
 * `('reasoning_content' was unexpected)`), a refusal then the field (OpenAI and Azure `Unrecognized
 * request argument supplied: reasoning_content`, `Unknown parameter: '...'`; Google `Unknown name
 * "reasoning_content"`), or pydantic's `extra_forbidden` with the field as its location, before or after
 * (Mistral's 422, FastAPI servers). Only these: a body may quote the request, reasoning text included.
 * DeepSeek's `Missing reasoning_content field` and Kimi's `reasoning_content is missing` say the opposite.
 */
const _REFUSALS: readonly RegExp[] = [
  new RegExp(
    String
      .raw`${_FIELD_NAME}\)?\s+(?:is|are|was|were)\s+(?:not\s+(?:supported|allowed|permitted|recogni[sz]ed|expected)|` +
      String.raw`unsupported|unexpected|unknown|unrecogni[sz]ed|forbidden|disallowed)`,
    "i",
  ),
  new RegExp(
    String
      .raw`(?:unsupported|unexpected|unknown|unrecogni[sz]ed|extra|forbidden|disallowed)\s+(?:request\s+)?` +
      String
        .raw`(?:argument|parameter|field|key|property|properties|name|input)s?(?:\s+supplied)?[\s:]*${_FIELD}`,
    "i",
  ),
  new RegExp(String.raw`${_FIELD_NAME}[^{}]{0,40}?${_EXTRA}`, "i"),
  // Led by the field's name, what comes before it a bounded look behind: only the name's places are starts.
  new RegExp(String.raw`(?<=${_EXTRA}[^{}]{0,120})${_FIELD_NAME}`, "i"),
];

/**
 * DeepSeek's and Kimi's thinking modes asking for `reasoning_content` on a tool-calling assistant message
 * that came without it: `Missing reasoning_content field in the assistant message at message index 2`,
 * `The reasoning_content in the thinking mode must be passed back to the API.`, `thinking is enabled but
 * reasoning_content is missing in assistant tool call message at index 2`.
 */
const _ASKED = [
  /missing\s+[\\"'\x60]*reasoning_content/i,
  /reasoning_content[\\"'\x60]*\s+(?:field\s+)?is\s+missing/i,
  /reasoning_content[\\"'\x60]*\s+in\s+the\s+thinking\s+mode\s+must\s+be\s+passed\s+back/i,
];

/** What a request sent gives a refusal cause to say. */
interface _Asks {
  /** An assistant message carried `reasoning_content`. */
  carried: boolean;
  /** An assistant message called tools without `reasoning_content`. */
  lacked: boolean;
  /** The `max_tokens` (or `max_completion_tokens`) sent. */
  maxTokens: number | undefined;
  /** The kinds of remedy the request had already: not called for again. */
  remedied: ReadonlySet<_Remedy["kind"]>;
}

/** What a refusal's words call for, in a resend of the request. */
type _Remedy =
  | { kind: "reasoning_refused" }
  | { kind: "reasoning_asked" }
  /** `maxTokens` in place of what was sent: the model's output cap (`cap`), or what its window leaves. */
  | { kind: "max_tokens"; maxTokens: number; cap: boolean };

/**
 * What an error body's start, answered with `status`, calls for among what the request gives it cause to
 * say: without `reasoning_content` when it `carried` the field and the words refuse it
 * ({@linkcode _REFUSALS}); with it empty when a tool-calling message `lacked` it and the words ask for it
 * ({@linkcode _ASKED}); a smaller `max_tokens` when the words name the model's output cap, or a window
 * that the input leaves room in ({@linkcode refusedTokenLimit}); else `undefined`.
 */
function _remedy(text: string, status: number, asks: _Asks): _Remedy | undefined {
  const remedy = _remedyFor(text, status, asks);
  return remedy && !asks.remedied.has(remedy.kind) ? remedy : undefined;
}

function _remedyFor(text: string, status: number, asks: _Asks): _Remedy | undefined {
  // Not in what the error quotes of the request: the reasoning sent may say anything.
  const own = errorOwnWords(text);
  if (status !== 413) {
    if (asks.carried && _REFUSALS.some((refusal) => refusal.test(own))) return { kind: "reasoning_refused" };
    if (asks.lacked && _ASKED.some((asked) => asked.test(own))) return { kind: "reasoning_asked" };
  }
  // Only the error's own message, and only words about the max_tokens this request sent, and only for
  // less: a body that quotes a prompt may hold any numbers, and a cap misread would be kept for every
  // request to the model.
  const limit = refusedTokenLimit(openaiErrorMessage(parseJsonObject(text)) ?? text, {
    maxTokens: asks.maxTokens,
  });
  if (!limit || asks.maxTokens === undefined || limit.asked !== asks.maxTokens) return undefined;
  if ("cap" in limit) {
    return limit.cap < asks.maxTokens ? { kind: "max_tokens", maxTokens: limit.cap, cap: true } : undefined;
  }
  // Too little room for an answer worth its round trip: the client hears of the window, and may make
  // room (Claude Code compacts the conversation below this much).
  const room = limit.window - limit.input;
  return room >= _MIN_ROOM_TOKENS && room < asks.maxTokens
    ? { kind: "max_tokens", maxTokens: room, cap: false }
    : undefined;
}

/** The least room a window must leave for a resend asking for it; Claude Code's own floor. */
const _MIN_ROOM_TOKENS = 3000;

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
