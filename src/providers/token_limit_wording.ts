/**
 * Token-limit errors in the words Claude Code acts on. Anthropic words a request over a model's output
 * cap or window one way, and Claude Code reads exactly those words; servers other than Anthropic's own
 * (OpenAI-compatible ones, and the Anthropic-format endpoints of DeepSeek, Kimi, Z.AI, Ollama,
 * OpenRouter, LiteLLM) word the same refusals their own way, and Claude Code then ends the session.
 */
import { editTopLevelJson } from "./json_edit.ts";
import { type ChunkReader, compactReader } from "../stream/compact_reader.ts";
import { MAX_ERROR_BODY_BYTES } from "../stream/translate_whole.ts";
import { concatBytes } from "../util/bytes.ts";
import { copyHeaders, WITHOUT_LENGTH } from "../util/headers.ts";
import { isJsonObject } from "../util/json.ts";

/** What relay asked of the upstream, for the errors that do not repeat it. */
export interface TokenLimitAsked {
  /**
   * The `max_tokens` (or `max_completion_tokens`) sent: DeepSeek, Groq and Z.AI name only their cap. Read
   * only for such a wording, so it may be a getter that parses the request then.
   */
  readonly maxTokens?: number;
}

/**
 * `message`, an upstream's refusal answered with `status`, in the words Claude Code recovers from when it
 * is about a token limit; else `message` itself. Claude Code lowers `max_tokens` and resends on
 * `max_tokens: N > CAP, which is the maximum allowed number of output tokens for …` (the whole message,
 * one line) or on `input length and \`max_tokens\` exceed context limit: IN + OUT > WINDOW`, and it
 * compacts only on `prompt is too long` (protocols.md §2.4). The upstream's own text is kept after
 * Anthropic's, and an overflow of the prompt alone stays `prompt is too long`, since a smaller
 * `max_tokens` cannot cure it. `words` are the error's `type` and `code`, which may name an overflow the
 * text does not (`context_length_exceeded`).
 *
 * @example
 * ```ts
 * claudeCodeWording("Invalid max_tokens value, the valid range of max_tokens is [1, 8192]", 400, "", {
 *   maxTokens: 32000,
 * });
 * // "max_tokens: 32000 > 8192, which is the maximum allowed number of output tokens for this model (upstream said: …)"
 * ```
 */
export function claudeCodeWording(
  message: string,
  status: number,
  words: string,
  asked: TokenLimitAsked,
): string {
  if (!TOKEN_LIMIT_STATUSES.has(status)) return message;
  const own = errorOwnWords(message);
  const limit = _tokenLimit(own, asked);
  const said = `(upstream said: ${_oneLine(message)})`;
  if (limit && "cap" in limit) {
    const over = `max_tokens: ${limit.asked} > ${limit.cap}`;
    return `${over}, which is the maximum allowed number of output tokens for this model ${said}`;
  }
  if (limit) {
    const exceed = `input length and \`max_tokens\` exceed context limit: ${limit.input} + ${limit.asked}`;
    return `${exceed} > ${limit.window}, decrease input length or \`max_tokens\` and try again ${said}`;
  }
  const overflow = _windowShare(own) !== undefined ||
    /context_length_exceeded|exceed_context_size/i.test(words) ||
    /maximum context length|context (length|size|window)/i.test(own);
  return overflow && !message.includes("prompt is too long") ? `prompt is too long: ${message}` : message;
}

/**
 * The token limit an upstream's refusal (its error body's start, `text`) says a request went over, when
 * a smaller `max_tokens` fits it: the model's output `cap`, or its `window` and the `input` that leaves
 * room in it, with the `max_tokens` the words say was `asked`; else `undefined` (a prompt that overflows
 * on its own, or no such words).
 *
 * @example
 * ```ts
 * refusedTokenLimit('{"error":{"message":"max_tokens is too large: 32000. This model supports at most 16384 completion tokens, …"}}', {});
 * // { cap: 16384, asked: 32000 }
 * ```
 */
export function refusedTokenLimit(
  text: string,
  asked: TokenLimitAsked,
): { cap: number; asked: number } | { window: number; input: number; asked: number } | undefined {
  return _tokenLimit(errorOwnWords(text), asked);
}

/** {@linkcode refusedTokenLimit} of an error's own words. */
function _tokenLimit(
  own: string,
  asked: TokenLimitAsked,
): { cap: number; asked: number } | { window: number; input: number; asked: number } | undefined {
  const cap = _outputCap(own, asked);
  if (cap) return cap;
  const share = _windowShare(own);
  return share && share.input < share.window && share.output > 0
    ? { window: share.window, input: share.input, asked: share.output }
    : undefined;
}

