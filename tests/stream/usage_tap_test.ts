import assert from "node:assert/strict";
import { UsageTap } from "../../src/stream/usage_tap.ts";
import { loadGolden, splitAwkwardly } from "./golden.ts";

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
