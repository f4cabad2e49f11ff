import assert from "node:assert/strict";
import { estimateWrittenTokens } from "../../src/routing/token_estimate.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { UsageTap } from "../../src/stream/usage_tap.ts";
import { GOLDEN_NAMES, loadGolden, splitAwkwardly } from "../_helpers/golden.ts";

Deno.test("UsageTap reads a stream's usage however it is chunked: message_start input, last message_delta output", async () => {
  const golden = await loadGolden("text");
  for (const chunks of splitAwkwardly(golden).slice(-4)) {
    const tap = new UsageTap(true);
    for (const chunk of chunks) tap.observe(chunk);
    assert.deepEqual(tap.usage(), { input: 25, output: 12 });
  }
});

Deno.test("UsageTap counts cache writes as input and leaves cache reads out", () => {
  const tap = new UsageTap(true);
  tap.observe(new TextEncoder().encode(
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,' +
      '"cache_creation_input_tokens":500,"cache_read_input_tokens":9000,"output_tokens":1}}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":40}}\n\n',
  ));
  assert.deepEqual(tap.usage(), { input: 510, output: 40 });
});

Deno.test("UsageTap reads an unstreamed message's usage, and says nothing when there is none", () => {
  const json = new UsageTap(false);
  const body = new TextEncoder().encode('{"type":"message","usage":{"input_tokens":7,"output_tokens":3}}');
  json.observe(body.subarray(0, 20));
  json.observe(body.subarray(20));
  assert.deepEqual(json.usage(), { input: 7, output: 3 });
  const none = new UsageTap(true);
  none.observe(new TextEncoder().encode("event: ping\ndata: {}\n\n"));
  assert.equal(none.usage(), undefined);
});

Deno.test("UsageTap.detail reads every golden's usage exactly, cache reads and writes apart, however it is chunked", async () => {
  const expected = {
    text: { input: 25, output: 12, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 },
    cached: { input: 4, output: 73, cacheRead: 14_207, cacheWrite: 1_832, cacheWrite1h: 632 },
  };
  for (const [name, detail] of Object.entries(expected)) {
    for (const chunks of splitAwkwardly(await loadGolden(name as keyof typeof expected))) {
      const tap = new UsageTap(true);
      for (const chunk of chunks) tap.observe(chunk);
      assert.deepEqual(tap.detail(), detail, `${name} in ${chunks.length} chunks`);
    }
  }
  const cached = new UsageTap(true);
  cached.observe(await loadGolden("cached"));
  // What rate limits count: input and cache writes, no cache reads.
  assert.deepEqual(cached.usage(), { input: 1_836, output: 73 });
});

Deno.test("UsageTap.detail keeps what message_start said when message_delta repeats only some fields", () => {
  const tap = new UsageTap(true);
  tap.observe(new TextEncoder().encode(
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,' +
      '"cache_creation_input_tokens":500,"cache_read_input_tokens":9000,' +
      '"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":500},"output_tokens":1}}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":40}}\n\n',
  ));
  assert.deepEqual(tap.detail(), {
    input: 10,
    output: 40,
    cacheRead: 9000,
    cacheWrite: 500,
    cacheWrite1h: 500,
  });
  const json = new UsageTap(false);
  json.observe(new TextEncoder().encode(
    '{"type":"message","usage":{"input_tokens":7,"cache_read_input_tokens":3,"output_tokens":2}}',
  ));
  assert.deepEqual(json.detail(), { input: 7, output: 2, cacheRead: 3, cacheWrite: 0, cacheWrite1h: 0 });
});

Deno.test("UsageTap keeps the data of a stream's error event, split across chunks or not", () => {
  const tap = new UsageTap(true);
  assert.equal(tap.errorData(), undefined);
  const text =
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5}}}\n\n' +
    'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
  const cut = text.indexOf("overloaded");
  tap.observe(new TextEncoder().encode(text.slice(0, cut)));
  assert.equal(tap.errorData(), undefined, "not until the event is whole");
  tap.observe(new TextEncoder().encode(text.slice(cut)));
  assert.equal(
    tap.errorData(),
    '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
  );
  assert.equal(tap.usage()?.input, 5);
});

Deno.test("UsageTap.unfinished says whether a stream has yet to send message_stop or an error, and whether a JSON body is whole", async () => {
  const encoder = new TextEncoder();
  for (const name of ["text", "error_mid"] as const) {
    const golden = await loadGolden(name);
    const tap = new UsageTap(true);
    tap.observe(golden.subarray(0, golden.byteLength - 1));
    assert.equal(tap.unfinished(), true, `${name} but for its last byte`);
    tap.observe(golden.subarray(golden.byteLength - 1));
    assert.equal(tap.unfinished(), false, name);
  }
  const json = new UsageTap(false);
  json.observe(encoder.encode('{"type":"message","usage":{"input_tokens":7,"output_tokens":3}}'));
  assert.equal(json.unfinished(), false);
  // An event past the decoder's bound: the tap stops reading, and cannot tell.
  const overflowed = new UsageTap(true);
  overflowed.observe(
    encoder.encode('event: message_start\ndata: {"type":"message_start"}\n\nevent: x\ndata: '),
  );
  overflowed.observe(encoder.encode("x".repeat(33 * 1024 * 1024)));
  assert.equal(overflowed.unfinished(), false);
});

