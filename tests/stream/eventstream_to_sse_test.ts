import assert from "node:assert/strict";
import { eventStreamToSse, type SsePart } from "../../src/stream/eventstream_to_sse.ts";
import {
  chunkFrame,
  errorFrame,
  eventStreamFrame,
  exceptionFrame,
  goldenFrames,
  sseEvents,
} from "../_helpers/fake_bedrock.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";
import { GOLDEN_NAMES, loadGolden, splitAwkwardly } from "../_helpers/golden.ts";
import { concatBytes } from "../../src/util/bytes.ts";

/** Feeds `chunks` through the decoder and collects what comes out. */
async function decode(chunks: Uint8Array[]): Promise<SsePart[]> {
  const source = ReadableStream.from(chunks);
  return await Array.fromAsync(source.pipeThrough(eventStreamToSse()));
}

const text = (parts: SsePart[]) => new TextDecoder().decode(concatBytes(parts.map((part) => part.bytes)));

const MESSAGE_START =
  '{"type":"message_start","message":{"id":"msg_bdrk_1","type":"message","role":"assistant",' +
  '"model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}';

Deno.test("eventStreamToSse reproduces every golden stream byte for byte from its chunk frames", async () => {
  for (const name of GOLDEN_NAMES) {
    const golden = await loadGolden(name);
    const parts = await decode(await goldenFrames(name));
    assert.equal(text(parts), new TextDecoder().decode(golden), name);
    assert.deepEqual(
      sseEvents(concatBytes(parts.map((part) => part.bytes))),
      sseEvents(golden),
      `${name}: same events`,
    );
  }
});

Deno.test("eventStreamToSse turns a service-unavailable exception into the golden overloaded event", async () => {
  const golden = await loadGolden("error_mid");
  const frames = await goldenFrames("error_mid");
  const parts = await decode([
    ...frames.slice(0, -1),
    exceptionFrame("serviceUnavailableException", "Overloaded"),
  ]);
  assert.equal(text(parts), new TextDecoder().decode(golden));
  assert.deepEqual(parts.at(-1)!.error, { status: 529, type: "overloaded_error", message: "Overloaded" });
});

Deno.test("eventStreamToSse stops reading Bedrock once an exception ends the stream", async () => {
  const source = controlledStream();
  const reader = source.body.pipeThrough(eventStreamToSse()).getReader();
  source.push(concatBytes([chunkFrame(MESSAGE_START), exceptionFrame("throttlingException", "Slow down")]));
  assert.equal((await reader.read()).value?.error, undefined);
  assert.equal((await reader.read()).value?.error?.type, "rate_limit_error");
  assert.equal((await reader.read()).done, true);
  await source.cancelled;
});

Deno.test("eventStreamToSse reassembles frames cut at any byte, including one byte at a time", async () => {
  for (const name of ["tool_use", "thinking", "unicode"] as const) {
    const golden = new TextDecoder().decode(await loadGolden(name));
    const wire = concatBytes(await goldenFrames(name));
    for (const chunks of splitAwkwardly(wire)) {
      assert.equal(text(await decode(chunks)), golden, `${name} in ${chunks.length} chunks`);
    }
  }
});

Deno.test("eventStreamToSse keeps the event JSON text as Bedrock encoded it", async () => {
  const odd =
    '{"type":"content_block_delta", "index":0,"delta":{"type":"signature_delta","signature":"Eq+/=="},' +
    '"n":1.50e1,"s":"caf\\u00e9"}';
  assert.equal(
    text(await decode([chunkFrame(odd, 40)])),
    `event: content_block_delta\ndata: ${odd}\n\n`,
  );
});

Deno.test("eventStreamToSse puts pretty-printed event JSON on one data line", async () => {
  const parts = await decode([chunkFrame('{\n  "type": "message_stop"\n}')]);
  assert.equal(text(parts), 'event: message_stop\ndata: {"type":"message_stop"}\n\n');
});

Deno.test("eventStreamToSse drops chunks without a type, and frames that are not chunks", async () => {
  const parts = await decode([
    eventStreamFrame({ ":message-type": "event", ":event-type": "initial-response" }, "{}"),
    chunkFrame('{"no_type":true}'),
    chunkFrame('{"type":"message_stop"}'),
  ]);
  assert.equal(text(parts), 'event: message_stop\ndata: {"type":"message_stop"}\n\n');
});

const EXCEPTIONS = [
  ["throttlingException", "Too many requests, please wait before trying again.", 429, "rate_limit_error"],
  ["serviceUnavailableException", "Bedrock is unable to process your request.", 529, "overloaded_error"],
  ["validationException", "Input is too long for requested model.", 400, "invalid_request_error"],
  ["modelTimeoutException", "Model has timed out in processing the request.", 408, "api_error"],
  ["internalServerException", "The server encountered an internal error.", 500, "api_error"],
  ["modelStreamErrorException", "The model stream errored.", 500, "api_error"],
  ["somethingNewException", "A new kind of failure.", 500, "api_error"],
] as const;

Deno.test("eventStreamToSse turns each exception frame into the mapped event: error and ends", async () => {
  for (const [name, message, status, type] of EXCEPTIONS) {
    const parts = await decode([
      chunkFrame(MESSAGE_START),
      exceptionFrame(name, message),
      chunkFrame('{"type":"message_stop"}'),
    ]);
    const expected = name === "validationException" ? `prompt is too long: ${message}` : message;
    assert.equal(parts.length, 2, name);
    assert.equal(parts[0].error, undefined, name);
    assert.deepEqual(parts[1].error, { status, type, message: expected }, name);
    const { error } = assembleAnthropicStream(sseEvents(concatBytes(parts.map((part) => part.bytes))));
    assert.deepEqual(error, { type, message: expected }, name);
  }
});

