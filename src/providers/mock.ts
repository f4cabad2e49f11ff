/**
 * The built-in `mock` provider: deterministic Anthropic answers for demos, tests and `relay bench`, byte
 * for byte in the shapes api.anthropic.com uses, with faults on demand. The same request body and options
 * always give the same bytes: ids, text, token counts and signatures all derive from a hash of the body.
 */
import { jsonSyntaxReason } from "../util/json.ts";
import { errorEnvelope, errorTypeForStatus } from "../server/errors.ts";
import { encodeSseEvent } from "../stream/sse_encode.ts";
import { MESSAGE_ROLES } from "../stream/anthropic_to_openai_request.ts";
import { type MockOptions, mockOptionsSchema } from "./mock_options.ts";
import type { HeaderReader } from "../util/headers.ts";
import { asJsonObject } from "../util/json.ts";
import type { Provider } from "./types.ts";

/** One request as the mock sees it. */
export interface MockRequest {
  /** `/v1/messages`, `/v1/messages/count_tokens`, `/v1/models` or `/v1/models/{id}`; no query. */
  readonly path: string;
  readonly method: string;
  /** Read for `x-relay-mock`, the per-request override of the options. */
  readonly headers: HeaderReader;
  /** The parsed JSON body; `undefined` when there was none. */
  readonly body: unknown;
  /** Stops a pending delay, a hang or a stream, the way an aborted fetch would. */
  readonly signal: AbortSignal;
}

/**
 * Answers one request like api.anthropic.com would.
 *
 * - `POST /v1/messages`: an SSE stream (`"stream": true`) or a JSON Message. The answer is a text block
 *   of `events` text deltas, preceded by a thinking block when `thinking` is on, and followed by a
 *   `tool_use` block when `tool_choice` asks for one (`any`, `tool`), or, in `auto` mode, calling the
 *   first custom tool when the request offers at most four and no message yet carries a tool result (so
 *   a client that runs the tool gets a text answer next, and an agent offering its whole tool set,
 *   Claude Code, gets text: its tools start subagents and run commands, and each turn would call one).
 * - `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, the same estimate the Message reports.
 * - `GET /v1/models` and `GET /v1/models/{id}`: a small fixed catalogue.
 *
 * A body with a mistake Anthropic refuses (no `max_tokens`, no messages, a role other than `user`,
 * `assistant` or `system`, a `temperature` outside 0..1, …) gets its 400 `invalid_request_error`, whatever the knobs say.
 *
 * `ttfb` and `fault` apply to `/v1/messages` only. In a stream, `mid_stream_error` and `disconnect`
 * replace the event after `fault_after` events (never later than `message_stop`, so the fault always
 * happens); `hang` sends `message_start` and then nothing. Without a stream, `mid_stream_error` is the
 * 529 it stands for, `disconnect` cuts the JSON in half, and `hang` never answers. An abort of `signal`
 * rejects the pending response, or errors the stream, with the abort reason, as fetch does.
 *
 * @example
 * ```ts
 * const options = mockOptionsSchema.parse({ events: 3 });
 * const response = await mockRespond({
 *   path: "/v1/messages", method: "POST", headers: new Headers(), signal: AbortSignal.timeout(5_000),
 *   body: { model: "mock-1", max_tokens: 64, stream: true, messages: [{ role: "user", content: "hi" }] },
 * }, options);
 * ```
 */
export async function mockRespond(request: MockRequest, options: MockOptions): Promise<Response> {
  // `stream` stays out of the hash: a client retrying a failed stream without one gets the same answer.
  const record = asJsonObject(request.body);
  const hashed = record ? { ...record, stream: undefined } : request.body;
  const ids = await _ids(_encoder.encode(JSON.stringify(hashed) ?? ""));
  const { method, path, body } = request;
  // HEAD is a GET whose body the server leaves out, as any HTTP upstream answers it.
  const get = method === "GET" || method === "HEAD";
  if (get && path === "/v1/models") {
    const page = { data: _MODELS, has_more: false, first_id: _MODELS[0].id, last_id: _MODELS.at(-1)!.id };
    return _json(page, ids.request);
  }
  const modelId = get ? /^\/v1\/models\/([^/]+)$/.exec(path)?.[1] : undefined;
  if (modelId !== undefined) {
    const model = _MODELS.find((candidate) => candidate.id === modelId);
    return model ? _json(model, ids.request) : _error(404, `model: ${modelId}`, ids.request);
  }
  if (method !== "POST" || (path !== "/v1/messages" && path !== "/v1/messages/count_tokens")) {
    return _error(404, `the mock provider has no ${method} ${path}`, ids.request);
  }
  const problem = _bodyProblem(body, path === "/v1/messages/count_tokens");
  if (problem) return _error(400, problem, ids.request);
  const fields = body as Record<string, unknown>;
  if (path === "/v1/messages/count_tokens") {
    return _json({ input_tokens: _estimateTokens(fields) }, ids.request);
  }
  // Knobs shape Messages only: the header is read, and refused, there alone.
  const effective = _withOverride(options, request.headers.get("x-relay-mock"));
  if (typeof effective === "string") return _error(400, effective, ids.request);
  return await _messages(fields, effective, ids, request.signal);
}

