/**
 * A Chat Completions request as an Anthropic Messages request (protocols.md §7.2, read right to left),
 * for OpenAI-style clients of relay's `/v1/chat/completions`. Fields Anthropic has no use for
 * (`presence_penalty`, `seed`, `logit_bias`, a `response_format` other than a JSON schema…) are
 * ignored, as Anthropic's own OpenAI compatibility layer ignores them; `reasoning_effort` turns on
 * extended thinking (`thinking_for_effort.ts`); a JSON
 * schema becomes Anthropic's structured output, which holds the answer to it, where the client would
 * otherwise fail to parse prose; fields it cannot honour are refused, and so
 * is a field it reads that has the wrong type, which would otherwise be dropped without the client
 * ever learning that its `temperature` or `stream` did nothing.
 */
import { transformJSONSchema } from "@anthropic-ai/sdk/lib/transform-json-schema";
import { anthropicToolId } from "./openai_tool_ids.ts";
import { type ThinkingForm, thinkingFormFor, withThinkingFor } from "./thinking_for_effort.ts";
import {
  ARRAY,
  BOOLEAN,
  ChatToAnthropicError,
  type FieldType,
  kindOf,
  NUMBER,
  OBJECT,
  optionalField,
  requiredField,
  STRING,
} from "./openai_request_fields.ts";
import { isJsonObject, type JsonObject } from "../util/json.ts";

/**
 * Anthropic requires `max_tokens`; OpenAI clients may leave it out and mean "as much as the model
 * allows", which no single number says. This one covers ordinary answers on every Claude model.
 */
export const DEFAULT_MAX_TOKENS = 4096;

/**
 * The Anthropic Messages body for a Chat Completions body whose `model` and `messages` were checked.
 * The system and developer messages that lead are `system` (a string unless one carries a caching
 * marker), or the user's turn when no other message is left; later ones are the user's text where they
 * stand; `tool` messages become `tool_result`
 * blocks at the head of one user turn, merged with the user message that follows, with the images and
 * files a `tool` message holds beside its text (which OpenAI's API does not take, but the Responses
 * door's tool outputs hold) inside them; consecutive turns of one role are merged, and none left is
 * refused. Tool call ids map through {@linkcode anthropicToolId}. `stream_options`, which only the front
 * door reads, is checked here with the rest, before the request goes anywhere.
 * Prompt-caching markers (`cache_control`, which OpenAI's API lacks but clients of Anthropic models
 * send) go onto the blocks their parts and messages become.
 *
 * @example
 * ```ts
 * anthropicRequestFor({ model: "claude-sonnet-4-5", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }] });
 * // { model: "claude-sonnet-4-5", max_tokens: 4096, system: "Be brief.", messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] }
 * ```
 */