Deno.test("UsageTap stops reading at an event past the decoder's bound, and never fails the chunk", () => {
  const encoder = new TextEncoder();
  const tap = new UsageTap(true);
  tap.observe(encoder.encode(
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}\n\n' +
      'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"',
  ));
  const mebibyte = encoder.encode("x".repeat(1024 * 1024));
  for (let i = 0; i < 33; i++) assert.deepEqual(tap.observe(mebibyte), []);
  assert.deepEqual(
    tap.observe(encoder.encode('"}}\n\nevent: message_delta\ndata: {"usage":{"output_tokens":40}}\n\n')),
    [],
  );
  assert.deepEqual(tap.usage(), { input: 10, output: 1 }, "what was read before the huge event");
});

Deno.test("UsageTap reads the usage at the end of a JSON message over 4 MiB, keeping only its end", () => {
  const encoder = new TextEncoder();
  // A quoted `"usage":{` and `}` in the text are no usage of the message.
  const text = 'say \\"usage\\":{\\"input_tokens\\":1} and } '.repeat(150_000);
  const head = encoder.encode(`{"type":"message","content":[{"type":"text","text":"${text}"}],`);
  const tail = encoder.encode(
    '"usage": {"input_tokens":12,"cache_creation_input_tokens":4,"cache_creation":{"ephemeral_1h_input_tokens":4},' +
      // A string ending in an escaped backslash ends at its quote: the `}` after it closes the usage.
      '"output_tokens":30000,"note":"{ } \\" }","path":"C:\\\\"}}',
  );
  assert.ok(head.byteLength > 4 * 1024 * 1024);
  const tap = new UsageTap(false);
  for (let at = 0; at < head.byteLength; at += 65_536) tap.observe(head.subarray(at, at + 65_536));
  tap.observe(tail.subarray(0, 40));
  tap.observe(tail.subarray(40));
  assert.deepEqual(tap.detail(), { input: 12, output: 30_000, cacheRead: 0, cacheWrite: 4, cacheWrite1h: 4 });

  const noUsage = new UsageTap(false);
  noUsage.observe(head);
  noUsage.observe(encoder.encode('"usage":null,"x":{"output_tokens":5}}'));
  assert.equal(noUsage.detail(), undefined, "a usage that is no object is none");
});

Deno.test("UsageTap counts only whole, non-negative, safe token counts: any other figure reads as none", () => {
  const tap = new UsageTap(true);
  tap.observe(new TextEncoder().encode(
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,' +
      '"cache_creation_input_tokens":500,"cache_read_input_tokens":90,"output_tokens":1}}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"input_tokens":1e300,' +
      '"cache_creation_input_tokens":-500,"cache_read_input_tokens":2.5,"output_tokens":-1000000}}\n\n',
  ));
  assert.deepEqual(tap.detail(), { input: 10, output: 1, cacheRead: 90, cacheWrite: 500, cacheWrite1h: 0 });
  const json = new UsageTap(false);
  json.observe(new TextEncoder().encode('{"usage":{"input_tokens":-7,"output_tokens":"3"}}'));
  assert.equal(json.detail(), undefined);
});

Deno.test("UsageTap reads the web searches an answer ran, streamed or not, the last figure standing", () => {
  const stream = new UsageTap(true);
  stream.observe(new TextEncoder().encode(
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,' +
      '"output_tokens":1,"server_tool_use":{"web_search_requests":0}}}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":30,' +
      '"server_tool_use":{"web_search_requests":5,"web_fetch_requests":1}}}\n\n',
  ));
  assert.deepEqual(stream.detail(), {
    input: 10,
    output: 30,
    cacheRead: 0,
    cacheWrite: 0,
    cacheWrite1h: 0,
    webSearches: 5,
  });
  // What rate limits count stays tokens.
  assert.deepEqual(stream.usage(), { input: 10, output: 30 });
  const json = new UsageTap(false);
  json.observe(new TextEncoder().encode(
    '{"type":"message","usage":{"input_tokens":7,"output_tokens":3,"server_tool_use":{"web_search_requests":2}}}',
  ));
  assert.equal(json.detail()?.webSearches, 2);
  const none = new UsageTap(false);
  none.observe(
    new TextEncoder().encode('{"usage":{"input_tokens":7,"output_tokens":3,"server_tool_use":null}}'),
  );
  assert.deepEqual(none.detail(), { input: 7, output: 3, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 });
});

Deno.test("UsageTap counts only whole, non-negative, safe web search counts: any other figure reads as none", () => {
  for (const figure of ["-5", "2.5", "1e300", '"5"']) {
    const tap = new UsageTap(true);
    tap.observe(new TextEncoder().encode(
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,' +
        '"output_tokens":1,"server_tool_use":{"web_search_requests":3}}}}\n\n' +
        'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":30,' +
        `"server_tool_use":{"web_search_requests":${figure}}}}\n\n`,
    ));
    assert.equal(tap.detail()?.webSearches, 3, figure);
  }
});

Deno.test("UsageTap counts what unreported gives only for a stream that has not sent its message_delta", () => {
  const soFar = {
    input_tokens: 900,
    output_tokens: 40,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
  };
  let asked = 0;
  const unreported = () => (asked++, soFar);
  const start = 'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":0,' +
    '"output_tokens":0}}}\n\n';
  const cut = new UsageTap(true, unreported);
  cut.observe(new TextEncoder().encode(start));
  assert.deepEqual(cut.usage(), { input: 900, output: 40 });
  const whole = new UsageTap(true, unreported);
  whole.observe(new TextEncoder().encode(
    start +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"input_tokens":870,"output_tokens":38}}\n\n',
  ));
  assert.deepEqual(whole.usage(), { input: 870, output: 38 });
  assert.equal(asked, 1, "the answer's own usage needs no estimate");
  const nothing = new UsageTap(true, () => undefined);
  nothing.observe(new TextEncoder().encode(start));
  assert.deepEqual(nothing.usage(), { input: 0, output: 0 });
});

