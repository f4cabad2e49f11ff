/**
 * Request translation both ways: `anthropic_to_openai_request.ts` (Claude Code -> an OpenAI upstream)
 * and `openai_to_anthropic_request.ts` (an OpenAI client -> relay's providers).
 */
import assert from "node:assert/strict";
import { AnthropicToChatError, chatRequestFor } from "../../src/stream/anthropic_to_openai_request.ts";
import { ChatToAnthropicError } from "../../src/stream/openai_request_fields.ts";
import { anthropicRequestFor } from "../../src/stream/openai_to_anthropic_request.ts";

const OPTIONS = { model: "gpt-4.1", maxTokensField: "max_tokens", reasoningContent: true } as const;

Deno.test("a Claude Code request becomes Chat Completions: system, tools, tool_choice, stops, stream usage", () => {
  const chat = chatRequestFor({
    model: "claude-sonnet-4-5",
    max_tokens: 32000,
    system: [
      { type: "text", text: "x-anthropic-billing-header: cc_version=2.1" },
      { type: "text", text: "You are Claude Code.", cache_control: { type: "ephemeral" } },
    ],
    messages: [{
      role: "user",
      content: [{ type: "text", text: "<system-reminder>r</system-reminder>" }, { type: "text", text: "hi" }],
    }],
    tools: [
      {
        name: "Bash",
        description: "Run a command",
        input_schema: { type: "object", properties: { command: { type: "string" } } },
      },
      { type: "web_search_20250305", name: "web_search", max_uses: 5 },
    ],
    tool_choice: { type: "any", disable_parallel_tool_use: true },
    stop_sequences: ["\n\nHuman:"],
    temperature: 1,
    top_k: 5,
    metadata: { user_id: "user_abc" },
    thinking: { type: "adaptive" },
    stream: true,
  }, { ...OPTIONS, maxTokensField: "max_completion_tokens" });
  assert.deepEqual(chat, {
    model: "gpt-4.1",
    messages: [
      { role: "system", content: "x-anthropic-billing-header: cc_version=2.1\nYou are Claude Code." },
      {
        role: "user",
        content: [{ type: "text", text: "<system-reminder>r</system-reminder>" }, {
          type: "text",
          text: "hi",
        }],
      },
    ],
    max_completion_tokens: 32000,
    stop: ["\n\nHuman:"],
    temperature: 1,
    tools: [{
      type: "function",
      function: {
        name: "Bash",
        description: "Run a command",
        parameters: { type: "object", properties: { command: { type: "string" } } },
      },
    }],
    tool_choice: "required",
    parallel_tool_calls: false,
    stream: true,
    stream_options: { include_usage: true },
  });
});

Deno.test("history: tool results lead their turn as tool messages, thinking goes as reasoning_content, ids map back", () => {
  const chat = chatRequestFor({
    model: "m",
    max_tokens: 100,
    messages: [
      { role: "user", content: "weather?" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "unsigned", signature: "" },
          { type: "redacted_thinking", data: "xyz" },
          { type: "text", text: "Checking" },
          { type: "text", text: " now." },
          {
            type: "tool_use",
            id: "toolu_oa_ZnVuY3Rpb25zLmdldF93ZWF0aGVyOjA",
            name: "get_weather",
            input: { city: "Paris" },
          },
          { type: "tool_use", id: "call_2", name: "get_time", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "text", text: "here you go" },
          {
            type: "tool_result",
            tool_use_id: "toolu_oa_ZnVuY3Rpb25zLmdldF93ZWF0aGVyOjA",
            content: [{ type: "text", text: "sunny" }, {
              type: "image",
              source: { type: "base64", media_type: "image/png", data: "iVBO" },
            }],
          },
          { type: "tool_result", tool_use_id: "call_2", content: "no clock", is_error: true },
        ],
      },
      { role: "assistant", content: [{ type: "thinking", thinking: "only thinking", signature: "sig" }] },
    ],
  }, OPTIONS);
  assert.deepEqual(chat.messages, [
    { role: "user", content: "weather?" },
    {
      role: "assistant",
      content: "Checking now.",
      reasoning_content: "unsigned",
      tool_calls: [
        {
          id: "functions.get_weather:0",
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Paris"}' },
        },
        { id: "call_2", type: "function", function: { name: "get_time", arguments: "{}" } },
      ],
    },
    { role: "tool", tool_call_id: "functions.get_weather:0", content: "sunny" },
    { role: "tool", tool_call_id: "call_2", content: "Error: no clock" },
    {
      role: "user",
      content: [{ type: "text", text: "here you go" }, {
        type: "image_url",
        image_url: { url: "data:image/png;base64,iVBO" },
      }],
    },
  ]);
  assert.equal(chat.max_tokens, 100);
});

