/**
 * A Chat Completions request as an Anthropic Messages request (protocols.md §7.2, read right to left),
 * for OpenAI-style clients of relay's `/v1/chat/completions`. Fields Anthropic has no use for
 * (`presence_penalty`, `seed`, `logit_bias`, `response_format`, `reasoning_effort`…) are ignored, as
 * Anthropic's own OpenAI compatibility layer ignores them; fields it cannot honour are refused.
 */
import { anthropicToolId } from "./openai_tool_ids.ts";
import { isJsonObject, type JsonObject } from "./openai_types.ts";

/** A request that cannot be translated; the client gets it as a 400 naming `param`. */
export class ChatRequestError extends Error {
  constructor(readonly param: string, message: string) {
    super(`${param}: ${message}`);
    this.name = "ChatRequestError";
  }
}

/**
 * Anthropic requires `max_tokens`; OpenAI clients may leave it out and mean "as much as the model
 * allows", which no single number says. This one covers ordinary answers on every Claude model.
 */
export const DEFAULT_MAX_TOKENS = 4096;

/**
 * The Anthropic Messages body for a Chat Completions body whose `model` and `messages` were checked.
 * System and developer messages are hoisted into `system`; `tool` messages become `tool_result` blocks
 * at the head of one user turn, merged with the user message that follows; consecutive turns of one
 * role are merged. Tool call ids map through {@linkcode anthropicToolId}.
 *
 * @example
 * ```ts
 * anthropicRequestFor({ model: "claude-sonnet-4-5", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }] });
 * // { model: "claude-sonnet-4-5", max_tokens: 4096, system: "Be brief.", messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] }
 * ```
 */
export function anthropicRequestFor(chat: JsonObject & { model: string; messages: unknown[] }): JsonObject {
  if (chat.n !== undefined && chat.n !== null && chat.n !== 1) {
    throw new ChatRequestError("n", "only 1 is supported");
  }
  const system: string[] = [];
  const messages: { role: "user" | "assistant"; content: JsonObject[] }[] = [];
  for (const [index, message] of chat.messages.entries()) {
    if (!isJsonObject(message)) throw new ChatRequestError(`messages[${index}]`, "expected an object");
    if (message.role === "system" || message.role === "developer") {
      system.push(..._texts(message.content, `messages[${index}].content`));
      continue;
    }
    const role = message.role === "assistant" ? "assistant" : "user";
    const blocks = _blocks(message, `messages[${index}]`);
    if (blocks.length === 0) continue;
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  }
  const body: JsonObject = {
    model: chat.model,
    max_tokens: _maxTokens(chat),
    ...(system.length > 0 ? { system: system.join("\n") } : {}),
    messages: messages.map(({ role, content }) => ({
      role,
      // Tool results must open the user turn that answers the tool calls.
      content: [
        ...content.filter((block) => block.type === "tool_result"),
        ...content.filter((block) => block.type !== "tool_result"),
      ],
    })),
  };
  if (chat.stream === true) body.stream = true;
  const stop = typeof chat.stop === "string" ? [chat.stop] : chat.stop;
  if (Array.isArray(stop) && stop.length > 0) body.stop_sequences = stop;
  // Anthropic's range is 0–1; its own compatibility layer caps OpenAI's 0–2 the same way.
  if (typeof chat.temperature === "number") body.temperature = Math.min(chat.temperature, 1);
  if (typeof chat.top_p === "number") body.top_p = chat.top_p;
  if (typeof chat.user === "string") body.metadata = { user_id: chat.user };
  const tools = Array.isArray(chat.tools) ? chat.tools.map(_tool) : [];
  if (tools.length > 0) {
    body.tools = tools;
    const choice = _toolChoice(chat.tool_choice);
    if (chat.parallel_tool_calls === false && choice.type !== "none") choice.disable_parallel_tool_use = true;
    if (chat.tool_choice !== undefined || choice.disable_parallel_tool_use) body.tool_choice = choice;
  }
  return body;
}

function _maxTokens(chat: JsonObject): number {
  const asked = chat.max_completion_tokens ?? chat.max_tokens;
  if (asked === undefined || asked === null) return DEFAULT_MAX_TOKENS;
  if (typeof asked !== "number" || !Number.isInteger(asked) || asked < 1) {
    throw new ChatRequestError("max_tokens", "expected a positive integer");
  }
  return asked;
}

