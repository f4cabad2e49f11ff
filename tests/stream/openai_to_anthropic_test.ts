import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import {
  completionAsAnthropicSse,
  OpenAIToAnthropic,
  openaiToAnthropicSse,
} from "../../src/stream/openai_to_anthropic.ts";
import { anthropicMessageFor } from "../../src/stream/openai_to_anthropic_message.ts";
import { anthropicToolId } from "../../src/stream/openai_tool_ids.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import type { AnthropicEvent, AnthropicUsage } from "../../src/stream/openai_types.ts";
import { UsageTap } from "../../src/stream/usage_tap.ts";
import { estimateWrittenTokens } from "../../src/routing/token_estimate.ts";
import type { UsageFallback } from "../../src/providers/types.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";
import { splitAwkwardly } from "../_helpers/golden.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";

/** Chat Completions streams in tests/stream/golden/openai/, each beside its expected Anthropic translation. */
const GOLDEN = ["text", "tool_call", "parallel_tools", "reasoning", "error_mid"] as const;

const _golden = (file: string) => Deno.readFile(new URL(`./golden/openai/${file}`, import.meta.url));

function translator(thinking = false) {
  let generated = 0;
  return new OpenAIToAnthropic({
    messageId: "msg_relay_golden",
    model: "gpt-4.1",
    thinking,
    newToolId: () => `toolu_generated${generated++ || ""}`,
  });
}

async function translated(chunks: Uint8Array[], thinking: boolean): Promise<Uint8Array> {
  const body = openaiToAnthropicSse(ReadableStream.from(chunks), translator(thinking));
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** Feeds JSON payloads (or raw `data` strings) straight to a translator. */
function run(
  payloads: (object | string)[],
  options: { thinking?: boolean; eof?: boolean } = {},
): AnthropicEvent[] {
  const t = translator(options.thinking);
  const events = t.start();
  for (const payload of payloads) {
    // Not `push(...)`: a chunk may complete more events than a call takes arguments.
    for (const event of t.chunk(typeof payload === "string" ? payload : JSON.stringify(payload))) {
      events.push(event);
    }
  }
  if (options.eof) events.push(...t.end());
  return events;
}

const delta = (d: Record<string, unknown>, finish_reason: string | null = null) => ({
  choices: [{ index: 0, delta: d, finish_reason }],
});

/** What the stream adds up to, checked against Anthropic's grammar. */
function assembled(events: AnthropicEvent[]) {
  return assembleAnthropicStream(events.map((event) => ({ event: event.type, data: JSON.stringify(event) })));
}

/** A fragment of tool call `index`; `first` marks the call's first fragment, which names it. */
const toolFragment = (index: number, args: string, first?: { id: string; name: string }) =>
  first
    ? { index, id: first.id, type: "function", function: { name: first.name, arguments: args } }
    : { index, function: { arguments: args } };

/** A chunk with one fragment of tool call `index`. */
const toolCall = (...fragment: Parameters<typeof toolFragment>) =>
  delta({ tool_calls: [toolFragment(...fragment)] });

const toolStart = (index: number, id: string, name: string) => ({
  type: "content_block_start",
  index,
  content_block: { type: "tool_use", id, name, input: {} },
});
const toolJson = (index: number, partial_json: string) => ({
  type: "content_block_delta",
  index,
  delta: { type: "input_json_delta", partial_json },
});
const blockStop = (index: number) => ({ type: "content_block_stop", index });

/** The events of one whole tool_use block: its start, a delta for each of `fragments`, its stop. */
const toolBlock = (index: number, id: string, name: string, ...fragments: string[]) => [
  toolStart(index, id, name),
  ...fragments.map((fragment) => toolJson(index, fragment)),
  blockStop(index),
];

/** The content block events of a stream, in order. */
const blockEvents = (events: AnthropicEvent[]) =>
  events.filter((event) => event.type.startsWith("content_block"));

/**
 * Runs `payloads`, checks that the content block events are exactly `blocks` and that the stream keeps
 * Anthropic's grammar and ends in `tool_use`, and returns the Message it adds up to.
 */
function toolUseMessage(payloads: (object | string)[], blocks: object[], options: { eof?: boolean } = {}) {
  const events = run(payloads, options);
  assert.deepEqual(blockEvents(events), blocks);
  const { message, error } = assembled(events);
  assert.equal(error, undefined);
  assert.equal(message.stop_reason, "tool_use");
  return message;
}

const inputsOf = (message: { content: { input: unknown }[] }) => message.content.map((block) => block.input);

Deno.test("golden OpenAI streams translate to the expected Anthropic SSE, however the bytes are cut", async () => {
  for (const name of GOLDEN) {
    const input = await _golden(`${name}.sse`);
    const expected = await _golden(`${name}.expected.sse`);
    for (const chunks of splitAwkwardly(input)) {
      assert.deepEqual(concatBytes(chunks), input);
      const output = await translated(chunks, name === "reasoning");
      assert.equal(
        new TextDecoder().decode(output),
        new TextDecoder().decode(expected),
        `${name} in ${chunks.length} chunks`,
      );
    }
    const events = new SseDecoder().feed(expected);
    const { error } = assembleAnthropicStream(events);
    assert.equal(error !== undefined, name === "error_mid", `${name} follows Anthropic's grammar`);
  }
});

Deno.test("the Anthropic SDK reads the translated goldens as the Messages they stand for", async () => {
  const answer = (bytes: Uint8Array<ArrayBuffer>) =>
    new Anthropic({
      apiKey: "unused",
      maxRetries: 0,
      fetch: () => Promise.resolve(new Response(bytes, { headers: { "content-type": "text/event-stream" } })),
    }).messages.stream({ model: "gpt-4.1", max_tokens: 64, messages: [{ role: "user", content: "hi" }] })
      .finalMessage();
  const parallel = await answer(await _golden("parallel_tools.expected.sse"));
  assert.equal(parallel.stop_reason, "tool_use");
  assert.deepEqual(parallel.content.map((block) => block.type === "tool_use" && [block.id, block.input]), [
    ["call_Q1w2E3r4T5y6U7i8O9p0", { city: "Paris" }],
    ["toolu_oa_ZnVuY3Rpb25zLmdldF90aW1lOjE", {}],
    ["call_Z9x8C7v6B5n4M3l2K1j0", {}],
  ]);
  assert.deepEqual(parallel.usage.input_tokens, 2134);
  const reasoning = await answer(await _golden("reasoning.expected.sse"));
  assert.deepEqual(reasoning.content[0], {
    type: "thinking",
    thinking: "The user asks 2+2. That is 4.",
    signature: "",
  });
  const text = await answer(await _golden("text.expected.sse"));
  assert.deepEqual(text.usage, {
    input_tokens: 214,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 1920,
    output_tokens: 18,
  });
  await assert.rejects(
    async () => await answer(await _golden("error_mid.expected.sse")),
    (error: unknown) => error instanceof Anthropic.APIError && /server had an error/.test(error.message),
  );
});

Deno.test("reasoning is dropped when the client did not ask for thinking", async () => {
  const output = await translated([await _golden("reasoning.sse")], false);
  const { message } = assembleAnthropicStream(new SseDecoder().feed(output));
  assert.deepEqual(message.content, [{ type: "text", text: "2 + 2 = 4." }]);
});

Deno.test("a tool call waits for its name, keeping the argument fragments that came first", () => {
  const { message } = assembled(run([
    delta({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { arguments: '{"a"' } }] }),
    delta({ tool_calls: [{ index: 0, function: { name: "f", arguments: ":1" } }] }),
    delta({ tool_calls: [{ index: 0, function: { name: "f", arguments: "}" } }] }),
    delta({}, "tool_calls"),
    "[DONE]",
  ]));
  assert.deepEqual(message.content, [{ type: "tool_use", id: "call_1", name: "f", input: { a: 1 } }]);
});

