/**
 * A Responses API request (`POST /v1/responses`, the only API OpenAI's Codex CLI speaks) as the Chat
 * Completions request it stands for, which relay's chat front door then translates to Anthropic's
 * Messages format: one translation to Anthropic, not two. Input items become messages one for one
 * (the chat translation merges consecutive turns of one role), so an error that translation finds in
 * `messages[i]` is told to the client as the input item it came from ({@linkcode responsesParamFor}).
 *
 * relay stores nothing: a request that refers to a stored response, conversation or prompt is refused,
 * and so is `background`. Tools relay's upstreams cannot run (OpenAI's hosted `web_search`,
 * `file_search`, `computer`, `mcp`, …: {@linkcode _HOSTED_TOOLS}) are dropped, and a tool of a type
 * relay does not know is refused; `custom` tools (free-form input) become functions
 * of one string, `input`, and a `namespace`'s tools functions named `<namespace>__<name>`, and
 * {@linkcode ResponsesTool} says how a call of each is told back. A reasoning item relay made carries
 * Anthropic's thinking back into its assistant turn (`thinking_items.ts`); OpenAI's are dropped, as no
 * other upstream can read their encrypted content. `reasoning.effort` asks for thinking.
 */
import {
  ARRAY,
  BOOLEAN,
  ChatToAnthropicError,
  type FieldType,
  kindOf,
  OBJECT,
  optionalField,
  requiredField,
  STRING,
} from "./openai_request_fields.ts";
import { thinkingBlockOf } from "./thinking_items.ts";
import { isJsonObject, type JsonObject } from "../util/json.ts";

/**
 * The `max_tokens` of a request without `max_output_tokens` (Codex sends none, where OpenAI sets no limit
 * but the model's own): twice the chat door's, for an agent's edits, and no more than the Anthropic-format
 * models with the smallest caps take (DeepSeek's and Claude 3.5 Haiku's 8,192), which would refuse every
 * request above it.
 */
export const RESPONSES_DEFAULT_MAX_TOKENS = 8_192;

/**
 * The types of OpenAI's hosted tools (openai-node 6.49's `Tool`), which run on OpenAI's side or answer
 * in items only OpenAI's models write: no upstream relay serves can run them, so they are dropped.
 */
const _HOSTED_TOOLS: ReadonlySet<string> = new Set([
  "web_search",
  "web_search_2025_08_26",
  "web_search_preview",
  "web_search_preview_2025_03_11",
  "file_search",
  "computer",
  "computer_use_preview",
  "mcp",
  "code_interpreter",
  "programmatic_tool_calling",
  "image_generation",
  "local_shell",
  "shell",
  "apply_patch",
  "tool_search",
]);

/** The request's fields relay leaves to OpenAI, or reads only for their presence, and their types. */
const _UNREAD_FIELDS: readonly [string, FieldType<unknown>][] = [
  ["store", BOOLEAN],
  ["include", ARRAY],
  ["metadata", OBJECT],
  ["truncation", STRING],
  ["service_tier", STRING],
  ["client_metadata", OBJECT],
  ["prompt_cache_key", STRING],
  ["safety_identifier", STRING],
];

const _STORES_NOTHING =
  "relay stores no responses, conversations or prompts: send the whole conversation in input, each item itself";

/** How a call of the tool the upstream knows by one name is told to the client. */
export interface ResponsesTool {
  /** The tool's name as the client gave it. */
  name: string;
  /** The `namespace` tool it belongs to, if any. */
  namespace?: string;
  /** A `custom` tool: its call is a `custom_tool_call` with the string `input`, not JSON arguments. */
  custom: boolean;
}

/** A Responses request as a Chat Completions request, with what the answer's translation needs. */
export interface ChatForResponses {
  chat: JsonObject & { model: string; messages: JsonObject[] };
  /** The client's tools by the name the upstream knows them by. */
  tools: ReadonlyMap<string, ResponsesTool>;
  /**
   * Where each of `chat.messages` came from in the request (`instructions`, `input[3]`), or for a tool's
   * output, where its content did (`input[3].output`).
   */
  sources: readonly string[];
}

/**
 * The Chat Completions body for a Responses body whose `model` was checked; a field it cannot honour,
 * or one of the wrong type, throws a {@linkcode ChatToAnthropicError} naming the Responses field.
 *
 * @example
 * ```ts
 * chatRequestForResponses({ model: "claude-sonnet-4-5", instructions: "Be brief.", input: "hi" }).chat;
 * // { model: "claude-sonnet-4-5", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }] }
 * ```
 */