/** `bytes` up to its `message_delta`: the stream as a client that left (Esc), or a broken upstream, ends it. */
function beforeMessageDelta(bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(bytes);
  const at = text.indexOf("event: message_delta");
  return new TextEncoder().encode(at < 0 ? text : text.slice(0, at));
}

/**
 * The output relay estimates for what the content deltas of `bytes` wrote, read by a full JSON parse:
 * text, thinking and tool input, never a thinking block's signature (about 50 tokens in `thinking`).
 */
function writtenEstimate(bytes: Uint8Array): number {
  const texts = new SseDecoder().feed(bytes).filter((event) => event.event === "content_block_delta")
    .map((event) => JSON.parse(event.data).delta)
    .map((delta) => delta.text ?? delta.thinking ?? delta.partial_json ?? "");
  return Math.ceil(estimateWrittenTokens([texts.join("")]));
}

Deno.test("UsageTap estimates the output of a stream cut before its message_delta from its text, thinking and tool input, however it is chunked", async () => {
  for (const name of GOLDEN_NAMES) {
    const cut = beforeMessageDelta(await loadGolden(name));
    const expected = writtenEstimate(cut);
    assert.ok(expected > 1, `${name} wrote more than message_start's placeholder`);
    for (const chunks of splitAwkwardly(cut).slice(-4)) {
      let estimated = 0;
      const tap = new UsageTap(true, undefined, () => estimated++);
      for (const chunk of chunks) tap.observe(chunk);
      assert.equal(tap.detail()?.output, expected, `${name} in ${chunks.length} chunks`);
      assert.equal(estimated, 1, name);
    }
  }
});

Deno.test("UsageTap leaves the usage of a stream that reached its message_delta as reported, with no estimate", async () => {
  for (const name of GOLDEN_NAMES) {
    if (name === "error_mid") continue;
    const golden = await loadGolden(name);
    let estimated = 0;
    const tap = new UsageTap(true, undefined, () => estimated++);
    tap.observe(golden);
    const reported = new UsageTap(true);
    reported.observe(golden);
    assert.deepEqual(tap.detail(), reported.detail(), name);
    assert.equal(estimated, 0, name);
  }
  // A message_delta the stream sent before it broke off: the answer's own count stands.
  const text = new TextDecoder().decode(await loadGolden("text"));
  let estimated = 0;
  const cut = new UsageTap(true, undefined, () => estimated++);
  cut.observe(new TextEncoder().encode(text.slice(0, text.indexOf("event: message_stop"))));
  assert.deepEqual([cut.detail()?.output, estimated], [12, 0]);
});

Deno.test("UsageTap estimates the output of a whole answer whose usage counts none: a stream's message_delta or a message without it", () => {
  const text = "x".repeat(70);
  const start = 'event: message_start\ndata: {"type":"message_start","message":{"usage":null}}\n\n';
  const delta = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,' +
    `"delta":{"type":"text_delta","text":"${text}"}}\n\n`;
  const stop = "event: message_stop\ndata: {}\n\n";
  for (const usage of ["", ',"usage":null', ',"usage":{}', ',"usage":{"output_tokens":null}']) {
    let estimated = 0;
    const tap = new UsageTap(true, undefined, () => estimated++, 900);
    tap.observe(new TextEncoder().encode(
      `${start}${delta}event: message_delta\ndata: {"type":"message_delta"${usage}}\n\n${stop}`,
    ));
    assert.deepEqual([tap.detail()?.input, tap.detail()?.output, estimated > 0], [900, 20, true], usage);
  }
  const tools = new UsageTap(false, undefined, undefined, 900);
  const input = { path: "y".repeat(60) };
  tools.observe(new TextEncoder().encode(JSON.stringify({
    type: "message",
    content: [{ type: "thinking", thinking: text, signature: "s" }, {
      type: "tool_use",
      id: "t",
      name: "read",
      input,
    }],
    usage: { input_tokens: 12 },
  })));
  assert.deepEqual(
    [tools.detail()?.input, tools.detail()?.output],
    [12, Math.ceil(estimateWrittenTokens([text, JSON.stringify(input)]))],
  );
});

Deno.test("UsageTap takes the larger of what message_start said and the estimate, and marks either estimated", () => {
  const start = (output: number) =>
    `event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":${output}}}}\n\n`;
  const delta = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,' +
    `"delta":{"type":"text_delta","text":"${"x".repeat(35)}"}}\n\n`;
  for (const [output, expected] of [[1, 10], [50, 50]]) {
    let estimated = 0;
    const tap = new UsageTap(true, undefined, () => estimated++);
    tap.observe(new TextEncoder().encode(start(output) + delta));
    assert.deepEqual([tap.detail()?.output, estimated], [expected, 1], `message_start said ${output}`);
  }
  // Nothing at all was read: no usage, nothing estimated.
  let estimated = 0;
  const none = new UsageTap(true, undefined, () => estimated++);
  none.observe(new TextEncoder().encode("event: ping\ndata: {}\n\n"));
  assert.deepEqual([none.detail(), estimated], [undefined, 0]);
});

Deno.test("UsageTap estimates escaped text as what it stands for, in any key order and spacing", () => {
  const event = (delta: string) =>
    `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":${delta}}\n\n`;
  const stream =
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,' +
    '"output_tokens":1}}}\n\n' +
    // Seven characters of Japanese escaped as a gateway that writes ASCII only does: seven tokens, not 42 / 3.5.
    event('{"type":"text_delta","text":"\\u3053\\u3093\\u306b\\u3061\\u306f\\u4e16\\u754c"}') +
    // A quote and a backslash inside the text end nothing.
    event('{"text": "a \\"quoted\\" \\\\", "type": "text_delta"}') +
    event(
      '{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds4cPyNFBRc3"}',
    );
  const tap = new UsageTap(true);
  tap.observe(new TextEncoder().encode(stream));
  assert.equal(tap.detail()?.output, Math.ceil(estimateWrittenTokens(["こんにちは世界", 'a "quoted" \\'])));
});

