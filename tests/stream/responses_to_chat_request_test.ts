import assert from "node:assert/strict";
import { ChatToAnthropicError } from "../../src/stream/openai_request_fields.ts";
import { chatRequestForResponses, responsesParamFor } from "../../src/stream/responses_to_chat_request.ts";
import { anthropicRequestFor } from "../../src/stream/openai_to_anthropic_request.ts";
import { encryptedThinking } from "../../src/stream/thinking_items.ts";

const PARAMETERS = { type: "object", properties: { cmd: { type: "string" } }, required: ["cmd"] };

Deno.test("a Codex request: developer messages, history with a call and its output, reasoning dropped", () => {
  const { chat, tools, sources } = chatRequestForResponses({
    model: "claude-sonnet-4-5",
    instructions: "",
    input: [
      { type: "message", role: "developer", content: [{ type: "input_text", text: "You are Codex." }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "run ls" }] },
      { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAAA" },
      {
        type: "message",
        role: "assistant",
        content: [{ type: "output_text", text: "Running.", annotations: [] }],
      },
      {
        type: "function_call",
        id: "fc_1",
        status: "completed",
        name: "exec_command",
        arguments: '{"cmd":"ls"}',
        call_id: "call_1",
      },
      { type: "function_call_output", id: "fco_1", call_id: "call_1", output: "a.txt\n" },
    ],
    tools: [
      {
        type: "function",
        name: "exec_command",
        description: "Runs a command",
        strict: false,
        parameters: PARAMETERS,
      },
      { type: "web_search", external_web_access: false },
    ],
    tool_choice: "auto",
    parallel_tool_calls: true,
    reasoning: { summary: "auto" },
    store: false,
    stream: true,
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: "thread-1",
    client_metadata: { thread_id: "thread-1" },
  });
  assert.deepEqual(chat, {
    model: "claude-sonnet-4-5",
    messages: [
      { role: "developer", content: [{ type: "text", text: "You are Codex." }] },
      { role: "user", content: [{ type: "text", text: "run ls" }] },
      { role: "assistant", content: [{ type: "text", text: "Running." }] },
      {
        role: "assistant",
        content: null,
        tool_calls: [{
          id: "call_1",
          type: "function",
          function: { name: "exec_command", arguments: '{"cmd":"ls"}' },
        }],
      },
      { role: "tool", tool_call_id: "call_1", content: "a.txt\n" },
    ],
    tools: [{
      type: "function",
      function: { name: "exec_command", description: "Runs a command", parameters: PARAMETERS },
    }],
    tool_choice: "auto",
    stream: true,
    parallel_tool_calls: true,
  });
  assert.deepEqual([...tools], [["exec_command", { name: "exec_command", custom: false }]]);
  assert.deepEqual(sources, ["input[0]", "input[1]", "input[3]", "input[4]", "input[5].output"]);
});

Deno.test("instructions, a string input and the sampling fields map to their chat names", () => {
  const { chat, sources } = chatRequestForResponses({
    model: "m",
    instructions: "Be brief.",
    input: "hi",
    max_output_tokens: 100,
    temperature: 0.5,
    top_p: 0.9,
    user: "u1",
    text: { format: { type: "json_schema", name: "answer", schema: { type: "object" }, strict: true } },
  });
  assert.deepEqual(chat, {
    model: "m",
    messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }],
    temperature: 0.5,
    top_p: 0.9,
    user: "u1",
    max_tokens: 100,
    response_format: {
      type: "json_schema",
      json_schema: { name: "answer", schema: { type: "object" }, strict: true },
    },
  });
  assert.deepEqual(sources, ["instructions", "input"]);
});

