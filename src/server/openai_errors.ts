/**
 * Errors between OpenAI's shape, `{"error":{"message","type","param","code"}}`, and Anthropic's
 * envelope, in both directions: an OpenAI-compatible upstream's failure told to an Anthropic client,
 * and an Anthropic-format failure told to an OpenAI client. The status and the message text survive
 * both ways, because clients retry on the status and Claude Code reads the text.
 */
import { MAX_ERROR_BODY_BYTES, readWhole, translateWhole } from "../stream/translate_whole.ts";
import { isJsonObject } from "../util/json.ts";
import { anthropicErrorOf, type AnthropicErrorType, errorEnvelope, errorTypeForStatus } from "./errors.ts";
import { errorMessage } from "../util/error_message.ts";

/** A failure in Anthropic's terms: the status to answer before a stream, the type and text always. */
export interface AnthropicFailure {
  readonly status: number;
  readonly type: AnthropicErrorType;
  readonly message: string;
}

/**
 * OpenAI's error body; `param` names the request field at fault, when one is.
 *
 * @example
 * ```ts
 * openaiErrorBody("messages: expected an array", "invalid_request_error", "messages");
 * // { error: { message: "messages: expected an array", type: "invalid_request_error", param: "messages", code: null } }
 * ```
 */
export function openaiErrorBody(message: string, type: string, param: string | null = null) {
  return { error: { message, type, param, code: null } };
}

/** What an error response says besides its status and message. */
export interface OpenAIErrorOptions {
  /** Anthropic's error type for the status unless given, as relay's Anthropic routes would answer. */
  type?: string;
  /** The request field at fault. */
  param?: string;
  headers?: HeadersInit;
}

/**
 * An error response in OpenAI's shape, which OpenAI's SDKs turn into their typed API errors.
 *
 * @example
 * ```ts
 * return openaiErrorResponse(400, "model: expected a string", { param: "model" });
 * ```
 */
export function openaiErrorResponse(
  status: number,
  message: string,
  options: OpenAIErrorOptions = {},
): Response {
  const { type = errorTypeForStatus(status), param, headers } = options;
  return Response.json(openaiErrorBody(message, type, param), { status, headers });
}

/**
 * An Anthropic-format error response (relay's own or an upstream's) rewritten in OpenAI's shape, with
 * the same status and the Anthropic `error.type` as `type`. `headers` go along: `retry-after` and
 * `x-should-retry` drive the OpenAI SDK's retries too. A body that cannot be read whole (an upstream's,
 * stalled or cut off on its way through relay) still gives its status, with a message that says so:
 * half of it would be no message. Of a body over {@linkcode MAX_ERROR_BODY_BYTES}, only that much is
 * read: its start is still the message.
 *
 * @example
 * ```ts
 * if (!answer.ok) return await openaiErrorFromAnthropic(answer, headers);
 * ```
 */
export async function openaiErrorFromAnthropic(response: Response, headers?: HeadersInit): Promise<Response> {
  let text: string;
  try {
    ({ text } = await readWhole(response.body, MAX_ERROR_BODY_BYTES));
  } catch (cut) {
    const reason = errorMessage(cut);
    const message = `upstream answered HTTP ${response.status}, but its error body was cut off: ${reason}`;
    return openaiErrorResponse(response.status, message, { headers });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const { type, message } = anthropicErrorOf(isJsonObject(parsed) ? parsed : {}, {
    type: errorTypeForStatus(response.status),
    message: _fallbackMessage(text, response.status),
  });
  return openaiErrorResponse(response.status, message, { type, headers });
}

/** What relay asked of an OpenAI-compatible upstream, for the errors that do not repeat it. */
export interface OpenAIRequestAsked {
  /** The `max_tokens` (or `max_completion_tokens`) sent: DeepSeek and Groq name only their cap. */
  readonly maxTokens?: number;
}

/**
 * An OpenAI-compatible upstream's non-2xx answer as the Anthropic error answer it stands for, at once.
 * The status is kept; the body, read when the answer's reader asks for it (under relay's deadlines for a body,
 * and not at all when relay retries elsewhere), becomes Anthropic's envelope around the upstream's own
 * text, since its wording is what a user can act on; of a body over {@linkcode MAX_ERROR_BODY_BYTES},
 * its start. `asked` completes an output limit the upstream words without the value it refused.
 *
 * @example
 * ```ts
 * if (!response.ok) return anthropicErrorFromOpenAI(response, { "content-type": "application/json" });
 * ```
 */
export function anthropicErrorFromOpenAI(
  response: Response,
  headers?: HeadersInit,
  asked: OpenAIRequestAsked = {},
): Response {
  const { status } = response;
  const body = translateWhole(response.body, MAX_ERROR_BODY_BYTES, ({ text }) => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const { type, message } = anthropicFailureFor(json, status, asked) ??
      { type: errorTypeForStatus(status), message: _fallbackMessage(text, response.status) };
    return [new TextEncoder().encode(JSON.stringify(errorEnvelope(type, message)))];
  });
  return new Response(body, { status, headers });
}