Deno.test("UsageTap estimates a long cut stream whole, and a delta of megabytes without failing", () => {
  const encoder = new TextEncoder();
  const tap = new UsageTap(true);
  tap.observe(encoder.encode(
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}\n\n',
  ));
  const delta = (text: string) =>
    encoder.encode(
      `event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"${text}"}}\n\n`,
    );
  // 3,500 deltas of 35 characters: 35,000 tokens, read over many batches.
  for (let i = 0; i < 3_500; i++) tap.observe(delta("x".repeat(35)));
  // 3.5 Mi characters in one delta, a backslash before every quote: a pattern for the whole string would
  // overflow the regex stack.
  tap.observe(delta('{\\"a\\": 1} '.repeat(350 * 1024)));
  const output = tap.detail()!.output;
  const expected = 35_000 + Math.ceil(350 * 1024 * 9 / 3.5);
  assert.ok(Math.abs(output - expected) <= 1, `${output} for ${expected}`);
});

Deno.test("UsageTap counts cache writes reported only by their breakdown, and the total alone when both are there", () => {
  const breakdownOnly = '{"input_tokens":10,"cache_creation":{"ephemeral_5m_input_tokens":300,' +
    '"ephemeral_1h_input_tokens":200},"output_tokens":7}';
  const stream = new UsageTap(true);
  stream.observe(new TextEncoder().encode(
    `event: message_start\ndata: {"type":"message_start","message":{"usage":${breakdownOnly}}}\n\n` +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":40}}\n\n',
  ));
  assert.deepEqual(stream.detail(), {
    input: 10,
    output: 40,
    cacheRead: 0,
    cacheWrite: 500,
    cacheWrite1h: 200,
  });
  assert.deepEqual(stream.usage(), { input: 510, output: 40 });
  const json = new UsageTap(false);
  json.observe(new TextEncoder().encode(`{"type":"message","usage":${breakdownOnly}}`));
  assert.deepEqual(json.detail(), { input: 10, output: 7, cacheRead: 0, cacheWrite: 500, cacheWrite1h: 200 });
  const oneLifetime = new UsageTap(false);
  oneLifetime.observe(new TextEncoder().encode(
    '{"usage":{"input_tokens":1,"output_tokens":1,"cache_creation":{"ephemeral_1h_input_tokens":64}}}',
  ));
  assert.deepEqual([oneLifetime.detail()?.cacheWrite, oneLifetime.detail()?.cacheWrite1h], [64, 64]);
  // Anthropic sends both: the total is the breakdown's sum, counted once.
  const both = new UsageTap(false);
  both.observe(new TextEncoder().encode(
    '{"usage":{"input_tokens":1,"output_tokens":1,"cache_creation_input_tokens":500,' +
      '"cache_creation":{"ephemeral_5m_input_tokens":300,"ephemeral_1h_input_tokens":200}}}',
  ));
  assert.deepEqual([both.detail()?.cacheWrite, both.detail()?.cacheWrite1h], [500, 200]);
});

Deno.test("UsageTap reads which speed and geo served the answer, streamed or not, the last said standing", () => {
  const start = (usage: string) =>
    `event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1${usage}}}}\n\n`;
  const delta = (usage: string) =>
    `event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":30${usage}}}\n\n`;
  const read = (sse: boolean, text: string) => {
    const tap = new UsageTap(sse);
    tap.observe(new TextEncoder().encode(text));
    return tap.detail();
  };
  const plain = { input: 10, output: 30, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 };
  assert.deepEqual(
    read(true, start(',"speed":"fast","inference_geo":"us","service_tier":"standard"') + delta("")),
    { ...plain, speed: "fast", inferenceGeo: "us" },
    "message_delta leaving them out keeps what message_start said",
  );
  assert.deepEqual(
    read(
      true,
      start(',"speed":"fast","inference_geo":"us"') + delta(',"speed":"standard","inference_geo":"global"'),
    ),
    plain,
    "the last said stands",
  );
  assert.deepEqual(read(true, start(',"speed":null,"inference_geo":"eu"') + delta("")), plain);
  assert.deepEqual(
    read(
      false,
      '{"type":"message","usage":{"input_tokens":10,"output_tokens":30,"speed":"fast","inference_geo":"us"}}',
    ),
    { ...plain, speed: "fast", inferenceGeo: "us" },
  );
  assert.deepEqual(
    read(
      false,
      '{"type":"message","usage":{"input_tokens":10,"output_tokens":30,"speed":"standard","inference_geo":1}}',
    ),
    plain,
  );
});

/** `bytes` as a gateway that writes no `event:` lines sends it: each event named only by its data's `type`. */
function dataOnly(bytes: Uint8Array): Uint8Array {
  return new TextEncoder().encode(new TextDecoder().decode(bytes).replace(/^event: .*\n/gm, ""));
}

/** `value` as JSON with every object's keys sorted and Python's spacing, as some gateways write it. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(", ")}]`;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const object = value as Record<string, unknown>;
  return `{${
    Object.keys(object).sort().map((key) => `${JSON.stringify(key)}: ${sortedJson(object[key])}`).join(", ")
  }}`;
}

/** Every event's data of `bytes` rewritten by {@linkcode sortedJson}: a nested `type` comes before the event's. */
function keysSorted(bytes: Uint8Array): Uint8Array {
  // By LF alone: the goldens' JSON holds raw line and paragraph separators, which a regex's `$` ends at.
  const lines = new TextDecoder().decode(bytes).split("\n");
  const sorted = lines.map((line) =>
    line.startsWith("data: ") ? `data: ${sortedJson(JSON.parse(line.slice("data: ".length)))}` : line
  );
  return new TextEncoder().encode(sorted.join("\n"));
}