/**
 * An Anthropic-format upstream's error answer with its `error.message` in the words Claude Code acts on
 * ({@linkcode claudeCodeWording}), at once: for a server that speaks Anthropic's envelope but words its
 * token limits its own way (DeepSeek's `This model's maximum context length is …`). Only a 400, 413 or
 * 422 is looked at; any other answer is `response` itself. The body is read only as the answer's reader
 * asks (under relay's deadlines for a body, and not at all when relay retries elsewhere), held up to
 * {@linkcode MAX_ERROR_BODY_BYTES}, each chunk answered with an empty one, a sign of life. When a
 * rewording applies, only `error.message` changes: the error's other members keep their values (the
 * `error` object is written anew), the body's other top-level members their bytes. Otherwise (no limit wording, no `error.message`, no
 * JSON, not UTF-8, a body over that limit, which then flows on as it comes) the bytes go on as they came.
 * The status and headers are the upstream's, but `content-length`.
 *
 * @example
 * ```ts
 * if (!response.ok) return withTokenLimitWording(response, { maxTokens: 32000 });
 * ```
 */
export function withTokenLimitWording(response: Response, asked: TokenLimitAsked): Response {
  if (!TOKEN_LIMIT_STATUSES.has(response.status) || !response.body) return response;
  const { status, statusText } = response;
  const body = _heldThenDecided(response.body, (bytes) => _reworded(bytes, status, asked));
  return new Response(body, { status, statusText, headers: copyHeaders(response.headers, WITHOUT_LENGTH) });
}

/**
 * The statuses a request over a token limit is refused with (400 by OpenAI, vLLM, llama.cpp and
 * Anthropic-format servers, 422 by TGI, 413 by gateways); another (a 429 that mentions a context window)
 * is about something else.
 */
export const TOKEN_LIMIT_STATUSES: ReadonlySet<number> = new Set([400, 413, 422]);

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
function _outputCap(message: string, asked: TokenLimitAsked): { asked: number; cap: number } | undefined {
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
  if (!capOnly) return undefined;
  const { maxTokens } = asked;
  return maxTokens === undefined ? undefined : _over(maxTokens, Number(capOnly[1] ?? capOnly[2]));
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
  // OpenAI, DeepSeek and older vLLM: "This model's maximum context length is 8192 tokens. However, you
  // requested 9000 tokens (1000 in the messages, 8000 in the completion)." (functions counted apart,
  // once `; 0 for the completion`); OpenRouter: "This endpoint's maximum context length is 131072 tokens.
  // However, you requested about 140000 tokens (8000 of text input, 132000 in the output)." (tool input apart).
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

/**
 * An Anthropic-format error body (`bytes`, whole) with `error.message` reworded, or `undefined` when no
 * rewording applies. A body that is not strict UTF-8 is left alone: re-encoded, it would not be the same.
 */
function _reworded(bytes: Uint8Array, status: number, asked: TokenLimitAsked): Uint8Array | undefined {
  let body: unknown;
  try {
    body = JSON.parse(_strictDecoder.decode(bytes));
  } catch {
    return undefined;
  }
  const error = isJsonObject(body) ? body.error : undefined;
  if (!isJsonObject(error) || typeof error.message !== "string") return undefined;
  const words = [error.type, error.code].filter((value) => typeof value === "string").join(" ");
  const message = claudeCodeWording(error.message, status, words, asked);
  if (message === error.message) return undefined;
  return editTopLevelJson(bytes, { set: { error: { ...error, message } } });
}

const _strictDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * `body` held until its end, then `decide` given the whole of it: what it returns goes on in its place,
 * else the bytes as they came. Read only as the output's reader asks, each chunk answered with an empty
 * one, a sign of life, as `translateWhole` does; past `MAX_ERROR_BODY_BYTES`, what was held and
 * the rest go on as they come, undecided. A failure of `body` fails the output; cancelling the output
 * cancels `body`.
 */
function _heldThenDecided(
  body: ReadableStream<Uint8Array>,
  decide: (whole: Uint8Array) => Uint8Array | undefined,
): ReadableStream<Uint8Array> {
  const reader: ChunkReader = compactReader(body);
  const held: Uint8Array[] = [];
  let size = 0;
  let passing = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (passing) {
        if (done) controller.close();
        else controller.enqueue(value);
        return;
      }
      if (done) {
        const whole = concatBytes(held);
        controller.enqueue(decide(whole) ?? whole);
        controller.close();
        return;
      }
      held.push(value);
      size += value.byteLength;
      if (size <= MAX_ERROR_BODY_BYTES) return controller.enqueue(new Uint8Array());
      passing = true;
      for (const chunk of held.splice(0)) controller.enqueue(chunk);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