Deno.test("whole calls without index or id (as some compatibles send them) get their own blocks and fresh ids", () => {
  const { message } = assembled(run([
    delta({ tool_calls: [{ id: "a.1", function: { name: "f", arguments: '{"x":1}' } }] }),
    delta({
      tool_calls: [{ function: { name: "g", arguments: "" } }, {
        id: "b",
        function: { name: "h", arguments: "{}" },
      }],
    }),
    delta({}, "stop"),
    "[DONE]",
  ]));
  assert.equal(
    message.stop_reason,
    "tool_use",
    "a tool call makes it tool_use even after finish_reason stop",
  );
  assert.deepEqual(message.content.map((block: { id: string; name: string }) => [block.id, block.name]), [
    ["toolu_oa_YS4x", "f"],
    ["toolu_generated", "g"],
    ["b", "h"],
  ]);
});

Deno.test("arguments for a call whose block is closed end the stream with an error, not a wrong input", () => {
  // Call 0's arguments were whole JSON, so its block closed for call 1; more of it could only break it.
  const events = run([
    delta({ tool_calls: [{ index: 0, id: "c0", function: { name: "f", arguments: '{"a":1}' } }] }),
    delta({ tool_calls: [{ index: 1, id: "c1", function: { name: "g", arguments: "{}" } }] }),
    delta({ tool_calls: [{ index: 0, function: { arguments: ',"b":2}' } }] }),
    delta({}, "tool_calls"),
  ]);
  assert.deepEqual(events.map((event) => event.type).slice(-3), [
    "content_block_start",
    "content_block_delta",
    "error",
  ]);
  assert.match(JSON.stringify(events.at(-1)), /interleaved the arguments of parallel tool calls/);
});

Deno.test("interleaved fragments of two parallel calls become one whole block each, in order of first appearance", async (t) => {
  await t.step(
    "both calls named first, then their arguments alternating, two to a chunk (as vLLM sends them)",
    () => {
      const message = toolUseMessage([
        delta({
          tool_calls: [
            toolFragment(0, "", { id: "call_a", name: "read" }),
            toolFragment(1, "", { id: "call_b", name: "write" }),
          ],
        }),
        delta({ tool_calls: [toolFragment(0, '{"path":'), toolFragment(1, '{"path":"b",')] }),
        delta({ tool_calls: [toolFragment(0, '"a"}'), toolFragment(1, '"text":"x"}')] }, "tool_calls"),
        "[DONE]",
      ], [
        ...toolBlock(0, "call_a", "read", '{"path":', '"a"}'),
        ...toolBlock(1, "call_b", "write", '{"path":"b",', '"text":"x"}'),
      ]);
      assert.deepEqual(message.content, [
        { type: "tool_use", id: "call_a", name: "read", input: { path: "a" } },
        { type: "tool_use", id: "call_b", name: "write", input: { path: "b", text: "x" } },
      ]);
    },
  );
  await t.step("the later index appears first, so it gets the first block; its id is translated", () => {
    const translatedId = anthropicToolId("functions.g:1");
    assert.notEqual(translatedId, "functions.g:1");
    const message = toolUseMessage([
      toolCall(1, '{"b":', { id: "functions.g:1", name: "g" }),
      toolCall(0, '{"a":1}', { id: "call_f", name: "f" }),
      toolCall(1, "2}"),
      delta({}, "tool_calls"),
      "[DONE]",
    ], [
      ...toolBlock(0, translatedId, "g", '{"b":', "2}"),
      ...toolBlock(1, "call_f", "f", '{"a":1}'),
    ]);
    assert.deepEqual(inputsOf(message), [{ b: 2 }, { a: 1 }]);
  });
  await t.step(
    "an earlier call continues past a later, whole one; brackets in strings do not end it",
    () => {
      const message = toolUseMessage([
        toolCall(0, "", { id: "call_x", name: "x" }),
        toolCall(1, "{}", { id: "call_y", name: "y" }),
        toolCall(0, '{"n":[1,"}'),
        toolCall(0, '\\"]'),
        toolCall(0, "}"),
        toolCall(0, '"]}'),
        delta({}, "tool_calls"),
      ], [
        ...toolBlock(0, "call_x", "x", '{"n":[1,"}', '\\"]', "}", '"]}'),
        ...toolBlock(1, "call_y", "y", "{}"),
      ], { eof: true });
      assert.deepEqual(inputsOf(message), [{ n: [1, '}"]}'] }, {}]);
    },
  );
  await t.step(
    "a call whose arguments never become whole keeps its block to the end, a bare [DONE] too",
    () => {
      toolUseMessage([
        toolCall(0, "", { id: "call_now", name: "now" }),
        toolCall(1, '{"q":', { id: "call_q", name: "q" }),
        toolCall(1, "1}"),
        "[DONE]",
      ], [
        ...toolBlock(0, "call_now", "now"),
        ...toolBlock(1, "call_q", "q", '{"q":1}'),
      ]);
    },
  );
});

