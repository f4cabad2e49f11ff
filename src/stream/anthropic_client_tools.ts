/**
 * Anthropic's client tools (`bash_…`, `text_editor_…`, `memory_…`) as Chat Completions functions. Their
 * requests name a type and carry no schema, as Anthropic's models know the input by heart; they run on
 * the client, like custom tools, so another model can call them once told their input. Computer use
 * (screenshots in tool results) and the tools that run at Anthropic (web search, code execution) have no
 * such form and stay left out.
 */
import type { JsonObject } from "../util/json.ts";

const _STRING = { type: "string" } as const;
const _LINE = { type: "integer", description: "Line number, from 1" } as const;
const _RANGE = {
  type: "array",
  items: { type: "integer" },
  description: "[first, last] lines to view, from 1; -1 as last for the end",
} as const;

/** What each client tool takes, by the prefix of its type (the date after it names a version). */
const _CLIENT_TOOLS: readonly { prefix: string; description: string; parameters: JsonObject }[] = [
  {
    prefix: "bash_",
    description: "Run a command in a persistent bash shell, or restart the shell.",
    parameters: {
      type: "object",
      properties: {
        command: { ..._STRING, description: "The command to run" },
        restart: { type: "boolean", description: "Restart the shell instead" },
      },
    },
  },
  {
    prefix: "text_editor_",
    description: "View, create and edit files: view a file or folder, create a file, replace a unique " +
      "string in a file, or insert text after a line.",
    parameters: {
      type: "object",
      properties: {
        command: { type: "string", enum: ["view", "create", "str_replace", "insert", "undo_edit"] },
        path: { ..._STRING, description: "Absolute path of the file or folder" },
        file_text: { ..._STRING, description: "create: the new file's content" },
        old_str: { ..._STRING, description: "str_replace: the text to replace, found exactly once" },
        new_str: {
          ..._STRING,
          description:
            "str_replace: the text that replaces it (insert, before text_editor_20250728: the text to insert)",
        },
        insert_line: { ..._LINE, description: "insert: the line after which to insert, 0 for the start" },
        insert_text: { ..._STRING, description: "insert: the text to insert" },
        view_range: _RANGE,
      },
      required: ["command", "path"],
    },
  },
  {
    prefix: "memory_",
    description: "Read and write files in the /memories folder, kept across conversations.",
    parameters: {
      type: "object",
      properties: {
        command: { type: "string", enum: ["view", "create", "str_replace", "insert", "delete", "rename"] },
        path: { ..._STRING, description: "A path under /memories" },
        file_text: _STRING,
        old_str: _STRING,
        new_str: _STRING,
        insert_line: _LINE,
        insert_text: _STRING,
        view_range: _RANGE,
        old_path: _STRING,
        new_path: _STRING,
      },
      required: ["command"],
    },
  },
];

/**
 * The function a client tool of Anthropic's stands for, under the name the request gives it, or
 * `undefined` for any other tool.
 *
 * @example
 * ```ts
 * clientToolFunction({ type: "bash_20250124", name: "bash" });
 * // { name: "bash", description: "Run a command in a persistent bash shell, …", parameters: { … } }
 * ```
 */
export function clientToolFunction(tool: JsonObject): JsonObject | undefined {
  const type = String(tool.type);
  const known = _CLIENT_TOOLS.find(({ prefix }) => type.startsWith(prefix));
  return known && { name: tool.name, description: known.description, parameters: known.parameters };
}
