/**
 * A Chat Completions stream turned into Anthropic's event sequence as it arrives (protocols.md §7.4),
 * for an Anthropic client of an OpenAI-compatible upstream. The translation is a small state machine
 * over parsed chunks, {@linkcode OpenAIToAnthropic}; {@linkcode openaiToAnthropicSse} runs it over bytes.
 */
import { type AnthropicErrorType, errorEnvelope } from "../server/errors.ts";
import { anthropicFailureFor } from "../server/openai_errors.ts";
import { encodeSseEvent } from "./sse_encode.ts";
import { translateSse } from "./openai_translate_sse.ts";
import { anthropicUsageFor, stopReasonFor } from "./openai_stop_usage.ts";
import { anthropicToolId } from "./openai_tool_ids.ts";
import type { AnthropicEvent, ChatChunk, ChatDelta, ChatToolCallDelta, ChatUsage } from "./openai_types.ts";

export interface OpenAIToAnthropicOptions {
  /** `message.id` of the Anthropic answer; it is needed before the upstream's first chunk names its own. */
  messageId: string;
  /** `message.model`: the model the upstream was asked for. */
  model: string;
  /**
   * Whether the client asked for thinking. Reasoning from compatibles (`reasoning_content`, `reasoning`)
   * becomes a thinking block only then, and never carries a signature: relay cannot mint one.
   */
  thinking: boolean;
  /** The id for a tool call the upstream sent without one. */
  newToolId: () => string;
}

/** One tool call as its fragments arrive; it becomes a block once it has a name and its turn. */
interface _ToolCall {
  id?: string;
  name?: string;
  /** Argument fragments that arrived before the block could start. */
  pending: string;
  /** Whether the arguments so far are whole JSON, which is when the call may give up its block. */
  readonly json: _JsonCompletion;
  /** The Anthropic block index, once started. */
  block?: number;
}

type _Open = { kind: "text" | "thinking"; index: number } | { kind: "tool"; index: number; call: _ToolCall };

/**
 * The translation state of one stream. Every method returns the Anthropic events (each one's `type` is
 * also its SSE event name) that the input completes; once {@linkcode finished}, it returns none.
 *
 * Block indexes run 0, 1, 2… and blocks never interleave: a text, thinking or tool block stays open until
 * something else arrives. Tool calls stream their arguments as `input_json_delta`s; a call whose name
 * has not arrived yet waits, with its argument fragments, until it has one. Upstreams that interleave
 * parallel calls (vLLM, some gateways) send fragments of one call while another's block is open: the
 * open call keeps its block until its arguments are whole JSON (or the answer ends), and the others wait,
 * each held back in full, to follow as whole blocks in the order they first appeared. Arguments that
 * still come for a call whose block is closed cannot be placed any more, so they end the stream with an
 * error rather than give the client a wrong input.
 *
 * @example
 * ```ts
 * const translator = new OpenAIToAnthropic({ messageId: "msg_1", model: "gpt-4.1", thinking: false, newToolId });
 * translator.start(); // [message_start]
 * translator.chunk('{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}');
 * // [content_block_start, content_block_delta]
 * translator.chunk("[DONE]"); // [content_block_stop, message_delta, message_stop]
 * ```
 */
export class OpenAIToAnthropic {
  readonly #options: OpenAIToAnthropicOptions;
  #nextIndex = 0;
  #open: _Open | undefined;
  readonly #calls = new Map<number, _ToolCall>();
  #lastCall = -1;
  /** Characters in all calls' `pending`, bounded by {@linkcode _MAX_HELD_ARGUMENT_CHARS}. */
  #heldArgumentChars = 0;
  #sawToolCall = false;
  #finishReason: string | undefined;
  #usage: ChatUsage | undefined;
  #finished = false;

  constructor(options: OpenAIToAnthropicOptions) {
    this.#options = options;
  }

  /** Whether the stream is over: `message_stop` or an `error` was emitted. */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * `message_start`, sent as soon as the upstream accepted the request: the client then holds an open
   * stream that keep-alives can fill while a slow model prepares its first token. The input token count
   * is not known yet; it arrives in `message_delta`.
   */
  start(): AnthropicEvent[] {
    const { messageId: id, model } = this.#options;
    const usage = {
      input_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: 0,
    };
    const message = {
      id,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    };
    return [{ type: "message_start", message }];
  }

