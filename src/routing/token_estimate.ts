import { isJsonObject } from "../util/json.ts";

/** Tokens of one request, split the way upstreams limit them. */
export interface TokenCount {
  /** Tokens the model reads. */
  input: number;
  /** Tokens it writes. */
  output: number;
}

// Claude's tokenizers give about 3.5 to 4 characters of English a token and fewer for code and JSON;
// 3.5 errs high on prose and is close for code.
const _ASCII_CHARS_PER_TOKEN = 3.5;
// CJK runs about one token a character; accented Latin and Cyrillic less, so this errs high for them.
const _TOKENS_PER_OTHER_CHAR = 1;
// Role markers and turn separators around every message.
const _TOKENS_PER_MESSAGE = 4;
// The system prompt the API adds when tools are offered (about 350 tokens per Anthropic's docs).
const _TOKENS_FOR_TOOL_USE = 350;
// An image is resized to about 1.15 megapixels at most, which costs about 1600 tokens: count the most.
const _TOKENS_PER_IMAGE = 1600;
// A PDF page is its text plus an image of it; a decoded byte per 10 tokens sits between text-only and
// scanned files, each of which it misses by up to a factor of ten.
const _PDF_BYTES_PER_TOKEN = 10;

/**
 * Estimates the tokens of a Messages request before it is sent, so rate-limit windows can reserve
 * them: input from every text the model reads (system, messages, tool definitions and tool inputs,
 * object keys included since JSON reaches the model as text), output as `max_tokens`, the most the
 * request can spend and what Anthropic itself counts against output limits until the response ends.
 *
 * Error margin: for English and code, typically within 25% of the real count and more often high than
 * low; text in other scripts errs high; an image counts 1600 (its maximum); a base64 PDF can be off by
 * up to ten times either way; documents by URL or file id count as one image. The response's `usage`
 * settles the difference, so the estimate only has to keep windows roughly honest in between.
 *
 * @param body the parsed request body; anything not shaped like a Messages request counts as nothing.
 *
 * @example
 * ```ts
 * const estimate = estimateTokens(JSON.parse(new TextDecoder().decode(bytes)));
 * // { input: 1234, output: 32000 }
 * ```
 */
export function estimateTokens(body: unknown): TokenCount {
  if (!isJsonObject(body)) return { input: 0, output: 0 };
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const input = _tokens(body.system) + _tokens(messages) + _tokens(tools) +
    messages.length * _TOKENS_PER_MESSAGE + (tools.length > 0 ? _TOKENS_FOR_TOOL_USE : 0);
  const maxTokens = body.max_tokens;
  const output = typeof maxTokens === "number" && maxTokens > 0 ? maxTokens : 0;
  return { input: Math.ceil(input), output: Math.ceil(output) };
}

// A walk with its own stack: a body nested thousands deep (a few KB of brackets) would overflow the
// call stack of a recursive one, and the request would fail inside relay instead of reaching the API.
function _tokens(root: unknown): number {
  let sum = 0;
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "string") {
      sum += _textTokens(value);
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
    } else if (isJsonObject(value)) {
      sum += _recordTokens(value, pending);
    }
  }
  return sum;
}

/** The tokens of `record` itself; what it holds that still needs counting goes on `pending`. */
function _recordTokens(record: Record<string, unknown>, pending: unknown[]): number {
  switch (record.type) {
    case "image":
      return _TOKENS_PER_IMAGE;
    case "document":
      pending.push(record.title, record.context);
      return _documentTokens(record.source, pending);
    case "thinking":
      // The signature is opaque to the model.
      pending.push(record.thinking);
      return 0;
    case "redacted_thinking":
      return 0;
  }
  let sum = 0;
  for (const [key, item] of Object.entries(record)) {
    sum += _textTokens(key);
    pending.push(item);
  }
  return sum;
}

function _documentTokens(source: unknown, pending: unknown[]): number {
  if (!isJsonObject(source)) return 0;
  if (source.type === "base64" && typeof source.data === "string") {
    return (source.data.length * 3) / 4 / _PDF_BYTES_PER_TOKEN;
  }
  if (source.type === "text") {
    pending.push(source.data);
    return 0;
  }
  if (source.type === "content") {
    pending.push(source.content);
    return 0;
  }
  return _TOKENS_PER_IMAGE;
}

// Text is mostly ASCII: native regex scans find the few other characters, where a loop over every
// character costs about a nanosecond each (0.5 ms on a 400 KB Claude Code request).
const _NON_ASCII = /[\u0080-\uffff]/;
const _ASCII_RUNS = /[^\u0080-\uffff]+/g;
const _LOW_SURROGATES = /[\udc00-\udfff]/g;

/**
 * The tokens of `texts` together, by the same rule as {@linkcode estimateTokens}, the missing ones
 * counting nothing: for what an answer wrote when its upstream did not say.
 *
 * @example
 * ```ts
 * estimateWrittenTokens(["Hello, world!", undefined]); // 3.714…
 * ```
 */
export function estimateWrittenTokens(texts: readonly (string | null | undefined)[]): number {
  let sum = 0;
  for (const text of texts) if (typeof text === "string") sum += _textTokens(text);
  return sum;
}

function _textTokens(text: string): number {
  if (!_NON_ASCII.test(text)) return text.length / _ASCII_CHARS_PER_TOKEN;
  const other = text.replace(_ASCII_RUNS, "");
  // The low half of a surrogate pair belongs to the character its high half already counted.
  const characters = other.length - (other.match(_LOW_SURROGATES)?.length ?? 0);
  return (text.length - other.length) / _ASCII_CHARS_PER_TOKEN + characters * _TOKENS_PER_OTHER_CHAR;
}