Deno.test("three interleaved parallel calls, arguments in many fragments, in any order: one whole block each", () => {
  const calls = [
    { id: "call_read", name: "read", input: { path: "src/a.ts", range: [1, 20] } },
    { id: "functions.edit:1", name: "edit", input: { old: 'if (a) { b("}"); }', new: "[x]" } },
    { id: "call_ls", name: "ls", input: { dir: "{weird} \\ dir]", deep: { on: true } } },
  ].map((call) => {
    const args = JSON.stringify(call.input);
    const pieces = Array.from({ length: Math.ceil(args.length / 3) }, (_, i) => args.slice(i * 3, i * 3 + 3));
    return { ...call, args, pieces };
  });
  /** The chunks of the three calls, taking the next fragment of call `order[k]` at step k. */
  const interleaved = (order: number[]) => {
    const sent = calls.map(() => -1);
    return order.map((which) => {
      const call = calls[which];
      const next = ++sent[which];
      return next === 0 ? toolCall(which, "", call) : toolCall(which, call.pieces[next - 1]);
    });
  };
  const fragments = calls.map((call) => call.pieces.length + 1);
  const roundRobin = (turns: number[]) => {
    const left = [...fragments];
    const order: number[] = [];
    while (left.some((count) => count > 0)) {
      for (const which of turns) if (left[which]-- > 0) order.push(which);
    }
    return order;
  };
  const shuffled = (seed: number) => {
    const left = [...fragments];
    const order: number[] = [];
    while (left.some((count) => count > 0)) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const open = [0, 1, 2].filter((which) => left[which] > 0);
      const which = open[seed % open.length];
      left[which]--;
      order.push(which);
    }
    return order;
  };
  const orders: [string, number[]][] = [
    ["one after another", [0, 1, 2].flatMap((which) => Array(fragments[which]).fill(which))],
    ["round robin", roundRobin([0, 1, 2])],
    ["reverse round robin", roundRobin([2, 1, 0])],
    ...Array.from({ length: 20 }, (_, seed): [string, number[]] => [`shuffle ${seed}`, shuffled(seed + 1)]),
  ];
  for (const [label, order] of orders) {
    const events = run([...interleaved(order), delta({}, "tool_calls"), "[DONE]"]);
    const { message } = assembled(events);
    const firstSeen = [...new Set(order)];
    assert.equal(message.stop_reason, "tool_use", label);
    assert.deepEqual(
      message.content,
      firstSeen.map((which) => ({
        type: "tool_use",
        id: anthropicToolId(calls[which].id),
        name: calls[which].name,
        input: calls[which].input,
      })),
      label,
    );
    const starts = events.filter((event) => event.type === "content_block_start");
    assert.deepEqual(starts.map((event) => event.index), [0, 1, 2], label);
    const jsonOf = (index: number) =>
      blockEvents(events).filter((event) => event.index === index && event.type === "content_block_delta")
        .map((event) => (event.delta as { partial_json: string }).partial_json).join("");
    assert.deepEqual([0, 1, 2].map(jsonOf), firstSeen.map((which) => calls[which].args), label);
  }
});

Deno.test("calls that are not interleaved still stream live: each fragment goes out as it arrives", () => {
  const live = translator();
  live.start();
  const feed = (payload: object) => live.chunk(JSON.stringify(payload));
  assert.deepEqual(feed(toolCall(0, "", { id: "call_a", name: "read" })), [toolStart(0, "call_a", "read")]);
  assert.deepEqual(feed(toolCall(0, '{"path":')), [toolJson(0, '{"path":')]);
  assert.deepEqual(feed(toolCall(0, '"a"}')), [toolJson(0, '"a"}')]);
  // Call 0's arguments are whole, so call 1 takes the next block at once.
  assert.deepEqual(feed(toolCall(1, '{"p', { id: "call_b", name: "write" })), [
    blockStop(0),
    toolStart(1, "call_b", "write"),
    toolJson(1, '{"p'),
  ]);
  assert.deepEqual(feed(toolCall(1, 'ath":"b"}')), [toolJson(1, 'ath":"b"}')]);
  assert.deepEqual(feed(delta({}, "tool_calls")), [blockStop(1)]);
});

