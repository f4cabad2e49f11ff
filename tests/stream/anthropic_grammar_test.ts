import assert from "node:assert/strict";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";
import { loadGolden } from "../_helpers/golden.ts";

const parse = async (name: Parameters<typeof loadGolden>[0]) => new SseDecoder().feed(await loadGolden(name));

Deno.test("assembleAnthropicStream rebuilds the goldens' messages", async () => {
  const tool = assembleAnthropicStream(await parse("tool_use")).message;
  assert.equal(tool.stop_reason, "tool_use");
  assert.equal(tool.usage.output_tokens, 89);
  assert.deepEqual(tool.content[1].input, { location: "Paris, France", unit: "celsius" });
  const thinking = assembleAnthropicStream(await parse("thinking")).message;
  assert.match(thinking.content[0].thinking, /= 12231\.$/);
  assert.match(thinking.content[0].signature, /^EqQB/);
  const parallel = assembleAnthropicStream(await parse("parallel_tools")).message;
  const types = parallel.content.map((block: { type: string }) => block.type);
  assert.deepEqual(types, ["text", "tool_use", "tool_use"]);
  assert.match(assembleAnthropicStream(await parse("unicode")).message.content[0].text, / 🎉🇫🇷 𝒳 /);
  const cut = assembleAnthropicStream(await parse("error_mid"));
  assert.deepEqual(cut.error, { type: "overloaded_error", message: "Overloaded" });
});

Deno.test("assembleAnthropicStream rejects what the SDK would choke on", async () => {
  const events = await parse("parallel_tools");
  const withoutStop = events.slice(0, -1);
  assert.throws(() => assembleAnthropicStream(withoutStop), /without message_stop/);
  assert.throws(() => assembleAnthropicStream(events.slice(1)), /before message_start/);
  const interleaved = [...events];
  const [stopFirst, startSecond] = [9, 10];
  assert.equal(interleaved[stopFirst].event, "content_block_stop");
  [interleaved[stopFirst], interleaved[startSecond]] = [interleaved[startSecond], interleaved[stopFirst]];
  assert.throws(() => assembleAnthropicStream(interleaved), /still open/);
  const skipsIndex = events.map((event) =>
    event.event === "content_block_start"
      ? { ...event, data: event.data.replace('"index":0', '"index":1') }
      : event
  );
  assert.throws(() => assembleAnthropicStream(skipsIndex), /in order/);
  const mislabelled = events.map((event) => event.event === "ping" ? { ...event, event: "pong" } : event);
  assert.throws(() => assembleAnthropicStream(mislabelled), /must equal the event name/);
});