Deno.test("thinking with a budget maps to reasoning_effort; images and documents keep their data", () => {
  const effort = (budget_tokens: number) =>
    chatRequestFor({ model: "m", messages: [], thinking: { type: "enabled", budget_tokens } }, OPTIONS)
      .reasoning_effort;
  assert.deepEqual([effort(1024), effort(10_000), effort(31_999)], ["low", "medium", "high"]);
  const chat = chatRequestFor({
    model: "m",
    messages: [{
      role: "user",
      content: [
        { type: "image", source: { type: "url", url: "https://example.com/a.png" } },
        {
          type: "document",
          source: { type: "base64", media_type: "application/pdf", data: "JVBE" },
          title: "a.pdf",
        },
        { type: "document", source: { type: "text", media_type: "text/plain", data: "plain" } },
      ],
    }],
  }, OPTIONS);
  assert.deepEqual(chat.messages, [{
    role: "user",
    content: [
      { type: "image_url", image_url: { url: "https://example.com/a.png" } },
      { type: "file", file: { file_data: "data:application/pdf;base64,JVBE", filename: "a.pdf" } },
      { type: "text", text: "plain" },
    ],
  }]);
});

Deno.test("documents of content blocks go as their text and images; media Chat Completions cannot take are refused", () => {
  const user = (content: unknown[]) => ({ model: "m", messages: [{ role: "user", content }] });
  const chat = chatRequestFor(
    user([{
      type: "document",
      source: {
        type: "content",
        content: [
          { type: "text", text: "Q3 revenue was 12M." },
          { type: "image", source: { type: "url", url: "https://example.com/chart.png" } },
        ],
      },
    }, { type: "text", text: "Summarise." }]),
    OPTIONS,
  );
  assert.deepEqual(chat.messages, [{
    role: "user",
    content: [
      { type: "text", text: "Q3 revenue was 12M." },
      { type: "image_url", image_url: { url: "https://example.com/chart.png" } },
      { type: "text", text: "Summarise." },
    ],
  }]);
  const refused: [unknown[], RegExp][] = [
    [
      [{ type: "text", text: "read" }, {
        type: "document",
        source: { type: "url", url: "https://e.com/r.pdf" },
      }],
      /^messages\.0\.content\.1\.source: a document of source type "url" cannot be sent to an OpenAI-compatible upstream/,
    ],
    [
      [{ type: "image", source: { type: "file", file_id: "file_011CNha8iCJcU1wXNR6q4V8w" } }],
      /^messages\.0\.content\.0\.source: an image of source type "file" cannot be sent .*, which takes base64 data or a URL$/,
    ],
    [
      [{
        type: "tool_result",
        tool_use_id: "toolu_1",
        content: [{ type: "text", text: "x" }, { type: "image", source: { type: "file", file_id: "f" } }],
      }],
      /^messages\.0\.content\.0\.content\.1\.source: an image of source type "file"/,
    ],
    [
      [{
        type: "document",
        source: { type: "content", content: [{ type: "document", source: { type: "file" } }] },
      }],
      /^messages\.0\.content\.0\.source\.content\.0\.source: a document/,
    ],
  ];
  for (const [content, message] of refused) {
    assert.throws(() => chatRequestFor(user(content), OPTIONS), (error: Error) => {
      assert.ok(error instanceof AnthropicToChatError);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("search results keep their title, source and content as text, in a turn and in a tool result", () => {
  const result = {
    type: "search_result",
    source: "https://example.com/clock",
    title: "Clock",
    content: [{ type: "text", text: "It is noon." }, { type: "text", text: "In Paris." }],
    citations: { enabled: true },
  };
  const chat = chatRequestFor({
    model: "m",
    messages: [
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_01A", name: "time", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01A", content: [result] }] },
      {
        role: "user",
        content: [{ ...result, title: "", content: [{ type: "text", text: "Only context." }] }],
      },
    ],
  }, OPTIONS);
  const text = "Clock\nhttps://example.com/clock\n\nIt is noon.\nIn Paris.";
  assert.deepEqual(chat.messages, [
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "toolu_01A", type: "function", function: { name: "time", arguments: "{}" } }],
    },
    { role: "tool", tool_call_id: "toolu_01A", content: text },
    { role: "user", content: "https://example.com/clock\n\nOnly context." },
  ]);
  const empty = chatRequestFor({
    model: "m",
    messages: [{
      role: "user",
      content: [{ type: "search_result", content: [] }, { type: "text", text: "q" }],
    }],
  }, OPTIONS);
  assert.deepEqual(empty.messages, [{ role: "user", content: "q" }], "no empty part");
  // An empty text is the client's: the turn stays, so the conversation does not end on the assistant.
  const emptyTurn = chatRequestFor({
    model: "m",
    messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "yo" }, {
      role: "user",
      content: [{ type: "text", text: "" }],
    }],
  }, OPTIONS);
  assert.deepEqual(emptyTurn.messages, [
    { role: "user", content: "hi" },
    { role: "assistant", content: "yo" },
    { role: "user", content: "" },
  ]);
});

