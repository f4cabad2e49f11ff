import assert from "node:assert/strict";
import { withCacheBreakpoints } from "../../src/stream/cache_breakpoints.ts";

const MARK = { type: "ephemeral" };

Deno.test("withCacheBreakpoints marks the last tool, the last system block and the last block of the last message", () => {
  const body = {
    model: "m",
    system: "You are Codex.",
    tools: [{ name: "a", input_schema: {} }, { name: "b", input_schema: {} }],
    messages: [
      { role: "user", content: [{ type: "text", text: "run ls" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "a", input: {} }] },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "t1", content: "a.txt" }, {
          type: "text",
          text: "and?",
        }],
      },
    ],
  };
  assert.deepEqual(withCacheBreakpoints(body), {
    ...body,
    system: [{ type: "text", text: "You are Codex.", cache_control: MARK }],
    tools: [{ name: "a", input_schema: {} }, { name: "b", input_schema: {}, cache_control: MARK }],
    messages: [
      body.messages[0],
      body.messages[1],
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "t1", content: "a.txt" },
          { type: "text", text: "and?", cache_control: MARK },
        ],
      },
    ],
  });
  assert.equal(body.system, "You are Codex.", "the body given is left as it was");
});

Deno.test("withCacheBreakpoints leaves a body that marks anything itself, and marks only what a body has", () => {
  const marked = {
    system: [{ type: "text", text: "s", cache_control: { type: "ephemeral", ttl: "1h" } }],
    messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
  };
  assert.equal(withCacheBreakpoints(marked), marked);
  assert.deepEqual(
    withCacheBreakpoints({ messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] }),
    {
      messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: MARK }] }],
    },
  );
  assert.deepEqual(withCacheBreakpoints({ system: "", messages: [] }), { system: "", messages: [] });
});
