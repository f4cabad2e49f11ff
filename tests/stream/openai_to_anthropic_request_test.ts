/**
 * `openai_to_anthropic_request.ts`: what real OpenAI-style clients (OpenAI's SDK, the AI SDK, LangChain,
 * opencode) send that Anthropic refuses or would lose, as relay's front door sends it on.
 */
import assert from "node:assert/strict";
import { anthropicRequestFor } from "../../src/stream/openai_to_anthropic_request.ts";
import { ChatToAnthropicError } from "../../src/stream/openai_request_fields.ts";

const request = (chat: Record<string, unknown>) => anthropicRequestFor({ model: "m", messages: [], ...chat });

const EPHEMERAL = { type: "ephemeral" };

Deno.test("OpenAI requests: system messages alone are the user's turn, as Anthropic requires a turn", () => {
  assert.deepEqual(
    request({
      messages: [{ role: "system", content: "Tell a joke." }, {
        role: "developer",
        content: [{ type: "text", text: "Short." }],
      }],
    }),
    {
      model: "m",
      max_tokens: 4096,
      messages: [{
        role: "user",
        content: [{ type: "text", text: "Tell a joke." }, { type: "text", text: "Short." }],
      }],
    },
  );
});

Deno.test("OpenAI requests: no message to answer is relay's own 400 naming messages, not an upstream's", () => {
  for (
    const messages of [[], [{ role: "assistant", content: " " }], [{ role: "assistant", content: null }]]
  ) {
    assert.throws(
      () => request({ messages }),
      (error: unknown) =>
        error instanceof ChatToAnthropicError && error.param === "messages" &&
        error.message === "messages: at least one message is required",
      JSON.stringify(messages),
    );
  }
  assert.throws(() => request({ messages: [], temperature: "hot" }), /^ChatToAnthropicError: temperature:/);
});

Deno.test("OpenAI requests: cache_control on messages goes onto the last block each becomes, as opencode sends it", () => {
  const body = request({
    messages: [
      { role: "system", content: "You are OpenCode.", cache_control: EPHEMERAL },
      { role: "system", content: "Unmarked." },
      { role: "user", content: "Run echo", cache_control: { type: "ephemeral", ttl: "1h", extra: 1 } },
      {
        role: "assistant",
        content: "I'll run it.",
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "bash", arguments: "{}" } },
          { id: "call_2", type: "function", function: { name: "bash", arguments: "{}" } },
        ],
        cache_control: EPHEMERAL,
      },
      {
        role: "tool",
        tool_call_id: "call_1",
        content: "hello",
        cache_control: { type: "ephemeral", ttl: "5m" },
      },
    ],
  });
  assert.deepEqual(body.system, [
    { type: "text", text: "You are OpenCode.", cache_control: EPHEMERAL },
    { type: "text", text: "Unmarked." },
  ]);
  assert.deepEqual(body.messages, [
    {
      role: "user",
      // Its 1h after the system's 5m, which Anthropic refuses: 5 minutes too.
      content: [{ type: "text", text: "Run echo", cache_control: EPHEMERAL }],
    },
    {
      role: "assistant",
      content: [
        { type: "text", text: "I'll run it." },
        { type: "tool_use", id: "call_1", name: "bash", input: {} },
        { type: "tool_use", id: "call_2", name: "bash", input: {}, cache_control: EPHEMERAL },
      ],
    },
    {
      role: "user",
      content: [{
        type: "tool_result",
        tool_use_id: "call_1",
        content: "hello",
        cache_control: { type: "ephemeral", ttl: "5m" },
      }],
    },
  ]);
});

Deno.test("OpenAI requests: cache_control on content parts goes onto the block each becomes", () => {
  const body = request({
    messages: [
      {
        role: "system",
        content: [{ type: "text", text: "a" }, { type: "text", text: "b", cache_control: EPHEMERAL }],
      },
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: "https://example.com/a.png" }, cache_control: EPHEMERAL },
          { type: "text", text: "what is it?" },
        ],
      },
      { role: "assistant", content: [{ type: "text", text: "a cat", cache_control: EPHEMERAL }] },
      { role: "user", content: [{ type: "text", text: "sure?", cache_control: EPHEMERAL }] },
    ],
  });
  assert.deepEqual(body.system, [{ type: "text", text: "a" }, {
    type: "text",
    text: "b",
    cache_control: EPHEMERAL,
  }]);
  assert.deepEqual(body.messages, [
    {
      role: "user",
      content: [
        {
          type: "image",
          source: { type: "url", url: "https://example.com/a.png" },
          cache_control: EPHEMERAL,
        },
        { type: "text", text: "what is it?" },
      ],
    },
    { role: "assistant", content: [{ type: "text", text: "a cat", cache_control: EPHEMERAL }] },
    { role: "user", content: [{ type: "text", text: "sure?", cache_control: EPHEMERAL }] },
  ]);
});

