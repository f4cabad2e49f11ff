/**
 * A Chat Completions stream turned into Anthropic's event sequence as it arrives (protocols.md §7.4),
 * for an Anthropic client of an OpenAI-compatible upstream. The translation is a small state machine
 * over parsed chunks, {@linkcode OpenAIToAnthropic}; {@linkcode openaiToAnthropicSse} runs it over bytes.
 */
import { type AnthropicErrorType, errorEnvelope } from "../server/errors.ts";
import { anthropicFailureFor } from "../server/openai_errors.ts";
import { encodeSseEvent } from "./sse_encode.ts";
import { translateSse } from "./openai_translate_sse.ts";
import { answerChoice } from "./openai_to_anthropic_message.ts";
import { estimateWrittenTokens } from "../routing/token_estimate.ts";
import type { UsageFallback } from "../providers/types.ts";
import { answerUsage, finishFailure, stopReasonFor } from "./openai_stop_usage.ts";
import { AnswerToolIds } from "./openai_tool_ids.ts";
import {
  type AnthropicEvent,
  type ChatChunk,
  type ChatCompletion,
  type ChatDelta,
  type ChatToolCallDelta,
  type ChatUsage,
  contentTexts,
  messageFault,
  toolCallsIn,
} from "./openai_types.ts";
import { realTimers, type Timers } from "../util/timers.ts";

export interface OpenAIToAnthropicOptions {
  /** `message.id` of the Anthropic answer; it is needed before the upstream's first chunk names its own. */
  messageId: string;
  /** `message.model`: the model the upstream was asked for. */
  model: string;
  /**
   * Whether the client asked for thinking. Reasoning from compatibles (`reasoning_content`, `reasoning`)
   * becomes a thinking block only then, whose signature is empty: relay cannot mint one.
   */
  thinking: boolean;
  /** The id for a tool call the upstream sent without one. */
  newToolId: () => string;
  /** What the answer reports if the upstream sends no usage; zeros without it. */
  usageFallback?: UsageFallback;
}

/** One tool call as its fragments arrive; it becomes a block once it has a name and its turn. */
interface _ToolCall {
  /** Its place in the order of first appearance. */
  readonly order: number;
  /** The upstream's `index` for it, if it gave one. */
  readonly index?: number;
  id?: string;
  name?: string;
  /** Argument fragments that arrived before the block could start. */
  pending: string;
  /** Whether the arguments so far are whole JSON, which is when the call may give up its block. */
  readonly json: _JsonCompletion;
  /** The Anthropic block index, once started. */
  block?: number;
}

type _Choice = NonNullable<ChatChunk["choices"]>[number];

type _Open = { kind: "text" | "thinking"; index: number } | { kind: "tool"; index: number; call: _ToolCall };

