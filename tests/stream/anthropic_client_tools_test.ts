import assert from "node:assert/strict";
import { chatRequestFor } from "../../src/stream/anthropic_to_openai_request.ts";
import { clientToolFunction } from "../../src/stream/anthropic_client_tools.ts";

const OPTIONS = { model: "gpt-4.1", maxTokensField: "max_tokens", reasoningContent: true } as const;

Deno.test("Anthropic's client tools go to an OpenAI-compatible upstream as functions under their names; server tools and computer use stay out", () => {
  const chat = chatRequestFor({
    model: "m",
    max_tokens: 100,
    messages: [{ role: "user", content: "fix the bug" }],
    tools: [
      { type: "bash_20250124", name: "bash" },
      { type: "text_editor_20250728", name: "str_replace_based_edit_tool", max_characters: 10_000 },
      { type: "memory_20250818", name: "memory" },
      { type: "web_search_20250305", name: "web_search" },
      { type: "computer_20250124", name: "computer", display_width_px: 1024, display_height_px: 768 },
      { name: "Read", input_schema: { type: "object", properties: { path: { type: "string" } } } },
    ],
    tool_choice: { type: "tool", name: "bash" },
  }, OPTIONS);
  const functions = (chat.tools as { function: { name: string; parameters: { properties: object } } }[])
    .map(({ function: { name, parameters } }) => [name, Object.keys(parameters.properties)]);
  assert.deepEqual(functions, [
    ["bash", ["command", "restart"]],
    [
      "str_replace_based_edit_tool",
      ["command", "path", "file_text", "old_str", "new_str", "insert_line", "insert_text", "view_range"],
    ],
    [
      "memory",
      [
        "command",
        "path",
        "file_text",
        "old_str",
        "new_str",
        "insert_line",
        "insert_text",
        "view_range",
        "old_path",
        "new_path",
      ],
    ],
    ["Read", ["path"]],
  ]);
  assert.deepEqual(chat.tool_choice, { type: "function", function: { name: "bash" } }, "a tool it can call");
});

Deno.test("clientToolFunction knows each version of a client tool by its type's prefix, and nothing else", () => {
  for (const type of ["bash_20241022", "bash_20250124"]) {
    assert.equal(clientToolFunction({ type, name: "bash" })?.name, "bash", type);
  }
  for (const type of ["text_editor_20241022", "text_editor_20250429", "text_editor_20250728"]) {
    const editor = clientToolFunction({ type, name: "str_replace_editor" });
    assert.deepEqual((editor?.parameters as { required: string[] }).required, ["command", "path"], type);
  }
  for (
    const type of ["custom", "web_fetch_20250910", "code_execution_20250825", "computer_20250124", "bash"]
  ) {
    assert.equal(clientToolFunction({ type, name: "x" }), undefined, type);
  }
});