Deno.test("OpenAI requests: markers Anthropic would refuse are ignored, and without one system stays a string", () => {
  const ignored = [{ type: "persistent" }, { type: "ephemeral", ttl: "10m" }, "ephemeral", true, null];
  const body = request({
    messages: [
      { role: "system", content: "s", cache_control: ignored[0] },
      ...ignored.map((cache_control) => ({ role: "user", content: "u", cache_control })),
    ],
  });
  assert.equal(body.system, "s");
  assert.deepEqual(body.messages, [{
    role: "user",
    content: ignored.map(() => ({ type: "text", text: "u" })),
  }]);
});

Deno.test("OpenAI requests: of more than 4 markers, the last 4 are kept, system first, then the messages", () => {
  const body = request({
    messages: [
      { role: "system", content: "s1", cache_control: EPHEMERAL },
      { role: "system", content: "s2", cache_control: EPHEMERAL },
      { role: "user", content: "u1", cache_control: EPHEMERAL },
      { role: "assistant", content: "a1", cache_control: EPHEMERAL },
      { role: "user", content: "u2", cache_control: EPHEMERAL },
    ],
  });
  assert.deepEqual(body.system, [{ type: "text", text: "s1" }, {
    type: "text",
    text: "s2",
    cache_control: EPHEMERAL,
  }]);
  const marked = (body.messages as { content: { cache_control?: unknown }[] }[])
    .flatMap(({ content }) => content).filter((block) => block.cache_control !== undefined);
  assert.equal(marked.length, 3);
  // With the system's markers all dropped, it is a string again.
  const late = request({
    messages: [
      { role: "system", content: "s", cache_control: EPHEMERAL },
      ...["u1", "a1", "u2", "a2"].map((text, index) => ({
        role: index % 2 ? "assistant" : "user",
        content: text,
        cache_control: EPHEMERAL,
      })),
    ],
  });
  assert.equal(late.system, "s");
});

Deno.test("OpenAI requests: tool parameters without a type (`{}`) take an object, as Anthropic requires a type", () => {
  const body = request({
    messages: [{ role: "user", content: "hi" }],
    tools: [
      { type: "function", function: { name: "now", parameters: {} } },
      { type: "function", function: { name: "f", parameters: { properties: { x: { type: "number" } } } } },
      { type: "function", function: { name: "g", parameters: { type: "object", required: [] } } },
    ],
  });
  assert.deepEqual(body.tools, [
    { name: "now", input_schema: { type: "object" } },
    { name: "f", input_schema: { type: "object", properties: { x: { type: "number" } } } },
    { name: "g", input_schema: { type: "object", required: [] } },
  ]);
});

Deno.test("OpenAI requests: blank stop sequences are dropped, as Anthropic refuses them", () => {
  const messages = [{ role: "user", content: "hi" }];
  assert.equal(request({ messages, stop: "\n" }).stop_sequences, undefined);
  assert.equal(request({ messages, stop: ["", " \n"] }).stop_sequences, undefined);
  assert.deepEqual(request({ messages, stop: ["\n", "END", "\t"] }).stop_sequences, ["END"]);
});

Deno.test("OpenAI requests: top_p goes alone, not beside a temperature, as Claude 4.5 and later refuse both", () => {
  const messages = [{ role: "user", content: "hi" }];
  const sampled = (chat: Record<string, unknown>) => {
    const { temperature, top_p } = request({ messages, ...chat });
    return { temperature, top_p };
  };
  assert.deepEqual(sampled({ top_p: 0.9 }), { temperature: undefined, top_p: 0.9 });
  assert.deepEqual(sampled({ temperature: 0.2, top_p: 0.4 }), { temperature: 0.2, top_p: undefined });
  assert.deepEqual(sampled({ temperature: 0 }), { temperature: 0, top_p: undefined });
});

Deno.test("OpenAI requests: blank assistant text is dropped, and an assistant message left with nothing too", () => {
  const call = { id: "call_1", type: "function", function: { name: "f", arguments: "{}" } };
  assert.deepEqual(
    request({
      messages: [
        { role: "user", content: "a" },
        { role: "assistant", content: "\n\n", tool_calls: [call] },
        { role: "tool", tool_call_id: "call_1", content: "r" },
        { role: "assistant", content: [{ type: "text", text: " " }] },
      ],
    }).messages,
    [
      { role: "user", content: [{ type: "text", text: "a" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "f", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "r" }] },
    ],
  );
});