/**
 * The mock as a {@link Provider}; it needs no key and ignores one if given.
 *
 * @example
 * ```ts
 * const provider = createMockProvider("demo", mockOptionsSchema.parse({ chunk_delay: "20ms" }));
 * ```
 */
export function createMockProvider(name: string, options: MockOptions): Provider {
  return {
    name,
    type: "mock",
    send: (request) => _respondToBytes(request, request.body, options),
  };
}

/**
 * The mock as an HTTP handler, to serve it on a real port.
 *
 * @example
 * ```ts
 * const server = Deno.serve({ port: 0 }, mockHandler(mockOptionsSchema.parse({})));
 * ```
 */
export function mockHandler(options: MockOptions): (request: Request) => Promise<Response> {
  return async (request) => {
    const bytes = new Uint8Array(await request.arrayBuffer());
    const { method, headers, signal } = request;
    return await _respondToBytes(
      { path: new URL(request.url).pathname, method, headers, signal },
      bytes,
      options,
    );
  };
}

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();

async function _respondToBytes(
  request: Omit<MockRequest, "body">,
  bytes: Uint8Array | null,
  options: MockOptions,
): Promise<Response> {
  if (!bytes || bytes.byteLength === 0) return await mockRespond({ ...request, body: undefined }, options);
  let body: unknown;
  try {
    body = JSON.parse(_decoder.decode(bytes));
  } catch (error) {
    return _error(
      400,
      `request body is not valid JSON: ${jsonSyntaxReason(error as SyntaxError)}`,
      (await _ids(bytes)).request,
    );
  }
  return await mockRespond({ ...request, body }, options);
}

const _MODELS = [["mock-1", "Mock 1"], ["mock-1-fast", "Mock 1 Fast"]].map(([id, display_name]) => ({
  type: "model",
  id,
  display_name,
  created_at: "2025-01-01T00:00:00Z",
}));

/** Every id and the signature the mock hands out, derived from one hash of the body. */
interface _Ids {
  message: string;
  tool: string;
  request: string;
  signature: string;
}

async function _ids(body: Uint8Array): Promise<_Ids> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(body)));
  const hex = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return {
    message: `msg_mock_${hex.slice(0, 24)}`,
    tool: `toolu_mock_${hex.slice(24, 48)}`,
    request: `req_mock_${hex.slice(48)}`,
    signature: btoa(String.fromCharCode(...digest)),
  };
}

/** The options with the `x-relay-mock` header (`events=20, fault=disconnect`) merged over them, or why not. */
function _withOverride(options: MockOptions, header: string | null): MockOptions | string {
  if (header === null) return options;
  const fields: [string, string | number][] = [];
  for (const part of header.split(",")) {
    if (part.trim() === "") continue;
    const equals = part.indexOf("=");
    if (equals < 0) return `x-relay-mock: "${part.trim()}" is not key=value`;
    const value = part.slice(equals + 1).trim();
    fields.push([part.slice(0, equals).trim(), /^\d+$/.test(value) ? Number(value) : value]);
  }
  // `fromEntries` makes own properties, so a `__proto__` key is just an unknown option.
  const parsed = mockOptionsSchema.safeParse({ ...options, ...Object.fromEntries(fields) });
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) =>
    issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message
  );
  return `x-relay-mock: ${issues.join("; ")}`;
}

/**
 * What Anthropic would reject in a Messages or count_tokens body, worded like its validation errors: the
 * mistakes people make by hand, not the whole schema. count_tokens takes no `max_tokens` and no sampling.
 */