Deno.test("after a call's block closed: whitespace after whole arguments is harmless, more arguments an error", async (t) => {
  await t.step("whitespace for a closed call whose arguments were whole is dropped, not an error", () => {
    const { message, error } = assembled(run([
      toolCall(0, '{"a":1}', { id: "call_a", name: "a" }),
      toolCall(1, "{}", { id: "call_b", name: "b" }),
      toolCall(0, " \n"),
      delta({}, "tool_calls"),
      "[DONE]",
    ]));
    assert.equal(error, undefined);
    assert.deepEqual(inputsOf(message), [{ a: 1 }, {}]);
  });
  await t.step("text closes an unfinished call's block, so more of its arguments cannot be placed", () => {
    const events = run([
      toolCall(0, '{"a":', { id: "call_a", name: "a" }),
      delta({ content: "hm" }),
      toolCall(0, "1}"),
    ]);
    assert.deepEqual(events.map((event) => event.type).slice(-3), [
      "content_block_start",
      "content_block_delta",
      "error",
    ]);
    assert.match(JSON.stringify(events.at(-1)), /call 0 continued after its block closed/);
  });
});

Deno.test("arguments held back are bounded: past 4 MiB waiting at once, the stream ends with an error", async (t) => {
  const MiB = 1024 * 1024;
  /** Call `open` holds the block unfinished while call `waiting` sends `chars` characters of arguments. */
  const heldRound = (open: number, waiting: number, chars: number) => [
    toolCall(open, '{"a":"', { id: `call_${open}`, name: "open" }),
    toolCall(waiting, '{"b":"' + "x".repeat(MiB - 6), { id: `call_${waiting}`, name: "waiting" }),
    toolCall(waiting, "x".repeat(MiB)),
    toolCall(waiting, "x".repeat(MiB)),
    toolCall(waiting, "x".repeat(chars - 3 * MiB - 2) + '"}'),
    toolCall(open, '"}'),
  ];
  await t.step("exactly 4 MiB waiting passes, and again once those arguments went out", () => {
    const events = run([
      ...heldRound(0, 1, 4 * MiB),
      ...heldRound(2, 3, 4 * MiB),
      delta({}, "tool_calls"),
      "[DONE]",
    ]);
    const { message, error } = assembled(events);
    assert.equal(error, undefined);
    assert.deepEqual(message.content.map((block: { id: string }) => block.id), [
      "call_0",
      "call_1",
      "call_2",
      "call_3",
    ]);
    assert.equal(message.content[1].input.b.length, 4 * MiB - 8);
  });
  await t.step("one character more ends the stream with an error, and nothing follows it", () => {
    const events = run([...heldRound(0, 1, 4 * MiB + 1), delta({}, "tool_calls"), "[DONE]"]);
    assert.equal(events.filter((event) => event.type === "error").length, 1);
    // The grammar checker also fails any event after the error.
    const { error } = assembled(events);
    assert.equal(error.type, "api_error");
    assert.match(error.message, /hold back passed 4194304 characters/);
  });
});

Deno.test("how a stream ends: [DONE], a finish without [DONE], a cut, a non-JSON chunk", async (t) => {
  await t.step("[DONE] without a finish_reason is a normal end", () => {
    const { message } = assembled(run([delta({ content: "hi" }), "[DONE]"]));
    assert.equal(message.stop_reason, "end_turn");
  });
  await t.step("a finish_reason, then the body ends without [DONE]", () => {
    const { message } = assembled(run([delta({ content: "hi" }, "length")], { eof: true }));
    assert.equal(message.stop_reason, "max_tokens");
  });
  await t.step("the body ends before any finish: an error event", () => {
    const { error } = assembled(run([delta({ content: "hi" })], { eof: true }));
    assert.match(error.message, /before the answer was finished/);
  });
  await t.step("a chunk that is not JSON: an error event, and nothing after it", () => {
    const events = run([delta({ content: "hi" }), "{oops", delta({ content: "more" })], { eof: true });
    assert.equal(events.at(-1)!.type, "error");
    assert.match(JSON.stringify(events.at(-1)), /not JSON: \{oops/);
    assert.equal(events.filter((event) => event.type === "error").length, 1);
  });
  await t.step("an error chunk keeps the upstream's type: a rate limit stays one", () => {
    const { error } = assembled(run([{ error: { message: "slow down", code: 429 } }]));
    assert.deepEqual(error, { type: "rate_limit_error", message: "slow down" });
  });
  await t.step(
    "finish_reason tool_calls without a call: end_turn, not a tool use no block stands for",
    () => {
      const { message } = assembled(run([delta({ content: "done" }, "tool_calls"), "[DONE]"]));
      assert.deepEqual([message.stop_reason, message.content.map((block: { type: string }) => block.type)], [
        "end_turn",
        ["text"],
      ]);
    },
  );
  await t.step(
    "finish_reason error (OpenRouter's) without an error object: an error event after the text",
    () => {
      const events = run([delta({ content: "half an ans" }), delta({}, "error"), "[DONE]"], { eof: true });
      const { message, error } = assembled(events);
      assert.equal(message.content[0].text, "half an ans");
      assert.deepEqual(error, {
        type: "api_error",
        message: 'upstream ended the answer with finish_reason "error", without saying what went wrong',
      });
      assert.equal(events.filter((event) => event.type === "message_delta").length, 0, "no stop reason");
    },
  );
  await t.step("finish_reason error with the choice's own error: its message and type", () => {
    const failed = {
      index: 0,
      delta: {},
      finish_reason: "error",
      error: { message: "Provider disconnected", code: 502 },
    };
    const { error } = assembled(run([delta({ content: "half" }), { choices: [failed] }]));
    assert.deepEqual(error, { type: "api_error", message: "Provider disconnected" });
  });
});

Deno.test("an unstreamed completion becomes the same Message a stream would", () => {
  const message = anthropicMessageFor({
    choices: [{
      message: {
        content: "Let me check.",
        reasoning_content: "Need the weather.",
        tool_calls: [
          {
            id: "call:1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          },
          { type: "function", function: { name: "broken", arguments: '{"city":' } },
        ],
      },
      finish_reason: "tool_calls",
    }],
    usage: { prompt_tokens: 100, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 60 } },
  }, { messageId: "msg_1", model: "gpt-4.1", thinking: true, newToolId: () => "toolu_new" });
  assert.deepEqual(message, {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "gpt-4.1",
    content: [
      { type: "thinking", thinking: "Need the weather.", signature: "" },
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "toolu_oa_Y2FsbDox", name: "get_weather", input: { city: "Paris" } },
      { type: "tool_use", id: "toolu_new", name: "broken", input: {} },
    ],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: {
      input_tokens: 40,
      output_tokens: 20,
      cache_read_input_tokens: 60,
      cache_creation_input_tokens: 0,
    },
  });
});