/** What a tap read of `chunks`: the names of the events it gave back, its usage, whether it ended, its error. */
function tapped(chunks: Uint8Array[]) {
  const tap = new UsageTap(true);
  const names = chunks.flatMap((chunk) => tap.observe(chunk).map((event) => event.event));
  const errorData = tap.errorData();
  return {
    names,
    detail: tap.detail(),
    ended: tap.ended(),
    unfinished: tap.unfinished(),
    error: errorData === undefined ? undefined : JSON.parse(errorData),
  };
}

Deno.test("UsageTap reads a stream without event: lines by its data's type, in any key order, however it is chunked", async () => {
  for (const name of GOLDEN_NAMES) {
    const golden = await loadGolden(name);
    const expected = tapped([golden]);
    assert.ok(expected.ended, `${name} ends, on message_stop or its error`);
    const variants = { "data only": dataOnly(golden), "keys sorted": keysSorted(dataOnly(golden)) };
    for (const [variant, bytes] of Object.entries(variants)) {
      const chunkings = name === "text" || name === "cached"
        ? splitAwkwardly(bytes)
        : splitAwkwardly(bytes).slice(-4);
      for (const chunks of chunkings) {
        assert.deepEqual(tapped(chunks), expected, `${name}, ${variant}, in ${chunks.length} chunks`);
      }
    }
    // Cut before its message_delta, the output it wrote is estimated the same.
    const cut = beforeMessageDelta(golden);
    assert.deepEqual(tapped([keysSorted(dataOnly(cut))]).detail, tapped([cut]).detail, `${name} cut`);
  }
  // An unnamed event that names no Anthropic event is left as it came, and nothing of it read.
  const tap = new UsageTap(true);
  const events = tap.observe(new TextEncoder().encode(
    'data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"hi"}}],"usage":{"prompt_tokens":9}}\n\n' +
      'data: {"type":"message","usage":{"input_tokens":9}}\n\ndata: [DONE]\n\n',
  ));
  assert.deepEqual(events.map((event) => event.event), ["message", "message", "message"]);
  assert.deepEqual([tap.detail(), tap.ended(), tap.unfinished()], [undefined, false, true]);
});

Deno.test("UsageTap parses an event's data at most once, even when naming it by a later type took parsing it", async () => {
  for (const name of GOLDEN_NAMES) {
    const golden = await loadGolden(name);
    const sorted = keysSorted(dataOnly(golden));
    const parses = new Map<string, number>();
    const parse = JSON.parse;
    JSON.parse = (text: string, reviver?: (key: string, value: unknown) => unknown) => {
      parses.set(text, (parses.get(text) ?? 0) + 1);
      return parse(text, reviver);
    };
    let detail;
    try {
      const tap = new UsageTap(true);
      tap.observe(sorted);
      detail = tap.detail();
    } finally {
      JSON.parse = parse;
    }
    assert.deepEqual(detail, tapped([golden]).detail, name);
    const twice = [...parses].filter(([, count]) => count > 1).map(([text]) => text);
    assert.deepEqual(twice, [], `${name}: parsed more than once`);
    assert.ok(parses.size > 0, `${name}: its events were parsed to be named`);
  }
});