export function chatRequestForResponses(request: JsonObject & { model: string }): ChatForResponses {
  for (const stored of ["previous_response_id", "conversation", "prompt"]) {
    if (!_absent(request[stored])) {
      throw new ChatToAnthropicError(stored, _STORES_NOTHING);
    }
  }
  if (optionalField(request.background, "background", BOOLEAN)) {
    throw new ChatToAnthropicError("background", "relay answers in the foreground only");
  }
  // Fields relay reads not, or only for their presence, are still checked: a client must not learn of its
  // mistake only from the response that echoes it.
  for (const [field, type] of _UNREAD_FIELDS) optionalField(request[field], field, type);
  // Chat Completions' field, which this door would otherwise ignore, and answer in prose where the client
  // expects JSON.
  if (!_absent(request.response_format)) {
    throw new ChatToAnthropicError(
      "response_format",
      'the Responses API takes the answer\'s format in text.format ({type: "json_schema", name, schema, strict}), ' +
        "not in Chat Completions' response_format",
    );
  }
  const messages: JsonObject[] = [];
  const sources: string[] = [];
  const instructions = optionalField(request.instructions, "instructions", STRING);
  if (instructions) {
    messages.push({ role: "system", content: instructions });
    sources.push("instructions");
  }
  const input = request.input;
  if (typeof input === "string") {
    messages.push({ role: "user", content: input });
    sources.push("input");
  } else if (Array.isArray(input)) {
    const leftovers = _failedAttempts(input);
    for (const [index, item] of input.entries()) {
      if (leftovers.has(index)) continue;
      const where = `input[${index}]`;
      for (const message of _messagesFor(requiredField(item, where, OBJECT), where, request.model)) {
        messages.push(message);
        sources.push(message.role === "tool" ? `${where}.output` : where);
      }
    }
  } else {
    throw new ChatToAnthropicError("input", `expected a string or an array of items, got ${kindOf(input)}`);
  }
  const { tools, names } = _tools(optionalField(request.tools, "tools", ARRAY) ?? []);
  const chat: JsonObject & { model: string; messages: JsonObject[] } = { model: request.model, messages };
  const choice = _toolChoice(request.tool_choice, names);
  const offered = choice?.allowed ? tools.filter((tool) => choice.allowed!.has(_functionName(tool))) : tools;
  // Without the tool it forces, the chat translation would drop the choice and let the model answer in prose.
  const forced = choice?.chat === "required"
    ? offered
    : isJsonObject(choice?.chat)
    ? offered.filter((tool) => _functionName(tool) === _functionName(choice.chat as JsonObject))
    : undefined;
  if (forced?.length === 0) {
    throw new ChatToAnthropicError(
      "tool_choice",
      "forces a tool call, but no tool it allows is offered (relay drops OpenAI's hosted tools)",
    );
  }
  if (offered.length > 0) chat.tools = offered;
  if (choice) chat.tool_choice = choice.chat;
  for (const field of ["stream", "temperature", "top_p", "parallel_tool_calls", "user"]) {
    if (request[field] !== undefined) chat[field] = request[field];
  }
  // Without one, the door's `anthropicRequestFor` takes RESPONSES_DEFAULT_MAX_TOKENS.
  if (request.max_output_tokens !== undefined) chat.max_tokens = request.max_output_tokens;
  const reasoning = optionalField(request.reasoning, "reasoning", OBJECT);
  optionalField(reasoning?.summary, "reasoning.summary", STRING);
  const effort = optionalField(reasoning?.effort, "reasoning.effort", STRING);
  if (effort !== undefined) chat.reasoning_effort = effort;
  const format = optionalField(optionalField(request.text, "text", OBJECT)?.format, "text.format", OBJECT);
  if (format?.type === "json_schema") {
    const { name, schema, strict } = format;
    if (!isJsonObject(schema)) {
      // Chat Completions' shape, `{type, json_schema: {name, schema}}`, is the likely mistake.
      const nested = format.json_schema === undefined
        ? ""
        : " (text.format holds name, schema and strict itself, not in a json_schema member)";
      throw new ChatToAnthropicError(
        "text.format.schema",
        `expected an object, got ${kindOf(schema)}${nested}`,
      );
    }
    chat.response_format = { type: "json_schema", json_schema: { name, schema, strict } };
  }
  return { chat, tools: names, sources };
}

