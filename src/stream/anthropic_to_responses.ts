/**
 * An Anthropic event stream turned into a Responses API stream as it arrives, for clients of relay's
 * `/v1/responses` (OpenAI's Codex CLI, `@ai-sdk/openai`): `response.created`, then each text block as
 * a `message` output item, each tool use block as a `function_call` (or `custom_tool_call`) item and
 * each thinking block as a `reasoning` item (its text the summary, the block its `encrypted_content`:
 * see `thinking_items.ts`), with the events that open, fill and close them, then `response.completed` with the whole response.
 * An item is closed (`response.output_item.done`) only once the answer is known not to have been cut
 * inside it: Codex runs a tool call as soon as its item is done, so the last one waits for the next
 * block or the answer's end, and one the answer cut (`max_tokens`, a failure) stays `incomplete`.
 * The same state machine builds the answer to an unstreamed request ({@linkcode responseFor}), so the
 * two cannot disagree.
 */
import { anthropicEvent } from "./anthropic_event.ts";
import { anthropicErrorOf } from "../server/errors.ts";
import { openaiErrorCode } from "../server/openai_errors.ts";
import { finishReasonFor, mergedUsage, openaiUsageFor } from "./openai_stop_usage.ts";
import { openaiToolId } from "./openai_tool_ids.ts";
import type { AnthropicUsage } from "./openai_types.ts";
import type { ResponsesTool } from "./responses_to_chat_request.ts";
import { messageEvents } from "./message_as_sse.ts";
import type { SseEvent } from "./sse_decode.ts";
import { encodeSseEvent } from "./sse_encode.ts";
import { encryptedThinking } from "./thinking_items.ts";
import { isJsonObject, type JsonObject } from "../util/json.ts";

/** One Responses stream event: its `type` is also the SSE event name. */
export interface ResponsesEvent {
  type: string;
  data: JsonObject;
}

export interface AnthropicToResponsesOptions {
  /** `created_at` of the response, in Unix seconds. */
  createdAt: number;
  /**
   * The request's fields the response repeats, as OpenAI's does (`instructions`, `tools`,
   * `temperature`…); see {@linkcode responseEcho}.
   */
  echo: JsonObject;
  /** The client's tools by the name the upstream knows them by. */
  tools: ReadonlyMap<string, ResponsesTool>;
  /** The model the client asked for: the response's, should it fail before the answer names its own. */
  model?: string;
}

/** An output item being built from the content block at the same Anthropic index. */
interface _Item {
  outputIndex: number;
  item: JsonObject;
  /** A text or thinking block's text, or a tool use block's arguments (JSON), as far as they came. */
  text: string;
  /** A tool use block's `input` from its start, for one whose input came in no delta. */
  input?: unknown;
  /** A thinking block's signature as far as it came, or a redacted one's data. */
  thinking?: { signature: string } | { data: string };
}

/**
 * The translation state of one answer. {@linkcode event} returns the Responses events an Anthropic
 * event completes; once {@linkcode finished}, nothing more. Server-tool blocks have no place in the
 * answer and are dropped; so is `ping`: the front door sends keep-alives of its own, between its events.
 *
 * @example
 * ```ts
 * const translator = new AnthropicToResponses({ createdAt: 1767225600, echo: {}, tools: new Map() });
 * for (const event of new SseDecoder().feed(bytes)) translator.event(event);
 * ```
 */
export class AnthropicToResponses {
  readonly #options: AnthropicToResponsesOptions;
  #id = "resp_relay";
  #messageId = "relay";
  #model = "";
  #sequence = 0;
  readonly #output: JsonObject[] = [];
  readonly #open = new Map<number, _Item>();
  /** The last block that stopped, closed once the answer is known not to have been cut inside it. */
  #stopped: _Item | undefined;
  #usage: AnthropicUsage = {};
  #stopReason: string | undefined;
  #response: JsonObject | undefined;

  constructor(options: AnthropicToResponsesOptions) {
    this.#options = options;
  }