/** The source an image data URL becomes. */
const imageSource = (url: string) => {
  const body = request({
    messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }],
  });
  return (body.messages as { content: { source: Record<string, unknown> }[] }[])[0].content[0].source;
};

const PNG = "iVBORw0KGgoAAAANSUhEUg";
const JPEG = "/9j/4AAQSkZJRgABAQ";
const GIF = "R0lGODlhAQABAIAAAP";
const WEBP = "UklGRiQAAABXRUJQVlA4";

Deno.test("OpenAI requests: a data URL's image type is one Anthropic takes, told by the first bytes", () => {
  const base64 = (media_type: string, data: string) => ({ type: "base64", media_type, data });
  assert.deepEqual(imageSource(`data:image/jpg;base64,${JPEG}`), base64("image/jpeg", JPEG));
  assert.deepEqual(
    imageSource("data:image/jpg;base64,AAAA"),
    base64("image/jpeg", "AAAA"),
    "jpg, bytes unknown",
  );
  assert.deepEqual(imageSource(`data:image/png;name=a.png;base64,${PNG}`), base64("image/png", PNG));
  assert.deepEqual(imageSource(`data:application/octet-stream;base64,${GIF}`), base64("image/gif", GIF));
  assert.deepEqual(imageSource(`data:image/png;base64,${JPEG}`), base64("image/jpeg", JPEG), "the bytes win");
  assert.deepEqual(imageSource(`data:image/jpeg;base64,${WEBP}`), base64("image/webp", WEBP));
  assert.deepEqual(imageSource(`data:IMAGE/PNG;BASE64,${PNG}`), base64("image/png", PNG));
  assert.deepEqual(imageSource("data:image/png;base64,!!"), base64("image/png", "!!"), "not base64: as sent");
  for (const url of ["data:image/png,raw", "data:image/png;name=a;base64", "https://example.com/a.png"]) {
    assert.deepEqual(imageSource(url), { type: "url", url });
  }
  const file = request({
    messages: [{
      role: "user",
      content: [{ type: "file", file: { file_data: `data:application/pdf;base64,${PNG}` } }],
    }],
  });
  assert.deepEqual(
    (file.messages as { content: unknown[] }[])[0].content[0],
    { type: "document", source: base64("application/pdf", PNG) },
    "a document keeps its type",
  );
});

Deno.test("OpenAI requests: a text file's data URL goes as its text, as Anthropic takes plain text; a bad one is refused", () => {
  const document = (file_data: string) =>
    (request({ messages: [{ role: "user", content: [{ type: "file", file: { file_data } }] }] }).messages as {
      content: unknown[];
    }[])[0].content[0];
  const text = "héllo\n";
  const base64 = new TextEncoder().encode(text).toBase64();
  for (const type of ["text/plain", "text/markdown", "TEXT/CSV;charset=utf-8;name=a.csv"]) {
    assert.deepEqual(document(`data:${type};base64,${base64}`), {
      type: "document",
      source: { type: "text", media_type: "text/plain", data: text },
    }, type);
  }
  for (const data of ["!!", btoa("\xff\xfe")]) {
    assert.throws(
      () => document(`data:text/plain;base64,${data}`),
      (error: unknown) =>
        error instanceof ChatToAnthropicError && error.param === "messages[0].content[0].file.file_data" &&
        /must hold UTF-8 text in base64/.test(error.message),
      data,
    );
  }
});

Deno.test("OpenAI requests: images and files in a tool message go inside its tool_result, after its text", () => {
  const image = (url: string) => ({ type: "image_url", image_url: { url } });
  const calls = ["a", "b"].map((id) => ({
    id,
    type: "function",
    function: { name: "view_image", arguments: "{}" },
  }));
  const body = request({
    messages: [
      { role: "user", content: "look" },
      { role: "assistant", content: null, tool_calls: calls },
      {
        role: "tool",
        tool_call_id: "a",
        content: [{ type: "text", text: " " }, image("https://example.com/a.png")],
      },
      {
        role: "tool",
        tool_call_id: "b",
        content: [
          { type: "text", text: "b:" },
          image("https://example.com/b.png"),
          {
            type: "file",
            file: { file_data: `data:application/pdf;base64,${PNG}` },
            cache_control: EPHEMERAL,
          },
        ],
      },
    ],
  });
  const url = (url: string) => ({ type: "image", source: { type: "url", url } });
  assert.deepEqual((body.messages as unknown[])[2], {
    role: "user",
    content: [
      { type: "tool_result", tool_use_id: "a", content: [url("https://example.com/a.png")] },
      {
        type: "tool_result",
        tool_use_id: "b",
        content: [
          { type: "text", text: "b:" },
          url("https://example.com/b.png"),
          { type: "document", source: { type: "base64", media_type: "application/pdf", data: PNG } },
        ],
        cache_control: EPHEMERAL,
      },
    ],
  });
  assert.throws(
    () => request({ messages: [{ role: "tool", tool_call_id: "a", content: [{ type: "input_audio" }] }] }),
    /^ChatToAnthropicError: messages\[0\]\.content\[0\]\.type: unsupported content part "input_audio"$/,
  );
});

