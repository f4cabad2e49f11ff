/**
 * An Anthropic Messages request as a Chat Completions request (protocols.md §7.2), for OpenAI-compatible
 * upstreams. What Chat Completions cannot express is left out rather than approximated: server tools
 * such as web search, `top_k`, `metadata` and cache control. Content it cannot carry (a document by URL,
 * a Files API id) is refused instead: without it, the model would answer a question it never saw whole.
 * Thinking blocks go back as `reasoning_content`, which DeepSeek and Kimi require, to upstreams that take
 * the field (see {@linkcode ChatRequestOptions.reasoningContent}).
 */
import { clientToolFunction } from "./anthropic_client_tools.ts";
import { openaiToolId } from "./openai_tool_ids.ts";
import { isJsonObject, type JsonObject } from "../util/json.ts";

/** A request Chat Completions cannot carry; the client gets it as a 400. */
export class AnthropicToChatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AnthropicToChatError";
  }
}

export interface ChatRequestOptions {
  /** The id the upstream knows the model by. */
  model: string;
  /**
   * Where `max_tokens` goes. OpenAI deprecated `max_tokens` and its reasoning models refuse it, while
   * many compatible servers only know `max_tokens`.
   */
  maxTokensField: "max_tokens" | "max_completion_tokens";
  /**
   * Whether an assistant turn's thinking goes back as its `reasoning_content`. DeepSeek and Kimi in
   * thinking mode refuse a tool loop whose assistant messages lack the reasoning they streamed (relay
   * made thinking blocks of it, and Claude Code sends those back); OpenAI's own hosts refuse the field,
   * and never reason aloud; strict servers refuse it too (the adapter knows which).
   */
  reasoningContent: boolean;
}

/**
 * The Chat Completions body for an Anthropic Messages body. A streamed request asks for
 * `stream_options.include_usage`, without which the stream carries no token counts.
 *
 * @example
 * ```ts
 * chatRequestFor(
 *   { model: "claude-sonnet-4-5", max_tokens: 64, system: "Be brief.", messages: [{ role: "user", content: "hi" }] },
 *   { model: "gpt-4.1", maxTokensField: "max_completion_tokens" },
 * );
 * // { model: "gpt-4.1", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }],
 * //   max_completion_tokens: 64 }
 * ```
 */
export function chatRequestFor(body: JsonObject, options: ChatRequestOptions): JsonObject {
  if (!Array.isArray(body.messages)) {
    throw new AnthropicToChatError("messages: Input should be a valid list");
  }
  const system = _texts(body.system).join("\n");
  const { reasoningContent } = options;
  const messages = _systemFirst([
    ...(system ? [{ role: "system", content: system }] : []),
    ...body.messages.flatMap((message, index) => _messages(message, index, reasoningContent)),
  ]);
  const chat: JsonObject = { model: options.model, messages };
  if (typeof body.max_tokens === "number") chat[options.maxTokensField] = body.max_tokens;
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) chat.stop = body.stop_sequences;
  for (const field of ["temperature", "top_p"]) {
    if (typeof body[field] === "number") chat[field] = body[field];
  }
  const tools = Array.isArray(body.tools) ? body.tools.flatMap(_tool) : [];
  if (tools.length > 0) {
    chat.tools = tools;
    Object.assign(chat, _toolChoice(body.tool_choice));
  }
  const effort = _reasoningEffort(body.thinking);
  if (effort) chat.reasoning_effort = effort;
  const format = _responseFormat(body);
  if (format) chat.response_format = format;
  if (body.stream === true) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

/**
 * The roles a Messages API message may have: `user`, `assistant`, and `system`, which Claude Code puts
 * between turns (the `mid-conversation-system` beta). A set of `unknown`, to test a parsed body's role.
 *
 * @example
 * ```ts
 * MESSAGE_ROLES.has(JSON.parse('{"role":"tool"}').role); // false
 * ```
 */
export const MESSAGE_ROLES: ReadonlySet<unknown> = new Set(["user", "assistant", "system"]);

function _messages(message: unknown, index: number, reasoningContent: boolean): JsonObject[] {
  if (!isJsonObject(message) || !MESSAGE_ROLES.has(message.role)) {
    throw new AnthropicToChatError(`messages.${index}: expected a user, assistant or system message`);
  }
  // A system message between turns stays one here; `_systemFirst` finds it a place templates take.
  if (message.role === "system") {
    const text = _texts(message.content).join("\n");
    return text ? [{ role: "system", content: text }] : [];
  }
  const blocks = _blocksAt(message.content, `messages.${index}`);
  return message.role === "user"
    ? _userMessages(blocks)
    : _assistantMessage(blocks.map(([block]) => block), reasoningContent);
}