export function anthropicRequestFor(
  chat: JsonObject & { model: string; messages: unknown[] },
  { defaultMaxTokens = DEFAULT_MAX_TOKENS, thinkingForm = thinkingFormFor(chat.model) }: {
    defaultMaxTokens?: number;
    thinkingForm?: ThinkingForm;
  } = {},
): JsonObject {
  if (chat.n !== undefined && chat.n !== null && chat.n !== 1) {
    throw new ChatToAnthropicError("n", "only 1 is supported");
  }
  const legacy = "deprecated function calling is not supported: send tools and tool_choice";
  // `functions: []` offers none, as OpenAI reads it.
  const functions = chat.functions ?? [];
  if (!Array.isArray(functions) || functions.length > 0) throw new ChatToAnthropicError("functions", legacy);
  if (chat.function_call !== undefined && chat.function_call !== null) {
    throw new ChatToAnthropicError("function_call", legacy);
  }
  const system: _TextBlock[] = [];
  const messages: { role: "user" | "assistant"; content: JsonObject[] }[] = [];
  for (const [index, entry] of chat.messages.entries()) {
    const where = `messages[${index}]`;
    const message = requiredField(entry, where, OBJECT);
    const role = requiredField(message.role, `${where}.role`, STRING);
    const instructions = role === "system" || role === "developer";
    if (instructions && messages.length === 0) {
      const texts = _texts(message.content, `${where}.content`).filter(({ text }) => text.trim() !== "");
      system.push(..._markLast(texts, message.cache_control));
      continue;
    }
    const turn = role === "assistant" ? "assistant" : "user";
    // Instructions given later (Codex's when its permissions change) stay where they were, as the user's
    // text: hoisted into `system`, they would change the prompt's start, which every cached prefix and
    // every thinking block's signature was made on.
    const blocks = instructions
      ? _markLast(
        _texts(message.content, `${where}.content`).filter(({ text }) => text.trim() !== ""),
        message.cache_control,
      )
      : _markLast(_blocks(role, message, where), message.cache_control);
    if (blocks.length === 0) continue;
    const last = messages.at(-1);
    if (last?.role === turn) last.content.push(...blocks);
    else messages.push({ role: turn, content: blocks });
  }
  // Anthropic requires a turn, and OpenAI answers a prompt of system messages alone (a LangChain prompt
  // template), so they are the user's turn, as other gateways send them.
  const systemOnly = messages.length === 0 && system.length > 0;
  if (systemOnly) messages.push({ role: "user", content: system });
  const instructions = systemOnly ? [] : system;
  const turns = messages.map(({ role, content }) => ({
    role,
    // Tool results must open the user turn that answers the tool calls.
    content: [
      ...content.filter((block) => block.type === "tool_result"),
      ...content.filter((block) => block.type !== "tool_result"),
    ],
  }));
  // Anthropic refuses more than 4 blocks with a marker; the last ones cache the longest prefixes.
  const marked = [...instructions, ...turns.flatMap(({ content }) => content)].filter((block) =>
    block.cache_control !== undefined
  );
  for (const block of marked.slice(0, -_MAX_CACHE_MARKERS)) delete block.cache_control;
  // Anthropic refuses a 1h marker after a 5m one; hoisting system text and leading tool results can put
  // the client's own order so. A 1h marker that comes late caches for 5 minutes instead.
  let fiveMinutes = false;
  for (
    const { cache_control: marker } of marked.slice(-_MAX_CACHE_MARKERS) as { cache_control: JsonObject }[]
  ) {
    if (marker.ttl !== "1h") fiveMinutes = true;
    else if (fiveMinutes) delete marker.ttl;
  }
  const maxTokens = _maxTokens(chat);
  const body: JsonObject = { model: chat.model, max_tokens: maxTokens ?? defaultMaxTokens };
  if (instructions.some((block) => block.cache_control !== undefined)) body.system = instructions;
  else if (instructions.length > 0) body.system = instructions.map(({ text }) => text).join("\n");
  body.messages = turns;
  if (optionalField(chat.stream, "stream", BOOLEAN)) body.stream = true;
  const streamOptions = optionalField(chat.stream_options, "stream_options", OBJECT);
  optionalField(streamOptions?.include_usage, "stream_options.include_usage", BOOLEAN);
  const stop = optionalField(chat.stop, "stop", _STRINGS);
  // Anthropic refuses a stop sequence without non-whitespace (`"\n"`, which OpenAI takes).
  const stops = (typeof stop === "string" ? [stop] : stop ?? []).filter((sequence) => sequence.trim() !== "");
  if (stops.length > 0) body.stop_sequences = stops;
  const temperature = optionalField(chat.temperature, "temperature", NUMBER);
  // Anthropic's range is 0–1; its own compatibility layer caps OpenAI's 0–2 the same way.
  if (temperature !== undefined) body.temperature = Math.min(temperature, 1);
  const topP = optionalField(chat.top_p, "top_p", NUMBER);
  // Claude 4.5 and later refuse both ("`temperature` and `top_p` cannot both be specified"), which OpenAI
  // takes; Anthropic advises altering one, and the temperature is the one clients mean.
  if (topP !== undefined && temperature === undefined) body.top_p = topP;
  const user = optionalField(chat.user, "user", STRING);
  if (user !== undefined) body.metadata = { user_id: user };
  const format = optionalField(chat.response_format, "response_format", OBJECT);
  if (format?.type === "json_schema") {
    const jsonSchema = requiredField(format.json_schema, "response_format.json_schema", OBJECT);
    // OpenAI's API takes a json_schema without a schema: nothing to hold the answer to, as it was.
    const schema = optionalField(jsonSchema.schema, "response_format.json_schema.schema", OBJECT);
    if (schema) body.output_config = { format: { type: "json_schema", schema: _strictSchema(schema) } };
  }
  const tools = (optionalField(chat.tools, "tools", ARRAY) ?? []).map(_tool);
  const choice = _toolChoice(chat.tool_choice);
  const parallel = optionalField(chat.parallel_tool_calls, "parallel_tool_calls", BOOLEAN);
  // Dropped with no tools to choose from, a forcing choice would leave the model answering in prose.
  if (tools.length === 0 && (choice?.type === "any" || choice?.type === "tool")) {
    throw new ChatToAnthropicError("tool_choice", "forces a tool call, but no tools are offered");
  }
  if (tools.length > 0) {
    body.tools = tools;
    if (parallel === false && choice?.type !== "none") {
      body.tool_choice = { ...(choice ?? { type: "auto" }), disable_parallel_tool_use: true };
    } else if (choice) {
      body.tool_choice = choice;
    }
  }
  // Checked last, so that a field at fault is named first. Anthropic would refuse it as well, but only
  // once a provider was chosen and an attempt spent.
  if (turns.length === 0) throw new ChatToAnthropicError("messages", "at least one message is required");
  const effort = optionalField(chat.reasoning_effort, "reasoning_effort", _EFFORT);
  return withThinkingFor(body, effort, maxTokens === undefined ? defaultMaxTokens : undefined, thinkingForm);
}