Deno.test("structured output (output_config.format, or the beta's output_format) becomes a response_format", () => {
  const schema = { type: "object", properties: { name: { type: "string" } }, required: ["name"] };
  const expected = { type: "json_schema", json_schema: { name: "output", schema } };
  const user = [{ role: "user", content: "a person" }];
  for (
    const fields of [
      { output_config: { format: { type: "json_schema", schema } } },
      { output_config: { effort: "high", format: { type: "json_schema", schema } } },
      { output_format: { type: "json_schema", schema } },
      { output_config: { effort: "high" }, output_format: { type: "json_schema", schema } },
    ]
  ) {
    assert.deepEqual(
      chatRequestFor({ model: "m", messages: user, ...fields }, OPTIONS).response_format,
      expected,
    );
  }
  for (
    const fields of [{}, { output_config: { effort: "low" } }, {
      output_config: { format: { type: "text" } },
    }]
  ) {
    assert.equal(
      chatRequestFor({ model: "m", messages: user, ...fields }, OPTIONS).response_format,
      undefined,
    );
  }
});

Deno.test("what Chat Completions cannot carry is refused as a 400", () => {
  assert.throws(() => chatRequestFor({ model: "m", messages: "hi" }, OPTIONS), AnthropicToChatError);
  assert.throws(
    () => chatRequestFor({ model: "m", messages: [{ role: "tool", content: "x" }] }, OPTIONS),
    /messages\.0: expected a user, assistant or system message/,
  );
});

/** The roles of a Chat Completions body's messages, in order. */
function rolesOf(chat: Record<string, unknown>): unknown[] {
  return (chat.messages as { role: unknown }[]).map((message) => message.role);
}

const REMINDER = (text: string) => ({ type: "text", text: `<system-reminder>\n${text}\n</system-reminder>` });

