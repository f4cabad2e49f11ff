/**
 * What relay's OpenAI-format routes share (`/v1/chat/completions`, `/v1/responses`): the client's body read
 * under relay's limits, its translation sent through relay's own `/v1/messages`, and the answer translated
 * back; relay's errors and upstreams' in OpenAI's shape, with their status. Each route brings its own
 * reading of the body and translation of the answer ({@linkcode FrontDoor}).
 */
import type { Context } from "hono";
import { statusForErrorType } from "../routing/error_status.ts";
import { anthropicTranslatedSse, type AnthropicTranslator } from "../stream/anthropic_translated_sse.ts";
import { BodyCutError } from "../stream/body_cut.ts";
import {
  DEFAULT_KEEPALIVE_MS,
  type KeepAliveOptions,
  OPENAI_PING,
  withKeepAlive,
} from "../stream/keep_alive.ts";
import { BoundedMap } from "../providers/bounded_map.ts";
import type { Ping } from "../stream/forward.ts";
import { type ThinkingForm, thinkingFormRefused } from "../stream/thinking_for_effort.ts";
import { ChatToAnthropicError } from "../stream/openai_request_fields.ts";
import {
  MAX_WHOLE_ANSWER_BYTES,
  MAX_WHOLE_ANSWER_MIB,
  readWhole,
  translateWhole,
  type WholeText,
} from "../stream/translate_whole.ts";
import { copyHeaders, hasMediaType, WITHOUT_LENGTH } from "../util/headers.ts";
import { errorMessage } from "../util/error_message.ts";
import { isJsonObject, type JsonObject, jsonSyntaxReason } from "../util/json.ts";
import type { Timers } from "../util/timers.ts";
import { modelProblem, parseJsonBody, readBody, type ReadBodyOptions } from "./body.ts";
import type { BodyHold } from "./body_budget.ts";
import { anthropicErrorOf, RelayError } from "./errors.ts";
import { anthropicErrorIn, openaiErrorResponse, UpstreamErrorFields } from "./openai_errors.ts";
import type { RelayEnv } from "./request_id.ts";

export interface FrontDoorOptions {
  /**
   * relay's own HTTP handling (`app.fetch`). The translated request goes through `/v1/messages` like
   * any other, so routing, model mapping, client auth, timeouts, keep-alive and the access log apply.
   * `messages` is its body, parsed, for `/v1/messages` to take instead of parsing the bytes again.
   */
  dispatch: (request: Request, messages: Record<string, unknown>) => Promise<Response>;
  /** Largest request body accepted, in bytes; asked per request, so a reload's limit applies at once. */
  maxBodyBytes: () => number;
  /** Longest a request body may take to arrive (`server.body_timeout`), asked per request; unset: none. */
  bodyTimeoutMs?: () => number | undefined;
  /**
   * A new request's share of relay's body budget (`server.max_body_memory`), asked per request; unset:
   * bodies are not counted.
   */
  bodyHold?: () => BodyHold;
  /** A shutdown's cut (`InFlight.cut`): an upload still under way then is answered 503. */
  cut?: AbortSignal;
  /**
   * `server.keepalive`, asked per request. relay's `/v1/messages` pings only between the upstream's
   * events, so an upstream stalled mid-event leaves it silent; the translated stream is always between
   * chunks, and pings of its own fill that silence.
   */
  keepaliveMs?: () => number | undefined;
  /** Unix seconds, the `created` of the answer; injected so tests can pin it. */
  now?: () => number;
  /** The clock and timers of the keep-alive and the body's deadline; the real ones unless given. */
  clock?: { now: () => number; timers: Timers };
}

/** A client's request as its front door reads it: what to send, and how to answer in the client's format. */
export interface FrontDoorRequest {
  /** The Anthropic Messages body to send through relay's own `/v1/messages`. */
  messages: JsonObject;
  /** Whether the client asked for a stream. */
  stream: boolean;
  /** The translation of one streamed answer; `created` is the answer's time, in Unix seconds. */
  streamAnswer(created: number): AnswerStream;
  /** The client's answer for a whole Message (not an error object). */
  wholeAnswer(message: JsonObject, created: number): JsonObject;
  /**
   * Whether an error answered before the stream began goes to a streamed request as a stream that
   * fails at once, rather than as an HTTP error: a client may act on an error only so (Codex compacts
   * on a `response.failed`, and gives up on a 400).
   */
  failsInStream?(error: { type: string; message: string }): boolean;
}

