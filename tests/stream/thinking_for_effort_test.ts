import assert from "node:assert/strict";
import {
  MOST_THINKING_MAX_TOKENS,
  thinkingFormFor,
  thinkingFormRefused,
  withThinkingFor,
} from "../../src/stream/thinking_for_effort.ts";

const USER = { role: "user", content: [{ type: "text", text: "hi" }] };
const body = (fields: Record<string, unknown> = {}) => ({
  model: "claude-sonnet-4-5",
  max_tokens: 8_192,
  messages: [USER],
  ...fields,
});
const thinking = (result: Record<string, unknown>) => [result.max_tokens, result.thinking];

Deno.test("an effort is a thinking budget; relay's own max_tokens keeps the answer's room, within 32,000", () => {
  assert.deepEqual(thinking(withThinkingFor(body(), "low", 8_192)), [12_288, {
    type: "enabled",
    budget_tokens: 4_096,
  }]);
  assert.deepEqual(thinking(withThinkingFor(body(), "medium", 8_192)), [24_576, {
    type: "enabled",
    budget_tokens: 16_384,
  }]);
  for (const effort of ["high", "xhigh"]) {
    assert.deepEqual(thinking(withThinkingFor(body(), effort, 8_192)), [MOST_THINKING_MAX_TOKENS, {
      type: "enabled",
      budget_tokens: MOST_THINKING_MAX_TOKENS - 8_192,
    }]);
  }
});

Deno.test("a client's max_tokens holds the thinking too, leaving 1,024 for the answer; too little, no thinking", () => {
  assert.deepEqual(thinking(withThinkingFor(body({ max_tokens: 6_000 }), "medium")), [6_000, {
    type: "enabled",
    budget_tokens: 4_976,
  }]);
  assert.deepEqual(thinking(withThinkingFor(body({ max_tokens: 2_048 }), "high")), [2_048, {
    type: "enabled",
    budget_tokens: 1_024,
  }]);
  const small = body({ max_tokens: 2_047 });
  assert.equal(withThinkingFor(small, "high"), small);
});

Deno.test("no thinking for none, minimal, no effort or one unknown, nor where Anthropic refuses it", () => {
  for (const effort of ["none", "minimal", undefined, null, "extreme", 3]) {
    const asked = body();
    assert.equal(withThinkingFor(asked, effort, 8_192), asked, String(effort));
  }
  const toolUse = { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "f", input: {} }] };
  const result = { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "ok" }] };
  const refused = [
    body({ tool_choice: { type: "any" } }),
    body({ tool_choice: { type: "tool", name: "f" } }),
    body({ messages: [USER, toolUse, result] }),
    body({ messages: [USER, { role: "assistant", content: [{ type: "text", text: "Sure" }] }] }),
  ];
  for (const asked of refused) {
    assert.equal(withThinkingFor(asked, "low", 8_192), asked, JSON.stringify(asked));
  }
  const thought = { type: "thinking", thinking: "Call f.", signature: "Eq" };
  const withItsThinking = body({
    messages: [USER, { ...toolUse, content: [thought, ...toolUse.content] }, result],
  });
  assert.equal((withThinkingFor(withItsThinking, "low", 8_192).thinking as { type: string }).type, "enabled");
  const redacted = { type: "redacted_thinking", data: "Em" };
  const afterRedacted = body({
    messages: [USER, { ...toolUse, content: [redacted, ...toolUse.content] }, result],
  });
  assert.ok(withThinkingFor(afterRedacted, "low", 8_192).thinking);
  assert.ok(withThinkingFor(body({ tool_choice: { type: "auto" } }), "low", 8_192).thinking);
});

Deno.test("temperature, and top_p under 0.95, which Anthropic refuses beside thinking, are dropped", () => {
  const sent = withThinkingFor(body({ temperature: 0.2, top_p: 0.5, stop_sequences: ["x"] }), "low", 8_192);
  assert.ok(!("temperature" in sent) && !("top_p" in sent));
  assert.deepEqual(sent.stop_sequences, ["x"]);
  assert.equal(withThinkingFor(body({ top_p: 0.95 }), "low", 8_192).top_p, 0.95);
});