function _bodyProblem(body: unknown, counting: boolean): string | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return "request body must be a JSON object";
  }
  const { model, messages, max_tokens, temperature, top_p, top_k } = body as Record<string, unknown>;
  if (model === undefined) return "model: Field required";
  if (typeof model !== "string" || model === "") return "model: Input should be a valid string";
  if (messages === undefined) return "messages: Field required";
  if (!Array.isArray(messages)) return "messages: Input should be a valid list";
  if (messages.length === 0) return "messages: at least one message is required";
  for (let index = 0; index < messages.length; index++) {
    const problem = _messageProblem(messages[index]);
    if (problem) return `messages.${index}${problem}`;
  }
  if (!counting) {
    if (max_tokens === undefined) return "max_tokens: Field required";
    if (!Number.isInteger(max_tokens)) return "max_tokens: Input should be a valid integer";
    if ((max_tokens as number) < 1) return "max_tokens: Input should be greater than or equal to 1";
    if (temperature !== undefined) {
      if (typeof temperature !== "number") return "temperature: Input should be a valid number";
      if (temperature < 0) return "temperature: Input should be greater than or equal to 0";
      if (temperature > 1) return "temperature: Input should be less than or equal to 1";
    }
    if (top_p !== undefined && typeof top_p !== "number") return "top_p: Input should be a valid number";
    if (top_k !== undefined && !Number.isInteger(top_k)) return "top_k: Input should be a valid integer";
  }
  return undefined;
}

/** What is wrong with one message, as the rest of its error path (`.role: …`), if anything. */
function _messageProblem(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    return ": Input should be a valid dictionary";
  }
  const { role, content } = message as Record<string, unknown>;
  if (role === undefined) return ".role: Field required";
  // Claude Code puts system turns between the others (the `mid-conversation-system` beta).
  if (!MESSAGE_ROLES.has(role)) return ".role: Input should be 'user', 'assistant' or 'system'";
  if (content === undefined) return ".content: Field required";
  if (typeof content !== "string" && !Array.isArray(content)) return ".content: Input should be a valid list";
  return undefined;
}

/** About four characters a token, over what the model reads, so count_tokens agrees with the Message. */
function _estimateTokens(body: Record<string, unknown>): number {
  const { system, messages, tools } = body;
  return Math.max(1, Math.ceil(JSON.stringify({ system, messages, tools }).length / 4));
}

async function _messages(
  body: Record<string, unknown>,
  options: MockOptions,
  ids: _Ids,
  signal: AbortSignal,
): Promise<Response> {
  if (options.ttfb > 0) await _wait(signal, options.ttfb);
  const stream = body.stream === true;
  if (options.fault === "overloaded" || (!stream && options.fault === "mid_stream_error")) {
    return _error(529, "Overloaded", ids.request);
  }
  if (options.fault === "rate_limit") {
    const message = "This request would exceed the mock's rate limit (fault=rate_limit)";
    return _error(429, message, ids.request, { "retry-after": "1" });
  }
  if (options.fault === "server_error") return _error(500, "Internal server error", ids.request);
  const answer = _answer(body, options, ids);
  if (stream) {
    return new Response(_sseBody(answer, options, signal), {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "request-id": ids.request,
      },
    });
  }
  if (options.fault === "hang") await _wait(signal);
  const bytes = _encoder.encode(JSON.stringify(_message(answer)));
  return new Response(options.fault === "disconnect" ? _cutShort(bytes) : bytes, {
    headers: { "content-type": "application/json", "request-id": ids.request },
  });
}

type _Block =
  | { type: "thinking"; pieces: string[]; signature: string }
  | { type: "text"; count: number }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

interface _Answer {
  id: string;
  model: string;
  inputTokens: number;
  blocks: _Block[];
  stopReason: "end_turn" | "tool_use";
}

const _THINKING = ["The user wants an answer;", " the mock's is fixed —", " no need to weigh options. 🤔"];

function _answer(body: Record<string, unknown>, options: MockOptions, ids: _Ids): _Answer {
  const blocks: _Block[] = [];
  const thinking = asJsonObject(body.thinking)?.type;
  if (thinking === "enabled" || thinking === "adaptive") {
    blocks.push({ type: "thinking", pieces: _THINKING, signature: ids.signature });
  }
  blocks.push({ type: "text", count: options.events });
  const tool = _toolCall(body);
  if (tool) blocks.push({ type: "tool_use", id: ids.tool, ...tool });
  return {
    id: ids.message,
    model: body.model as string,
    inputTokens: _estimateTokens(body),
    blocks,
    stopReason: tool ? "tool_use" : "end_turn",
  };
}