  /** Whether the answer is over: its `response.completed`, `.incomplete` or `.failed` was produced. */
  get finished(): boolean {
    return this.#response !== undefined;
  }

  /** The response as the last event gave it, once {@linkcode finished}. */
  get response(): JsonObject | undefined {
    return this.#response;
  }

  /**
   * One Anthropic SSE event. Unknown events are skipped, as Anthropic asks clients to, whatever their
   * data; a known one that is not a JSON object fails the response.
   */
  event(sse: SseEvent): ResponsesEvent[] {
    if (this.finished) return [];
    const { name, payload } = anthropicEvent(sse);
    if (typeof name !== "string" || !_KNOWN.has(name)) return [];
    if (!isJsonObject(payload)) {
      return this.error(`upstream sent an event that is not a JSON object: ${sse.data.slice(0, 200)}`);
    }
    return this.#handle(name, payload);
  }

  /** A known event's data, read. */
  #handle(name: string, payload: JsonObject): ResponsesEvent[] {
    const index = Number(payload.index);
    const object = (value: unknown) => isJsonObject(value) ? value : {};
    switch (name) {
      case "message_start":
        return this.#start(object(payload.message));
      case "content_block_start":
        return this.#blockStart(index, object(payload.content_block));
      case "content_block_delta":
        return this.#blockDelta(index, object(payload.delta));
      case "content_block_stop":
        return this.#blockStop(index);
      case "message_delta": {
        const delta = object(payload.delta);
        if (typeof delta.stop_reason === "string") this.#stopReason = delta.stop_reason;
        this.#addUsage(payload.usage);
        return [];
      }
      case "message_stop":
        return this.#finish();
    }
    const { type, message } = anthropicErrorOf(payload);
    return this.error(message, type);
  }

  /**
   * A whole Message, come although a stream was asked for (some Anthropic-format servers ignore
   * `stream`), or for an unstreamed request: read as the stream Anthropic would have sent for it, so
   * the two take one path. An error object in its place fails the response as an `error` event does.
   */
  message(message: JsonObject): ResponsesEvent[] {
    if (message.type === "error") {
      const { type, message: text } = anthropicErrorOf(message);
      return this.error(text, type);
    }
    if (this.finished) return [];
    const content = Array.isArray(message.content) ? message.content.filter(isJsonObject) : [];
    return messageEvents({ ...message, content }).flatMap(({ event, data }) =>
      this.finished ? [] : this.#handle(event, data)
    );
  }

  /** The Anthropic body ended. Without `message_stop` the answer is incomplete, which the client must learn. */
  end(): ResponsesEvent[] {
    return this.error("upstream ended the stream before the answer was finished");
  }

  /**
   * The answer failed (an upstream's `error` event, an event relay cannot read): `response.failed`,
   * with the output so far and the error, in OpenAI's codes where one fits (`type` is Anthropic's).
   */
  error(message: string, type = "api_error"): ResponsesEvent[] {
    if (this.finished) return [];
    const error = { code: _errorCode(type, message), message };
    // Failed before the upstream's answer began, the response is still created first, as OpenAI's is,
    // with an id of its own.
    const created = this.#sequence === 0
      ? this.#start({
        id: `msg_relay_${crypto.randomUUID().replaceAll("-", "")}`,
        model: this.#options.model,
      })
      : [];
    this.#leaveIncomplete();
    return [...created, this.#end("response.failed", { status: "failed", error })];
  }

  #start(message: JsonObject): ResponsesEvent[] {
    // Anthropic's `msg_…` id names the response and, numbered, its items.
    this.#messageId = String(message.id ?? "relay").replace(/^msg_/, "");
    this.#id = `resp_${this.#messageId}`;
    this.#model = String(message.model ?? "");
    this.#addUsage(message.usage);
    const response = this.#snapshot({ status: "in_progress" });
    return [
      this.#emit("response.created", { response }),
      this.#emit("response.in_progress", { response }),
    ];
  }

  /**
   * OpenAI's own keep-alive event, `keepalive`, numbered in turn: Codex counts only events toward its
   * idle timeout (`stream_idle_timeout_ms`, 300 s by default), not SSE comments, and OpenAI's SDK and
   * `@ai-sdk/openai` skip it. `undefined` before the response is created or once it has ended, where a
   * client would take it for a fault.
   */
  keepAlive(): ResponsesEvent | undefined {
    if (this.#sequence === 0 || this.finished) return undefined;
    return this.#emit("keepalive", {});
  }

  #blockStart(index: number, block: JsonObject): ResponsesEvent[] {
    const closed = this.#closeStopped();
    const outputIndex = this.#output.length + this.#open.size;
    if (block.type === "text") {
      const item = this.#messageItem(outputIndex);
      const open = { outputIndex, item, text: "" };
      this.#open.set(index, open);
      const events = [
        this.#emit("response.output_item.added", { output_index: outputIndex, item }),
        this.#emit("response.content_part.added", {
          ..._at(open),
          content_index: 0,
          part: _outputText(""),
        }),
      ];
      if (typeof block.text === "string" && block.text) events.push(...this.#text(index, block.text));
      return [...closed, ...events];
    }
    if (block.type === "thinking" || block.type === "redacted_thinking") {
      return [...closed, ...this.#reasoningStart(index, block, outputIndex)];
    }
    if (block.type !== "tool_use") return closed;
    const tool = this.#options.tools.get(String(block.name)) ?? { name: String(block.name), custom: false };
    const call = {
      status: "in_progress",
      call_id: openaiToolId(String(block.id)),
      name: tool.name,
      ...(tool.namespace === undefined ? {} : { namespace: tool.namespace }),
    };
    const item = tool.custom
      ? { id: `ctc_${this.#messageId}_${outputIndex}`, type: "custom_tool_call", ...call, input: "" }
      : { id: `fc_${this.#messageId}_${outputIndex}`, type: "function_call", ...call, arguments: "" };
    this.#open.set(index, { outputIndex, item, text: "", input: block.input });
    return [...closed, this.#emit("response.output_item.added", { output_index: outputIndex, item })];
  }

  /**
   * A thinking block as a `reasoning` item, its text as the item's summary (Claude 4's thinking is a
   * summary already), the block itself its `encrypted_content`, for the client to send back.
   */
  #reasoningStart(index: number, block: JsonObject, outputIndex: number): ResponsesEvent[] {
    const item = { id: `rs_${this.#messageId}_${outputIndex}`, type: "reasoning", summary: [] };
    const thinking = block.type === "redacted_thinking"
      ? { data: String(block.data ?? "") }
      : { signature: typeof block.signature === "string" ? block.signature : "" };
    const open: _Item = { outputIndex, item, text: "", thinking };
    this.#open.set(index, open);
    const added = this.#emit("response.output_item.added", { output_index: outputIndex, item });
    const text = typeof block.thinking === "string" ? block.thinking : "";
    return [added, ...this.#summaryDelta(open, text)];
  }

  /** More of a thinking block's text, as its summary's; the summary part opens with its first text. */
  #summaryDelta(open: _Item, text: string): ResponsesEvent[] {
    if (!text) return [];
    const at = { ..._at(open), summary_index: 0 };
    const opened = open.text === ""
      ? [this.#emit("response.reasoning_summary_part.added", { ...at, part: _summaryText("") })]
      : [];
    open.text += text;
    return [...opened, this.#emit("response.reasoning_summary_text.delta", { ...at, delta: text })];
  }

  #blockDelta(index: number, delta: JsonObject): ResponsesEvent[] {
    const open = this.#open.get(index);
    if (!open) return [];
    if (open.item.type === "reasoning") {
      if (delta.type === "thinking_delta" && typeof delta.thinking === "string") {
        return this.#summaryDelta(open, delta.thinking);
      }
      if (delta.type === "signature_delta" && typeof delta.signature === "string" && open.thinking) {
        if ("signature" in open.thinking) open.thinking.signature += delta.signature;
      }
      return [];
    }
    if (delta.type === "text_delta" && open.item.type === "message" && typeof delta.text === "string") {
      return delta.text ? this.#text(index, delta.text) : [];
    }
    if (delta.type !== "input_json_delta" || typeof delta.partial_json !== "string") return [];
    open.text += delta.partial_json;
    // A custom tool's input is a string inside the JSON: it is sent whole, once the JSON is.
    if (open.item.type !== "function_call" || !delta.partial_json) return [];
    return [
      this.#emit("response.function_call_arguments.delta", { ..._at(open), delta: delta.partial_json }),
    ];
  }

  #text(index: number, text: string): ResponsesEvent[] {
    const open = this.#open.get(index)!;
    open.text += text;
    return [
      this.#emit("response.output_text.delta", {
        ..._at(open),
        content_index: 0,
        delta: text,
        logprobs: [],
      }),
    ];
  }

  #blockStop(index: number): ResponsesEvent[] {
    const open = this.#open.get(index);
    if (!open) return [];
    this.#open.delete(index);
    const closed = this.#closeStopped();
    this.#stopped = open;
    return closed;
  }

  /** The events that close the block that stopped last, now known whole; none if there is none. */
  #closeStopped(): ResponsesEvent[] {
    const open = this.#stopped;
    if (!open) return [];
    this.#stopped = undefined;
    const at = _at(open);
    const events: ResponsesEvent[] = [];
    let item: JsonObject;
    if (open.item.type === "reasoning") {
      const summary = open.text ? [_summaryText(open.text)] : [];
      if (open.text) {
        const part = { ...at, summary_index: 0 };
        events.push(
          this.#emit("response.reasoning_summary_text.done", { ...part, text: open.text }),
          this.#emit("response.reasoning_summary_part.done", { ...part, part: summary[0] }),
        );
      }
      item = {
        ...open.item,
        summary,
        encrypted_content: encryptedThinking(_thinkingBlock(open), this.#options.model),
      };
    } else if (open.item.type === "message") {
      const part = _outputText(open.text);
      events.push(
        this.#emit("response.output_text.done", { ...at, content_index: 0, text: open.text, logprobs: [] }),
        this.#emit("response.content_part.done", { ...at, content_index: 0, part }),
      );
      item = { ...open.item, status: "completed", content: [part] };
    } else if (open.item.type === "function_call") {
      // A tool whose input came in no delta has it in its start: whole, from some Anthropic-format
      // servers, or `{}` for a tool without parameters; OpenAI always sends the arguments' JSON.
      const streamed = open.text !== "";
      const args = streamed ? open.text : JSON.stringify(isJsonObject(open.input) ? open.input : {});
      if (!streamed) {
        events.push(this.#emit("response.function_call_arguments.delta", { ...at, delta: args }));
      }
      events.push(
        this.#emit("response.function_call_arguments.done", { ...at, name: open.item.name, arguments: args }),
      );
      item = { ...open.item, status: "completed", arguments: args };
    } else {
      const input = _customInput(open.text === "" ? open.input : _parsed(open.text));
      events.push(
        this.#emit("response.custom_tool_call_input.delta", { ...at, delta: input }),
        this.#emit("response.custom_tool_call_input.done", { ...at, input }),
      );
      item = { ...open.item, status: "completed", input };
    }
    this.#output[open.outputIndex] = item;
    events.push(this.#emit("response.output_item.done", { output_index: open.outputIndex, item }));
    return events;
  }

  /**
   * The answer was cut (`max_tokens`, a filter, a failure): the items not closed go into the output as
   * they came, `incomplete`, with no `done` event, so no client takes a cut tool call for a whole one.
   */
  #leaveIncomplete(): void {
    const cut = [...this.#open.values(), ...(this.#stopped ? [this.#stopped] : [])];
    this.#open.clear();
    this.#stopped = undefined;
    for (const open of cut) {
      const status = "incomplete";
      this.#output[open.outputIndex] = open.item.type === "reasoning"
        ? { ...open.item, status, summary: open.text ? [_summaryText(open.text)] : [] }
        : open.item.type === "message"
        ? { ...open.item, status, content: [_outputText(open.text)] }
        : open.item.type === "function_call"
        ? { ...open.item, status, arguments: open.text }
        : { ...open.item, status, input: _customInput(_parsed(open.text)) };
    }
  }

  #finish(): ResponsesEvent[] {
    // The answer filled the model's window: Codex compacts the conversation on this code, and would end
    // its turn on an incomplete one.
    if (this.#stopReason === "model_context_window_exceeded") {
      return this.error(`prompt is too long: ${_WINDOW_FILLED}`, "invalid_request_error");
    }
    // The model's own refusal is its answer, as OpenAI's models give theirs, in a `refusal` part: Codex
    // takes an incomplete response for a fault, and sends the request again. What came before it may
    // have been cut where the refusal struck (a tool call half written), so it stays incomplete.
    if (this.#stopReason === "refusal") {
      this.#leaveIncomplete();
      return [...this.#refusal(), this.#end("response.completed", { status: "completed" })];
    }
    if (finishReasonFor(this.#stopReason) === "length") {
      this.#leaveIncomplete();
      const incomplete_details = { reason: "max_output_tokens" };
      return [this.#end("response.incomplete", { status: "incomplete", incomplete_details })];
    }
    return [...this.#closeStopped(), this.#end("response.completed", { status: "completed" })];
  }

  /** A `message` output item as it begins, at `outputIndex`. */
  #messageItem(outputIndex: number): JsonObject {
    return {
      id: `msg_${this.#messageId}_${outputIndex}`,
      type: "message",
      status: "in_progress",
      role: "assistant",
      content: [],
    };
  }

  /** A `message` item of one `refusal` part saying the model declined, with the events that make it. */
  #refusal(): ResponsesEvent[] {
    const outputIndex = this.#output.length + this.#open.size;
    const item = this.#messageItem(outputIndex);
    const at = { item_id: item.id, output_index: outputIndex, content_index: 0 };
    const part = { type: "refusal", refusal: _DECLINED };
    const done = { ...item, status: "completed", content: [part] };
    this.#output[outputIndex] = done;
    return [
      this.#emit("response.output_item.added", { output_index: outputIndex, item }),
      this.#emit("response.content_part.added", { ...at, part: { type: "refusal", refusal: "" } }),
      this.#emit("response.refusal.delta", { ...at, delta: _DECLINED }),
      this.#emit("response.refusal.done", { ...at, refusal: _DECLINED }),
      this.#emit("response.content_part.done", { ...at, part }),
      this.#emit("response.output_item.done", { output_index: outputIndex, item: done }),
    ];
  }

  /** The last event, with the response as it ended. */
  #end(type: string, state: JsonObject): ResponsesEvent {
    this.#response = this.#snapshot(state);
    return this.#emit(type, { response: this.#response });
  }

  #addUsage(usage: unknown) {
    this.#usage = mergedUsage(this.#usage, usage);
  }

  #snapshot(state: JsonObject): JsonObject {
    const usage = openaiUsageFor(this.#usage);
    return {
      id: this.#id,
      object: "response",
      created_at: this.#options.createdAt,
      status: "in_progress",
      error: null,
      incomplete_details: null,
      ...this.#options.echo,
      model: this.#model,
      output: this.#output.filter(Boolean),
      usage: state.status === "in_progress" ? null : {
        input_tokens: usage.prompt_tokens,
        input_tokens_details: {
          cached_tokens: usage.prompt_tokens_details.cached_tokens,
          // Not OpenAI's, which has no cache writes to tell; Codex reports it.
          cache_write_tokens: this.#usage.cache_creation_input_tokens ?? 0,
        },
        output_tokens: usage.completion_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: usage.total_tokens,
      },
      ...state,
    };
  }

  #emit(type: string, fields: JsonObject): ResponsesEvent {
    return { type, data: { type, sequence_number: this.#sequence++, ...fields } };
  }
}

const _WINDOW_FILLED =
  "the answer filled the model's context window before it was finished (stop_reason model_context_window_exceeded)";

const _DECLINED = "The model declined to answer this request (Anthropic's stop_reason refusal).";

/** The Anthropic events the translation reads; any other is skipped. */
const _KNOWN: ReadonlySet<string> = new Set([
  "message_start",
  "content_block_start",
  "content_block_delta",
  "content_block_stop",
  "message_delta",
  "message_stop",
  "error",
]);

/** Where an item's events point: its id and output index. */
function _at(open: _Item): JsonObject {
  return { item_id: open.item.id, output_index: open.outputIndex };
}

/** The Anthropic block a reasoning item stands for, as it came. */
function _thinkingBlock({ text, thinking }: _Item): JsonObject {
  return thinking && "data" in thinking
    ? { type: "redacted_thinking", data: thinking.data }
    : { type: "thinking", thinking: text, signature: thinking?.signature ?? "" };
}

function _summaryText(text: string): JsonObject {
  return { type: "summary_text", text };
}

function _outputText(text: string): JsonObject {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

function _parsed(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

/** A custom tool's input: the string the model gave as `input`, else whatever it gave, as JSON. */
function _customInput(input: unknown): string {
  if (isJsonObject(input) && typeof input.input === "string") return input.input;
  return input === undefined ? "" : JSON.stringify(input);
}

/**
 * OpenAI's error code for an Anthropic error type, so a client acts on it as on OpenAI's own: Codex
 * compacts the conversation on `context_length_exceeded` and waits on `rate_limit_exceeded`.
 */
function _errorCode(type: string, message: string): string {
  const code = openaiErrorCode(message);
  if (code) return code;
  switch (type) {
    case "rate_limit_error":
      return "rate_limit_exceeded";
    case "invalid_request_error":
      return "invalid_prompt";
  }
  // Anthropic's overload passes in moments: Codex retries a `server_error`, where it takes
  // `server_is_overloaded` as the model's lasting want of capacity and ends the turn.
  return "server_error";
}

/**
 * The request's fields a response repeats, with OpenAI's defaults for those left out.
 *
 * @example
 * ```ts
 * responseEcho({ model: "m", input: "hi", temperature: 0.2 }).temperature; // 0.2
 * ```
 */
export function responseEcho(request: JsonObject): JsonObject {
  const given = (field: string, fallback: unknown) => request[field] ?? fallback;
  return {
    instructions: given("instructions", null),
    max_output_tokens: given("max_output_tokens", null),
    metadata: given("metadata", {}),
    parallel_tool_calls: given("parallel_tool_calls", true),
    previous_response_id: null,
    reasoning: given("reasoning", null),
    store: given("store", true),
    temperature: given("temperature", 1),
    text: given("text", { format: { type: "text" } }),
    tool_choice: given("tool_choice", "auto"),
    tools: given("tools", []),
    top_p: given("top_p", 1),
    truncation: given("truncation", "disabled"),
    user: given("user", null),
  };
}

/**
 * The whole response for an unstreamed request, what the stream's last event would have held: a
 * `failed` one for an error object.
 *
 * @example
 * ```ts
 * responseFor({ id: "msg_1", model: "claude-sonnet-4-5", content: [{ type: "text", text: "Hi" }],
 *   stop_reason: "end_turn", usage: { input_tokens: 5, output_tokens: 1 } },
 *   { createdAt: 1767225600, echo: {}, tools: new Map() });
 * // { id: "resp_msg_1", object: "response", status: "completed", output: [{ type: "message", … }], … }
 * ```
 */
export function responseFor(
  message: JsonObject,
  options: AnthropicToResponsesOptions,
): JsonObject {
  const translator = new AnthropicToResponses(options);
  translator.message(message);
  // A Message's events end with message_stop, an error object's with response.failed: either sets it.
  return translator.response!;
}

/**
 * One event as the Responses API frames it: `event: <type>` and its JSON on one `data:` line.
 *
 * @example
 * ```ts
 * encodeResponsesEvent({ type: "response.output_text.delta", data: { type: "response.output_text.delta", delta: "Hi" } });
 * ```
 */
export function encodeResponsesEvent(event: ResponsesEvent): Uint8Array {
  return encodeSseEvent(event.type, event.data);
}
