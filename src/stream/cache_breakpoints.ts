/**
 * Prompt-caching breakpoints for a client that asks for caching without placing them. OpenAI caches a
 * prompt's prefix by itself; Anthropic caches only up to the blocks marked `cache_control`, so an agent
 * written for OpenAI (Codex, which sends `prompt_cache_key`) would pay for its whole prompt every turn.
 */
import { isJsonObject, type JsonObject } from "../util/json.ts";

const _MARKER = { type: "ephemeral" } as const;

/**
 * `body`, an Anthropic Messages body, with breakpoints where an agent's prompt grows from turn to turn:
 * its last tool, its last system block and the last block of its last message (three of Anthropic's
 * four). The next turn's prompt starts with this one, so it is read from the cache up to there. A body
 * that marks anything itself is left as it is: its client caches as it means to.
 *
 * @example
 * ```ts
 * withCacheBreakpoints({ system: "Be brief.", messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] });
 * // { system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }], messages: [… the text marked] }
 * ```
 */
export function withCacheBreakpoints(body: JsonObject): JsonObject {
  const tools = Array.isArray(body.tools) ? body.tools.filter(isJsonObject) : [];
  const system = typeof body.system === "string"
    ? (body.system ? [{ type: "text", text: body.system }] : [])
    : Array.isArray(body.system)
    ? body.system.filter(isJsonObject)
    : [];
  const messages = Array.isArray(body.messages) ? body.messages.filter(isJsonObject) : [];
  const blocks = (message: JsonObject) => Array.isArray(message.content) ? message.content : [];
  const marked = [...tools, ...system, ...messages.flatMap(blocks)].some((block) =>
    isJsonObject(block) && block.cache_control !== undefined
  );
  if (marked) return body;
  const last = messages.at(-1);
  const content = last ? blocks(last) : [];
  return {
    ...body,
    ...(tools.length > 0 && { tools: _markedLast(tools) }),
    ...(system.length > 0 && { system: _markedLast(system) }),
    ...(last && content.length > 0 && {
      messages: [...messages.slice(0, -1), { ...last, content: _markedLast(content.filter(isJsonObject)) }],
    }),
  };
}

function _markedLast(blocks: JsonObject[]): JsonObject[] {
  return [...blocks.slice(0, -1), { ...blocks.at(-1), cache_control: _MARKER }];
}