/**
 * Reads an OpenAI-style error body, or the `error` member of a stream chunk, in Anthropic's terms;
 * `undefined` when it holds no message. Compatibles disagree on the shape: OpenAI nests
 * `{message, type, code}` under `error`, vLLM puts them at the top, OpenRouter gives the HTTP status as
 * a numeric `code`, some servers send a bare string or FastAPI's `detail`. Inside a stream there is no
 * HTTP status, so `status` is then the upstream's numeric `code` or one implied by its `type`.
 *
 * @example
 * ```ts
 * anthropicFailureFor({ error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } });
 * // { status: 429, type: "rate_limit_error", message: "Rate limit reached" }
 * ```
 */
export function anthropicFailureFor(
  body: unknown,
  httpStatus?: number,
  asked: OpenAIRequestAsked = {},
): AnthropicFailure | undefined {
  if (!isJsonObject(body)) return undefined;
  const error = body.error ?? body;
  if (typeof error === "string") return _failure(httpStatus ?? 500, error, "", asked);
  if (!isJsonObject(error)) return undefined;
  const message = [error.message, error.detail].find((value) => typeof value === "string");
  if (message === undefined) return undefined;
  const code = error.code ?? error.status;
  const words = [error.type, code].filter((value) => typeof value === "string").join(" ");
  const codeStatus = typeof code === "number" && code >= 400 && code <= 599 ? code : undefined;
  return _failure(httpStatus ?? codeStatus ?? _statusForWords(words), message, words, asked);
}

/** A status for an error known only by its `type`/`code` words, as inside a stream. */
function _statusForWords(words: string): number {
  if (/rate_limit|quota/i.test(words)) return 429;
  if (/overloaded/i.test(words)) return 529;
  if (/context_length|invalid_request/i.test(words)) return 400;
  if (/authentication|invalid_api_key/i.test(words)) return 401;
  if (/timeout/i.test(words)) return 504;
  return 500;
}

/** The upstream's failure, in the words Claude Code acts on when they are about a token limit. */
function _failure(
  status: number,
  message: string,
  words: string,
  asked: OpenAIRequestAsked,
): AnthropicFailure {
  const text = _LIMIT_STATUSES.has(status) ? _claudeCodeWording(message, words, asked) : message;
  return { status, type: errorTypeForStatus(status), message: text };
}

/**
 * The statuses a request over a token limit is refused with (400 by OpenAI, vLLM and llama.cpp, 422 by
 * TGI, 413 by gateways); another (a 429 that mentions a context window) is about something else.
 */
const _LIMIT_STATUSES: ReadonlySet<number> = new Set([400, 413, 422]);

/**
 * Claude Code recovers from a token limit only when the error reads as Anthropic words it: it lowers
 * `max_tokens` and resends on `max_tokens: N > CAP, which is the maximum allowed number of output
 * tokens for …` (the whole message, one line) or on `input length and \`max_tokens\` exceed context limit:
 * IN + OUT > WINDOW`, and it compacts only on `prompt is too long` (protocols.md §2.4). Compatibles word
 * all three their own way; theirs is kept after Anthropic's, and an overflow of the prompt alone stays
 * `prompt is too long`, since a smaller `max_tokens` cannot cure it.
 */
function _claudeCodeWording(message: string, words: string, asked: OpenAIRequestAsked): string {
  const own = errorOwnWords(message);
  const cap = _outputCap(own, asked.maxTokens);
  const share = cap ? undefined : _windowShare(own);
  const said = `(upstream said: ${_oneLine(message)})`;
  if (cap) {
    const over = `max_tokens: ${cap.asked} > ${cap.cap}`;
    return `${over}, which is the maximum allowed number of output tokens for this model ${said}`;
  }
  if (share && share.input < share.window && share.output > 0) {
    const exceed = `input length and \`max_tokens\` exceed context limit: ${share.input} + ${share.output}`;
    return `${exceed} > ${share.window}, decrease input length or \`max_tokens\` and try again ${said}`;
  }
  const overflow = share !== undefined || /context_length_exceeded|exceed_context_size/i.test(words) ||
    /maximum context length|context (length|size|window)/i.test(own);
  return overflow && !message.includes("prompt is too long") ? `prompt is too long: ${message}` : message;
}

/** How much of an error its wording is looked for in: a server's own is a sentence or two at its start. */
const _OWN_WORDS_CHARS = 4096;

/**
 * The words of an upstream's error that are its own, to look for a wording in: the start of `text`, up
 * to where it quotes the request (pydantic's `input_value=…`, an `"input":` member), whose text (a
 * prompt, reasoning) may read like any error. An error body in JSON gives its strings and numbers, in
 * order, but those under `input` or `input_value`.
 *
 * @example
 * ```ts
 * errorOwnWords('{"detail":[{"loc":["body",1],"msg":"bad","input":"max_tokens is too large"}]}'); // "body 1 bad"
 * ```
 */