Deno.test("Claude Code's first request, [user, system]: its environment joins the user turn as a system reminder", () => {
  // The shape of Claude Code 2.1.328's first request (texts shortened): the `# Environment` block is a
  // system message after the first user turn, the last message of the request.
  const attribution = "<system-reminder>\nAttribution for git commits ...\n</system-reminder>\n";
  const environment =
    "# Environment\nYou have been invoked in the following environment: \n - Platform: linux\n\n" +
    "Today's date is 2026-11-27.";
  const chat = chatRequestFor({
    model: "claude-opus-5-5",
    max_tokens: 128000,
    system: [
      { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.328.593; cc_entrypoint=sdk-cli;" },
      { type: "text", text: "You are a Claude agent, built on Anthropic's Claude Agent SDK." },
    ],
    messages: [
      { role: "user", content: [{ type: "text", text: attribution }, { type: "text", text: "say hi" }] },
      {
        role: "system",
        content: [{ type: "text", text: environment, cache_control: { type: "ephemeral" } }],
      },
    ],
    thinking: { type: "adaptive", display: "omitted" },
    stream: true,
  }, OPTIONS);
  assert.deepEqual(chat.messages, [
    {
      role: "system",
      content: "x-anthropic-billing-header: cc_version=2.1.328.593; cc_entrypoint=sdk-cli;\n" +
        "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
    },
    {
      role: "user",
      content: [{ type: "text", text: attribution }, { type: "text", text: "say hi" }, REMINDER(environment)],
    },
  ]);
});

Deno.test("a system message between turns joins the next user turn, after its tool messages, which still follow the tool calls", () => {
  const chat = chatRequestFor({
    model: "m",
    system: "Be brief.",
    messages: [
      { role: "user", content: "list files" },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "call_1", name: "Bash", input: { command: "ls" } }],
      },
      { role: "system", content: [{ type: "text", text: "The date is now 2026-11-26." }] },
      { role: "system", content: "Mode: plan." },
      { role: "system", content: [] },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "call_1", content: "a.txt" },
          { type: "text", text: "and now?" },
        ],
      },
    ],
  }, OPTIONS);
  assert.deepEqual(chat.messages, [
    { role: "system", content: "Be brief." },
    { role: "user", content: "list files" },
    {
      role: "assistant",
      content: null,
      tool_calls: [{
        id: "call_1",
        type: "function",
        function: { name: "Bash", arguments: '{"command":"ls"}' },
      }],
    },
    { role: "tool", tool_call_id: "call_1", content: "a.txt" },
    {
      role: "user",
      content: [REMINDER("The date is now 2026-11-26."), REMINDER("Mode: plan."), {
        type: "text",
        text: "and now?",
      }],
    },
  ]);

  // A turn of tool results alone gets a user message of its own after them, before the assistant answers.
  const resultsOnly = chatRequestFor({
    model: "m",
    messages: [
      { role: "user", content: "list files" },
      { role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "Bash", input: {} }] },
      { role: "system", content: "Mode: plan." },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "a.txt" }] },
      { role: "assistant", content: "a.txt" },
    ],
  }, OPTIONS);
  assert.deepEqual(rolesOf(resultsOnly), ["user", "assistant", "tool", "user", "assistant"]);
  assert.deepEqual((resultsOnly.messages as unknown[])[3], {
    role: "user",
    content: REMINDER("Mode: plan.").text,
  });
});

Deno.test("a system message last or before an assistant turn joins the user message before it, else is one of its own", () => {
  const trailing = chatRequestFor({
    model: "m",
    messages: [
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
      { role: "system", content: "Mode: plan." },
    ],
  }, OPTIONS);
  assert.deepEqual(trailing.messages, [
    { role: "user", content: "hi" },
    { role: "assistant", content: "hello" },
    { role: "user", content: REMINDER("Mode: plan.").text },
  ]);

  const beforeAssistant = chatRequestFor({
    model: "m",
    messages: [
      { role: "user", content: "hi" },
      { role: "system", content: "Mode: plan." },
      { role: "assistant", content: "hello" },
      { role: "user", content: "bye" },
      { role: "system", content: "Mode: act." },
    ],
  }, OPTIONS);
  assert.deepEqual(beforeAssistant.messages, [
    { role: "user", content: [{ type: "text", text: "hi" }, REMINDER("Mode: plan.")] },
    { role: "assistant", content: "hello" },
    { role: "user", content: [{ type: "text", text: "bye" }, REMINDER("Mode: act.")] },
  ]);

  // After tool results alone, the reminder cannot join them: a user message follows them.
  const afterResults = chatRequestFor({
    model: "m",
    messages: [
      { role: "user", content: "list files" },
      { role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "Bash", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "a.txt" }] },
      { role: "system", content: "Mode: plan." },
    ],
  }, OPTIONS);
  assert.deepEqual(rolesOf(afterResults), ["user", "assistant", "tool", "user"]);
});