Deno.test("OpenAI requests: a part without a type is refused, saying the type is missing", () => {
  assert.throws(
    () => request({ messages: [{ role: "user", content: [{ text: "hi" }] }] }),
    /^ChatToAnthropicError: messages\[0\]\.content\[0\]\.type: expected a string, got nothing$/,
  );
});

Deno.test("OpenAI requests: a data URL of megabytes is read in one pass", () => {
  const payload = "A".repeat(4 * 1024 * 1024);
  const urls = [`data:image/png;base64,${PNG}${payload}`, `data:image/png${";x=y".repeat(1024 * 1024)}`];
  const started = performance.now();
  assert.equal(imageSource(urls[0]).media_type, "image/png");
  assert.equal(imageSource(urls[1]).type, "url");
  // A regex that backtracks over the payload takes minutes here.
  assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`);
});

Deno.test("OpenAI requests: a 1h marker that leading tool results put after a 5m one caches for 5 minutes", () => {
  const hour = { type: "ephemeral", ttl: "1h" };
  const ttls = (chat: Record<string, unknown>) => {
    const body = request(chat) as {
      system?: unknown;
      messages: { content: { cache_control?: unknown }[] }[];
    };
    const system = Array.isArray(body.system) ? body.system : [];
    return [...system, ...body.messages.flatMap(({ content }) => content)]
      .filter((block) => block.cache_control !== undefined)
      .map(({ cache_control }) => (cache_control as { ttl?: string }).ttl ?? "5m");
  };
  const call = { id: "call_1", type: "function", function: { name: "f", arguments: "{}" } };
  const cases: [unknown[], string[], string][] = [
    [
      [
        { role: "user", content: "go" },
        { role: "assistant", content: null, tool_calls: [call] },
        { role: "user", content: "and this", cache_control: hour },
        { role: "tool", tool_call_id: "call_1", content: "done", cache_control: EPHEMERAL },
      ],
      ["5m", "5m"],
      "the tool result leads its turn, ahead of the 1h text",
    ],
    [
      [
        { role: "user", content: "go", cache_control: hour },
        { role: "system", content: "now terse", cache_control: EPHEMERAL },
      ],
      ["1h", "5m"],
      "a later system message keeps its place, after the 1h message",
    ],
    [
      [
        { role: "system", content: "rules", cache_control: hour },
        { role: "user", content: "go", cache_control: EPHEMERAL },
      ],
      ["1h", "5m"],
      "in order already, as the client sent it",
    ],
  ];
  for (const [messages, expected, why] of cases) assert.deepEqual(ttls({ messages }), expected, why);
});

Deno.test("OpenAI requests: a schema's draft-07 definitions, as OpenAI's SDK writes a zod object used twice, are kept as $defs", () => {
  const schema = {
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "object",
    properties: { first: { $ref: "#/definitions/Step" }, second: { $ref: "#/definitions/Step" } },
    required: ["first", "second"],
    additionalProperties: false,
    definitions: {
      Step: {
        type: "object",
        properties: { n: { type: "integer", minimum: 1 }, next: { $ref: "#/definitions/Step" } },
        required: ["n"],
      },
    },
  };
  const body = request({
    messages: [{ role: "user", content: "plan" }],
    response_format: { type: "json_schema", json_schema: { name: "plan", schema } },
  }) as { output_config: { format: { schema: Record<string, unknown> } } };
  const sent = body.output_config.format.schema;
  assert.deepEqual(sent.properties, { first: { $ref: "#/$defs/Step" }, second: { $ref: "#/$defs/Step" } });
  assert.deepEqual(sent.$defs, {
    Step: {
      type: "object",
      properties: {
        n: { type: "integer", description: "{minimum: 1}" },
        next: { $ref: "#/$defs/Step" },
      },
      additionalProperties: false,
      required: ["n"],
    },
  });
  assert.equal("definitions" in sent, false);
});

Deno.test("OpenAI requests: reasoning_effort turns thinking on; a default max_tokens keeps the answer's room", () => {
  const hi = [{ role: "user", content: "hi" }];
  const thinking = (chat: Record<string, unknown>, options?: { defaultMaxTokens: number }) => {
    const body = anthropicRequestFor({ model: "m", messages: hi, ...chat }, options);
    return [body.max_tokens, body.thinking];
  };
  assert.deepEqual(thinking({ reasoning_effort: "low" }), [8_192, { type: "enabled", budget_tokens: 4_096 }]);
  assert.deepEqual(thinking({ reasoning_effort: "low" }, { defaultMaxTokens: 8_192 }), [12_288, {
    type: "enabled",
    budget_tokens: 4_096,
  }]);
  assert.deepEqual(thinking({ reasoning_effort: "medium", max_completion_tokens: 5_000 }), [5_000, {
    type: "enabled",
    budget_tokens: 3_976,
  }]);
  assert.deepEqual(thinking({ reasoning_effort: "minimal" }), [4_096, undefined]);
  assert.deepEqual(thinking({}, { defaultMaxTokens: 8_192 }), [8_192, undefined]);
  assert.throws(
    () => thinking({ reasoning_effort: "max" }),
    (error) => error instanceof ChatToAnthropicError && error.param === "reasoning_effort",
  );
});

Deno.test("OpenAI requests: an assistant message's thinking_blocks lead its turn, signed, as Anthropic takes them back", () => {
  const thought = { type: "thinking", thinking: "Use f.", signature: "EqSig" };
  const redacted = { type: "redacted_thinking", data: "EmwK" };
  const sent = request({
    messages: [
      { role: "user", content: "go" },
      { role: "assistant", content: null, thinking_blocks: [thought, redacted] },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "f" } }],
      },
      { role: "tool", tool_call_id: "call_1", content: "ok" },
    ],
    reasoning_effort: "low",
  });
  assert.deepEqual((sent.messages as { content: unknown[] }[])[1].content, [
    thought,
    redacted,
    { type: "tool_use", id: "call_1", name: "f", input: {} },
  ]);
  assert.ok(sent.thinking, "the tool loop keeps thinking, its last turn beginning with its thinking");
  for (
    const [block, param] of [
      [{ type: "thinking", thinking: "no signature" }, "messages[1].thinking_blocks[0].signature"],
      [{ type: "text", text: "x" }, "messages[1].thinking_blocks[0].type"],
      ["thinking", "messages[1].thinking_blocks[0]"],
    ] as const
  ) {
    assert.throws(
      () =>
        request({
          messages: [{ role: "user", content: "go" }, {
            role: "assistant",
            content: "a",
            thinking_blocks: [block],
          }],
        }),
      (error) => error instanceof ChatToAnthropicError && error.param === param,
      param,
    );
  }
});

Deno.test("OpenAI requests: leading system and developer messages are the system prompt; later ones keep their place as the user's text", () => {
  const sent = request({
    messages: [
      { role: "developer", content: "You are Codex. <permissions>read-only</permissions>" },
      { role: "user", content: "look around" },
      { role: "assistant", content: "Done." },
      { role: "developer", content: "<permissions>workspace-write</permissions>" },
      { role: "user", content: "now edit" },
    ],
  });
  assert.equal(
    sent.system,
    "You are Codex. <permissions>read-only</permissions>",
    "the prompt's start, unchanged",
  );
  assert.deepEqual(sent.messages, [
    { role: "user", content: [{ type: "text", text: "look around" }] },
    { role: "assistant", content: [{ type: "text", text: "Done." }] },
    {
      role: "user",
      content: [
        { type: "text", text: "<permissions>workspace-write</permissions>" },
        { type: "text", text: "now edit" },
      ],
    },
  ]);
});

Deno.test("OpenAI requests: a tool_choice that forces a call with no tools offered is refused, naming it; none and auto are not", () => {
  const hi = [{ role: "user", content: "hi" }];
  for (const choice of ["required", { type: "function", function: { name: "f" } }]) {
    assert.throws(
      () => request({ messages: hi, tool_choice: choice }),
      (error) => error instanceof ChatToAnthropicError && error.param === "tool_choice",
      JSON.stringify(choice),
    );
  }
  for (const choice of ["none", "auto"]) {
    assert.equal(request({ messages: hi, tool_choice: choice }).tool_choice, undefined, choice);
  }
});
