/**
 * An Anthropic event stream turned into a Chat Completions stream as it arrives (protocols.md §7.5),
 * for OpenAI-style clients of relay's `/v1/chat/completions`. The translation is a small state machine
 * over parsed events, {@linkcode AnthropicToOpenAI}, which `anthropicTranslatedSse` runs over bytes.
 */
import { anthropicEvent } from "./anthropic_event.ts";
import { messageEvents } from "./message_as_sse.ts";
import { openaiErrorBody } from "../server/openai_errors.ts";
import { anthropicErrorOf } from "../server/errors.ts";
import type { SseEvent } from "./sse_decode.ts";
import { finishReasonFor, mergedUsage, openaiUsageFor } from "./openai_stop_usage.ts";
import { openaiToolId } from "./openai_tool_ids.ts";
import type { AnthropicUsage } from "./openai_types.ts";
import { isJsonObject, type JsonObject } from "../util/json.ts";

/** One piece of an OpenAI stream: a `data:` chunk, or the closing `[DONE]`. */
export type OpenAISsePart = { kind: "chunk"; data: JsonObject } | { kind: "done" };

export interface AnthropicToOpenAIOptions {
  /** `created` of every chunk, in Unix seconds. */
  created: number;
  /** Whether the client asked for `stream_options.include_usage`: one more chunk, with the usage. */
  includeUsage: boolean;
}

/** A tool use block being relayed as OpenAI tool call `call`. */
interface _ToolBlock {
  call: number;
  /** `input` of the block's start; sent whole when no `input_json_delta` follows. */
  input: unknown;
  streamedInput: boolean;
}

/**
 * The translation state of one stream. {@linkcode event} returns the OpenAI parts an Anthropic event
 * completes; once {@linkcode finished}, nothing more. Text becomes `content`, tool use blocks become
 * `tool_calls` numbered 0, 1, … in block order, with their ids mapped by {@linkcode openaiToolId};
 * thinking becomes `reasoning_content` as it comes (DeepSeek's field, which the AI SDK and opencode
 * show), and each thinking block, once whole, `thinking_blocks` (LiteLLM's), signature and all, for a
 * client to send back; server-tool blocks have no Chat Completions equivalent and are dropped.
 * `ping` becomes nothing: the front door sends keep-alives of its own, between its chunks.
 *
 * @example
 * ```ts
 * const translator = new AnthropicToOpenAI({ created: 1767225600, includeUsage: false });
 * for (const event of new SseDecoder().feed(bytes)) translator.event(event);
 * ```
 */
export class AnthropicToOpenAI {
  readonly #options: AnthropicToOpenAIOptions;
  #id = "chatcmpl-relay";
  #model = "";
  readonly #tools = new Map<number, _ToolBlock>();
  /** The thinking blocks being relayed, by index: their text and signature so far, or redacted data. */
  readonly #thinking = new Map<number, { thinking: string; signature: string } | { data: string }>();
  #usage: AnthropicUsage = {};
  #stopReason: string | undefined;
  #finished = false;

  constructor(options: AnthropicToOpenAIOptions) {
    this.#options = options;
  }

  /** Whether the stream is over: `[DONE]` or an error chunk was produced. */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * One Anthropic SSE event. Unknown events are skipped, as Anthropic asks clients to, whatever their
   * data; a known one that is not a JSON object ends the stream with an error.
   */
  event(sse: SseEvent): OpenAISsePart[] {
    if (this.#finished) return [];
    const { name, payload } = anthropicEvent(sse);
    const handle = typeof name === "string" ? AnthropicToOpenAI.#handlers.get(name) : undefined;
    if (!handle) return [];
    if (!isJsonObject(payload)) {
      return this.#fail(
        "api_error",
        `upstream sent an event that is not a JSON object: ${sse.data.slice(0, 200)}`,
      );
    }
    return handle(this, payload);
  }