/** The tool the mock calls, if any, with an input that fills the schema's required properties. */
function _toolCall(
  body: Record<string, unknown>,
): { name: string; input: Record<string, unknown> } | undefined {
  const tools = Array.isArray(body.tools) ? body.tools.map(asJsonObject) : [];
  const choice = asJsonObject(body.tool_choice);
  const mode = choice?.type ?? "auto";
  if (tools.length === 0 || mode === "none") return undefined;
  // Custom tools (with a schema), never a server tool such as web_search.
  const custom = tools.filter((tool) => tool?.input_schema);
  // In auto mode only from a hand-made tool set, once a conversation: an agent's whole tool set (Claude
  // Code's dozens, `Agent` first, which starts a subagent whose first turn would call it again) and its
  // later turns (a subagent's notice, a system turn after the result) would each call a tool, no end.
  if (mode === "auto" && (custom.length > _MAX_AUTO_TOOLS || _hasToolResult(body.messages as unknown[]))) {
    return undefined;
  }
  const name = mode === "tool" ? choice?.name : custom[0]?.name;
  if (typeof name !== "string") return undefined;
  const schema = asJsonObject(tools.find((tool) => tool?.name === name)?.input_schema);
  const properties = asJsonObject(schema?.properties) ?? {};
  const required = Array.isArray(schema?.required)
    ? schema.required.filter((key) => typeof key === "string")
    : [];
  return {
    name,
    input: Object.fromEntries(required.map((key) => [key, _sample(asJsonObject(properties[key]))])),
  };
}

/** The most custom tools a request may offer for the mock to call one unasked: a hand-made set. */
const _MAX_AUTO_TOOLS = 4;

function _hasToolResult(messages: unknown[]): boolean {
  return messages.some((message) => {
    const content = asJsonObject(message)?.content;
    return Array.isArray(content) && content.some((block) => asJsonObject(block)?.type === "tool_result");
  });
}

// Shared `[]` and `{}` are safe: inputs are only ever serialised.
const _SAMPLES: Record<string, unknown> = {
  string: "mock",
  number: 1,
  integer: 1,
  boolean: true,
  array: [],
  object: {},
};

function _sample(property: Record<string, unknown> | undefined): unknown {
  if (Array.isArray(property?.enum) && property.enum.length > 0) return property.enum[0];
  return _SAMPLES[String(property?.type)] ?? null;
}

/** Words of the text answer; accents, CJK and an emoji make byte-split streams cut through UTF-8. */
const _WORDS = ["Hello", "from", "relay's", "mock:", "café", "naïve", "中文", "🎉"];

function _textPiece(index: number): string {
  return (index === 0 ? "" : " ") + _WORDS[index % _WORDS.length];
}

/** A tool input in the small pieces the API streams, the first one empty as the API's often is. */
function _jsonFragments(input: unknown): string[] {
  const characters = Array.from(JSON.stringify(input));
  const fragments = [""];
  for (let start = 0; start < characters.length; start += 8) {
    fragments.push(characters.slice(start, start + 8).join(""));
  }
  return fragments;
}

function _openBlock(block: _Block) {
  switch (block.type) {
    case "thinking":
      return { type: "thinking", thinking: "", signature: "" };
    case "text":
      return { type: "text", text: "" };
    case "tool_use":
      return { type: "tool_use", id: block.id, name: block.name, input: {} };
  }
}

function* _deltas(block: _Block) {
  switch (block.type) {
    case "thinking":
      for (const thinking of block.pieces) yield { type: "thinking_delta", thinking };
      yield { type: "signature_delta", signature: block.signature };
      return;
    case "text":
      for (let index = 0; index < block.count; index++) yield { type: "text_delta", text: _textPiece(index) };
      return;
    case "tool_use":
      for (const partial_json of _jsonFragments(block.input)) {
        yield { type: "input_json_delta", partial_json };
      }
  }
}