/** OpenAI's reasoning efforts (Codex's `xhigh` among them). */
const _EFFORT: FieldType<string> = {
  name: 'one of "none", "minimal", "low", "medium", "high", "xhigh"',
  is: (value): value is string =>
    typeof value === "string" && ["none", "minimal", "low", "medium", "high", "xhigh"].includes(value),
};

/**
 * `schema` as Anthropic's structured outputs take it, transformed as Anthropic's SDK does: keywords they
 * refuse (zod's integer bounds, `minLength`, `pattern`, most `format`s…) move into `description`, and
 * objects get `additionalProperties: false`, which they require. A schema the SDK cannot transform (a
 * level without a `type`) goes as the client gave it, for Anthropic to say what it refuses.
 */
function _strictSchema(schema: JsonObject): JsonObject {
  try {
    return transformJSONSchema(_withDefs(schema));
  } catch {
    return schema;
  }
}

/**
 * `schema` with draft-07's `definitions` as `$defs`, and its references to them so, which is all the
 * transform knows: OpenAI's SDK writes a zod object used twice, or a recursive one, as a
 * `definitions` entry and `$ref`s to it, whose targets the transform would otherwise turn into text.
 */
function _withDefs(schema: JsonObject): JsonObject {
  if (!isJsonObject(schema.definitions) || schema.$defs !== undefined) return schema;
  const moved = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(moved);
    if (!isJsonObject(value)) return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, member]) => [
        key === "definitions" && value === schema ? "$defs" : key,
        key === "$ref" && typeof member === "string" && member.startsWith("#/definitions/")
          ? `#/$defs/${member.slice("#/definitions/".length)}`
          : moved(member),
      ]),
    );
  };
  return moved(schema) as JsonObject;
}

/** A text block, which may carry a prompt-caching marker. */
type _TextBlock = JsonObject & { type: "text"; text: string };

const _MAX_CACHE_MARKERS = 4;

/**
 * `block` with the client's `cache_control` when it is one Anthropic takes (`{type: "ephemeral"}`, with
 * a `ttl` of "5m" or "1h"); another is ignored, as OpenAI's API ignores fields it does not know.
 */