/**
 * The Responses field a chat translation's error names: `messages[i]…` is the input item (or
 * `instructions`) message `i` came from, a tool message's content the tool's output (which `sources`
 * names as its content's source); the fields this translation renamed take their own names.
 *
 * @example
 * ```ts
 * responsesParamFor("messages[1].content", ["instructions", "input[0]"]); // "input[0].content"
 * responsesParamFor("messages[0].content[1].file.file_data", ["input[2].output"]); // "input[2].output[1].file_data"
 * responsesParamFor("messages[0].content", ["input"]); // "input"
 * responsesParamFor("max_tokens", []); // "max_output_tokens"
 * ```
 */
export function responsesParamFor(param: string, sources: readonly string[]): string {
  const message = /^messages\[(\d+)\]/.exec(param);
  if (message) {
    const source = sources[Number(message[1])] ?? "input";
    // `instructions` and a string `input` are the message's content themselves.
    if (!source.startsWith("input[")) return source;
    // A Responses part holds its URL or data itself, where a chat part nests it.
    const field = param.slice(message[0].length).replace(/\.file\.file_data$/, ".file_data")
      .replace(/\.image_url\.url$/, ".image_url");
    // A tool message's content is the tool's output.
    return source + (source.endsWith(".output") ? field.replace(/^\.content/, "") : field);
  }
  if (param === "messages") return "input";
  if (param === "max_tokens") return "max_output_tokens";
  if (param === "reasoning_effort") return "reasoning.effort";
  return param.replace(/^response_format\.json_schema/, "text.format");
}

/**
 * The indexes of `input` items that are what was kept of an answer that failed: the items relay made of
 * one Anthropic Message (their ids name it: `rs_<id>_N`, `msg_<id>_N`, `fc_<id>_N`) followed by those of
 * another, with no user's or tool's item between; relay's items that end the input; and a turn of
 * relay's reasoning items alone (its answer cut after the thinking). Codex keeps the items that were
 * done when an answer fails or is cut, and sends them again after its last input with the next attempt's;
 * as an assistant turn they would be a prefill (refused by Claude 4.6 and later: "does not support
 * assistant message prefill"), one turn made of two answers, each with its own thinking, or a turn of
 * thinking alone.
 */
function _failedAttempts(input: unknown[]): ReadonlySet<number> {
  const failed = new Set<number>();
  let turn: { index: number; answer: string | undefined; thinking: boolean }[] = [];
  const close = (ended: boolean) => {
    const last = turn.findLast(({ answer }) => answer !== undefined)?.answer;
    // Of the answer that stays: a failed attempt's items before it are dropped either way.
    const thoughtOnly = turn.filter(({ answer }) => answer === undefined || answer === last)
      .every(({ answer, thinking }) => answer !== undefined && thinking);
    for (const { index, answer } of turn) {
      if (answer !== undefined && (ended || thoughtOnly || answer !== last)) failed.add(index);
    }
    turn = [];
  };
  for (const [index, item] of input.entries()) {
    if (
      !isJsonObject(item) || !_ANSWER_ITEMS.has(String(item.type ?? "message")) || item.role === "user" ||
      item.role === "system" || item.role === "developer"
    ) {
      close(false);
      continue;
    }
    const answer = typeof item.id === "string"
      ? /^(?:rs|msg|fc|ctc)_(.+)_\d+$/.exec(item.id)?.[1]
      : undefined;
    turn.push({ index, answer, thinking: item.type === "reasoning" });
  }
  close(true);
  return failed;
}

/** The input items an assistant's answer is made of. */
const _ANSWER_ITEMS: ReadonlySet<string> = new Set([
  "message",
  "reasoning",
  "function_call",
  "custom_tool_call",
]);

/** The upstream's name for a function the client named `name`, maybe inside a `namespace`. */
function _upstreamName(name: string, namespace: string | undefined): string {
  return namespace === undefined ? name : `${namespace}__${name}`;
}