Deno.test("namespace tools become <namespace>__<name> functions, and calls in the history use the same name", () => {
  const { chat, tools } = chatRequestForResponses({
    model: "m",
    input: [
      { type: "function_call", namespace: "agents", name: "spawn", arguments: "{}", call_id: "call_9" },
    ],
    tools: [{
      type: "namespace",
      name: "agents",
      description: "Sub-agents",
      tools: [{ type: "function", name: "spawn", parameters: { type: "object", properties: {} } }],
    }],
    tool_choice: { type: "function", name: "spawn" },
  });
  assert.deepEqual(chat.tools, [{
    type: "function",
    function: { name: "agents__spawn", parameters: { type: "object", properties: {} } },
  }]);
  assert.deepEqual(chat.tool_choice, { type: "function", function: { name: "agents__spawn" } });
  assert.deepEqual(chat.messages[0].tool_calls, [
    { id: "call_9", type: "function", function: { name: "agents__spawn", arguments: "{}" } },
  ]);
  assert.deepEqual(tools.get("agents__spawn"), { name: "spawn", namespace: "agents", custom: false });
});

Deno.test("a custom tool is a function of one string, its grammar in the description; its calls carry {input}", () => {
  const { chat, tools } = chatRequestForResponses({
    model: "m",
    input: [
      { type: "custom_tool_call", name: "apply_patch", input: "*** Begin Patch", call_id: "call_2" },
      { type: "custom_tool_call_output", call_id: "call_2", output: "Done" },
    ],
    tools: [{
      type: "custom",
      name: "apply_patch",
      description: "Edit files.",
      format: { type: "grammar", syntax: "lark", definition: "start: /.+/" },
    }],
  });
  assert.deepEqual(chat.tools, [{
    type: "function",
    function: {
      name: "apply_patch",
      description: "Edit files.\n\nThe input must follow this lark grammar:\nstart: /.+/",
      parameters: {
        type: "object",
        properties: { input: { type: "string", description: "The tool's free-form input." } },
        required: ["input"],
      },
    },
  }]);
  assert.deepEqual(chat.messages, [
    {
      role: "assistant",
      content: null,
      tool_calls: [{
        id: "call_2",
        type: "function",
        function: { name: "apply_patch", arguments: '{"input":"*** Begin Patch"}' },
      }],
    },
    { role: "tool", tool_call_id: "call_2", content: "Done" },
  ]);
  assert.deepEqual(tools.get("apply_patch"), { name: "apply_patch", custom: true });
});

Deno.test("images: in a user message as image parts, in a tool's output in its own tool message", () => {
  const image = "data:image/png;base64,iVBORw0KGgo=";
  const { chat, sources } = chatRequestForResponses({
    model: "m",
    input: [
      {
        role: "user",
        content: [{ type: "input_text", text: "see" }, { type: "input_image", image_url: image }],
      },
      {
        type: "function_call_output",
        call_id: "call_3",
        output: [{ type: "input_text", text: "the image:" }, { type: "input_image", image_url: image }],
      },
    ],
  });
  const part = { type: "image_url", image_url: { url: image } };
  assert.deepEqual(chat.messages, [
    { role: "user", content: [{ type: "text", text: "see" }, part] },
    { role: "tool", tool_call_id: "call_3", content: [{ type: "text", text: "the image:" }, part] },
  ]);
  assert.deepEqual(sources, ["input[0]", "input[1].output"]);
});

Deno.test("null stands for a part's field left out, as OpenAI's API takes it", () => {
  const parts = (content: unknown[]) =>
    chatRequestForResponses({ model: "m", input: [{ role: "user", content }] }).chat.messages[0].content;
  assert.deepEqual(
    parts([{ type: "input_file", file_url: "https://example.com/a.pdf", file_data: null }]),
    [{ type: "file", file: { file_data: "https://example.com/a.pdf" } }],
  );
  assert.throws(
    () => parts([{ type: "input_image", image_url: null, file_id: "file_1" }]),
    (error: unknown) =>
      error instanceof ChatToAnthropicError && error.param === "input[0].content[0].file_id" &&
      /relay has no file storage: send image_url/.test(error.message),
  );
  assert.throws(
    () => parts([{ type: "input_file", file_data: null, file_url: null, file_id: "file_1" }]),
    (error: unknown) =>
      error instanceof ChatToAnthropicError && error.param === "input[0].content[0].file_id" &&
      /relay has no file storage: send file_url/.test(error.message),
  );
});