export function errorOwnWords(text: string): string {
  const start = _jsonWords(text).slice(0, _OWN_WORDS_CHARS);
  const quoted = start.search(/input_value=|["']input["']\s*:/);
  return quoted < 0 ? start : start.slice(0, quoted);
}

function _jsonWords(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const words: string[] = [];
  const visit = (value: unknown) => {
    if (typeof value === "string" || typeof value === "number") words.push(String(value));
    else if (Array.isArray(value)) value.forEach(visit);
    else if (isJsonObject(value)) {
      for (const [key, member] of Object.entries(value)) {
        if (key !== "input" && key !== "input_value") visit(member);
      }
    }
  };
  visit(parsed);
  return words.join(" ");
}

/** The `max_tokens` an upstream refused as over its model's output cap, and that cap. */
function _outputCap(
  message: string,
  maxTokens: number | undefined,
): { asked: number; cap: number } | undefined {
  // OpenAI, Azure OpenAI: "max_tokens is too large: 32000. This model supports at most 16384 completion
  // tokens, whereas you provided 32000." (also `max_completion_tokens`).
  const openai =
    /max_(?:completion_)?tokens is too large: (\d+)\. This model supports at most (\d+) completion tokens/i
      .exec(message);
  if (openai) return _over(Number(openai[1]), Number(openai[2]));
  // Only the cap: DeepSeek's "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]",
  // Groq's and Z.AI's "`max_tokens` must be less than or equal to `8192`, the maximum value for …".
  const capOnly =
    /valid range of max_tokens is \[\d+, (\d+)\]|`max_(?:completion_)?tokens` must be less than or equal to `(\d+)`/i
      .exec(message);
  if (capOnly && maxTokens !== undefined) return _over(maxTokens, Number(capOnly[1] ?? capOnly[2]));
  return undefined;
}

function _over(asked: number, cap: number): { asked: number; cap: number } | undefined {
  return Number.isSafeInteger(asked) && asked > cap ? { asked, cap } : undefined;
}

/** How a refused request would have filled the model's window: its input, the output asked, the window. */
function _windowShare(message: string): { input: number; output: number; window: number } | undefined {
  // vLLM: "'max_tokens' or 'max_completion_tokens' is too large: 32000. This model's maximum context
  // length is 32768 tokens and your request has 12396 input tokens (32000 > 32768 - 12396)."
  const vllm =
    /is too large: (\d+)\. This model's maximum context length is (\d+) tokens and your request has (\d+) input tokens/i
      .exec(message);
  if (vllm) return { input: Number(vllm[3]), output: Number(vllm[1]), window: Number(vllm[2]) };
  // Later vLLM: "This model's maximum context length is 262144 tokens. However, you requested 128000
  // output tokens and your prompt contains at least 134145 input tokens, for a total of …".
  const vllmLater =
    /maximum context length is (\d+) tokens\. However, you requested (\d+) output tokens and your prompt contains at least (\d+) input tokens/i
      .exec(message);
  if (vllmLater) {
    return { input: Number(vllmLater[3]), output: Number(vllmLater[2]), window: Number(vllmLater[1]) };
  }
  // TGI (Hugging Face, Together): "Input validation error: `inputs` tokens + `max_new_tokens` must be
  // <= 32769. Given: 12000 `inputs` tokens and 32000 `max_new_tokens`".
  const tgi =
    /`inputs` tokens \+ `max_new_tokens` must be <= (\d+)\. Given: (\d+) `inputs` tokens and (\d+) `max_new_tokens`/i
      .exec(message);
  if (tgi) return { input: Number(tgi[2]), output: Number(tgi[3]), window: Number(tgi[1]) };
  // OpenAI and older vLLM: "This model's maximum context length is 8192 tokens. However, you requested
  // 9000 tokens (1000 in the messages, 8000 in the completion)." (functions counted apart, once `; 0 for
  // the completion`); OpenRouter: "This endpoint's maximum context length is 131072 tokens. However, you
  // requested about 140000 tokens (8000 of text input, 132000 in the output)." (tool input apart).
  const parts =
    /maximum context length is (\d+) tokens[.,] however,? you requested (?:about )?\d+ tokens \(([^)]{0,300})\)/i
      .exec(message);
  if (!parts) return undefined;
  const share = { input: 0, output: 0, window: Number(parts[1]) };
  for (const part of parts[2].split(/[,;]/)) {
    const counted = /^\s*(\d+) (.*)$/.exec(part);
    if (!counted) continue;
    share[/completion|output/i.test(counted[2]) ? "output" : "input"] += Number(counted[1]);
  }
  return share;
}

/**
 * Claude Code reads `max_tokens: … for .+$` with `.`, which no line break matches. Each break becomes a
 * space, in one linear pass: trimming the spaces around it with `\s*` would rescan a long run of them
 * from every position, and an upstream's error body may be a megabyte.
 */
function _oneLine(text: string): string {
  return text.replace(/[\r\n\u2028\u2029]/g, " ").trim();
}

function _fallbackMessage(text: string, status: number): string {
  return text.trim().slice(0, 500) || `upstream answered HTTP ${status} without a message`;
}