/**
 * Chat templates of common local models (Qwen3.5/3.6 on llama.cpp, LM Studio, Ollama and vLLM; Mistral's)
 * refuse a system message anywhere but first, and Claude Code sends one after the first user turn (the
 * `mid-conversation-system` beta, with its environment). System messages before the first turn join the
 * leading one. A later one becomes text of a user turn where it stands, rather than joining the leading
 * one: that would change the prompt's start, and void local servers' prefix caches, each time one came.
 * It is marked as system text the way Claude Code marks its own in a user turn, as a
 * `<system-reminder>`, and joins the user turn that follows it, after that turn's tool messages (they must
 * directly follow the assistant's tool calls); last, or with an assistant turn next, it joins the user
 * message before it, if that is the last one written, and is a user message of its own otherwise.
 */
function _systemFirst(messages: JsonObject[]): JsonObject[] {
  const leading: string[] = [];
  const turns: JsonObject[] = [];
  let pending: JsonObject[] = [];
  const placePending = () => {
    if (pending.length === 0) return;
    const last = turns.at(-1);
    if (last?.role === "user") {
      turns[turns.length - 1] = { ...last, content: [..._parts(last.content), ...pending] };
    } else {
      turns.push({ role: "user", content: pending.length === 1 ? pending[0].text : pending });
    }
    pending = [];
  };
  for (const message of messages) {
    if (message.role === "system") {
      const text = String(message.content);
      if (turns.length === 0) leading.push(text);
      else pending.push({ type: "text", text: _asSystemReminder(text) });
    } else if (message.role === "user" && pending.length > 0) {
      turns.push({ ...message, content: [...pending, ..._parts(message.content)] });
      pending = [];
    } else {
      if (message.role === "assistant") placePending();
      turns.push(message);
    }
  }
  placePending();
  return leading.length > 0 ? [{ role: "system", content: leading.join("\n") }, ...turns] : turns;
}

/** A user message's content as a list of parts. */
function _parts(content: unknown): JsonObject[] {
  return typeof content === "string" ? [{ type: "text", text: content }] : content as JsonObject[];
}

/** System text as Claude Code writes it in a user turn, unless it is written so already. */
function _asSystemReminder(text: string): string {
  const trimmed = text.trim();
  return trimmed.startsWith("<system-reminder>") && trimmed.endsWith("</system-reminder>")
    ? text
    : `<system-reminder>\n${text}\n</system-reminder>`;
}

/** The blocks of a string or a list of blocks, each with its place in the request, for errors to name. */
function _blocksAt(content: unknown, at: string): [JsonObject, string][] {
  if (typeof content === "string") return [[{ type: "text", text: content }, at]];
  if (!Array.isArray(content)) return [];
  return content.flatMap((block, index) => isJsonObject(block) ? [[block, `${at}.content.${index}`]] : []);
}

/**
 * Tool results become `tool` messages, which must directly follow the assistant's tool calls, so they go
 * first; the rest of the turn follows as one user message. Tool messages hold text only, so images in a
 * result travel in that user message.
 */
function _userMessages(blocks: [JsonObject, string][]): JsonObject[] {
  const results: JsonObject[] = [];
  const parts: JsonObject[] = [];
  for (const [block, at] of blocks) {
    if (block.type === "tool_result") {
      const content = _blocksAt(block.content, at);
      const text = _texts(content.map(([item]) => item)).join("\n");
      results.push({
        role: "tool",
        tool_call_id: openaiToolId(String(block.tool_use_id)),
        content: block.is_error === true ? `Error: ${text}` : text,
      });
      parts.push(...content.flatMap(([item, where]) => _mediaPart(item, where)));
    } else {
      const text = _textOf(block);
      if (text === undefined) parts.push(..._mediaPart(block, at));
      // A search result with nothing in it says nothing; an empty text is the client's, kept as sent.
      else if (text || block.type === "text") parts.push({ type: "text", text });
    }
  }
  if (parts.length === 0) return results;
  const content = parts.length === 1 && parts[0].type === "text" ? parts[0].text : parts;
  return [...results, { role: "user", content }];
}

function _assistantMessage(blocks: JsonObject[], reasoningContent: boolean): JsonObject[] {
  const text = _texts(blocks).join("");
  const toolCalls = blocks.filter((block) => block.type === "tool_use").map((block) => ({
    id: openaiToolId(String(block.id)),
    type: "function",
    function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
  }));
  // An assistant turn of thinking alone has nothing to say to another model, and DeepSeek asks its
  // reasoning back only on the messages it is sent.
  if (text === "" && toolCalls.length === 0) return [];
  // Redacted thinking has no text to send, but says the turn reasoned.
  const reasoned = blocks.filter((block) => block.type === "thinking" || block.type === "redacted_thinking");
  const reasoning = reasoned.map(({ thinking }) => typeof thinking === "string" ? thinking : "").join("");
  return [{
    role: "assistant",
    content: text || null,
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    ...(reasoningContent && reasoned.length > 0 ? { reasoning_content: reasoning } : {}),
  }];
}