Deno.test("hosted tools are dropped; a tool of another type, or none, is refused", () => {
  const offered = (tools: unknown[]) =>
    chatRequestForResponses({ model: "m", input: "hi", tools }).chat.tools;
  const hosted = [
    "web_search",
    "web_search_preview",
    "file_search",
    "computer",
    "computer_use_preview",
    "mcp",
    "code_interpreter",
    "image_generation",
    "local_shell",
    "shell",
    "apply_patch",
    "tool_search",
  ];
  assert.equal(offered(hosted.map((type) => ({ type }))), undefined);
  for (
    const [tool, message] of [
      [{ name: "f", parameters: { type: "object" } }, /^tools\[1\]\.type: expected a string, got nothing$/],
      [{ type: "functions", name: "f" }, /^tools\[1\]\.type: unsupported tool type "functions"/],
    ] as const
  ) {
    assert.throws(
      () => offered([{ type: "web_search" }, tool]),
      (error: unknown) =>
        error instanceof ChatToAnthropicError && error.param === "tools[1].type" &&
        message.test(error.message),
    );
  }
});

Deno.test("a tool_choice that forces a call of no offered tool is refused, as the upstream would ignore it", () => {
  const choose = (tool_choice: unknown, tools: unknown[] = []) =>
    chatRequestForResponses({ model: "m", input: "hi", tool_choice, tools }).chat;
  const f = { type: "function", name: "f", parameters: { type: "object" } };
  for (
    const [choice, tools] of [
      ["required", []],
      ["required", [{ type: "web_search" }]],
      [{ type: "function", name: "f" }, []],
      [{ type: "function", name: "g" }, [f]],
      [{ type: "custom", name: "f" }, [{ type: "web_search" }]],
      [{ type: "allowed_tools", mode: "required", tools: [{ type: "function", name: "g" }] }, [f]],
    ] as const
  ) {
    assert.throws(
      () => choose(choice, [...tools]),
      (error: unknown) =>
        error instanceof ChatToAnthropicError && error.param === "tool_choice" &&
        /forces a tool call, but no tool it allows is offered/.test(error.message),
      JSON.stringify([choice, tools]),
    );
  }
  assert.equal(choose("required", [f]).tool_choice, "required");
  assert.deepEqual(choose({ type: "function", name: "f" }, [f]).tool_choice, {
    type: "function",
    function: { name: "f" },
  });
  // Nothing forced: with no tool to call, the model answers as it would.
  assert.equal(choose("auto").tools, undefined);
  assert.equal(choose({ type: "allowed_tools", mode: "auto", tools: [] }, [f]).tools, undefined);
});

Deno.test("a structured output's schema is text.format's own; response_format, the chat door's, is refused", () => {
  const format = (text: unknown) =>
    chatRequestForResponses({ model: "m", input: "hi", text }).chat.response_format;
  const schema = { type: "object" };
  assert.deepEqual(format({ format: { type: "json_schema", name: "x", schema, strict: true } }), {
    type: "json_schema",
    json_schema: { name: "x", schema, strict: true },
  });
  const refused = (request: Record<string, unknown>, param: string, message: RegExp) =>
    assert.throws(
      () => chatRequestForResponses({ model: "m", input: "hi", ...request }),
      (error: unknown) =>
        error instanceof ChatToAnthropicError && error.param === param && message.test(error.message),
    );
  refused(
    { text: { format: { type: "json_schema", name: "x" } } },
    "text.format.schema",
    /^text\.format\.schema: expected an object, got nothing$/,
  );
  refused(
    { text: { format: { type: "json_schema", json_schema: { name: "x", schema } } } },
    "text.format.schema",
    /got nothing \(text\.format holds name, schema and strict itself, not in a json_schema member\)$/,
  );
  refused(
    { response_format: { type: "json_schema", json_schema: { name: "x", schema } } },
    "response_format",
    /takes the answer's format in text\.format/,
  );
  assert.equal(format({ format: { type: "text" } }), undefined);
  assert.doesNotThrow(() => chatRequestForResponses({ model: "m", input: "hi", response_format: null }));
});