  /**
   * What each event Anthropic's stream has does; any other is skipped. One map for every translator,
   * not one per front-door request.
   */
  static readonly #handlers = new Map<
    string,
    (translator: AnthropicToOpenAI, payload: JsonObject) => OpenAISsePart[]
  >([
    ["error", (translator, payload) => translator.#error(payload)],
    [
      "message_start",
      (translator, payload) => translator.#start(isJsonObject(payload.message) ? payload.message : {}),
    ],
    ["content_block_start", (translator, payload) =>
      translator.#blockStart(
        Number(payload.index),
        isJsonObject(payload.content_block) ? payload.content_block : {},
      )],
    ["content_block_delta", (translator, payload) =>
      translator.#blockDelta(
        Number(payload.index),
        isJsonObject(payload.delta) ? payload.delta : {},
      )],
    ["content_block_stop", (translator, payload) => translator.#blockStop(Number(payload.index))],
    ["message_delta", (translator, payload) => {
      if (isJsonObject(payload.delta) && typeof payload.delta.stop_reason === "string") {
        translator.#stopReason = payload.delta.stop_reason;
      }
      translator.#addUsage(payload.usage);
      return [];
    }],
    ["message_stop", (translator) => translator.#finish()],
  ]);

  /**
   * A whole Message, come although a stream was asked for (some Anthropic-format servers ignore
   * `stream`): read as the stream Anthropic would have sent for it, so the two take one path and the
   * client reads the answer as it would have streamed. An error object in its place ends the stream as
   * an `error` event does.
   */
  message(message: JsonObject): OpenAISsePart[] {
    if (this.#finished) return [];
    if (message.type === "error") return this.#error(message);
    const content = Array.isArray(message.content) ? message.content.filter(isJsonObject) : [];
    return messageEvents({ ...message, content }).flatMap(({ event, data }) =>
      this.#finished ? [] : AnthropicToOpenAI.#handlers.get(event)!(this, data)
    );
  }

  /** The Anthropic body ended. Without `message_stop` the answer is incomplete, which the client must learn. */
  end(): OpenAISsePart[] {
    if (this.#finished) return [];
    return this.#fail("api_error", "upstream ended the stream before the answer was finished");
  }

  /**
   * relay cannot go on with the answer (an event too large to read, an answer cut mid-event): an error
   * chunk of `type` (Anthropic's error type, `api_error` unless given) ends the stream.
   */
  error(message: string, type = "api_error"): OpenAISsePart[] {
    if (this.#finished) return [];
    return this.#fail(type, message);
  }

  #start(message: JsonObject): OpenAISsePart[] {
    this.#id = `chatcmpl-${message.id ?? "relay"}`;
    this.#model = String(message.model ?? "");
    this.#addUsage(message.usage);
    // OpenAI's SDK requires the role in the first delta ("missing role for choice 0").
    return [this.#chunk({ role: "assistant", content: "" })];
  }

  #blockStart(index: number, block: JsonObject): OpenAISsePart[] {
    if (block.type === "text" && typeof block.text === "string" && block.text) {
      return [this.#chunk({ content: block.text })];
    }
    if (block.type === "redacted_thinking") this.#thinking.set(index, { data: String(block.data ?? "") });
    if (block.type === "thinking") {
      const signature = typeof block.signature === "string" ? block.signature : "";
      this.#thinking.set(index, { thinking: "", signature });
      return this.#reasoning(index, block.thinking);
    }
    if (block.type !== "tool_use") return [];
    const call = this.#tools.size;
    this.#tools.set(index, { call, input: block.input, streamedInput: false });
    const fn = { name: block.name, arguments: "" };
    return [
      this.#chunk({
        tool_calls: [{ index: call, id: openaiToolId(String(block.id)), type: "function", function: fn }],
      }),
    ];
  }

  #blockDelta(index: number, delta: JsonObject): OpenAISsePart[] {
    if (delta.type === "text_delta" && typeof delta.text === "string" && delta.text) {
      return [this.#chunk({ content: delta.text })];
    }
    if (delta.type === "thinking_delta") return this.#reasoning(index, delta.thinking);
    const thinking = this.#thinking.get(index);
    if (delta.type === "signature_delta" && thinking && "signature" in thinking) {
      thinking.signature += typeof delta.signature === "string" ? delta.signature : "";
      return [];
    }
    const tool = this.#tools.get(index);
    if (!tool || delta.type !== "input_json_delta" || typeof delta.partial_json !== "string") return [];
    // The API's first fragment is often empty; OpenAI's clients need no such chunk.
    if (!delta.partial_json) return [];
    tool.streamedInput = true;
    return [this.#arguments(tool.call, delta.partial_json)];
  }

  /**
   * A tool whose input came in no delta has it in its start: whole, from some Anthropic-format servers,
   * or `{}` for a tool without parameters. OpenAI always sends the arguments' JSON, `{}` included, and
   * its clients parse them.
   */
  #blockStop(index: number): OpenAISsePart[] {
    const thinking = this.#thinking.get(index);
    if (thinking) {
      this.#thinking.delete(index);
      const block = "data" in thinking
        ? { type: "redacted_thinking", ...thinking }
        : { type: "thinking", ...thinking };
      return [this.#chunk({ thinking_blocks: [block] })];
    }
    const tool = this.#tools.get(index);
    if (!tool || tool.streamedInput) return [];
    return [this.#arguments(tool.call, JSON.stringify(isJsonObject(tool.input) ? tool.input : {}))];
  }

  /** More of a thinking block's text, as `reasoning_content`. */
  #reasoning(index: number, text: unknown): OpenAISsePart[] {
    const thinking = this.#thinking.get(index);
    if (!thinking || !("thinking" in thinking) || typeof text !== "string" || !text) return [];
    thinking.thinking += text;
    return [this.#chunk({ reasoning_content: text })];
  }

  #arguments(call: number, fragment: string): OpenAISsePart {
    return this.#chunk({ tool_calls: [{ index: call, function: { arguments: fragment } }] });
  }

  #finish(): OpenAISsePart[] {
    this.#finished = true;
    const parts = [this.#chunk({}, finishReasonFor(this.#stopReason))];
    if (this.#options.includeUsage) {
      parts.push({
        kind: "chunk",
        data: { ...this.#envelope(), choices: [], usage: openaiUsageFor(this.#usage) },
      });
    }
    parts.push({ kind: "done" });
    return parts;
  }

  #addUsage(usage: unknown) {
    this.#usage = mergedUsage(this.#usage, usage);
  }

  /** An Anthropic `error` event's payload, or an error object come whole. */
  #error(payload: JsonObject): OpenAISsePart[] {
    const { type, message } = anthropicErrorOf(payload);
    return this.#fail(type, message);
  }

  /** OpenAI's SDK throws on a chunk holding `error`, and its stream then ends; so does this one. */
  #fail(type: string, message: string): OpenAISsePart[] {
    this.#finished = true;
    return [{ kind: "chunk", data: openaiErrorBody(message, type) }];
  }

  #envelope() {
    return {
      id: this.#id,
      object: "chat.completion.chunk",
      created: this.#options.created,
      model: this.#model,
    };
  }

  #chunk(delta: JsonObject, finishReason: string | null = null): OpenAISsePart {
    const choice = { index: 0, delta, logprobs: null, finish_reason: finishReason };
    return { kind: "chunk", data: { ...this.#envelope(), choices: [choice] } };
  }
}

const _encoder = new TextEncoder();

/**
 * One part as OpenAI frames it: `data: <one-line JSON>\n\n` with no `event:` line, or `data: [DONE]\n\n`.
 *
 * @example
 * ```ts
 * encodeOpenAISse({ kind: "done" }); // data: [DONE]\n\n
 * ```
 */
export function encodeOpenAISse(part: OpenAISsePart): Uint8Array {
  switch (part.kind) {
    case "chunk":
      return _encoder.encode(`data: ${JSON.stringify(part.data)}\n\n`);
    case "done":
      return _encoder.encode("data: [DONE]\n\n");
  }
}