Deno.test("parallel calls sent whole, all at index 0, each with its own id (Ollama's /v1, sglang) get a block each", () => {
  const message = toolUseMessage([
    toolCall(0, '{"path":"a.py"}', { id: "call_A", name: "write" }),
    toolCall(0, '{"path":"b.py"}', { id: "call_B", name: "write" }),
    toolCall(0, "", { id: "call_B", name: "write" }),
    delta({}, "tool_calls"),
    "[DONE]",
  ], [
    ...toolBlock(0, "call_A", "write", '{"path":"a.py"}'),
    ...toolBlock(1, "call_B", "write", '{"path":"b.py"}'),
  ]);
  assert.deepEqual(inputsOf(message), [{ path: "a.py" }, { path: "b.py" }]);
});

Deno.test("content as a list of parts (Mistral's Magistral): text parts are text, thinking parts thinking if asked", async (t) => {
  const thinkingPart = (text: string) => ({ type: "thinking", thinking: [{ type: "text", text }] });
  const payloads = [
    delta({ role: "assistant", content: "" }),
    delta({ content: [thinkingPart("A greeting")] }),
    delta({ content: [thinkingPart(", reply.")] }),
    delta({ content: [{ type: "text", text: "Hello" }, { type: "reference", ids: [1] }] }),
    delta({ content: "!" }, "stop"),
    "[DONE]",
  ];
  const completion = {
    choices: [{
      message: { content: [thinkingPart("A greeting, reply."), { type: "text", text: "Hello!" }] },
      finish_reason: "stop",
    }],
  };
  const options = (thinking: boolean) => ({ messageId: "m", model: "m", thinking, newToolId: () => "t" });
  await t.step("asked for thinking", () => {
    const expected = [
      { type: "thinking", thinking: "A greeting, reply.", signature: "" },
      { type: "text", text: "Hello!" },
    ];
    assert.deepEqual(assembled(run(payloads, { thinking: true })).message.content, expected);
    assert.deepEqual(anthropicMessageFor(completion, options(true)).content, expected);
  });
  await t.step("not asked for thinking", () => {
    const expected = [{ type: "text", text: "Hello!" }];
    assert.deepEqual(assembled(run(payloads)).message.content, expected);
    assert.deepEqual(anthropicMessageFor(completion, options(false)).content, expected);
  });
});

Deno.test("a chunk of an unexpected shape ends the stream with an error that blames the upstream, after what came first", () => {
  const malformed: [unknown, RegExp][] = [
    [{ tool_calls: [null] }, /\(tool_calls\.0 is not an object\)/],
    [{ tool_calls: { index: 0, id: "c", function: { name: "f" } } }, /\(tool_calls is not a list\)/],
    [{ tool_calls: [{ index: "0" }] }, /\(tool_calls\.0\.index is not an integer\)/],
    [
      { tool_calls: [{ index: 0, function: { name: "f", arguments: { a: 1 } } }] },
      /function\.arguments is not a string/,
    ],
    [{ content: { text: "hi" } }, /\(content is neither a string nor a list\)/],
    [{ function_call: "get_weather" }, /\(function_call is not an object\)/],
    [{ function_call: { name: "f", arguments: { a: 1 } } }, /\(function_call\.arguments is not a string\)/],
    ["not an object", /\(the message is not an object\)/],
  ];
  for (const [bad, reason] of malformed) {
    const { message, error } = assembled(
      run([delta({ content: "Here is" }), { choices: [{ index: 0, delta: bad }] }]),
    );
    assert.deepEqual(message.content, [{ type: "text", text: "Here is" }], JSON.stringify(bad));
    assert.equal(error.type, "api_error");
    assert.match(error.message, /^upstream sent a malformed stream chunk /);
    assert.match(error.message, reason);
  }
});