/** The chat messages one input item stands for: one, or none (reasoning). */
function _messagesFor(item: JsonObject, where: string, model: string): JsonObject[] {
  // An item without `type` is a message (the API's "easy input message").
  const type = item.type ?? "message";
  switch (type) {
    case "message": {
      const role = requiredField(item.role, `${where}.role`, STRING);
      if (!["user", "system", "developer", "assistant"].includes(role)) {
        throw new ChatToAnthropicError(`${where}.role`, `unsupported role ${JSON.stringify(role)}`);
      }
      const content = typeof item.content === "string"
        ? item.content
        : requiredField(item.content, `${where}.content`, ARRAY).map((part, index) =>
          _part(part, `${where}.content[${index}]`)
        );
      return [{ role, content }];
    }
    case "function_call":
    case "custom_tool_call": {
      const name = requiredField(item.name, `${where}.name`, STRING);
      const namespace = optionalField(item.namespace, `${where}.namespace`, STRING);
      const args = type === "function_call"
        ? requiredField(item.arguments, `${where}.arguments`, STRING)
        : JSON.stringify({ input: requiredField(item.input, `${where}.input`, STRING) });
      const call = {
        id: requiredField(item.call_id, `${where}.call_id`, STRING),
        type: "function",
        function: { name: _upstreamName(name, namespace), arguments: args },
      };
      return [{ role: "assistant", content: null, tool_calls: [call] }];
    }
    case "function_call_output":
    case "custom_tool_call_output": {
      const output = item.output;
      // The images and files a tool returned (Codex's view_image) stay in its message, beyond what a chat
      // tool message holds in OpenAI's API, so that each goes inside its own tool_result: after all the
      // results, the model could not tell which call's they were.
      const content = typeof output === "string"
        ? output
        : requiredField(output, `${where}.output`, ARRAY).map((part, index) =>
          _outputPart(part, `${where}.output[${index}]`)
        );
      return [{
        role: "tool",
        tool_call_id: requiredField(item.call_id, `${where}.call_id`, STRING),
        content,
      }];
    }
    case "reasoning": {
      // relay's own reasoning items hold Anthropic's thinking, which must come back, but another model's
      // (before a switch of models), whose signature this one refuses; OpenAI's hold nothing another
      // upstream can read.
      const block = thinkingBlockOf(item.encrypted_content, model);
      return block ? [{ role: "assistant", content: null, thinking_blocks: [block] }] : [];
    }
    case "item_reference":
      // `@ai-sdk/openai` refers to earlier output by id unless told `store: false`.
      throw new ChatToAnthropicError(where, `${_STORES_NOTHING} (not an item_reference)`);
  }
  throw new ChatToAnthropicError(
    `${where}.type`,
    `unsupported input item type ${JSON.stringify(type)} (relay takes messages, function and custom tool ` +
      "calls and their outputs, and reasoning items)",
  );
}

/** A content part as its chat equivalent; the chat translation decides which roles may hold which. */
function _part(entry: unknown, where: string): JsonObject {
  const part = requiredField(entry, where, OBJECT);
  const type = requiredField(part.type, `${where}.type`, STRING);
  switch (type) {
    case "input_text":
    case "output_text":
      return { type: "text", text: requiredField(part.text, `${where}.text`, STRING) };
    case "refusal":
      return { type: "refusal", refusal: requiredField(part.refusal, `${where}.refusal`, STRING) };
    case "input_image":
      return { type: "image_url", image_url: { url: _stored(part, "image_url", where) } };
    case "input_file": {
      const data = _absent(part.file_data) ? _stored(part, "file_url", where) : part.file_data;
      return { type: "file", file: { file_data: requiredField(data, `${where}.file_data`, STRING) } };
    }
  }
  throw new ChatToAnthropicError(`${where}.type`, `unsupported content part ${JSON.stringify(type)}`);
}

/** A part of a tool's output, which holds what the tool returned, never a refusal of the model's. */
function _outputPart(entry: unknown, where: string): JsonObject {
  const part = _part(entry, where);
  if (part.type === "refusal") {
    throw new ChatToAnthropicError(`${where}.type`, 'unsupported content part "refusal" in a tool\'s output');
  }
  return part;
}

/** OpenAI's API takes `null` for a field left out, as {@linkcode optionalField} reads it. */
function _absent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

/** The URL of an image or file part; a `file_id` refers to OpenAI's file storage, which relay has not. */
function _stored(part: JsonObject, field: string, where: string): string {
  if (_absent(part[field]) && !_absent(part.file_id)) {
    throw new ChatToAnthropicError(`${where}.file_id`, `relay has no file storage: send ${field}`);
  }
  return requiredField(part[field], `${where}.${field}`, STRING);
}