function _marked<T extends JsonObject>(block: T, marker: unknown): T {
  if (!isJsonObject(marker) || marker.type !== "ephemeral") return block;
  const ttl = marker.ttl ?? undefined;
  if (ttl !== undefined && ttl !== "5m" && ttl !== "1h") return block;
  return { ...block, cache_control: { type: "ephemeral", ...(ttl ? { ttl } : {}) } };
}

/** A message's marker goes onto the last block it became: caching up to it caches the whole message. */
function _markLast<T extends JsonObject>(blocks: T[], marker: unknown): T[] {
  const last = blocks.at(-1);
  return last ? [...blocks.slice(0, -1), _marked(last, marker)] : blocks;
}

/** The marker of the last part that has one, for a block made of several parts. */
function _lastMarker(parts: JsonObject[]): unknown {
  return parts.findLast((part) => part.cache_control !== undefined)?.cache_control;
}

const _STRINGS: FieldType<string | string[]> = {
  name: "a string or an array of strings",
  is: (value) =>
    typeof value === "string" || Array.isArray(value) && value.every((item) => typeof item === "string"),
};
const _POSITIVE_INTEGER: FieldType<number> = {
  name: "a positive integer",
  is: (value): value is number => typeof value === "number" && Number.isInteger(value) && value >= 1,
};

/** `max_completion_tokens` replaced `max_tokens` in OpenAI's API; clients may send both. */
function _maxTokens(chat: JsonObject): number | undefined {
  const completion = optionalField(chat.max_completion_tokens, "max_completion_tokens", _POSITIVE_INTEGER);
  const max = optionalField(chat.max_tokens, "max_tokens", _POSITIVE_INTEGER);
  return completion ?? max;
}

function _blocks(role: string, message: JsonObject, where: string): JsonObject[] {
  switch (role) {
    case "user":
      return _userBlocks(message.content, `${where}.content`);
    case "assistant":
      return _assistantBlocks(message, where);
    case "tool": {
      const blocks = _contentBlocks(message.content, `${where}.content`, _userBlock);
      const unmarked = blocks.map(({ cache_control: _, ...block }) => block);
      // Blank text blocks Anthropic refuses; text alone goes as the string it is.
      const content = unmarked.every((block) => block.type === "text")
        ? unmarked.map((block) => block.text).join("\n")
        : unmarked.filter((block) => block.type !== "text" || String(block.text).trim() !== "");
      const id = requiredField(message.tool_call_id, `${where}.tool_call_id`, STRING);
      const result = {
        type: "tool_result",
        tool_use_id: anthropicToolId(id),
        ...(content.length > 0 ? { content } : {}),
      };
      // The whole result is marked, as the 4 markers Anthropic takes are counted over the turns' blocks.
      return [_marked(result, _lastMarker(blocks))];
    }
  }
  throw new ChatToAnthropicError(`${where}.role`, `unsupported role ${JSON.stringify(role)}`);
}

/**
 * Empty or blank text parts are dropped: Anthropic refuses text blocks without non-whitespace text. A message left with nothing is
 * refused rather than dropped, which would change what is asked: last, it would leave the assistant's
 * turn last, which Anthropic continues (a prefill) instead of answering; between two assistant
 * messages, it would make one turn of them. Anthropic refuses an empty message too.
 */
function _userBlocks(content: unknown, where: string): JsonObject[] {
  if (typeof content === "string") {
    if (content.trim()) return [{ type: "text", text: content }];
  } else if (Array.isArray(content)) {
    const blocks = content.map((part, index) => _userPart(part, `${where}[${index}]`))
      .filter((block) => block.type !== "text" || String(block.text).trim() !== "");
    if (blocks.length > 0) return blocks;
  } else {
    throw new ChatToAnthropicError(where, `expected a string or an array of parts, got ${kindOf(content)}`);
  }
  throw new ChatToAnthropicError(
    where,
    "a user message must not be empty or blank (Anthropic refuses text without non-whitespace characters)",
  );
}

function _userPart(entry: unknown, where: string): JsonObject {
  const part = requiredField(entry, where, OBJECT);
  return _marked(_userBlock(part, where), part.cache_control);
}