Deno.test("system messages before the first turn join the leading system message; reminders are not wrapped twice", () => {
  const leading = chatRequestFor({
    model: "m",
    system: "Be brief.",
    messages: [
      { role: "system", content: "Mode: plan." },
      { role: "system", content: [{ type: "text", text: "Today is Friday." }] },
      { role: "user", content: "hi" },
    ],
  }, OPTIONS);
  assert.deepEqual(leading.messages, [
    { role: "system", content: "Be brief.\nMode: plan.\nToday is Friday." },
    { role: "user", content: "hi" },
  ]);
  const withoutSystem = chatRequestFor({
    model: "m",
    messages: [{ role: "system", content: "Mode: plan." }, { role: "user", content: "hi" }],
  }, OPTIONS);
  assert.deepEqual(withoutSystem.messages, [
    { role: "system", content: "Mode: plan." },
    { role: "user", content: "hi" },
  ]);

  const wrapped = "<system-reminder>\nThe user switched to plan mode.\n</system-reminder>\n";
  const chat = chatRequestFor({
    model: "m",
    messages: [
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
      { role: "system", content: wrapped },
      { role: "user", content: "go on" },
    ],
  }, OPTIONS);
  assert.deepEqual((chat.messages as unknown[]).at(-1), {
    role: "user",
    content: [{ type: "text", text: wrapped }, { type: "text", text: "go on" }],
  });
});

Deno.test("thinking goes back as reasoning_content to compatible servers (DeepSeek requires it in a tool loop), never to OpenAI", () => {
  const body = {
    model: "m",
    messages: [
      { role: "user", content: "list files" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "Let me ", signature: "" },
          { type: "text", text: "Listing." },
          { type: "thinking", thinking: "think.", signature: "" },
          { type: "tool_use", id: "call_1", name: "Bash", input: { command: "ls" } },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "a.txt" }] },
      {
        role: "assistant",
        content: [{ type: "redacted_thinking", data: "xyz" }, {
          type: "tool_use",
          id: "call_2",
          name: "Bash",
          input: {},
        }],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_2", content: "b.txt" }] },
      { role: "assistant", content: [{ type: "text", text: "Two files." }] },
      { role: "user", content: "thanks" },
      { role: "assistant", content: [{ type: "thinking", thinking: "Nothing to add.", signature: "" }] },
    ],
  };
  const reasoningOf = (chat: Record<string, unknown>) =>
    (chat.messages as Record<string, unknown>[]).filter((message) => message.role === "assistant")
      .map((message) => message.reasoning_content);

  const compatible = chatRequestFor(body, OPTIONS);
  // A turn of thinking alone is left out, and its reasoning with it; a turn without thinking sends none.
  assert.deepEqual(reasoningOf(compatible), ["Let me think.", "", undefined]);
  assert.equal("reasoning_content" in (compatible.messages as object[])[5], false);

  const openai = chatRequestFor(body, { ...OPTIONS, reasoningContent: false });
  assert.deepEqual(reasoningOf(openai), [undefined, undefined, undefined]);
});