Deno.test("allowed_tools offers only the tools it lists", () => {
  const { chat } = chatRequestForResponses({
    model: "m",
    input: "hi",
    tools: [
      { type: "function", name: "a", parameters: { type: "object" } },
      { type: "function", name: "b", parameters: { type: "object" } },
    ],
    tool_choice: { type: "allowed_tools", mode: "required", tools: [{ type: "function", name: "b" }] },
  });
  assert.deepEqual(chat.tools, [{
    type: "function",
    function: { name: "b", parameters: { type: "object" } },
  }]);
  assert.equal(chat.tool_choice, "required");
});

Deno.test("what relay cannot honour is refused, naming the Responses field", () => {
  const refused = (request: Record<string, unknown>, param: string, message: RegExp) =>
    assert.throws(
      () => chatRequestForResponses({ model: "m", input: "hi", ...request }),
      (error: unknown) =>
        error instanceof ChatToAnthropicError && error.param === param && message.test(error.message),
    );
  refused({ previous_response_id: "resp_1" }, "previous_response_id", /send the whole conversation in input/);
  refused({ conversation: "conv_1" }, "conversation", /relay stores no responses/);
  refused(
    { input: [{ type: "item_reference", id: "msg_1" }] },
    "input[0]",
    /each item itself \(not an item_reference\)/,
  );
  refused({ background: true }, "background", /foreground only/);
  refused({ input: [{ type: "web_search_call", id: "ws_1" }] }, "input[0].type", /"web_search_call"/);
  refused({ input: [{ role: "tool", content: "x" }] }, "input[0].role", /unsupported role "tool"/);
  refused(
    { input: [{ role: "user", content: [{ type: "input_image", file_id: "file_1" }] }] },
    "input[0].content[0].file_id",
    /no file storage: send image_url/,
  );
  refused(
    { input: [{ type: "function_call", name: "f", call_id: "c" }] },
    "input[0].arguments",
    /got nothing/,
  );
  refused({ input: 3 }, "input", /expected a string or an array of items, got 3/);
  refused({ tool_choice: "sometimes" }, "tool_choice", /got "sometimes"/);
  refused(
    { input: [{ role: "user", content: [{ text: "hi" }] }] },
    "input[0].content[0].type",
    /^input\[0\]\.content\[0\]\.type: expected a string, got nothing$/,
  );
  refused(
    {
      input: [
        { type: "function_call", call_id: "c", name: "f", arguments: "{}" },
        { type: "function_call_output", call_id: "c", output: [{ type: "refusal", refusal: "no" }] },
      ],
    },
    "input[1].output[0].type",
    /unsupported content part "refusal" in a tool's output/,
  );
  // Absent or null: nothing stored is referred to.
  assert.doesNotThrow(() => chatRequestForResponses({ model: "m", input: "hi", previous_response_id: null }));
});

Deno.test("the chat translation's field names are told as the Responses request's", () => {
  const sources = ["instructions", "input[0]", "input[2]"];
  assert.equal(responsesParamFor("messages[2].content[1].type", sources), "input[2].content[1].type");
  assert.equal(responsesParamFor("messages[0].content", sources), "instructions");
  assert.equal(responsesParamFor("messages[0].content", ["input"]), "input", "a string input");
  // A part's URL or data as a Responses part holds it; a tool message's content as the tool's output.
  assert.equal(
    responsesParamFor("messages[1].content[0].file.file_data", sources),
    "input[0].content[0].file_data",
  );
  assert.equal(
    responsesParamFor("messages[0].content[2].image_url.url", ["input[4].output"]),
    "input[4].output[2].image_url",
  );
  assert.equal(responsesParamFor("max_tokens", sources), "max_output_tokens");
  assert.equal(responsesParamFor("messages", sources), "input", "no message at all");
  assert.equal(responsesParamFor("response_format.json_schema.schema", sources), "text.format.schema");
  assert.equal(responsesParamFor("temperature", sources), "temperature");
});