/** The chat tools for the client's, and how a call of each is told back; tools relay cannot run are dropped. */
function _tools(entries: unknown[]): { tools: JsonObject[]; names: Map<string, ResponsesTool> } {
  const tools: JsonObject[] = [];
  const names = new Map<string, ResponsesTool>();
  const add = (entry: unknown, where: string, namespace?: string) => {
    const tool = requiredField(entry, where, OBJECT);
    const type = requiredField(tool.type, `${where}.type`, STRING);
    if (type === "namespace") {
      const name = requiredField(tool.name, `${where}.name`, STRING);
      const inner = requiredField(tool.tools, `${where}.tools`, ARRAY);
      for (const [index, member] of inner.entries()) add(member, `${where}.tools[${index}]`, name);
      return;
    }
    if (_HOSTED_TOOLS.has(type)) return;
    if (type !== "function" && type !== "custom") {
      throw new ChatToAnthropicError(
        `${where}.type`,
        `unsupported tool type ${
          JSON.stringify(type)
        } (relay takes function, custom and namespace tools, and drops OpenAI's hosted ones)`,
      );
    }
    const name = requiredField(tool.name, `${where}.name`, STRING);
    const custom = type === "custom";
    const description = optionalField(tool.description, `${where}.description`, STRING);
    const upstreamName = _upstreamName(name, namespace);
    names.set(upstreamName, { name, ...(namespace === undefined ? {} : { namespace }), custom });
    tools.push({
      type: "function",
      function: {
        name: upstreamName,
        ...(custom ? _customFunction(description, optionalField(tool.format, `${where}.format`, OBJECT)) : {
          ...(description === undefined ? {} : { description }),
          parameters: optionalField(tool.parameters, `${where}.parameters`, OBJECT),
        }),
      },
    });
  };
  for (const [index, entry] of entries.entries()) add(entry, `tools[${index}]`);
  return { tools, names };
}

/** The name a chat tool's function has. */
function _functionName(tool: JsonObject): string {
  return String((tool.function as JsonObject).name);
}

/** A custom tool as a function of one string; its grammar, if it has one, is told in the description. */
function _customFunction(description: string | undefined, format: JsonObject | undefined): JsonObject {
  const grammar = format?.type === "grammar" && typeof format.definition === "string"
    ? `\n\nThe input must follow this ${String(format.syntax ?? "")} grammar:\n${format.definition}`
    : "";
  const told = `${description ?? ""}${grammar}`.trim();
  return {
    ...(told ? { description: told } : {}),
    parameters: {
      type: "object",
      properties: { input: { type: "string", description: "The tool's free-form input." } },
      required: ["input"],
    },
  };
}

/** The chat `tool_choice`, and for `allowed_tools` the upstream names of the tools it leaves offered. */
function _toolChoice(
  choice: unknown,
  names: ReadonlyMap<string, ResponsesTool>,
): { chat: unknown; allowed?: ReadonlySet<string> } | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === "none" || choice === "auto" || choice === "required") return { chat: choice };
  if (isJsonObject(choice)) {
    const upstream = (tool: JsonObject) => _upstreamName(String(tool.name), _namespaceOf(tool, names));
    if ((choice.type === "function" || choice.type === "custom") && typeof choice.name === "string") {
      return { chat: { type: "function", function: { name: upstream(choice) } } };
    }
    if (choice.type === "allowed_tools" && Array.isArray(choice.tools)) {
      const allowed = new Set(choice.tools.filter(isJsonObject).map(upstream));
      return { chat: choice.mode === "required" ? "required" : "auto", allowed };
    }
  }
  throw new ChatToAnthropicError(
    "tool_choice",
    'expected "none", "auto", "required", {type: "function"|"custom", name} or {type: "allowed_tools", ' +
      `mode, tools}, got ${typeof choice === "string" ? JSON.stringify(choice) : kindOf(choice)}`,
  );
}

/** A tool choice's namespace: its own, or that of the only offered tool of its name. */
function _namespaceOf(tool: JsonObject, names: ReadonlyMap<string, ResponsesTool>): string | undefined {
  if (typeof tool.namespace === "string") return tool.namespace;
  return [...names.values()].find((known) => known.name === tool.name)?.namespace;
}