Deno.test("an OpenAI request becomes Anthropic's: system hoisted, tool messages merged into one user turn", () => {
  const body = anthropicRequestFor({
    model: "claude-sonnet-4-5",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "developer", content: [{ type: "text", text: "Use tools." }] },
      {
        role: "user",
        content: [{ type: "text", text: "look" }, {
          type: "image_url",
          image_url: { url: "data:image/jpeg;base64,/9j/" },
        }],
      },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_a", type: "function", function: { name: "f", arguments: '{"x":1}' } },
          { id: "fc:b", type: "function", function: { name: "g", arguments: "" } },
        ],
      },
      { role: "tool", tool_call_id: "call_a", content: "one" },
      { role: "tool", tool_call_id: "fc:b", content: [{ type: "text", text: "two" }] },
      { role: "user", content: "and?" },
    ],
    max_completion_tokens: 500,
    stop: "END",
    temperature: 1.5,
    top_p: 0.9,
    user: "u-1",
    stream: true,
    tools: [{
      type: "function",
      function: { name: "f", parameters: { type: "object", properties: { x: { type: "number" } } } },
    }, { type: "function", function: { name: "g" } }],
    tool_choice: { type: "function", function: { name: "f" } },
    parallel_tool_calls: false,
    presence_penalty: 1,
    seed: 7,
  });
  assert.deepEqual(body, {
    model: "claude-sonnet-4-5",
    max_tokens: 500,
    system: "Be brief.\nUse tools.",
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "look" },
          { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/" } },
        ],
      },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: "call_a", name: "f", input: { x: 1 } },
          { type: "tool_use", id: "toolu_oa_ZmM6Yg", name: "g", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "call_a", content: "one" },
          { type: "tool_result", tool_use_id: "toolu_oa_ZmM6Yg", content: "two" },
          { type: "text", text: "and?" },
        ],
      },
    ],
    stream: true,
    stop_sequences: ["END"],
    temperature: 1, // top_p not beside it: Claude 4.5 and later refuse both
    metadata: { user_id: "u-1" },
    tools: [
      { name: "f", input_schema: { type: "object", properties: { x: { type: "number" } } } },
      { name: "g", input_schema: { type: "object", properties: {} } },
    ],
    tool_choice: { type: "tool", name: "f", disable_parallel_tool_use: true },
  });
});

Deno.test("OpenAI requests: defaults and refusals", () => {
  const minimal = anthropicRequestFor({ model: "m", messages: [{ role: "user", content: "hi" }] });
  assert.deepEqual(minimal, {
    model: "m",
    max_tokens: 4096,
    messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
  });
  const refused = (chat: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => anthropicRequestFor({ model: "m", messages: [], ...chat }),
      (error: unknown) => error instanceof ChatToAnthropicError && pattern.test(error.message),
    );
  refused({ n: 2 }, /^n: only 1 is supported$/);
  refused({ max_tokens: 0 }, /^max_tokens: expected a positive integer, got 0$/);
  refused(
    { messages: [{ role: "function", name: "f", content: "x" }] },
    /messages\[0\]\.role: unsupported role "function"/,
  );
  refused(
    { messages: [{ role: "user", content: [{ type: "input_audio", input_audio: {} }] }] },
    /messages\[0\]\.content\[0\]\.type: unsupported content part "input_audio"/,
  );
  refused({ tools: [{ type: "custom", custom: { name: "x" } }] }, /^tools\[0\]: expected/);
  // Deprecated function calling, answered in prose were it ignored.
  refused({ functions: [{ name: "f", parameters: {} }] }, /^functions: deprecated function calling is not/);
  refused({ function_call: "auto" }, /^function_call: deprecated function calling is not supported/);
  refused({ function_call: [] }, /^function_call: deprecated function calling is not supported/);
  assert.equal(
    anthropicRequestFor({ model: "m", messages: [{ role: "user", content: "hi" }], functions: [] }).tools,
    undefined,
    "none is none",
  );
  refused({ response_format: { type: "json_schema" } }, /^response_format\.json_schema: expected an object/);
});