Deno.test("an error the chat translation finds in a tool's output names the output's part", () => {
  const { chat, sources } = chatRequestForResponses({
    model: "m",
    input: [
      { type: "function_call", call_id: "c", name: "read", arguments: "{}" },
      {
        type: "function_call_output",
        call_id: "c",
        output: [{ type: "input_text", text: "a.txt:" }, {
          type: "input_file",
          file_data: "data:text/plain;base64,!!",
        }],
      },
    ],
  });
  assert.throws(
    () => anthropicRequestFor(chat),
    (error: unknown) =>
      error instanceof ChatToAnthropicError &&
      responsesParamFor(error.param, sources) === "input[1].output[1].file_data",
  );
});

Deno.test("reasoning: relay's own items carry their thinking back; reasoning.effort is the chat's reasoning_effort", () => {
  const block = { type: "thinking", thinking: "Call it.", signature: "EqSig" };
  const { chat } = chatRequestForResponses({
    model: "m",
    reasoning: { effort: "high", summary: "auto" },
    input: [
      { role: "user", content: "go" },
      { type: "reasoning", id: "rs_1", summary: [], encrypted_content: encryptedThinking(block, "m") },
      { type: "reasoning", id: "rs_2", summary: [], encrypted_content: "gAAAAopenai" },
      { type: "function_call", name: "f", arguments: "{}", call_id: "call_1" },
    ],
  });
  assert.equal(chat.reasoning_effort, "high");
  assert.deepEqual(chat.messages.slice(1).map((message) => Object.keys(message)), [
    ["role", "content", "thinking_blocks"],
    ["role", "content", "tool_calls"],
  ], "OpenAI's own reasoning is dropped");
  assert.deepEqual(chat.messages[1].thinking_blocks, [block]);
  for (const [reasoning, param] of [["high", "reasoning"], [{ effort: 3 }, "reasoning.effort"]] as const) {
    assert.throws(
      () => chatRequestForResponses({ model: "m", input: "hi", reasoning }),
      (error) => error instanceof ChatToAnthropicError && error.param === param,
    );
  }
  assert.equal(responsesParamFor("reasoning_effort", []), "reasoning.effort");
});

Deno.test("the fields relay leaves to OpenAI are still checked for their type, and null stands for absent", () => {
  const wrong: [string, unknown][] = [
    ["store", "x"],
    ["include", "reasoning.encrypted_content"],
    ["metadata", 5],
    ["truncation", 5],
    ["service_tier", false],
    ["client_metadata", []],
    ["prompt_cache_key", false],
    ["safety_identifier", 1],
    ["background", "yes"],
    ["reasoning", "high"],
  ];
  for (const [field, value] of wrong) {
    assert.throws(
      () => chatRequestForResponses({ model: "m", input: "hi", [field]: value }),
      (error) => error instanceof ChatToAnthropicError && error.param === field,
      field,
    );
  }
  assert.throws(
    () => chatRequestForResponses({ model: "m", input: "hi", reasoning: { summary: 1 } }),
    (error) => error instanceof ChatToAnthropicError && error.param === "reasoning.summary",
  );
  const nulls = Object.fromEntries(wrong.map(([field]) => [field, null]));
  assert.equal(chatRequestForResponses({ model: "m", input: "hi", ...nulls }).chat.messages.length, 1);
});