/**
 * The translation state of one stream. Every method returns the Anthropic events (each one's `type` is
 * also its SSE event name) that the input completes; once {@linkcode finished}, it returns none.
 *
 * Block indexes run 0, 1, 2… and blocks never interleave: a text, thinking or tool block stays open until
 * something else arrives. Tool calls stream their arguments as `input_json_delta`s; a call whose name
 * has not arrived yet waits, with its argument fragments, until it has one. A fragment with a new id
 * starts a new call even at an `index` already taken (Ollama's `/v1` and sglang send every parallel
 * call at index 0). Arguments that turn out not to be a JSON object are not sent: `tool_use.input`
 * must be one, so such a call's input stays `{}`, as in an unstreamed answer. Upstreams that interleave
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
  readonly #toolIds: AnswerToolIds;
  #nextIndex = 0;
  #open: _Open | undefined;
  /** In order of first appearance. */
  readonly #calls: _ToolCall[] = [];
  /** The latest call at each upstream `index`. */
  readonly #callAt = new Map<number, _ToolCall>();
  /** The first call (in order of appearance) with each upstream id. */
  readonly #callWithId = new Map<string, _ToolCall>();
  /** Every call before this one in `#calls` has its block. */
  #startedBefore = 0;
  /**
   * The named calls without a block, first appearance first. Looking them up, not scanning `#calls`,
   * keeps an answer of many calls linear: a call still without its name would hold back a scan's start.
   */
  readonly #waiting = new _CallQueue();
  /** Characters in all calls' `pending`, bounded by {@linkcode _MAX_HELD_ARGUMENT_CHARS}. */
  #heldArgumentChars = 0;
  #sawToolCall = false;
  #finishReason: string | undefined;
  #usage: ChatUsage | undefined;
  /** The answer's tokens as relay estimates them, counted only for a usage fallback. */
  #writtenTokens = 0;
  #finished = false;

  constructor(options: OpenAIToAnthropicOptions) {
    this.#options = options;
    this.#toolIds = new AnswerToolIds(options.newToolId);
  }

  /** Whether the stream is over: `message_stop` or an `error` was emitted. */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * Whether the answer is whole but for its usage: a `finish_reason` came, and only the usage chunk and
   * `[DONE]` may follow, which {@linkcode end} can do without.
   */
  get settling(): boolean {
    return !this.#finished && this.#finishReason !== undefined;
  }

  /**
   * `message_start`, sent as soon as the upstream accepted the request: the client then holds an open
   * stream that keep-alives can fill while a slow model prepares its first token. The input token count
   * is not known yet; it arrives in `message_delta`, until which the usage fallback can tell what the
   * answer has used so far.
   */
  start(): AnthropicEvent[] {
    const { messageId: id, model, usageFallback } = this.#options;
    usageFallback?.streaming?.(() => answerUsage(this.#usage, usageFallback, () => this.#writtenTokens));
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
    // relay never asks for `n` > 1, so choice 0 is the whole answer.
    const choices = Array.isArray(chunk?.choices) ? chunk.choices : [];
    const choice = choices.find((candidate) => (candidate?.index ?? 0) === 0);
    // Moonshot (Kimi) sends the usage in its finish chunk's choice, not at the top.
    const usage = chunk?.usage || choice?.usage;
    if (usage) this.#usage = usage;
    const events = choice ? this.#choice(choice, data) : [];
    // Usage with or after the finish is all the answer waited for (protocols.md §7.4); `[DONE]` adds
    // nothing. Some upstreams send both in one chunk.
    if (usage && this.settling) _append(events, this.#complete());
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

  /** What a chunk's choice 0 completes, its finish included. */
  #choice(choice: _Choice, data: string): AnthropicEvent[] {
    const fault = messageFault(choice.delta);
    if (fault) {
      return this.#fail(
        "api_error",
        `upstream sent a malformed stream chunk (${fault}): ${data.slice(0, 200)}`,
      );
    }
    const events = this.#delta(choice.delta ?? {});
    const failure = this.#finished ? undefined : finishFailure(choice);
    if (failure) return [...events, ...this.#fail(failure.type, failure.message)];
    if (choice.finish_reason && !this.#finished) {
      this.#finishReason = choice.finish_reason;
      _append(events, this.#startRemainingTools());
      _append(events, this.#close());
    }
    return events;
  }

  #delta(delta: ChatDelta): AnthropicEvent[] {
    const events: AnthropicEvent[] = [];
    const content = contentTexts(delta.content);
    const reasoning = (delta.reasoning_content || delta.reasoning || "") + content.thinking;
    // Reasoning is output the upstream bills, whether or not the client sees it.
    this.#written([reasoning, content.text, delta.refusal]);
    if (reasoning && this.#options.thinking) {
      events.push(
        ...this.#openText("thinking"),
        _delta(this.#open!.index, { type: "thinking_delta", thinking: reasoning }),
      );
    }
    const text = content.text || delta.refusal;
    if (text) events.push(...this.#openText("text"), _delta(this.#open!.index, { type: "text_delta", text }));
    for (const fragment of toolCallsIn(delta)) {
      _append(events, this.#toolFragment(fragment));
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

  /** The call a fragment continues, or a new one. */
  #callFor(fragment: ChatToolCallDelta): _ToolCall {
    const { index, id } = fragment;
    const known = index === undefined ? this.#callWithoutIndex(fragment) : this.#callAt.get(index);
    if (known && !(id && known.id !== undefined && known.id !== id)) return known;
    const call: _ToolCall = { order: this.#calls.length, index, pending: "", json: new _JsonCompletion() };
    this.#calls.push(call);
    if (index !== undefined) this.#callAt.set(index, call);
    return call;
  }

  /**
   * Compatibles that send each call whole sometimes leave out `index`. A fragment then continues the
   * call with its id; without an id, a fragment naming a tool starts a new call once the latest one
   * has its name, and any other continues the latest call.
   */
  #callWithoutIndex(fragment: ChatToolCallDelta): _ToolCall | undefined {
    if (fragment.id) return this.#callWithId.get(fragment.id);
    const latest = this.#calls.at(-1);
    // A name for a call that has one already must belong to the next call.
    return fragment.function?.name && latest?.name !== undefined ? undefined : latest;
  }

  #toolFragment(fragment: ChatToolCallDelta): AnthropicEvent[] {
    const call = this.#callFor(fragment);
    this.#written([fragment.function?.name, fragment.function?.arguments]);
    if (fragment.id && call.id === undefined) this.#identify(call, fragment.id);
    if (fragment.function?.name && call.name === undefined) {
      call.name = fragment.function.name;
      if (call.block === undefined) this.#waiting.add(call);
    }
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
      return [..._argumentsDelta(call, args), ...this.#startWaitingTools()];
    }
    // The block closed because these arguments were whole JSON (after which only whitespace, which
    // changes nothing, can follow) or because text cut the call off: nothing else can be placed.
    if (call.json.whole && _JSON_WHITESPACE.test(args)) return [];
    return this.#fail(
      "api_error",
      "upstream interleaved the arguments of parallel tool calls " +
        `(call ${call.index ?? call.order} continued after its block closed)`,
    );
  }

  #identify(call: _ToolCall, id: string): void {
    call.id = id;
    // A call that appeared earlier can get its id later than one after it.
    const first = this.#callWithId.get(id);
    if (first === undefined || first.order > call.order) this.#callWithId.set(id, call);
  }

  /**
   * Starts, in order of first appearance, each named call whose turn has come. An open tool block whose
   * arguments are not whole JSON keeps its place: closing it is the one thing relay could not undo if
   * the upstream, interleaving, sends more of it later. So the calls after it wait, held back, and only
   * whole JSON (or the end of the answer) lets the next one start.
   */
  #startWaitingTools(): AnthropicEvent[] {
    const events: AnthropicEvent[] = [];
    while (!(this.#open?.kind === "tool" && !this.#open.call.json.whole)) {
      const call = this.#waiting.takeFirst();
      if (call === undefined) break;
      // The end of the answer may have started it already.
      if (call.block === undefined) _append(events, this.#startTool(call));
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
    for (; this.#startedBefore < this.#calls.length; this.#startedBefore++) {
      const call = this.#calls[this.#startedBefore];
      if (call.block === undefined) _append(events, this.#startTool(call));
    }
    return events;
  }

  #startTool(call: _ToolCall): AnthropicEvent[] {
    const events = this.#close();
    const index = call.block = this.#nextIndex++;
    this.#open = { kind: "tool", index, call };
    this.#sawToolCall = true;
    events.push({
      type: "content_block_start",
      index,
      content_block: { type: "tool_use", id: this.#toolIds.next(call.id), name: call.name ?? "", input: {} },
    }, ..._argumentsDelta(call, call.pending));
    this.#heldArgumentChars -= call.pending.length;
    call.pending = "";
    return events;
  }

  #close(): AnthropicEvent[] {
    if (!this.#open) return [];
    const { index, kind } = this.#open;
    this.#open = undefined;
    const stop: AnthropicEvent = { type: "content_block_stop", index };
    // Clients that keep a thinking block only once its signature arrives (the AI SDK, and so opencode)
    // dropped it without one, and DeepSeek then refused the tool loop's next request: an empty signature,
    // as a whole answer's block has, is no signature minted.
    if (kind !== "thinking") return [stop];
    return [_delta(index, { type: "signature_delta", signature: "" }), stop];
  }

  #complete(): AnthropicEvent[] {
    const events = [...this.#startRemainingTools(), ...this.#close()];
    this.#finished = true;
    const delta = { stop_reason: stopReasonFor(this.#finishReason, this.#sawToolCall), stop_sequence: null };
    const usage = answerUsage(this.#usage, this.#options.usageFallback, () => this.#writtenTokens);
    events.push({ type: "message_delta", delta, usage }, {
      type: "message_stop",
    });
    return events;
  }

  #written(texts: (string | null | undefined)[]): void {
    if (this.#options.usageFallback) this.#writtenTokens += estimateWrittenTokens(texts);
  }

  /** An `error` event ends an Anthropic stream wherever it is, open block included (as the API does). */
  #fail(type: AnthropicErrorType, message: string): AnthropicEvent[] {
    this.#finished = true;
    return [errorEnvelope(type, message)];
  }
}

/**
 * `events.push(...more)` for any length: a spread passes each element as an argument, and past about
 * 120,000 of them (the calls of one large answer, all started at its end) it overflows the stack.
 */
function _append(events: AnthropicEvent[], more: AnthropicEvent[]): void {
  for (const event of more) events.push(event);
}

function _delta(index: number, delta: Record<string, unknown>): AnthropicEvent {
  return { type: "content_block_delta", index, delta };
}

/**
 * The `input_json_delta` for arguments of a started call once they have begun as a JSON object (the
 * whitespace before it is left out, which changes nothing).
 */
function _argumentsDelta(call: _ToolCall, args: string): AnthropicEvent[] {
  if (!args || !call.json.object) return [];
  return [_delta(call.block!, { type: "input_json_delta", partial_json: args })];
}

/**
 * Arguments held back for calls waiting their turn, all calls together, in UTF-16 units: an upstream
 * that interleaves without end must not grow relay's memory without end. Far above any real tool input,
 * and the bound the usage tap puts on a JSON body.
 */
const _MAX_HELD_ARGUMENT_CHARS = 4 * 1024 * 1024;

const _JSON_WHITESPACE = /^[ \t\n\r]*$/;

/**
 * How long an answer that has its `finish_reason` waits for the usage chunk, `[DONE]` or the end of the
 * body, at most. Upstreams send the usage right after the finish; one that sends none of them would
 * otherwise hold the whole answer back until relay's idle deadline turned it into an error.
 */
const _SETTLE_MS = 3_000;

/**
 * Tool calls in order of first appearance, whatever order they join in: a binary heap on
 * {@linkcode _ToolCall.order}.
 */
class _CallQueue {
  readonly #heap: _ToolCall[] = [];

  add(call: _ToolCall): void {
    const heap = this.#heap;
    let at = heap.push(call) - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (heap[parent].order <= call.order) break;
      heap[at] = heap[parent];
      at = parent;
    }
    heap[at] = call;
  }

  /** The call that appeared first, taken out of the queue. */
  takeFirst(): _ToolCall | undefined {
    const heap = this.#heap;
    const first = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return first;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && heap[child + 1].order < heap[child].order) child++;
      if (heap[child].order >= last.order) break;
      heap[at] = heap[child];
      at = child;
    }
    heap[at] = last;
    return first;
  }
}

/**
 * Whether a call's arguments, fed as they arrive, are whole JSON so far: one object or array, closed,
 * then at most whitespace. Only then can no later fragment belong inside its block. A bare scalar never
 * counts (`12` may go on as `123`), nor does anything after the closing bracket but whitespace; such a
 * call merely keeps its block until the answer ends.
 */
class _JsonCompletion {
  #state: "empty" | "open" | "whole" | "never" = "empty";
  /** The first character that is not whitespace. */
  #opener: string | undefined;
  #depth = 0;
  #inString = false;
  #escaped = false;

  get whole(): boolean {
    return this.#state === "whole";
  }

  /** Whether the arguments have begun as a JSON object. */
  get object(): boolean {
    return this.#opener === "{";
  }

  feed(text: string): void {
    for (let at = 0; at < text.length && this.#state !== "never"; at++) {
      const char = text[at];
      if (this.#state !== "open") {
        if (this.#opener === undefined && !_JSON_WHITESPACE.test(char)) this.#opener = char;
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
 * body is cancelled, so its request is not left running; so it is when a chunk is too large to read
 * (over the decoder's 32 Mi characters), which fails the output for relay to report. After the
 * `finish_reason`, an upstream body that fails, or sends nothing more for 3 s (or half of `idleMs`,
 * relay's own wait on the output, when that is shorter), ends the answer as `[DONE]` would (without
 * the usage that never came).
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
  { timers = realTimers, idleMs = Infinity }: { timers?: Timers; idleMs?: number } = {},
): ReadableStream<Uint8Array> {
  return translateSse(body, {
    get finished() {
      return translator.finished;
    },
    get settling() {
      return translator.settling;
    },
    start: () => _encode(translator.start()),
    event: ({ data }) => _encode(translator.chunk(data)),
    end: () => _encode(translator.end()),
  }, { settleMs: Math.min(_SETTLE_MS, idleMs / 2), timers });
}

/**
 * The Anthropic SSE events, encoded, for a completion that came whole although a stream was asked for
 * (a server that ignores `stream`): the stream translation of the one chunk it amounts to, so it reads
 * as the streamed answer would. The completion must have a choice whose message `messageFault` found
 * readable.
 *
 * @example
 * ```ts
 * const events = completionAsAnthropicSse(completion, { messageId, model, thinking: false, newToolId });
 * return new Response(ReadableStream.from(events), { headers: { "content-type": "text/event-stream" } });
 * ```
 */
export function completionAsAnthropicSse(
  completion: ChatCompletion,
  options: OpenAIToAnthropicOptions,
): Uint8Array[] {
  const choice = answerChoice(completion);
  const { tool_calls: calls, ...message } = choice?.message ?? {};
  // Each call comes whole, one fragment; its place in the list is the index a stream would give it.
  const delta = { ...message, tool_calls: calls?.map((call, index) => ({ ...call, index })) };
  const chunk = {
    choices: [{ index: 0, delta, finish_reason: choice?.finish_reason, usage: choice?.usage }],
    usage: completion.usage,
  };
  const translator = new OpenAIToAnthropic(options);
  const events = [
    ...translator.start(),
    ...translator.chunk(JSON.stringify(chunk)),
    ...translator.chunk("[DONE]"),
  ];
  return _encode(events);
}

function _encode(events: AnthropicEvent[]): Uint8Array[] {
  return events.map((event) => encodeSseEvent(event.type, event));
}