Deno.test("eventStreamToSse maps a model's stream error by the status it reports it had", async () => {
  const modelError = (body: Record<string, unknown>) =>
    eventStreamFrame({
      ":exception-type": "modelStreamErrorException",
      ":content-type": "application/json",
      ":message-type": "exception",
    }, JSON.stringify(body));
  const cases = [
    [{ message: "The model stream errored.", originalStatusCode: 429, originalMessage: "Too many tokens" }, {
      status: 429,
      type: "rate_limit_error",
      message: "Too many tokens",
    }],
    [{ message: "Overloaded upstream", originalStatusCode: 529 }, {
      status: 529,
      type: "overloaded_error",
      message: "Overloaded upstream",
    }],
    // A status that is no HTTP error's says nothing: the frame's own mapping stands.
    [{ message: "The model stream errored.", originalStatusCode: "429" }, {
      status: 500,
      type: "api_error",
      message: "The model stream errored.",
    }],
  ] as const;
  for (const [body, expected] of cases) {
    const parts = await decode([chunkFrame(MESSAGE_START), modelError(body)]);
    assert.deepEqual(parts[1].error, expected, JSON.stringify(body));
  }
});

Deno.test("eventStreamToSse marks a corrupt stream unreadable, and none of Bedrock's own errors", async () => {
  const cut = chunkFrame(MESSAGE_START).subarray(0, 20);
  const [broken] = await decode([cut]);
  assert.equal(broken.error?.type, "api_error");
  assert.equal(broken.unreadable, true, "no error of Bedrock's: an answer relay cannot read");
  for (
    const frame of [
      errorFrame("InternalFailure", "We failed."),
      exceptionFrame("throttlingException", "Slow"),
    ]
  ) {
    const [own] = await decode([frame]);
    assert.ok(own.error);
    assert.equal(own.unreadable, undefined, "Bedrock's own error");
  }
});

Deno.test("eventStreamToSse maps an unmodelled error frame by its error code", async () => {
  const parts = await decode([chunkFrame(MESSAGE_START), errorFrame("ThrottlingException", "Slow down")]);
  assert.deepEqual(parts[1].error, { status: 429, type: "rate_limit_error", message: "Slow down" });
  const odd = await decode([errorFrame("InternalFailure", "We encountered an internal error.")]);
  assert.deepEqual(odd[0].error, {
    status: 500,
    type: "api_error",
    message: "We encountered an internal error.",
  });
});

Deno.test("eventStreamToSse reports a CRC mismatch as an api_error and stops there", async () => {
  const frame = chunkFrame('{"type":"message_stop"}');
  // The prelude CRC field, a payload byte, the message CRC field.
  for (const offset of [9, frame.byteLength - 10, frame.byteLength - 1]) {
    const bad = frame.slice();
    bad[offset] ^= 0x01;
    const parts = await decode([chunkFrame(MESSAGE_START), bad, chunkFrame('{"type":"ping"}')]);
    assert.equal(parts.length, 2, `flipped byte ${offset}`);
    assert.equal(parts[1].error?.type, "api_error");
    assert.match(parts[1].error!.message, /^Bedrock's event stream is broken: .*checksum/);
  }
});

Deno.test("eventStreamToSse reports a stream cut inside a frame", async () => {
  const frame = chunkFrame('{"type":"message_stop"}');
  for (const cut of [1, 11, 12, frame.byteLength - 1]) {
    const parts = await decode([chunkFrame(MESSAGE_START), frame.subarray(0, cut)]);
    assert.equal(parts.length, 2, `cut at ${cut}`);
    assert.deepEqual(parts[1].error, {
      status: 502,
      type: "api_error",
      message: `Bedrock's event stream is broken: it ended ${cut} bytes into a frame`,
    });
  }
});

Deno.test("eventStreamToSse rejects an impossible frame length at once instead of buffering for it", async () => {
  const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  const parts = await decode([huge]);
  assert.match(parts[0].error!.message, /a frame declares 4294967295 bytes, outside 16 B to 16 MiB/);
});

Deno.test("eventStreamToSse reports a chunk whose payload is not base64 JSON", async () => {
  const chunk = { ":event-type": "chunk", ":content-type": "application/json", ":message-type": "event" };
  for (const payload of ["not json", '{"bytes":"!!!"}', `{"bytes":"${btoa("not json")}"}`]) {
    const [part] = await decode([eventStreamFrame(chunk, payload)]);
    assert.match(part.error!.message, /a chunk does not hold a base64 JSON event/, payload);
  }
});

Deno.test("eventStreamToSse reassembles a 16 MiB frame from 4 KiB chunks in time in proportion to it", async () => {
  // Joined anew with each chunk, the frame was copied whole for every chunk of it: 30 s and more here,
  // holding every stream relay carried.
  const event = JSON.stringify({
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "a".repeat(12_500_000) },
  });
  const frame = chunkFrame(event);
  assert.ok(frame.byteLength > 16_000_000 && frame.byteLength <= 16 * 1024 * 1024, `${frame.byteLength} B`);
  // The next frame begins in the big one's last chunk.
  const wire = concatBytes([frame, chunkFrame('{"type":"message_stop"}')]);
  const chunks = Array.from(
    { length: Math.ceil(wire.byteLength / 4096) },
    (_, i) => wire.subarray(i * 4096, (i + 1) * 4096),
  );
  const started = performance.now();
  const parts = await decode(chunks);
  const elapsed = performance.now() - started;
  assert.equal(
    text(parts),
    `event: content_block_delta\ndata: ${event}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n`,
  );
  assert.ok(elapsed < 2000, `${elapsed} ms`);
});