Deno.test("what Codex kept of a failed answer goes no further: relay's items of one answer followed by another's, or ending the input", () => {
  const block = (id: string) => ({ type: "thinking", thinking: `Thought ${id}.`, signature: `Sig${id}` });
  const reasoning = (id: string) => ({
    type: "reasoning",
    id: `rs_${id}_0`,
    summary: [],
    encrypted_content: encryptedThinking(block(id), "m"),
  });
  const text = (id: string) => ({
    type: "message",
    role: "assistant",
    id: `msg_${id}_1`,
    content: [{ type: "output_text", text: `Answer ${id}.` }],
  });
  const call = (id: string) => ({
    type: "function_call",
    id: `fc_${id}_1`,
    name: "f",
    arguments: "{}",
    call_id: `call_${id}`,
  });
  const output = (id: string) => ({ type: "function_call_output", call_id: `call_${id}`, output: "ok" });
  const user = { role: "user", content: "go" };
  const assistantTurns = (input: unknown[]) =>
    chatRequestForResponses({ model: "m", input }).chat.messages.filter((message) =>
      message.role === "assistant"
    );
  assert.deepEqual(
    assistantTurns([user, reasoning("A"), text("A")]),
    [],
    "a failed answer's leftovers alone",
  );
  const retried = assistantTurns([user, reasoning("A"), text("A"), reasoning("B"), call("B"), output("B")]);
  assert.deepEqual(retried.map((message) => message.thinking_blocks ?? message.tool_calls), [
    [block("B")],
    [{ id: "call_B", type: "function", function: { name: "f", arguments: "{}" } }],
  ]);
  const loop = [user, reasoning("A"), call("A"), output("A"), reasoning("B"), text("B"), {
    role: "user",
    content: "more",
  }];
  assert.equal(assistantTurns(loop).length, 4, "a whole loop stays as it was");
  const cutAfterThinking = [user, reasoning("A"), { role: "user", content: "go on" }];
  assert.deepEqual(assistantTurns(cutAfterThinking), [], "a turn of thinking alone, its answer cut");
  const retryCut = [user, reasoning("A"), text("A"), reasoning("B"), { role: "user", content: "go on" }];
  assert.deepEqual(assistantTurns(retryCut), [], "a failed answer, then a retry cut after its thinking");
  const custom = (id: string) => ({
    type: "custom_tool_call",
    id: `ctc_${id}_1`,
    name: "apply_patch",
    input: "*** Begin Patch",
    call_id: `call_${id}`,
  });
  const customOutput = { type: "custom_tool_call_output", call_id: "call_B", output: "done" };
  assert.equal(
    assistantTurns([user, custom("A"), reasoning("B"), custom("B"), customOutput]).length,
    2,
    "a retried custom tool call: the first attempt's goes",
  );
  const developer = { role: "developer", content: "<permissions>workspace-write</permissions>" };
  assert.equal(
    assistantTurns([user, reasoning("A"), text("A"), developer, reasoning("B"), text("B"), user]).length,
    4,
    "a developer message between two answers ends the first one's turn",
  );
  const prefill = { role: "assistant", content: "Sure," };
  assert.deepEqual(
    assistantTurns([user, prefill]),
    [{ role: "assistant", content: "Sure," }],
    "a client's own prefill stays",
  );
});

Deno.test("thinking made for another model, before a switch of models, goes no further: its signature is that model's", () => {
  const block = { type: "thinking", thinking: "Call it.", signature: "EqSig" };
  const input = (model: string) => [
    { role: "user", content: "go" },
    { type: "reasoning", id: "rs_A_0", summary: [], encrypted_content: encryptedThinking(block, model) },
    { type: "function_call", id: "fc_A_1", name: "f", arguments: "{}", call_id: "call_1" },
    { type: "function_call_output", call_id: "call_1", output: "ok" },
  ];
  const thinking = (asked: string, made: string) =>
    chatRequestForResponses({ model: asked, input: input(made) }).chat.messages.some((message) =>
      message.thinking_blocks
    );
  assert.ok(thinking("claude-opus-4-7", "claude-opus-4-7"));
  assert.ok(!thinking("claude-sonnet-4-5", "claude-opus-4-7"), "after codex -m claude-sonnet-4-5");
});