/** `bytes` with its `message_start`'s usage set to `usage`, or left out when `undefined`. */
function withStartUsage(bytes: Uint8Array, usage: Record<string, unknown> | null | undefined): Uint8Array {
  const text = new TextDecoder().decode(bytes);
  const changed = text.replace(/^data: (\{"type":"message_start"[^\n]*)/m, (_, json: string) => {
    const data = JSON.parse(json);
    if (usage === undefined) delete data.message.usage;
    else data.message.usage = usage;
    return `data: ${JSON.stringify(data)}`;
  });
  assert.notEqual(changed, text);
  return new TextEncoder().encode(changed);
}

Deno.test("UsageTap counts relay's input estimate for a stream whose message_start counts none, marked estimated; a later count stands", async () => {
  const text = await loadGolden("text");
  for (const usage of [null, undefined]) {
    const stream = withStartUsage(text, usage);
    let estimated = 0;
    const tap = new UsageTap(true, undefined, () => estimated++, 900);
    tap.observe(stream);
    assert.deepEqual(
      tap.detail(),
      { input: 900, output: 12, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 },
      `${usage}`,
    );
    assert.equal(estimated, 1, `${usage}`);
    // Without an estimate the input is zero, but still not the upstream's figure.
    let told = 0;
    const unestimated = new UsageTap(true, undefined, () => told++);
    unestimated.observe(stream);
    assert.deepEqual([unestimated.usage(), told], [{ input: 0, output: 12 }, 1]);
    // Cut before its message_delta, both input and output are relay's.
    const cut = new UsageTap(true, undefined, () => {}, 900);
    cut.observe(beforeMessageDelta(stream));
    assert.deepEqual(cut.usage(), { input: 900, output: writtenEstimate(beforeMessageDelta(text)) });
  }
  // A message_delta that counts the input: the upstream's figure, no estimate.
  let estimated = 0;
  const tap = new UsageTap(true, undefined, () => estimated++, 900);
  tap.observe(withStartUsage(await loadGolden("cached"), null));
  // What message_delta says; only message_start's breakdown of the cache writes by lifetime is missing.
  assert.deepEqual(tap.detail(), {
    input: 4,
    output: 73,
    cacheRead: 14_207,
    cacheWrite: 1_832,
    cacheWrite1h: 0,
  });
  assert.equal(estimated, 0);
  // A stream that counted its input, or never began, has no use for the estimate.
  const golden = new UsageTap(true, undefined, () => estimated++, 900);
  golden.observe(await loadGolden("text"));
  assert.equal(golden.detail()?.input, 25);
  const pings = new UsageTap(true, undefined, () => estimated++, 900);
  pings.observe(new TextEncoder().encode('event: ping\ndata: {"type": "ping"}\n\n'));
  assert.deepEqual([pings.detail(), estimated], [undefined, 0]);
});

/** Every event's data of `bytes` with its own `type` after its other keys, as some gateways write it. */
function typeLast(bytes: Uint8Array): Uint8Array {
  // By LF alone, as in keysSorted: the goldens' JSON holds raw line and paragraph separators.
  const lines = new TextDecoder().decode(bytes).split("\n");
  const moved = lines.map((line) => {
    if (!line.startsWith("data: ")) return line;
    const { type, ...rest } = JSON.parse(line.slice("data: ".length));
    return `data: ${JSON.stringify({ ...rest, type })}`;
  });
  return new TextEncoder().encode(moved.join("\n"));
}

/** The tool_use golden with its tool's input given whole in its block's start, as `input`. */
async function toolInputAtStart(input: unknown): Promise<Uint8Array> {
  const text = new TextDecoder().decode(await loadGolden("tool_use"));
  const changed = text.replace('"input":{}', `"input":${JSON.stringify(input)}`);
  assert.notEqual(changed, text);
  return new TextEncoder().encode(changed);
}

Deno.test("UsageTap names an event without an event: line by its own type, never by one nested in it (a tool's input)", async () => {
  for (const nested of ["error", "message_stop", "message_delta", "message_start"]) {
    const named = await toolInputAtStart({ type: nested, message: "x" });
    const expected = tapped([named]);
    assert.deepEqual([expected.ended, expected.error], [true, undefined], nested);
    for (const chunks of splitAwkwardly(typeLast(dataOnly(named))).slice(-4)) {
      assert.deepEqual(tapped(chunks), expected, `${nested} in ${chunks.length} chunks`);
    }
    // Cut after the tool's start, the stream is unfinished, its output estimated from every delta.
    const cut = beforeMessageDelta(named);
    const cutExpected = tapped([cut]);
    assert.deepEqual([cutExpected.ended, cutExpected.unfinished], [false, true], `${nested} cut`);
    assert.deepEqual(tapped([typeLast(dataOnly(cut))]), cutExpected, `${nested} cut`);
  }
  // Data that is no JSON names no event, whatever it quotes.
  const tap = new UsageTap(true);
  const events = tap.observe(new TextEncoder().encode(
    'data: {"index":0,"type":"error"\n\ndata: <p>"type":"message_stop"</p>\n\n',
  ));
  assert.deepEqual(events.map((event) => event.event), ["message", "message"]);
  assert.deepEqual([tap.ended(), tap.errorData(), tap.unfinished()], [false, undefined, true]);
});

Deno.test("UsageTap's input estimate leaves out the cache reads and writes the stream counted, never below zero", async () => {
  const text = await loadGolden("text");
  const cases = [
    { usage: { cache_read_input_tokens: 4900 }, estimate: 5000, input: 100, cacheRead: 4900, cacheWrite: 0 },
    {
      usage: { cache_read_input_tokens: 4600, cache_creation_input_tokens: 300 },
      estimate: 5000,
      input: 100,
      cacheRead: 4600,
      cacheWrite: 300,
    },
    { usage: { cache_read_input_tokens: 4900 }, estimate: 4000, input: 0, cacheRead: 4900, cacheWrite: 0 },
  ];
  for (const { usage, estimate, input, cacheRead, cacheWrite } of cases) {
    const stream = withStartUsage(text, { ...usage, output_tokens: 1 });
    for (const bytes of [stream, dataOnly(stream)]) {
      let estimated = 0;
      const tap = new UsageTap(true, undefined, () => estimated++, estimate);
      tap.observe(bytes);
      const label = `${JSON.stringify(usage)}, estimate ${estimate}`;
      assert.deepEqual(tap.detail(), { input, output: 12, cacheRead, cacheWrite, cacheWrite1h: 0 }, label);
      assert.equal(estimated, 1, label);
    }
  }
});

Deno.test("UsageTap counts relay's estimates for a whole message whose usage counts no input or output, marked estimated; a reported 0 stands", () => {
  const encoder = new TextEncoder();
  /** What a tap given an estimate of 900 (or none) reads of `body`, chunked, and whether it told `estimated`. */
  const read = (body: string, estimateGiven = true) => {
    let estimated = 0;
    const tap = new UsageTap(false, undefined, () => estimated++, estimateGiven ? 900 : undefined);
    const bytes = encoder.encode(body);
    tap.observe(bytes.subarray(0, 17));
    tap.observe(bytes.subarray(17));
    return [tap.detail(), estimated];
  };
  const message = (usage: string) =>
    `{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}]${usage}}`;
  // "Hi" is one token as relay estimates text.
  const none = { input: 900, output: 1, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 };
  for (const usage of [',"usage":null', "", ',"usage":{}', ',"usage":{"input_tokens":-1}']) {
    assert.deepEqual(read(message(usage)), [none, 1], usage);
  }
  // The cache reads and writes it counted are billed as such, not again as input.
  assert.deepEqual(
    read(
      message(',"usage":{"output_tokens":5,"cache_read_input_tokens":600,"cache_creation_input_tokens":100}'),
    ),
    [{ input: 200, output: 5, cacheRead: 600, cacheWrite: 100, cacheWrite1h: 0 }, 1],
  );
  assert.deepEqual(
    read(message(',"usage":{"output_tokens":5,"cache_read_input_tokens":1000}')),
    [{ input: 0, output: 5, cacheRead: 1000, cacheWrite: 0, cacheWrite1h: 0 }, 1],
  );
  // Zero input is a count.
  assert.deepEqual(
    read(message(',"usage":{"input_tokens":0,"output_tokens":5}')),
    [{ input: 0, output: 5, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 }, 0],
  );
  // No estimate given: what the message said, nothing when it said nothing.
  assert.deepEqual(read(message(',"usage":null'), false), [undefined, 0]);
  assert.deepEqual(
    read(message(',"usage":{"output_tokens":5}'), false),
    [{ input: 0, output: 5, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 }, 0],
  );
  // No message: another route's answer, whole or cut short.
  assert.deepEqual(read('{"input_tokens":7}'), [undefined, 0]);
  assert.deepEqual(read('{"input_tokens":'), [undefined, 0]);
  assert.deepEqual(read('{"data":[{"type":"model","id":"claude-sonnet-4-5"}],"has_more":false}'), [
    undefined,
    0,
  ]);
  // A message cut short was billed whole: the usage at its end when the cut came after it, or else
  // relay's estimates, of its input and of the text before the cut.
  assert.deepEqual(
    read(message(',"usage":{"output_tokens":5}').slice(0, -1)),
    [{ input: 900, output: 5, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 }, 1],
  );
  assert.deepEqual(
    read(message(',"usage":{"input_tokens":3,"output_tokens":5}').slice(0, -1)),
    [{ input: 3, output: 5, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 }, 0],
  );
  assert.deepEqual(
    read(message(',"usage":{"output_tokens":5}').slice(0, -22)),
    [{ input: 900, output: 1, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 }, 1],
  );
});

Deno.test("UsageTap counts relay's input estimate for a JSON message over 4 MiB whose usage at its end counts none", () => {
  const encoder = new TextEncoder();
  const head = encoder.encode(
    `{"type":"message","content":[{"type":"text","text":"${"x".repeat(4_300_000)}"}],`,
  );
  const read = (tail: string) => {
    let estimated = 0;
    const tap = new UsageTap(false, undefined, () => estimated++, 900);
    for (let at = 0; at < head.byteLength; at += 65_536) tap.observe(head.subarray(at, at + 65_536));
    tap.observe(encoder.encode(tail));
    return [tap.detail(), estimated];
  };
  assert.deepEqual(
    read('"usage":{"cache_read_input_tokens":300,"output_tokens":30000}}'),
    [{ input: 600, output: 30_000, cacheRead: 300, cacheWrite: 0, cacheWrite1h: 0 }, 1],
  );
  assert.deepEqual(
    read('"usage":{"input_tokens":0,"output_tokens":30000}}'),
    [{ input: 0, output: 30_000, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 }, 0],
  );
  // No usage object at its end: nothing says it is a message, and nothing is counted.
  assert.deepEqual(read('"usage":null}'), [undefined, 0]);
});

/** `JSON.parse`'s calls while `run` runs, and what `run` gave. */
function parsesIn<T>(run: () => T): { parses: number; result: T } {
  const parse = JSON.parse;
  let parses = 0;
  JSON.parse = (text: string, reviver?: (key: string, value: unknown) => unknown) => {
    parses++;
    return parse(text, reviver);
  };
  try {
    const result = run();
    return { parses, result };
  } finally {
    JSON.parse = parse;
  }
}

/** A tap reading `body` as a JSON answer in chunks of `size` bytes. */
function jsonTap(body: Uint8Array, size: number, estimated?: () => void): UsageTap {
  const tap = new UsageTap(false, undefined, estimated, 900);
  for (let at = 0; at < body.byteLength; at += size) tap.observe(body.subarray(at, at + size));
  return tap;
}

Deno.test("UsageTap tells a JSON body's end without parsing it, though many chunks end in a nested brace: it is parsed once, for its usage", () => {
  const encoder = new TextEncoder();
  const objects = '{"a":1},'.repeat(2_000);
  const body = encoder.encode(
    `{"type":"message","content":[{"type":"tool_use","input":{"x":[${objects}{"a":1}]}}],` +
      '"usage":{"input_tokens":7,"output_tokens":3}}',
  );
  const tap = new UsageTap(false);
  let endedEarly = false;
  const read = parsesIn(() => {
    // Each chunk but the last ends in a `}` that closes an object nested in the message.
    for (let at = 0; at < body.byteLength;) {
      const next = body.indexOf(0x7d, at + 64);
      const end = next < 0 ? body.byteLength : next + 1;
      tap.observe(body.subarray(at, end));
      if (end < body.byteLength && tap.ended()) endedEarly = true;
      at = end;
    }
    return [tap.ended(), tap.unfinished()];
  });
  assert.equal(endedEarly, false, "ended at a nested brace");
  assert.deepEqual([read.result, read.parses], [[true, false], 0]);
  const detail = parsesIn(() => tap.detail());
  assert.deepEqual([detail.result?.input, detail.result?.output, detail.parses], [7, 3, 1]);
});

Deno.test("UsageTap ends a JSON body at its own end however its strings split across chunks, braces and escaped quotes in them", () => {
  const encoder = new TextEncoder();
  const body = encoder.encode(
    JSON.stringify({
      type: "message",
      content: [{ type: "text", text: '} "}" \\" {"usage":{"output_tokens":99}} \\' }],
      usage: { input_tokens: 7, output_tokens: 3 },
    }),
  );
  for (let at = 1; at < body.byteLength; at++) {
    const tap = new UsageTap(false);
    const first = parsesIn(() => {
      tap.observe(body.subarray(0, at));
      return tap.ended();
    });
    assert.deepEqual([first.result, first.parses], [false, 0], `ended, or parsed, at ${at}`);
    tap.observe(body.subarray(at));
    assert.deepEqual([tap.ended(), tap.unfinished()], [true, false], `split at ${at}`);
    assert.deepEqual(tap.usage(), { input: 7, output: 3 }, `split at ${at}`);
  }
});

Deno.test("UsageTap takes a whole JSON answer that is no object for whole, not cut", () => {
  for (const body of ["[]", '"ok"', "null", "42", '[{"type":"model"}]\n']) {
    const tap = new UsageTap(false);
    tap.observe(new TextEncoder().encode(body));
    assert.equal(tap.unfinished(), false, body);
    assert.equal(tap.usage(), undefined, body);
  }
  // More than whitespace after the value, in the same chunk: no one JSON value, never ended there.
  const trailing = new UsageTap(false);
  trailing.observe(new TextEncoder().encode('{"input_tokens":7} {'));
  assert.deepEqual([trailing.ended(), trailing.unfinished()], [false, true]);
});

Deno.test("UsageTap tells a JSON body over 4 MiB whole or cut at any byte, and ends a whole one though more whitespace comes", () => {
  const encoder = new TextEncoder();
  const body = encoder.encode(
    `{"type":"message","content":[{"type":"tool_use","input":{"a":{"b":1}}},` +
      `{"type":"text","text":"${"x".repeat(4_300_000)}"},{"type":"tool_use","input":{"c":{}}}],` +
      '"usage":{"input_tokens":12,"output_tokens":30000}}',
  );
  const whole = jsonTap(body, 16_384);
  assert.deepEqual([whole.ended(), whole.unfinished()], [true, false]);
  // An upstream that keeps its body open sends nothing more, or only whitespace: the answer has ended.
  whole.observe(encoder.encode("\n"));
  whole.observe(encoder.encode("  \r\n"));
  assert.deepEqual([whole.ended(), whole.unfinished()], [true, false]);
  assert.deepEqual(whole.usage(), { input: 12, output: 30_000 });
  // Cut right after a nested brace near its end, in the text, or before its last brace.
  for (const cut of [body.lastIndexOf(0x7d, body.byteLength - 60) + 1, 4_200_000, body.byteLength - 1]) {
    const tap = jsonTap(body.subarray(0, cut), 16_384);
    assert.deepEqual([tap.ended(), tap.unfinished()], [false, true], `cut at ${cut} of ${body.byteLength}`);
  }
});

Deno.test("UsageTap estimates the output of a JSON message cut mid-text from the text before the cut", () => {
  const message = JSON.stringify({
    id: "msg_1",
    type: "message",
    role: "assistant",
    content: [{ type: "text", text: 'word "quoted" '.repeat(400) }],
    stop_reason: "end_turn",
    usage: { input_tokens: 11, output_tokens: 2000 },
  });
  const text = message.indexOf("word");
  // Mid-text, and right after a backslash that starts an escape the cut split.
  for (const cut of [text + 3_000, message.indexOf("\\", text + 3_000) + 1]) {
    let estimated = 0;
    const tap = jsonTap(new TextEncoder().encode(message.slice(0, cut)), 4_096, () => estimated++);
    const detail = tap.detail();
    assert.equal(tap.unfinished(), true);
    assert.ok(detail!.output > 0, `cut at ${cut}: ${JSON.stringify(detail)}`);
    assert.equal(detail!.input, 900);
    assert.equal(estimated, 1);
  }
});

Deno.test("UsageTap never takes a usage object in a cut message's tool input for the message's own", () => {
  const message = JSON.stringify({
    id: "msg_1",
    type: "message",
    role: "assistant",
    content: [
      {
        type: "tool_use",
        id: "toolu_1",
        name: "record",
        input: { usage: { input_tokens: 1, output_tokens: 1 } },
      },
      { type: "text", text: "word ".repeat(400) },
    ],
    stop_reason: "end_turn",
    usage: { input_tokens: 11, output_tokens: 2000 },
  });
  const tap = jsonTap(new TextEncoder().encode(message.slice(0, message.indexOf('"stop_reason"'))), 4_096);
  const detail = tap.detail()!;
  assert.equal(detail.input, 900, "relay's estimate, not the tool input's 1");
  assert.ok(detail.output > 1, JSON.stringify(detail));
  // Cut after its own usage, that one is read.
  const after = jsonTap(new TextEncoder().encode(message.slice(0, -1)), 4_096);
  assert.deepEqual([after.detail()?.input, after.detail()?.output], [11, 2000]);
});

Deno.test("UsageTap bills a whole message it cannot parse (a NaN in it) as a cut one: its own usage, else relay's estimates", () => {
  const message = '{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"' +
    "word ".repeat(400) + '"}],"stop_reason":NaN';
  let estimated = 0;
  const withoutUsage = jsonTap(new TextEncoder().encode(`${message}}`), 4_096, () => estimated++);
  assert.equal(withoutUsage.unfinished(), false, "whole as far as its end tells");
  const detail = withoutUsage.detail();
  assert.equal(detail?.input, 900);
  assert.ok(detail!.output > 1, JSON.stringify(detail));
  assert.equal(estimated, 1);
  const withUsage = jsonTap(
    new TextEncoder().encode(`${message},"usage":{"input_tokens":11,"output_tokens":7}}`),
    4_096,
  );
  assert.deepEqual([withUsage.detail()?.input, withUsage.detail()?.output], [11, 7]);
});