/** One answer's stream translation, each method giving the bytes to send. */
export interface AnswerStream {
  /** The keep-alive to send while relay's answer is silent. */
  ping: Ping;
  /** relay's SSE answer, translated as it arrives. */
  sse(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
  /** What a whole Message (or an error object) stands for, come for a streamed request. */
  message(message: JsonObject): Uint8Array[];
  /** What ends the stream with an error of Anthropic's `type` (`api_error` unless given). */
  error(message: string, type?: string): Uint8Array[];
}

/**
 * The {@linkcode AnswerStream} of `translator`'s parts, `encode`d.
 *
 * @example
 * ```ts
 * answerStream(new AnthropicToOpenAI({ created, includeUsage: true }), encodeOpenAISse);
 * ```
 */
export function answerStream<Part>(
  translator: AnthropicTranslator<Part>,
  encode: (part: Part) => Uint8Array,
): AnswerStream {
  const encoded = (parts: Part[]) => parts.map(encode);
  const keepAlive = translator.keepAlive?.bind(translator);
  return {
    ping: keepAlive
      ? () => {
        const part = keepAlive();
        return part === undefined ? OPENAI_PING : encode(part);
      }
      : OPENAI_PING,
    sse: (body) => anthropicTranslatedSse(body, translator, encode),
    message: (message) => encoded(translator.message(message)),
    error: (message, type) => encoded(translator.error(message, type)),
  };
}

/**
 * A front door's own reading of a client's body, a JSON object whose `model` was checked: the request
 * to send, or the OpenAI error answer that refuses it. Thinking the client asks for goes in
 * `thinkingForm` when given, else in the form the model's name suggests.
 */
export type FrontDoor = (
  body: JsonObject & { model: string },
  thinkingForm?: ThinkingForm,
) => FrontDoorRequest | Response;

/**
 * The handler of an OpenAI-format route: the body read under relay's limits, `door`'s translation sent
 * through relay's own `/v1/messages`, and the answer translated back; relay's errors and upstreams'
 * in OpenAI's shape, with their status. A request whose thinking the upstream refuses in the form it
 * was asked ({@linkcode thinkingFormRefused}) is sent once more in the other, which the model's later
 * requests then take at once (up to 256 models remembered).
 *
 * @example
 * ```ts
 * app.post("/v1/responses", openaiFrontDoor(options, (body) => ({ messages: …, stream: …, … })));
 * ```
 */
export function openaiFrontDoor(
  options: FrontDoorOptions,
  door: FrontDoor,
): (c: Context<RelayEnv>) => Promise<Response> {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const thinkingForms = new BoundedMap<string, ThinkingForm>(_THINKING_FORMS_KEPT);
  return async (c) => {
    const hold = options.bodyHold?.();
    // Given back once the body is parsed: its bytes are dropped then, and the translation takes its own
    // share where `/v1/messages` reads it, so no body counts twice.
    const body = await _openaiRequest(c.req.raw, options.maxBodyBytes(), {
      timeoutMs: options.bodyTimeoutMs?.(),
      timers: options.clock?.timers,
      now: options.clock?.now,
      cut: options.cut,
      hold,
    }).finally(() => hold?.release());
    if (body instanceof Response) return body;
    const asked = door(body, thinkingForms.get(body.model));
    if (asked instanceof Response) return asked;
    let request = asked;
    // The line is the relayed request's, under this request's id.
    c.set("handlerLogs", true);
    const upstreamErrors = new UpstreamErrorFields();
    return await upstreamErrors.during(async () => {
      const send = (messages: JsonObject) => options.dispatch(_messagesRequest(c, messages), messages);
      let answer = await send(request.messages);
      let refused: AnthropicError | undefined;
      const thinking = request.messages.thinking;
      if (!answer.ok && isJsonObject(thinking)) {
        refused = await anthropicErrorIn(answer);
        const form = thinkingFormRefused(refused.message);
        const sent: ThinkingForm = thinking.type === "adaptive" ? "adaptive" : "budget";
        const again = form && form !== sent && door(body, form);
        if (again && !(again instanceof Response)) {
          request = again;
          answer = await send(again.messages);
          refused = undefined;
          if (answer.ok) thinkingForms.set(body.model, form);
        }
      }
      const keepAlive = { intervalMs: options.keepaliveMs?.() ?? DEFAULT_KEEPALIVE_MS, ...options.clock };
      return await _openaiAnswer(answer, request, now(), keepAlive, { refused, upstreamErrors });
    });
  };
}

/** How many models' thinking forms a front door remembers; past that, the first learnt is asked again. */
const _THINKING_FORMS_KEPT = 256;

/** An Anthropic error as read from an answer: its type and message. */
type AnthropicError = { type: string; message: string };

/**
 * A translation's refusal as the client's 400, naming the field at fault (`param` maps the translated
 * request's field names to the client's); any other error is thrown again.
 */
export function refusedTranslation(
  error: unknown,
  param: (name: string) => string = (name) => name,
): Response {
  if (!(error instanceof ChatToAnthropicError)) throw error;
  const at = param(error.param);
  return openaiErrorResponse(400, `${at}: ${error.reason}`, { param: at });
}

/** The answer is translated too, into another length and type. */
const _LENGTH_AND_TYPE: ReadonlySet<string> = new Set(["content-length", "content-type"]);

/**
 * Where the translated request goes: only its path counts, since it never leaves relay. The client's
 * URL is not its base: Deno takes its host from the `Host` header unchecked (`a b`, `x:99999`), and
 * such a base would not parse.
 */
const _MESSAGES_URL = "http://relay.invalid/v1/messages";

/** The translated request as relay's own `/v1/messages` takes it, with the client's headers and signal. */
function _messagesRequest(c: Context<RelayEnv>, messages: Record<string, unknown>): Request {
  const headers = copyHeaders(c.req.raw.headers, WITHOUT_LENGTH);
  headers.set("content-type", "application/json");
  // Anthropic upstreams require a version; OpenAI clients know nothing of it.
  if (!headers.has("anthropic-version")) headers.set("anthropic-version", "2023-06-01");
  // One id for the exchange, in relay's log and in the client's answer.
  headers.set("x-request-id", c.get("requestId"));
  return new Request(_MESSAGES_URL, {
    method: "POST",
    headers,
    body: JSON.stringify(messages),
    signal: c.req.raw.signal,
  });
}

/**
 * relay's Anthropic-format answer in the client's format, with its headers (rate limits, request ids);
 * `refused` is the error of a failed answer, when it was read already, and `upstreamErrors` what an
 * OpenAI-compatible upstream's error said that Anthropic's envelope has no place for.
 */
async function _openaiAnswer(
  answer: Response,
  request: FrontDoorRequest,
  created: number,
  keepAlive: Omit<KeepAliveOptions, "ping">,
  { refused, upstreamErrors }: { refused?: AnthropicError; upstreamErrors: UpstreamErrorFields },
): Promise<Response> {
  const headers = copyHeaders(answer.headers, _LENGTH_AND_TYPE);
  if (!answer.ok) {
    const error = refused ?? await anthropicErrorIn(answer);
    if (!request.stream || !request.failsInStream?.(error)) {
      // The upstream's own type, param and code, as a client connected to it would have them.
      const upstream = upstreamErrors.of(error.message);
      return openaiErrorResponse(answer.status, error.message, { type: error.type, ...upstream, headers });
    }
    _asStream(headers);
    const failed = request.streamAnswer(created).error(error.message, error.type);
    return new Response(ReadableStream.from(failed), { headers });
  }
  if (request.stream) {
    const translator = request.streamAnswer(created);
    _asStream(headers);
    const body = answer.body ?? ReadableStream.from<Uint8Array>([]);
    // Some Anthropic-format servers ignore `stream` and answer with the whole Message.
    const translated = hasMediaType(answer, "application/json")
      ? translateWhole(
        body,
        MAX_WHOLE_ANSWER_BYTES,
        (whole) => {
          const read = _messageIn(whole);
          return "message" in read ? translator.message(read.message) : translator.error(read.problem);
        },
        (error) => translator.error(error.message, error.errorType),
      )
      : translator.sse(body);
    return new Response(withKeepAlive(translated, { ...keepAlive, ping: translator.ping }), { headers });
  }
  let read: { message: JsonObject } | { problem: string };
  try {
    read = _messageIn(await readWhole(answer.body, MAX_WHOLE_ANSWER_BYTES));
  } catch (error) {
    const reason = error instanceof BodyCutError
      ? `the upstream's answer was cut off: ${error.message}`
      : `relay could not read the upstream's answer: ${errorMessage(error)}`;
    return openaiErrorResponse(502, reason, { type: "api_error" });
  }
  if ("problem" in read) return openaiErrorResponse(502, read.problem, { type: "api_error" });
  const { message } = read;
  // An error body under a 200 (an Anthropic-format server's failure), as the stream's `error` event is.
  if (message.type === "error") {
    const { type, message: text } = anthropicErrorOf(message);
    return openaiErrorResponse(statusForErrorType(type), text, { type, headers });
  }
  return Response.json(request.wholeAnswer(message, created), { headers });
}

/** `headers` as an event stream's. */
function _asStream(headers: Headers): void {
  headers.set("content-type", "text/event-stream");
  headers.set("cache-control", "no-cache");
}

/** The Message in relay's answer, read whole, or why relay cannot translate it. */
function _messageIn({ text, cut }: WholeText): { message: JsonObject } | { problem: string } {
  if (cut) {
    return {
      problem: `the upstream's answer is over ${MAX_WHOLE_ANSWER_MIB} MiB, more than relay translates`,
    };
  }
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (error) {
    return { problem: `the upstream's answer is not JSON: ${jsonSyntaxReason(error as SyntaxError)}` };
  }
  return { message: isJsonObject(message) ? message : {} };
}

/**
 * The request body, a JSON object with a `model`, or the 400/413 response that says why not, in the
 * words `/v1/messages` uses.
 */
async function _openaiRequest(
  request: Request,
  maxBodyBytes: number,
  reading: ReadBodyOptions,
): Promise<JsonObject & { model: string } | Response> {
  let body: unknown;
  try {
    body = parseJsonBody(await readBody(request, maxBodyBytes, reading));
  } catch (error) {
    if (error instanceof RelayError) {
      return openaiErrorResponse(error.status, error.message, { type: error.type, headers: error.headers });
    }
    throw error;
  }
  if (!isJsonObject(body)) return openaiErrorResponse(400, "request body must be a JSON object");
  if (typeof body.model !== "string" || body.model === "") {
    return openaiErrorResponse(400, "model: field required (a non-empty string)", { param: "model" });
  }
  const problem = modelProblem(body.model);
  if (problem) return openaiErrorResponse(400, problem, { param: "model" });
  return body as JsonObject & { model: string };
}