Deno.test("tool ids are distinct and inputs are objects, streamed or not", async (t) => {
  const newToolId = () => "toolu_fresh";
  await t.step("a call repeating another's id gets a fresh one", () => {
    const streamed = toolUseMessage([
      toolCall(0, '{"a":1}', { id: "dup", name: "f" }),
      toolCall(1, '{"a":2}', { id: "dup", name: "f" }),
      delta({}, "tool_calls"),
      "[DONE]",
    ], [
      ...toolBlock(0, "dup", "f", '{"a":1}'),
      ...toolBlock(1, "toolu_generated", "f", '{"a":2}'),
    ]);
    assert.deepEqual(inputsOf(streamed), [{ a: 1 }, { a: 2 }]);
    const call = (args: string) => ({
      id: "dup",
      type: "function",
      function: { name: "f", arguments: args },
    });
    const unstreamed = anthropicMessageFor(
      {
        choices: [{
          message: { tool_calls: [call('{"a":1}'), call('{"a":2}')] },
          finish_reason: "tool_calls",
        }],
      },
      { messageId: "m", model: "m", thinking: false, newToolId },
    );
    assert.deepEqual(unstreamed.content.map((block) => "id" in block && block.id), ["dup", "toolu_fresh"]);
  });
  await t.step("arguments that are JSON but not an object stream no input, which stays {}", () => {
    for (const args of [["[1,", "2]"], [" ", "12"], ['"x"'], [" "]]) {
      const streamed = toolUseMessage([
        toolCall(0, args[0], { id: "call_x", name: "f" }),
        ...args.slice(1).map((fragment) => toolCall(0, fragment)),
        delta({}, "tool_calls"),
        "[DONE]",
      ], toolBlock(0, "call_x", "f"));
      assert.deepEqual(inputsOf(streamed), [{}], args.join(""));
      const unstreamed = anthropicMessageFor({
        choices: [{
          message: { tool_calls: [{ id: "call_x", function: { name: "f", arguments: args.join("") } }] },
        }],
      }, { messageId: "m", model: "m", thinking: false, newToolId });
      assert.deepEqual(
        unstreamed.content.map((block) => "input" in block && block.input),
        [{}],
        args.join(""),
      );
    }
  });
});

Deno.test("a legacy function_call (the API before tools) is one tool call, id by relay, streamed or not", async (t) => {
  const call = (args: string, name?: string) => ({
    function_call: name ? { name, arguments: args } : { arguments: args },
  });
  await t.step("streamed: a tool_use block whose arguments stream as they arrive", () => {
    const message = toolUseMessage([
      delta({ role: "assistant", content: null }),
      delta(call('{"city":', "get_weather")),
      delta(call('"Paris"}')),
      delta({}, "function_call"),
      "[DONE]",
    ], toolBlock(0, "toolu_generated", "get_weather", '{"city":', '"Paris"}'));
    assert.deepEqual(inputsOf(message), [{ city: "Paris" }]);
  });
  await t.step("unstreamed: the same block and stop reason", () => {
    const message = anthropicMessageFor({
      choices: [{
        message: { content: null, ...call('{"city":"Paris"}', "get_weather") },
        finish_reason: "function_call",
      }],
    }, { messageId: "m", model: "m", thinking: false, newToolId: () => "toolu_new" });
    assert.deepEqual(message.content, [
      { type: "tool_use", id: "toolu_new", name: "get_weather", input: { city: "Paris" } },
    ]);
    assert.equal(message.stop_reason, "tool_use");
  });
  await t.step("beside tool_calls it is the same call again, and left out", () => {
    const both = {
      ...call('{"city":"Paris"}', "get_weather"),
      tool_calls: [toolFragment(0, '{"city":"Paris"}', { id: "call_1", name: "get_weather" })],
    };
    toolUseMessage(
      [delta(both), delta({}, "tool_calls"), "[DONE]"],
      toolBlock(0, "call_1", "get_weather", '{"city":"Paris"}'),
    );
    const message = anthropicMessageFor(
      { choices: [{ message: both, finish_reason: "tool_calls" }] },
      { messageId: "m", model: "m", thinking: false, newToolId: () => "toolu_new" },
    );
    assert.deepEqual(message.content.map((block) => "id" in block && block.id), ["call_1"]);
  });
});

Deno.test("usage in choice 0 (Moonshot/Kimi) counts when the top has none, streamed or not", async (t) => {
  const usage = { prompt_tokens: 1200, completion_tokens: 42, total_tokens: 1242 };
  const expected = {
    input_tokens: 1200,
    output_tokens: 42,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
  };
  await t.step("streamed, in the finish chunk: it completes the answer at once", () => {
    const events = run([
      delta({ role: "assistant", content: "" }),
      delta({ content: "Hello" }),
      { choices: [{ index: 0, delta: {}, finish_reason: "stop", usage }] },
    ]);
    assert.equal(events.at(-1)?.type, "message_stop");
    assert.deepEqual(assembled(events).message.usage, expected);
  });
  await t.step("the top-level usage wins over the choice's", () => {
    const events = run([
      delta({ content: "Hello" }),
      { choices: [{ index: 0, delta: {}, finish_reason: "stop", usage: { prompt_tokens: 1 } }], usage },
    ]);
    assert.deepEqual(assembled(events).message.usage, expected);
  });
  await t.step("unstreamed", () => {
    const message = anthropicMessageFor({
      choices: [{ message: { content: "Hello" }, finish_reason: "stop", usage }],
    }, { messageId: "m", model: "m", thinking: false, newToolId: () => "t" });
    assert.deepEqual(message.usage, expected);
  });
});