function _finishedBlock(block: _Block) {
  switch (block.type) {
    case "thinking":
      return { type: "thinking", thinking: block.pieces.join(""), signature: block.signature };
    case "text":
      return {
        type: "text",
        text: Array.from({ length: block.count }, (_, index) => _textPiece(index)).join(""),
      };
    case "tool_use":
      return { type: "tool_use", id: block.id, name: block.name, input: block.input };
  }
}

/** One token per delta that carries model output (a signature is not output). */
function _outputTokens(blocks: _Block[]): number {
  let tokens = 0;
  for (const block of blocks) {
    for (const delta of _deltas(block)) if (delta.type !== "signature_delta") tokens++;
  }
  return tokens;
}

function _usage(answer: _Answer, outputTokens: number) {
  return {
    input_tokens: answer.inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: outputTokens,
  };
}

function _head(answer: _Answer) {
  return { id: answer.id, type: "message", role: "assistant", model: answer.model };
}

function _message(answer: _Answer) {
  return {
    ..._head(answer),
    content: answer.blocks.map(_finishedBlock),
    stop_reason: answer.stopReason,
    stop_sequence: null,
    usage: _usage(answer, _outputTokens(answer.blocks)),
  };
}

/** The answer as Anthropic streams it, event by event, produced only as the stream is read. */
function* _streamEvents(answer: _Answer): Generator<[string, unknown]> {
  const message = {
    ..._head(answer),
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: _usage(answer, 1),
  };
  yield ["message_start", { type: "message_start", message }];
  yield ["ping", { type: "ping" }];
  for (const [index, block] of answer.blocks.entries()) {
    yield ["content_block_start", { type: "content_block_start", index, content_block: _openBlock(block) }];
    for (const delta of _deltas(block)) {
      yield ["content_block_delta", { type: "content_block_delta", index, delta }];
    }
    yield ["content_block_stop", { type: "content_block_stop", index }];
  }
  const delta = { stop_reason: answer.stopReason, stop_sequence: null };
  yield ["message_delta", {
    type: "message_delta",
    delta,
    usage: { output_tokens: _outputTokens(answer.blocks) },
  }];
  yield ["message_stop", { type: "message_stop" }];
}

/** A pull-based SSE body: one event per read, so a slow reader slows the mock instead of filling a queue. */
function _sseBody(answer: _Answer, options: MockOptions, signal: AbortSignal): ReadableStream<Uint8Array> {
  const events = _streamEvents(answer);
  const cancelled = new AbortController();
  const stop = AbortSignal.any([signal, cancelled.signal]);
  const faultAt = options.fault === "mid_stream_error" || options.fault === "disconnect"
    ? options.fault_after
    : undefined;
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent > 0 && options.chunk_delay > 0) await _wait(stop, options.chunk_delay);
      if (options.fault === "hang" && sent === 1) await _wait(stop);
      stop.throwIfAborted();
      const [type, data] = events.next().value as [string, unknown];
      if (sent === faultAt || (faultAt !== undefined && type === "message_stop")) {
        if (options.fault === "disconnect") {
          return controller.error(new Error(`mock disconnect after ${sent} events`));
        }
        controller.enqueue(encodeSseEvent("error", errorEnvelope("overloaded_error", "Overloaded")));
        return controller.close();
      }
      controller.enqueue(encodeSseEvent(type, data));
      sent++;
      if (type === "message_stop") controller.close();
    },
    cancel(reason) {
      cancelled.abort(reason);
    },
  }, { highWaterMark: 0 });
}

/** The first half of a body, then a failure: a connection lost mid-response. */
function _cutShort(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let sentHalf = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sentHalf) return controller.error(new Error("mock disconnect mid-body"));
      sentHalf = true;
      controller.enqueue(bytes.subarray(0, bytes.byteLength >> 1));
    },
  }, { highWaterMark: 0 });
}

/** Resolves after `ms` (never, without it); rejects with the abort reason as soon as `signal` aborts. */
function _wait(signal: AbortSignal, ms?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = ms === undefined ? undefined : setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function _json(body: unknown, requestId: string): Response {
  return Response.json(body, { headers: { "request-id": requestId } });
}

/** An error as Anthropic sends it, `request_id` included. */
function _error(
  status: number,
  message: string,
  requestId: string,
  headers: Record<string, string> = {},
): Response {
  const body = { ...errorEnvelope(errorTypeForStatus(status), message), request_id: requestId };
  return Response.json(body, { status, headers: { ...headers, "request-id": requestId } });
}