  /** One `data:` payload of the upstream stream: a chunk's JSON, or `[DONE]`. */
  chunk(data: string): AnthropicEvent[] {
    if (this.#finished) return [];
    if (data.trim() === "[DONE]") return this.#complete();
    let chunk: ChatChunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      return this.#fail("api_error", `upstream sent a stream chunk that is not JSON: ${data.slice(0, 200)}`);
    }
    if (chunk?.error !== undefined && chunk.error !== null) {
      const failure = anthropicFailureFor(chunk) ??
        { type: "api_error" as const, message: JSON.stringify(chunk.error) };
      return this.#fail(failure.type, failure.message);
    }
    if (chunk?.usage) this.#usage = chunk.usage;
    // relay never asks for `n` > 1, so choice 0 is the whole answer.
    const choices = Array.isArray(chunk?.choices) ? chunk.choices : [];
    const choice = choices.find((candidate) => (candidate?.index ?? 0) === 0);
    if (!choice) return [];
    const events = this.#delta(choice.delta ?? {});
    if (choice.finish_reason && !this.#finished) {
      this.#finishReason = choice.finish_reason;
      events.push(...this.#startRemainingTools(), ...this.#close());
    }
    return events;
  }

  /**
   * The upstream body ended. After a `finish_reason` that is a normal end (the `[DONE]` was left out);
   * before one the answer was cut short, which the client must learn, since a missing `message_stop`
   * is all the SDKs would otherwise notice.
   */
  end(): AnthropicEvent[] {
    if (this.#finished) return [];
    if (this.#finishReason !== undefined) return this.#complete();
    return this.#fail("api_error", "upstream ended the stream before the answer was finished");
  }

  #delta(delta: ChatDelta): AnthropicEvent[] {
    const events: AnthropicEvent[] = [];
    const reasoning = delta.reasoning_content || delta.reasoning;
    if (reasoning && this.#options.thinking) {
      events.push(
        ...this.#openText("thinking"),
        _delta(this.#open!.index, { type: "thinking_delta", thinking: reasoning }),
      );
    }
    const text = delta.content || delta.refusal;
    if (text) events.push(...this.#openText("text"), _delta(this.#open!.index, { type: "text_delta", text }));
    for (const fragment of delta.tool_calls ?? []) {
      events.push(...this.#toolFragment(fragment));
      if (this.#finished) break;
    }
    return events;
  }

  #openText(kind: "text" | "thinking"): AnthropicEvent[] {
    if (this.#open?.kind === kind) return [];
    const events = this.#close();
    const index = this.#nextIndex++;
    this.#open = { kind, index };
    const block = kind === "text"
      ? { type: "text", text: "" }
      : { type: "thinking", thinking: "", signature: "" };
    return [...events, { type: "content_block_start", index, content_block: block }];
  }

  /**
   * Compatibles that send each call whole sometimes leave out `index`. A fragment then continues the
   * call with its id; without an id, a fragment naming a tool starts a new call once the latest one
   * has its name, and any other continues the latest call.
   */
  #keyWithoutIndex(fragment: ChatToolCallDelta): number {
    const latest = this.#calls.get(this.#lastCall);
    if (fragment.id) {
      for (const [key, call] of this.#calls) if (call.id === fragment.id) return key;
      return this.#lastCall + 1;
    }
    // A name for a call that has one already must belong to the next call.
    return !latest || (fragment.function?.name && latest.name !== undefined)
      ? this.#lastCall + 1
      : this.#lastCall;
  }

  #toolFragment(fragment: ChatToolCallDelta): AnthropicEvent[] {
    const key = fragment.index ?? this.#keyWithoutIndex(fragment);
    this.#lastCall = Math.max(this.#lastCall, key);
    let call = this.#calls.get(key);
    if (!call) this.#calls.set(key, call = { pending: "", json: new _JsonCompletion() });
    if (fragment.id && call.id === undefined) call.id = fragment.id;
    if (fragment.function?.name && call.name === undefined) call.name = fragment.function.name;
    const args = fragment.function?.arguments ?? "";
    if (call.block === undefined) {
      if (this.#heldArgumentChars + args.length > _MAX_HELD_ARGUMENT_CHARS) {
        return this.#fail(
          "api_error",
          `upstream tool call arguments that relay had to hold back passed ${_MAX_HELD_ARGUMENT_CHARS} characters ` +
            "(parallel calls interleaved, or a call without its name)",
        );
      }
      call.pending += args;
      this.#heldArgumentChars += args.length;
      call.json.feed(args);
      return this.#startWaitingTools();
    }
    if (!args) return [];
    if (this.#open?.kind === "tool" && this.#open.call === call) {
      call.json.feed(args);
      // Arguments that just became whole let the calls waiting behind this one out at once.
      return [
        _delta(call.block, { type: "input_json_delta", partial_json: args }),
        ...this.#startWaitingTools(),
      ];
    }
    // The block closed because these arguments were whole JSON (after which only whitespace, which
    // changes nothing, can follow) or because text cut the call off: nothing else can be placed.
    if (call.json.whole && _JSON_WHITESPACE.test(args)) return [];
    return this.#fail(
      "api_error",
      `upstream interleaved the arguments of parallel tool calls (call ${key} continued after its block closed)`,
    );
  }

  /**
   * Starts, in order of first appearance, each named call whose turn has come. An open tool block whose
   * arguments are not whole JSON keeps its place: closing it is the one thing relay could not undo if
   * the upstream, interleaving, sends more of it later. So the calls after it wait, held back, and only
   * whole JSON (or the end of the answer) lets the next one start.
   */
  #startWaitingTools(): AnthropicEvent[] {
    const events: AnthropicEvent[] = [];
    for (const call of this.#calls.values()) {
      if (this.#open?.kind === "tool" && !this.#open.call.json.whole) break;
      if (call.block === undefined && call.name !== undefined) events.push(...this.#startTool(call));
    }
    return events;
  }

  /**
   * The answer is over, so no call can grow: every one still waiting gets its block now, in order of
   * first appearance. A call that never got its name still has to reach the client, which answers it
   * with an error.
   */
  #startRemainingTools(): AnthropicEvent[] {
    const events: AnthropicEvent[] = [];
    for (const call of this.#calls.values()) {
      if (call.block === undefined) events.push(...this.#startTool(call));
    }
    return events;
  }

  #startTool(call: _ToolCall): AnthropicEvent[] {
    const events = this.#close();
    const index = call.block = this.#nextIndex++;
    this.#open = { kind: "tool", index, call };
    this.#sawToolCall = true;
    const id = call.id ? anthropicToolId(call.id) : this.#options.newToolId();
    events.push({
      type: "content_block_start",
      index,
      content_block: { type: "tool_use", id, name: call.name ?? "", input: {} },
    });
    if (call.pending) events.push(_delta(index, { type: "input_json_delta", partial_json: call.pending }));
    this.#heldArgumentChars -= call.pending.length;
    call.pending = "";
    return events;
  }

  #close(): AnthropicEvent[] {
    if (!this.#open) return [];
    const { index } = this.#open;
    this.#open = undefined;
    return [{ type: "content_block_stop", index }];
  }

  #complete(): AnthropicEvent[] {
    const events = [...this.#startRemainingTools(), ...this.#close()];
    this.#finished = true;
    const delta = { stop_reason: stopReasonFor(this.#finishReason, this.#sawToolCall), stop_sequence: null };
    events.push({ type: "message_delta", delta, usage: anthropicUsageFor(this.#usage) }, {
      type: "message_stop",
    });
    return events;
  }

  /** An `error` event ends an Anthropic stream wherever it is, open block included (as the API does). */
  #fail(type: AnthropicErrorType, message: string): AnthropicEvent[] {
    this.#finished = true;
    return [errorEnvelope(type, message)];
  }
}

function _delta(index: number, delta: Record<string, unknown>): AnthropicEvent {
  return { type: "content_block_delta", index, delta };
}

/**
 * Arguments held back for calls waiting their turn, all calls together, in UTF-16 units: an upstream
 * that interleaves without end must not grow relay's memory without end. Far above any real tool input,
 * and the bound the usage tap puts on a JSON body.
 */
const _MAX_HELD_ARGUMENT_CHARS = 4 * 1024 * 1024;

const _JSON_WHITESPACE = /^[ \t\n\r]*$/;

/**
 * Whether a call's arguments, fed as they arrive, are whole JSON so far: one object or array, closed,
 * then at most whitespace. Only then can no later fragment belong inside its block. A bare scalar never
 * counts (`12` may go on as `123`), nor does anything after the closing bracket but whitespace; such a
 * call merely keeps its block until the answer ends.
 */
class _JsonCompletion {
  #state: "empty" | "open" | "whole" | "never" = "empty";
  #depth = 0;
  #inString = false;
  #escaped = false;

  get whole(): boolean {
    return this.#state === "whole";
  }

  feed(text: string): void {
    for (let at = 0; at < text.length && this.#state !== "never"; at++) {
      const char = text[at];
      if (this.#state !== "open") {
        const opens = this.#state === "empty" && (char === "{" || char === "[");
        if (opens) [this.#state, this.#depth] = ["open", 1];
        else if (!_JSON_WHITESPACE.test(char)) this.#state = "never";
      } else if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (char === "\\") this.#escaped = true;
        else if (char === '"') this.#inString = false;
      } else if (char === '"') {
        this.#inString = true;
      } else if (char === "{" || char === "[") {
        this.#depth++;
      } else if ((char === "}" || char === "]") && --this.#depth === 0) {
        this.#state = "whole";
      }
    }
  }
}

/**
 * A Chat Completions SSE body as Anthropic SSE bytes. `message_start` is ready before the first
 * upstream byte. Once the translation has finished (the answer is complete or failed), the upstream
 * body is cancelled, so its request is not left running.
 *
 * @example
 * ```ts
 * const translator = new OpenAIToAnthropic({ messageId, model, thinking: false, newToolId });
 * return new Response(openaiToAnthropicSse(upstream.body!, translator), {
 *   headers: { "content-type": "text/event-stream" },
 * });
 * ```
 */
export function openaiToAnthropicSse(
  body: ReadableStream<Uint8Array>,
  translator: OpenAIToAnthropic,
): ReadableStream<Uint8Array> {
  const encode = (events: AnthropicEvent[]) => events.map((event) => encodeSseEvent(event.type, event));
  return translateSse(body, {
    get finished() {
      return translator.finished;
    },
    start: () => encode(translator.start()),
    event: ({ data }) => encode(translator.chunk(data)),
    end: () => encode(translator.end()),
  });
}