Deno.test("the adaptive form: thinking adaptive and summarized, the effort in output_config beside its format", () => {
  const format = { type: "json_schema", schema: { type: "object" } };
  const sent = withThinkingFor(
    body({ model: "claude-opus-4-7", output_config: { format } }),
    "xhigh",
    8_192,
    "adaptive",
  );
  assert.deepEqual([sent.max_tokens, sent.thinking, sent.output_config], [MOST_THINKING_MAX_TOKENS, {
    type: "adaptive",
    display: "summarized",
  }, { format, effort: "xhigh" }]);
  const before47 = withThinkingFor(body({ model: "claude-sonnet-4-6" }), "xhigh", 8_192, "adaptive");
  assert.deepEqual(before47.output_config, { effort: "high" }, "Claude 4.6 takes no xhigh");
  const small = withThinkingFor(body({ max_tokens: 1_500 }), "low", undefined, "adaptive");
  assert.deepEqual(
    [small.max_tokens, (small.thinking as { type: string }).type],
    [1_500, "adaptive"],
    "no budget to fit",
  );
  assert.equal(
    withThinkingFor(body({ tool_choice: { type: "any" } }), "low", 8_192, "adaptive").thinking,
    undefined,
  );
});

Deno.test("a model's name says its thinking form: adaptive from Claude 4.6, a budget before and for aliases", () => {
  const forms = {
    adaptive: [
      "claude-opus-4-7",
      "claude-sonnet-4-6",
      "claude-opus-4-6-v1",
      "claude-sonnet-5",
      "claude-fable-5",
      "us.anthropic.claude-opus-4-7",
      "claude-opus-4.6",
    ],
    budget: [
      "claude-sonnet-4-5-20250929",
      "claude-opus-4-20250514",
      "claude-3-7-sonnet-20250219",
      "claude-haiku-4-5",
      "claude-mythos-preview",
      "gpt-5-codex",
      "my-alias",
      "claude-opus-4-1",
    ],
  };
  for (const [form, models] of Object.entries(forms)) {
    for (const model of models) assert.equal(thinkingFormFor(model), form, model);
  }
});

Deno.test("a refusal of one thinking form names the other; any other refusal none", () => {
  assert.equal(
    thinkingFormRefused(
      '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.',
    ),
    "adaptive",
  );
  assert.equal(
    thinkingFormRefused(
      "thinking: Input tag 'adaptive' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'",
    ),
    "budget",
  );
  assert.equal(thinkingFormRefused('"thinking.type.adaptive" is not supported for this model.'), "budget");
  for (
    const other of ["prompt is too long: 210000 tokens > 200000 maximum", "max_tokens: 32000 > 8192", ""]
  ) {
    assert.equal(thinkingFormRefused(other), undefined, other);
  }
});

Deno.test("a tool loop is one assistant turn: its first message must begin with thinking, its later ones need not", () => {
  const call = (id: string) => ({ type: "tool_use", id, name: "f", input: {} });
  const result = (id: string) => ({
    role: "user",
    content: [{ type: "tool_result", tool_use_id: id, content: "ok" }],
  });
  const thought = { type: "thinking", thinking: "Call f.", signature: "Eq" };
  const loop = (first: unknown[]) =>
    body({
      messages: [
        USER,
        { role: "assistant", content: first },
        result("a"),
        { role: "assistant", content: [call("b")] },
        result("b"),
      ],
    });
  assert.ok(
    withThinkingFor(loop([thought, call("a")]), "low", 8_192).thinking,
    "the third request thinks on",
  );
  const unthought = loop([call("a")]);
  assert.equal(withThinkingFor(unthought, "low", 8_192), unthought, "the loop began without thinking");
  const newTurn = body({ messages: [USER, { role: "assistant", content: [call("a")] }, result("a"), USER] });
  assert.ok(withThinkingFor(newTurn, "low", 8_192).thinking, "the user's own message begins a turn");
});