Deno.test("after its finish_reason, an answer waits for the usage, or 3 s, or the body's end, whichever comes first", async (t) => {
  const sse = (payload: object) => `data: ${JSON.stringify(payload)}\n\n`;
  /** Reads `output` until its text so far includes `until`, or to its end. */
  const readText = async (output: ReadableStreamDefaultReader<Uint8Array>, until?: string) => {
    let read = "";
    while (until === undefined || !read.includes(until)) {
      const { value, done } = await output.read();
      if (done) break;
      read += new TextDecoder().decode(value);
    }
    return read;
  };
  /** The translation of an upstream that sent an answer up to its finish, read to its last block's stop. */
  const finished = async (idleMs?: number) => {
    const upstream = controlledStream();
    const clock = new FakeClock();
    const output = openaiToAnthropicSse(upstream.body, translator(), { timers: clock, idleMs }).getReader();
    upstream.push(sse(delta({ content: "Done." }, "stop")));
    const head = await readText(output, "content_block_stop");
    return { upstream, clock, output, head };
  };
  const message = (text: string) =>
    assembleAnthropicStream(new SseDecoder().feed(new TextEncoder().encode(text)));
  /**
   * The answer `finished(idleMs)` adds up to, checked whole, once the upstream was silent for `silentMs`,
   * relay's one deadline armed; `cancelled` is when the translation let the upstream go.
   */
  const completedBySilence = async (silentMs: number, idleMs?: number) => {
    const { upstream, clock, output, head } = await finished(idleMs);
    const rest = readText(output);
    await upstream.whenRead();
    assert.deepEqual(clock.armed, [silentMs]);
    clock.advance(silentMs);
    const { message: answer, error } = message(head + await rest);
    assert.equal(error, undefined);
    return { answer, cancelled: upstream.cancelled };
  };

  await t.step(
    "the usage chunk completes it, though neither [DONE] nor the end of the body follows",
    async () => {
      const { upstream, output, head } = await finished();
      upstream.push(sse({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 2 } }));
      const { message: answer, error } = message(head + await readText(output));
      assert.equal(error, undefined);
      assert.deepEqual([answer.stop_reason, answer.usage.input_tokens, answer.usage.output_tokens], [
        "end_turn",
        9,
        2,
      ]);
      await upstream.cancelled;
    },
  );
  await t.step("usage in the finish chunk itself completes it at once, with nothing to wait for", () => {
    const usage = { prompt_tokens: 9, completion_tokens: 2 };
    const events = run([delta({ role: "assistant", content: "" }), {
      ...delta({ content: "Done." }, "stop"),
      usage,
    }]);
    assert.equal(events.at(-1)?.type, "message_stop");
    const { message: answer, error } = assembled(events);
    assert.equal(error, undefined);
    assert.deepEqual([answer.stop_reason, answer.usage.input_tokens, answer.usage.output_tokens], [
      "end_turn",
      9,
      2,
    ]);
  });
  await t.step("3 s of silence complete it, without the usage that never came", async () => {
    const { answer, cancelled } = await completedBySilence(3_000);
    assert.deepEqual(answer.content, [{ type: "text", text: "Done." }]);
    assert.equal(answer.usage.output_tokens, 0);
    await cancelled;
  });
  await t.step(
    "with relay's idle deadline under 6 s, half of it completes it, before that deadline ends it",
    async () => {
      const { answer, cancelled } = await completedBySilence(1_000, 2_000);
      assert.equal(answer.stop_reason, "end_turn");
      await cancelled;
    },
  );
  await t.step("a body that fails then completes it; one that fails before the finish fails it", async () => {
    const { upstream, output, head } = await finished();
    upstream.fail();
    const { message: answer, error } = message(head + await readText(output));
    assert.equal(error, undefined);
    assert.equal(answer.stop_reason, "end_turn");

    const cut = controlledStream();
    const cutOutput = openaiToAnthropicSse(cut.body, translator(), { timers: new FakeClock() }).getReader();
    cut.push(sse(delta({ content: "Half" })));
    await readText(cutOutput, "Half");
    cut.fail();
    await assert.rejects(readText(cutOutput), /controlled stream failed/);
  });
});

Deno.test("a translated stream counts the upstream's own usage when whole, and relay's flagged estimate when cut short", async (t) => {
  /** The golden text stream's events: role, "Hello", " — café", ", 中文 🎉", finish, usage, [DONE]. */
  const events = new TextDecoder().decode(await _golden("text.sse")).split(/(?<=\n\n)/);
  const writtenBy = (texts: string[]) => Math.ceil(estimateWrittenTokens(texts));
  /** The answer as relay wires it: the tap reads what goes out, and falls back on what the translator said. */
  const relayed = (upstreamEvents: string[]) => {
    let estimated = 0;
    let usageSoFar: (() => AnthropicUsage) | undefined;
    const usageFallback: UsageFallback = {
      inputTokens: 2_000,
      estimated: () => estimated++,
      streaming: (soFar) => usageSoFar = soFar,
    };
    const translation = new OpenAIToAnthropic({
      messageId: "m",
      model: "gpt-4.1",
      thinking: false,
      newToolId: () => "t",
      usageFallback,
    });
    const upstream = ReadableStream.from(upstreamEvents.map((event) => new TextEncoder().encode(event)));
    const output = openaiToAnthropicSse(upstream, translation).getReader();
    const tap = new UsageTap(true, () => usageSoFar?.());
    /** Reads the answer, through the tap, to its end or until its text so far includes `until`. */
    const read = async (until?: string) => {
      let text = "";
      while (until === undefined || !text.includes(until)) {
        const { value, done } = await output.read();
        if (done) break;
        tap.observe(value);
        text += new TextDecoder().decode(value);
      }
      return text;
    };
    return { tap, output, read, estimated: () => estimated };
  };

  await t.step("whole, with the upstream's usage: exactly its figures, no estimate", async () => {
    const answer = relayed(events);
    await answer.read();
    assert.deepEqual(answer.tap.detail(), {
      input: 214,
      output: 18,
      cacheRead: 1_920,
      cacheWrite: 0,
      cacheWrite1h: 0,
    });
    assert.equal(answer.estimated(), 0);
  });
  await t.step(
    "the client leaves mid-answer: the input estimate and the output written so far, flagged",
    async () => {
      const answer = relayed(events);
      await answer.read("café");
      await answer.output.cancel();
      assert.deepEqual(answer.tap.detail(), {
        input: 2_000,
        output: writtenBy(["Hello", " — café"]),
        cacheRead: 0,
        cacheWrite: 0,
        cacheWrite1h: 0,
      });
      assert.ok(answer.estimated() > 0);
    },
  );
  await t.step(
    "the upstream ends before its finish: the same, after the error the client is told",
    async () => {
      const answer = relayed(events.slice(0, 4));
      await answer.read();
      assert.notEqual(answer.tap.errorData(), undefined);
      assert.deepEqual(answer.tap.detail(), {
        input: 2_000,
        output: writtenBy(["Hello", " — café", ", 中文 🎉"]),
        cacheRead: 0,
        cacheWrite: 0,
        cacheWrite1h: 0,
      });
      assert.ok(answer.estimated() > 0);
    },
  );
});