function _blocks(message: JsonObject, where: string): JsonObject[] {
  switch (message.role) {
    case "user":
      return _userBlocks(message.content, `${where}.content`);
    case "assistant":
      return _assistantBlocks(message, where);
    case "tool": {
      const text = _texts(message.content, `${where}.content`).join("\n");
      return [{
        type: "tool_result",
        tool_use_id: anthropicToolId(String(message.tool_call_id ?? "")),
        ...(text ? { content: text } : {}),
      }];
    }
  }
  throw new ChatRequestError(`${where}.role`, `unsupported role ${JSON.stringify(message.role)}`);
}

function _userBlocks(content: unknown, where: string): JsonObject[] {
  if (typeof content === "string") return content ? [{ type: "text", text: content }] : [];
  if (!Array.isArray(content)) throw new ChatRequestError(where, "expected a string or an array of parts");
  return content.map((part, index) => _userPart(part, `${where}[${index}]`));
}

function _userPart(part: unknown, where: string): JsonObject {
  if (!isJsonObject(part)) throw new ChatRequestError(where, "expected an object");
  if (part.type === "text" && typeof part.text === "string") return { type: "text", text: part.text };
  if (part.type === "image_url" && isJsonObject(part.image_url) && typeof part.image_url.url === "string") {
    return { type: "image", source: _source(part.image_url.url) };
  }
  if (part.type === "file" && isJsonObject(part.file) && typeof part.file.file_data === "string") {
    return { type: "document", source: _source(part.file.file_data) };
  }
  throw new ChatRequestError(`${where}.type`, `unsupported content part ${JSON.stringify(part.type)}`);
}

/** A data URL becomes base64 data; any other URL is fetched by Anthropic. */
function _source(url: string): JsonObject {
  const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return data ? { type: "base64", media_type: data[1], data: data[2] } : { type: "url", url };
}

function _assistantBlocks(message: JsonObject, where: string): JsonObject[] {
  const text = message.content === null || message.content === undefined
    ? ""
    : _texts(message.content, `${where}.content`).join("");
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  return [
    // Anthropic refuses empty text blocks.
    ...(text ? [{ type: "text", text }] : []),
    ...calls.map((call, index) => {
      const fn = isJsonObject(call) && isJsonObject(call.function) ? call.function : undefined;
      if (!fn || typeof fn.name !== "string") {
        throw new ChatRequestError(`${where}.tool_calls[${index}].function.name`, "expected a string");
      }
      return {
        type: "tool_use",
        id: anthropicToolId(String(isJsonObject(call) ? call.id : "")),
        name: fn.name,
        input: _input(fn.arguments),
      };
    }),
  ];
}

/** Arguments that are not a JSON object (a model's typo) are given as `{}`, which the tool then refuses. */
function _input(args: unknown): JsonObject {
  try {
    const input = typeof args === "string" && args.trim() ? JSON.parse(args) : {};
    return isJsonObject(input) ? input : {};
  } catch {
    return {};
  }
}

/** A string, or the text of text (and refusal) parts. */
function _texts(content: unknown, where: string): string[] {
  if (typeof content === "string") return content ? [content] : [];
  if (!Array.isArray(content)) {
    throw new ChatRequestError(where, "expected a string or an array of text parts");
  }
  return content.flatMap((part, index) => {
    if (isJsonObject(part) && part.type === "text" && typeof part.text === "string") return [part.text];
    if (isJsonObject(part) && part.type === "refusal" && typeof part.refusal === "string") {
      return [part.refusal];
    }
    throw new ChatRequestError(`${where}[${index}]`, "only text parts are supported here");
  });
}

function _tool(tool: unknown, index: number): JsonObject {
  const fn = isJsonObject(tool) && tool.type === "function" && isJsonObject(tool.function)
    ? tool.function
    : undefined;
  if (!fn || typeof fn.name !== "string") {
    throw new ChatRequestError(
      `tools[${index}]`,
      'expected {type: "function", function: {name, parameters}}',
    );
  }
  return {
    name: fn.name,
    ...(typeof fn.description === "string" ? { description: fn.description } : {}),
    // A function without parameters takes none; Anthropic requires a schema all the same.
    input_schema: isJsonObject(fn.parameters) ? fn.parameters : { type: "object", properties: {} },
  };
}

function _toolChoice(choice: unknown): JsonObject {
  if (choice === "none") return { type: "none" };
  if (choice === "required") return { type: "any" };
  if (isJsonObject(choice) && isJsonObject(choice.function) && typeof choice.function.name === "string") {
    return { type: "tool", name: choice.function.name };
  }
  return { type: "auto" };
}