Deno.test("OpenAI requests: empty text parts are dropped; a user message left empty is refused, naming it", () => {
  const history = [{ role: "user", content: "a" }, { role: "assistant", content: "b" }];
  const request = (content: unknown) =>
    anthropicRequestFor({ model: "m", messages: [...history, { role: "user", content }] });
  assert.deepEqual(request([{ type: "text", text: "" }, { type: "text", text: "hi" }]).messages, [
    { role: "user", content: [{ type: "text", text: "a" }] },
    { role: "assistant", content: [{ type: "text", text: "b" }] },
    { role: "user", content: [{ type: "text", text: "hi" }] },
  ]);
  const image = { type: "image_url", image_url: { url: "https://example.com/a.png" } };
  assert.deepEqual((request([{ type: "text", text: "" }, image]).messages as unknown[]).at(-1), {
    role: "user",
    content: [{ type: "image", source: { type: "url", url: "https://example.com/a.png" } }],
  });
  // Dropped, the last turn would be the assistant's, which Anthropic continues instead of answering.
  for (const content of ["", " \n", [{ type: "text", text: "" }], [{ type: "text", text: "\t" }], []]) {
    assert.throws(() => request(content), (error: unknown) => {
      assert.ok(error instanceof ChatToAnthropicError);
      assert.equal(error.param, "messages[2].content");
      assert.equal(
        error.message,
        "messages[2].content: a user message must not be empty or blank (Anthropic refuses text without non-whitespace characters)",
      );
      return true;
    }, JSON.stringify(content));
  }
  // Dropped between two assistant messages, it would make one turn of them.
  assert.throws(
    () =>
      anthropicRequestFor({ model: "m", messages: [...history, { role: "user", content: "" }, history[1]] }),
    /^ChatToAnthropicError: messages\[2\]\.content: a user message must not be empty/,
  );
});

Deno.test("OpenAI requests: a JSON schema response_format becomes structured output; other formats are ignored", () => {
  // What zod 4 makes of `z.object({ name: z.string().min(1), age: z.number().int(), … })`.
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "object",
    properties: {
      name: { type: "string", minLength: 1 },
      age: { type: "integer", minimum: -9007199254740991, maximum: 9007199254740991 },
      address: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      tags: { minItems: 3, type: "array", items: { type: "string", format: "email" } },
    },
    required: ["name", "age", "address", "tags"],
    additionalProperties: false,
  };
  const request = (response_format: unknown) =>
    anthropicRequestFor({ model: "m", messages: [{ role: "user", content: "a person" }], response_format });
  const output = (schema: unknown) =>
    request({ type: "json_schema", json_schema: { name: "person", schema, strict: true } }).output_config;
  // Anthropic refuses these keywords: they move into descriptions, as Anthropic's SDK sends them.
  assert.deepEqual(output(schema), {
    format: {
      type: "json_schema",
      schema: {
        type: "object",
        properties: {
          name: { type: "string", description: "{minLength: 1}" },
          age: { type: "integer", description: "{minimum: -9007199254740991, maximum: 9007199254740991}" },
          address: {
            type: "object",
            properties: { city: { type: "string" } },
            additionalProperties: false,
            required: ["city"],
          },
          tags: { type: "array", items: { type: "string", format: "email" }, description: "{minItems: 3}" },
        },
        additionalProperties: false,
        required: ["name", "age", "address", "tags"],
      },
    },
  });
  // The SDK cannot transform a level without a type (zod's `z.any()`): it goes as given.
  const untyped = { type: "object", properties: { any: {}, n: { type: "integer", minimum: 0 } } };
  assert.deepEqual(output(untyped), { format: { type: "json_schema", schema: untyped } });
  for (
    const ignored of [{ type: "json_object" }, { type: "text" }, null, {
      type: "json_schema",
      json_schema: { name: "x" },
    }]
  ) {
    assert.equal(request(ignored).output_config, undefined, JSON.stringify(ignored));
  }
});

Deno.test("OpenAI requests: null stands for a field left out, as OpenAI's API takes it", () => {
  const fields = [
    "stream",
    "stream_options",
    "stop",
    "temperature",
    "top_p",
    "user",
    "max_tokens",
    "max_completion_tokens",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "n",
    "response_format",
    "functions",
    "function_call",
  ];
  assert.deepEqual(
    anthropicRequestFor({
      model: "m",
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: null, tool_calls: null },
      ],
      ...Object.fromEntries(fields.map((field) => [field, null])),
    }),
    {
      model: "m",
      max_tokens: 4096,
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
    },
  );
});