function _userBlock(part: JsonObject, where: string): JsonObject {
  const type = requiredField(part.type, `${where}.type`, STRING);
  switch (type) {
    case "text":
      return { type: "text", text: requiredField(part.text, `${where}.text`, STRING) };
    case "image_url": {
      const image = requiredField(part.image_url, `${where}.image_url`, OBJECT);
      const url = `${where}.image_url.url`;
      return { type: "image", source: _source(requiredField(image.url, url, STRING), true, url) };
    }
    case "file": {
      const file = requiredField(part.file, `${where}.file`, OBJECT);
      const data = `${where}.file.file_data`;
      return { type: "document", source: _source(requiredField(file.file_data, data, STRING), false, data) };
    }
  }
  throw new ChatToAnthropicError(`${where}.type`, `unsupported content part ${JSON.stringify(type)}`);
}

/**
 * A base64 data URL (`data:image/png;name=a.png;base64,…`) becomes base64 data, an image's with a type
 * Anthropic takes, a text file's (`text/*`) its text, as Anthropic takes plain text only as such (and
 * base64 documents as PDFs only); any other URL is fetched by Anthropic. Read without a regex, which
 * could backtrack over megabytes of data.
 */
function _source(url: string, image: boolean, where: string): JsonObject {
  const comma = url.indexOf(",");
  const header = url.startsWith("data:") && comma >= 0 ? url.slice(5, comma).toLowerCase().split(";") : [];
  if (header.length < 2 || header.at(-1) !== "base64") return { type: "url", url };
  const data = url.slice(comma + 1);
  if (!image && header[0].startsWith("text/")) {
    return { type: "text", media_type: "text/plain", data: _utf8(data, where) };
  }
  return { type: "base64", media_type: image ? _imageType(header[0], data) : header[0], data };
}

/** The UTF-8 text base64 `data` holds. */
function _utf8(data: string, where: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.fromBase64(data));
  } catch {
    throw new ChatToAnthropicError(where, "a text/* data URL must hold UTF-8 text in base64");
  }
}

/**
 * Anthropic takes JPEG, PNG, GIF and WebP images, and refuses one whose bytes are another of them than
 * its type says; clients send `image/jpg`, or a type guessed from a file's name. So the first bytes
 * decide, and the type as sent (`jpg` spelt as Anthropic spells it) stands only for bytes that are none
 * of the four.
 */
function _imageType(declared: string, data: string): string {
  let head: string;
  try {
    head = atob(data.slice(0, 16));
  } catch {
    head = "";
  }
  if (head.startsWith("\x89PNG")) return "image/png";
  if (head.startsWith("\xFF\xD8\xFF")) return "image/jpeg";
  if (head.startsWith("GIF8")) return "image/gif";
  if (head.startsWith("RIFF") && head.slice(8, 12) === "WEBP") return "image/webp";
  return declared === "image/jpg" ? "image/jpeg" : declared;
}

/**
 * Blank text is dropped, as Anthropic refuses it (a `"\n\n"` before tool calls); a message left with
 * nothing is dropped too: last, the user's turn before it is answered, as an empty prefill would be.
 * `thinking_blocks` (LiteLLM's field, and the Responses door's reasoning items) lead the turn, as the
 * thinking they were did.
 */
function _assistantBlocks(message: JsonObject, where: string): JsonObject[] {
  const thinking = optionalField(message.thinking_blocks, `${where}.thinking_blocks`, ARRAY) ?? [];
  const parts = message.content === null || message.content === undefined
    ? []
    : _texts(message.content, `${where}.content`);
  const text = parts.map((part) => part.text).join("");
  const calls = optionalField(message.tool_calls, `${where}.tool_calls`, ARRAY) ?? [];
  return [
    ...thinking.map((entry, index) => _thinkingBlock(entry, `${where}.thinking_blocks[${index}]`)),
    ...(text.trim() ? [_marked({ type: "text", text }, _lastMarker(parts))] : []),
    ...calls.map((entry, index) => {
      const at = `${where}.tool_calls[${index}]`;
      const call = requiredField(entry, at, OBJECT);
      const fn = requiredField(call.function, `${at}.function`, OBJECT);
      return {
        type: "tool_use",
        id: anthropicToolId(requiredField(call.id, `${at}.id`, STRING)),
        name: requiredField(fn.name, `${at}.function.name`, STRING),
        input: _input(optionalField(fn.arguments, `${at}.function.arguments`, STRING)),
      };
    }),
  ];
}