/**
 * Images as data or remote URLs; documents as files (PDF), as text, or as the text and images of their
 * content blocks. Any other source (a document's URL, an id in Anthropic's Files API) has no Chat
 * Completions equivalent, and is refused: dropped, it would leave the model answering without what the
 * client sent. Blocks that are neither images nor documents carry no media.
 */
function _mediaPart(block: JsonObject, at: string): JsonObject[] {
  if (block.type !== "image" && block.type !== "document") return [];
  const source = isJsonObject(block.source) ? block.source : {};
  if (source.type === "base64") {
    const data = `data:${source.media_type};base64,${source.data}`;
    return block.type === "image"
      ? [{ type: "image_url", image_url: { url: data } }]
      : [{ type: "file", file: { file_data: data, filename: block.title ?? "document.pdf" } }];
  }
  if (block.type === "image" && source.type === "url") {
    return [{ type: "image_url", image_url: { url: source.url } }];
  }
  if (block.type === "document" && source.type === "text") return [{ type: "text", text: source.data }];
  if (block.type === "document" && source.type === "content") {
    return _blocksAt(source.content, `${at}.source`).flatMap(([item, where]) =>
      item.type === "text" && typeof item.text === "string"
        ? [{ type: "text", text: item.text }]
        : _mediaPart(item, where)
    );
  }
  const [what, kept] = block.type === "image"
    ? ["an image", "base64 data or a URL"]
    : ["a document", "base64 data, text or content blocks"];
  throw new AnthropicToChatError(
    `${at}.source: ${what} of source type ${JSON.stringify(source.type)} cannot be sent to an ` +
      `OpenAI-compatible upstream, which takes ${kept}`,
  );
}

/** The text of a string or of the text and search result blocks in a list; other blocks are skipped. */
function _texts(content: unknown): string[] {
  if (typeof content === "string") return content ? [content] : [];
  if (!Array.isArray(content)) return [];
  return content.flatMap((block) => {
    const text = isJsonObject(block) ? _textOf(block) : undefined;
    return text === undefined ? [] : [text];
  });
}

/**
 * A block's text: a text block's own, or a search result's title, source and content as one text (its
 * citations cannot cross, its content must: it is what the model is asked about). `undefined` for others.
 */
function _textOf(block: JsonObject): string | undefined {
  if (block.type === "text") return typeof block.text === "string" ? block.text : undefined;
  if (block.type !== "search_result") return undefined;
  const heading = [block.title, block.source].filter((line) => typeof line === "string" && line !== "");
  return [heading.join("\n"), _texts(block.content).join("\n")].filter((part) => part !== "").join("\n\n");
}

/**
 * Structured output: `output_config.format` (or the beta's `output_format`) as Chat Completions'
 * `response_format`. Not `strict`: OpenAI's strict mode refuses a schema with optional properties,
 * which Anthropic takes.
 */
function _responseFormat(body: JsonObject): JsonObject | undefined {
  const format = (isJsonObject(body.output_config) ? body.output_config.format : undefined) ??
    body.output_format;
  if (!isJsonObject(format) || format.type !== "json_schema" || !isJsonObject(format.schema)) {
    return undefined;
  }
  return { type: "json_schema", json_schema: { name: "output", schema: format.schema } };
}

/**
 * Custom tools, and Anthropic's client tools (`bash_…`, `text_editor_…`), which run on the client too:
 * server tools (`web_search_…`) run at Anthropic and mean nothing elsewhere.
 */
function _tool(tool: unknown): JsonObject[] {
  if (!isJsonObject(tool)) return [];
  if (tool.type !== undefined && tool.type !== "custom") {
    const client = clientToolFunction(tool);
    return client ? [{ type: "function", function: client }] : [];
  }
  if (!isJsonObject(tool.input_schema)) return [];
  const description = typeof tool.description === "string" ? { description: tool.description } : {};
  return [{ type: "function", function: { name: tool.name, ...description, parameters: tool.input_schema } }];
}

function _toolChoice(choice: unknown): JsonObject {
  if (!isJsonObject(choice)) return {};
  const parallel = choice.disable_parallel_tool_use === true ? { parallel_tool_calls: false } : {};
  switch (choice.type) {
    case "auto":
      return { tool_choice: "auto", ...parallel };
    case "any":
      return { tool_choice: "required", ...parallel };
    case "tool":
      return { tool_choice: { type: "function", function: { name: choice.name } }, ...parallel };
    case "none":
      return { tool_choice: "none" };
  }
  return {};
}

/**
 * Only an explicit budget maps to `reasoning_effort` (thresholds near Claude Code's "think" and
 * "think hard" budgets). Claude Code sends `adaptive` to every model it does not know, and models
 * without reasoning refuse the field, so adaptive thinking sends nothing.
 */
function _reasoningEffort(thinking: unknown): string | undefined {
  if (!isJsonObject(thinking) || thinking.type !== "enabled" || typeof thinking.budget_tokens !== "number") {
    return undefined;
  }
  if (thinking.budget_tokens <= 4_096) return "low";
  return thinking.budget_tokens <= 16_384 ? "medium" : "high";
}