Deno.test("an answer of 40,000 tool calls translates in time linear in its calls, streamed or whole", async (t) => {
  // An upstream decides how many calls an answer has: each once rescanned all before it (8 to 38 s here).
  const calls = 40_000;
  const ids = Array.from({ length: calls }, (_, call) => `call_${call}`);
  /** Each tool block's index and id, and how long the translation took. */
  const timed = (payloads: string[]) => {
    const started = performance.now();
    const events = run(payloads);
    const elapsed = performance.now() - started;
    assert.equal(events.at(-1)?.type, "message_stop");
    const starts = events.filter((event) => event.type === "content_block_start");
    return {
      blocks: starts.map(({ index, content_block }) => [index, (content_block as { id: string }).id]),
      elapsed,
    };
  };
  const finish = [JSON.stringify(delta({}, "tool_calls")), "[DONE]"];
  const inOrder = ids.map((id, block) => [block, id]);
  await t.step("each call at its own index", () => {
    const { blocks, elapsed } = timed([
      ...ids.map((id, call) => JSON.stringify(toolCall(call, `{"n":${call}}`, { id, name: "f" }))),
      ...finish,
    ]);
    assert.deepEqual(blocks, inOrder);
    assert.ok(elapsed < 2_000, `${elapsed} ms`);
  });
  await t.step("without an index, each call found again by its id", () => {
    const fragment = (id: string, args: string, name?: string) =>
      JSON.stringify(delta({ tool_calls: [{ id, function: { name, arguments: args } }] }));
    const { blocks, elapsed } = timed([
      ...ids.flatMap((id, call) => [fragment(id, '{"n":', "f"), fragment(id, `${call}}`)]),
      ...finish,
    ]);
    assert.deepEqual(blocks, inOrder);
    assert.ok(elapsed < 2_000, `${elapsed} ms`);
  });
  await t.step("behind a call whose name never comes, which gets its block at the end", () => {
    const { blocks, elapsed } = timed([
      JSON.stringify(toolCall(calls, "{}")),
      ...ids.map((id, call) => JSON.stringify(toolCall(call, "{}", { id, name: "f" }))),
      ...finish,
    ]);
    assert.deepEqual(blocks, [...inOrder, [calls, "toolu_generated"]]);
    assert.ok(elapsed < 2_000, `${elapsed} ms`);
  });
  await t.step("each in a chunk of its own that also carries the finish_reason", () => {
    const { blocks, elapsed } = timed([
      ...ids.map((id, call) =>
        JSON.stringify(delta({ tool_calls: [toolFragment(call, "{}", { id, name: "f" })] }, "tool_calls"))
      ),
      "[DONE]",
    ]);
    assert.deepEqual(blocks, inOrder);
    assert.ok(elapsed < 2_000, `${elapsed} ms`);
  });
  await t.step("whole, as a completion to a streaming request", () => {
    const completion = {
      choices: [{
        index: 0,
        finish_reason: "tool_calls",
        message: {
          role: "assistant",
          content: null,
          tool_calls: ids.map((id, call) => ({
            id,
            type: "function",
            function: { name: "f", arguments: `{"n":${call}}` },
          })),
        },
      }],
    };
    const started = performance.now();
    const sse = completionAsAnthropicSse(completion, {
      messageId: "m",
      model: "gpt-4.1",
      thinking: false,
      newToolId: () => "toolu_fresh",
    });
    const elapsed = performance.now() - started;
    const events = new SseDecoder().feed(concatBytes(sse)).map(({ data }) => JSON.parse(data));
    const starts = events.filter((event) => event.type === "content_block_start");
    assert.deepEqual(starts.map(({ index, content_block }) => [index, content_block.id]), inOrder);
    assert.equal(events.at(-1).type, "message_stop");
    assert.ok(elapsed < 2_000, `${elapsed} ms`);
  });
});

Deno.test("an answer whose 50,000 calls all start at its end is translated, not a stack overflow", () => {
  // Each call's arguments stay unfinished JSON, so all but the first wait for the finish: 150,000 events
  // at once, which passed as the arguments of one push overflowed the stack.
  const calls = 50_000;
  const events = run([
    ...Array.from({ length: calls }, (_, call) => toolCall(call, '{"n":', { id: `call_${call}`, name: "f" })),
    delta({}, "tool_calls"),
    "[DONE]",
  ]);
  const starts = events.filter((event) => event.type === "content_block_start");
  assert.equal(starts.length, calls);
  assert.deepEqual(starts.at(-1), toolStart(calls - 1, `call_${calls - 1}`, "f"));
  assert.equal(events.at(-1)?.type, "message_stop");
});
