import assert from "node:assert/strict";
import { UsageTap } from "../../src/stream/usage_tap.ts";
import { loadGolden, splitAwkwardly } from "../_helpers/golden.ts";

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

Deno.test("UsageTap.unfinished says whether a stream has yet to send message_stop or an error, never for a JSON body", async () => {
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
      '"output_tokens":30000,"note":"{ } \\" }"}}',
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