/** A thinking block as Anthropic takes it back: whole, with its signature, or redacted. */
function _thinkingBlock(entry: unknown, where: string): JsonObject {
  const block = requiredField(entry, where, OBJECT);
  if (block.type === "thinking") {
    const thinking = requiredField(block.thinking, `${where}.thinking`, STRING);
    return {
      type: "thinking",
      thinking,
      signature: requiredField(block.signature, `${where}.signature`, STRING),
    };
  }
  if (block.type === "redacted_thinking") {
    return { type: "redacted_thinking", data: requiredField(block.data, `${where}.data`, STRING) };
  }
  throw new ChatToAnthropicError(`${where}.type`, 'expected "thinking" or "redacted_thinking"');
}

/** Arguments that are not a JSON object (a model's typo) are given as `{}`, which the tool then refuses. */
function _input(args: string | undefined): JsonObject {
  try {
    const input = args?.trim() ? JSON.parse(args) : {};
    return isJsonObject(input) ? input : {};
  } catch {
    return {};
  }
}

/** A string, or text (and refusal) parts, as text blocks. */
function _texts(content: unknown, where: string): _TextBlock[] {
  return _contentBlocks(content, where, (_, at) => {
    throw new ChatToAnthropicError(at, "only text parts are supported here");
  }) as _TextBlock[];
}

/**
 * A string, or parts, as blocks with their markers: text (and refusal) parts as text blocks, any other
 * as `other` makes it.
 */
function _contentBlocks(
  content: unknown,
  where: string,
  other: (part: JsonObject, at: string) => JsonObject,
): JsonObject[] {
  if (typeof content === "string") return content ? [{ type: "text", text: content }] : [];
  if (!Array.isArray(content)) {
    throw new ChatToAnthropicError(where, `expected a string or an array of parts, got ${kindOf(content)}`);
  }
  return content.map((entry, index) => {
    const at = `${where}[${index}]`;
    const part = requiredField(entry, at, OBJECT);
    const block = part.type === "text" || part.type === "refusal"
      ? { type: "text", text: requiredField(part[part.type], `${at}.${part.type}`, STRING) }
      : other(part, at);
    return _marked(block, part.cache_control);
  });
}

function _tool(entry: unknown, index: number): JsonObject {
  const where = `tools[${index}]`;
  const tool = isJsonObject(entry) && entry.type === "function" && isJsonObject(entry.function)
    ? entry.function
    : undefined;
  if (!tool) {
    throw new ChatToAnthropicError(where, 'expected {type: "function", function: {name, parameters}}');
  }
  const description = optionalField(tool.description, `${where}.function.description`, STRING);
  const parameters = optionalField(tool.parameters, `${where}.function.parameters`, OBJECT);
  return {
    name: requiredField(tool.name, `${where}.function.name`, STRING),
    ...(description === undefined ? {} : { description }),
    // Anthropic requires a schema with a `type` where OpenAI takes none, or `{}`: a function takes an object.
    input_schema: { type: "object", ...(parameters ?? { properties: {} }) },
  };
}

function _toolChoice(choice: unknown): JsonObject | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === "none") return { type: "none" };
  if (choice === "auto") return { type: "auto" };
  if (choice === "required") return { type: "any" };
  if (isJsonObject(choice) && isJsonObject(choice.function) && typeof choice.function.name === "string") {
    return { type: "tool", name: choice.function.name };
  }
  throw new ChatToAnthropicError(
    "tool_choice",
    `expected "none", "auto", "required" or {type: "function", function: {name}}, got ${
      typeof choice === "string" ? JSON.stringify(choice) : kindOf(choice)
    }`,
  );
}
