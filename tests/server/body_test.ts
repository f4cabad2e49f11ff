import assert from "node:assert/strict";
import { inspectMessagesBody, messagesFields, readBody, repeatedField } from "../../src/server/body.ts";
import { RelayError } from "../../src/server/errors.ts";
import { controlledStream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { startTestRelay } from "../_helpers/relay.ts";

const encode = (text: string) => new TextEncoder().encode(text);

function assertRelayError(fn: () => unknown, status: number, pattern: RegExp) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RelayError, `expected RelayError, got ${error}`);
    assert.equal(error.status, status);
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("inspectMessagesBody reads model and stream", () => {
  assert.deepEqual(inspectMessagesBody(encode('{"model":"claude-x","stream":true,"messages":[]}')), {
    model: "claude-x",
    stream: true,
    json: { model: "claude-x", stream: true, messages: [] },
  });
  assert.deepEqual(inspectMessagesBody(encode('{"model":"m"}')), {
    model: "m",
    stream: false,
    json: { model: "m" },
  });
});

Deno.test("inspectMessagesBody rejects every kind of bad body with a 400 naming the problem", () => {
  assertRelayError(() => inspectMessagesBody(new Uint8Array()), 400, /empty/);
  assertRelayError(() => inspectMessagesBody(encode('{"model":')), 400, /not valid JSON/);
  assertRelayError(() => inspectMessagesBody(new Uint8Array([0x7b, 0xff, 0x7d])), 400, /UTF-8/);
  assertRelayError(() => inspectMessagesBody(encode("[1,2]")), 400, /JSON object, got an array/);
  assertRelayError(() => inspectMessagesBody(encode('"text"')), 400, /JSON object, got a string/);
  assertRelayError(() => inspectMessagesBody(encode("null")), 400, /got null/);
  assertRelayError(
    () => inspectMessagesBody(encode('{"messages":[]}')),
    400,
    /model: field required.*got nothing/,
  );
  assertRelayError(() => inspectMessagesBody(encode('{"model":42}')), 400, /model: .*got a number/);
  assertRelayError(
    () => inspectMessagesBody(encode('{"model":"m","stream":"yes"}')),
    400,
    /stream: expected a boolean/,
  );
});

Deno.test("repeatedField finds a field relay reads given twice at the top level, however spelt", () => {
  const repeated = (text: string) => repeatedField(encode(text), text);
  assert.equal(repeated('{"model":"a","max_tokens":5,"model":"b","messages":[]}'), "model");
  assert.equal(repeated('{"mod\\u0065l":"a","model":"b"}'), "model");
  assert.equal(repeated('{"stream":true,"model":"a","stream"\n:\tfalse}'), "stream");
  assert.equal(
    repeated('{"speed":"fast","model":"a","max_tokens":1,"max_tokens":2,"speed":"fast"}'),
    "max_tokens",
  );
  assert.equal(repeated('{"inference_geo":"us","inference_geo":"global"}'), "inference_geo");
  // Once at the top level: the same names deeper, or in text, or another field twice, are no matter.
  assert.equal(
    repeated('{"model":"a","tools":[{"model":1},{"model":2}],"messages":["\\"model\\":"]}'),
    undefined,
  );
  assert.equal(repeated('{"model":"a","metadata":1,"metadata":2,"x":"\\u006d"}'), undefined);
  assert.throws(
    () =>
      inspectMessagesBody(encode('{"model":"claude-opus-4-1","max_tokens":5,"model":"claude-haiku-4-5"}')),
    (error: RelayError) =>
      error.status === 400 && error.type === "invalid_request_error" &&
      error.message === "model: given more than once; a request body gives each field once",
  );
});

Deno.test("messagesFields checks a parsed body the way inspectMessagesBody checks its bytes", () => {
  const json = { model: "claude-x", stream: true, messages: [] };
  const fields = messagesFields(json);
  assert.deepEqual(fields, { model: "claude-x", stream: true, json });
  assert.equal(fields.json, json, "the object handed in, not a copy");
  assert.deepEqual(messagesFields({ model: "m" }), { model: "m", stream: false, json: { model: "m" } });
  assert.equal(messagesFields({ model: "m".repeat(256) }).model.length, 256, "256 characters still pass");
  for (
    const [body, message] of [
      [[1, 2], "request body must be a JSON object, got an array"],
      [null, "request body must be a JSON object, got null"],
      [{ messages: [] }, "model: field required (a non-empty string), got nothing"],
      [{ model: "" }, "model: field required (a non-empty string), got an empty string"],
      [{ model: 42 }, "model: field required (a non-empty string), got a number"],
      [{ model: "m", stream: "yes" }, "stream: expected a boolean, got a string"],
      [{ model: "claude\u0000-x" }, "model: must not contain control characters"],
      [{ model: "claude\u001b[2J" }, "model: must not contain control characters"],
      [{ model: "claude-\ud800" }, "model: must not contain a lone UTF-16 surrogate"],
      [{ model: "m".repeat(257) }, "model: at most 256 characters, got 257"],
    ] as const
  ) {
    const expected = new RegExp(`^${RegExp.escape(message)}$`);
    assertRelayError(() => messagesFields(body), 400, expected);
    assertRelayError(() => inspectMessagesBody(encode(JSON.stringify(body))), 400, expected);
  }
});

Deno.test("readBody returns the exact bytes and refuses bodies over the limit", async () => {
  const bytes = encode('{"model":"m","x":"é🎉"}');
  const read = await readBody(new Request("http://x/", { method: "POST", body: bytes }), 1024);
  assert.deepEqual(read, bytes);
  const declared = new Request("http://x/", {
    method: "POST",
    body: bytes,
    headers: { "content-length": String(bytes.byteLength) },
  });
  assert.deepEqual(await readBody(declared, 1024), bytes, "a declared length changes nothing");

  await assert.rejects(
    () => readBody(new Request("http://x/", { method: "POST", body: new Uint8Array(2048) }), 1024),
    (error: RelayError) =>
      error.status === 413 && /over 1 KiB \(server.max_body_size\); got 2 KiB/.test(error.message),
  );
  // A decimal limit (`1kb`) is named exactly: rounded, it would read as the size refused.
  const over = new Request("http://x/", {
    method: "POST",
    body: bytes,
    headers: { "content-length": "1001" },
  });
  await assert.rejects(
    () => readBody(over, 1000),
    (error: RelayError) =>
      error.message === "request body is over 1000 bytes (server.max_body_size); got 1001 bytes",
  );
});

Deno.test("readBody stops reading a chunked body once it passes the limit", async () => {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(512));
    },
  });
  const request = new Request("http://x/", { method: "POST", body });
  await assert.rejects(() => readBody(request, 1024), (error: RelayError) => error.status === 413);
  assert.ok(pulled <= 4, `read ${pulled} chunks of an endless body`);
});

Deno.test("readBody gives up a body still arriving at server.body_timeout and lets go of what it read", async () => {
  let cancelled = false;
  let sent = 0;
  const stalled = new ReadableStream<Uint8Array>({
    pull(controller) {
      // Half the body, then nothing, as a client that stalls mid-upload.
      if (sent++ === 0) controller.enqueue(new Uint8Array(512));
      return new Promise(() => {});
    },
    cancel() {
      cancelled = true;
    },
  });
  const request = new Request("http://x/", {
    method: "POST",
    body: stalled,
    headers: { "content-length": "1024" },
  });
  let fire = () => {};
  const reading = readBody(request, 4096, {
    timeoutMs: 120_000,
    timers: {
      setTimeout(onTimeout, ms) {
        assert.equal(ms, 120_000);
        fire = onTimeout;
      },
      clearTimeout() {},
    },
  });
  fire();
  await assert.rejects(reading, (error: RelayError) => {
    assert.equal(error.status, 408);
    assert.equal(error.message, "request body did not arrive within 120000 ms (server.body_timeout)");
    assert.equal(new Headers(error.headers).get("connection"), "close");
    return true;
  });
  assert.ok(cancelled, "the body's stream is cancelled, so the runtime drops what it buffered");
});

Deno.test("readBody stops its deadline once the body is in, and starts none when it is 0", async () => {
  let started = 0;
  let stopped = 0;
  const timer = {
    setTimeout: () => started++,
    clearTimeout: () => stopped++,
  };
  const body = () => new Request("http://x/", { method: "POST", body: encode('{"model":"m"}') });
  assert.deepEqual(
    await readBody(body(), 1024, { timeoutMs: 5_000, timers: timer }),
    encode('{"model":"m"}'),
  );
  assert.deepEqual([started, stopped], [1, 1]);
  await readBody(body(), 1024, { timeoutMs: 0, timers: timer });
  assert.equal(started, 1);
});

Deno.test("readBody refuses a body with a content-encoding before reading it, and takes identity", async () => {
  const body = encode('{"model":"m"}');
  const labelled = (encoding: string) =>
    new Request("http://x/", { method: "POST", body, headers: { "content-encoding": encoding } });
  for (const encoding of ["gzip", "br", "identity, gzip"]) {
    const request = labelled(encoding);
    await assert.rejects(() => readBody(request, 1024), (error: RelayError) => {
      assert.equal(error.status, 415);
      assert.equal(error.type, "invalid_request_error");
      assert.equal(
        error.message,
        `request body has content-encoding ${encoding}; relay takes uncompressed bodies only`,
      );
      assert.equal(new Headers(error.headers).get("accept-encoding"), "identity");
      return true;
    });
    assert.equal(request.bodyUsed, false, encoding);
  }
  for (const encoding of ["identity", "Identity", ""]) {
    assert.deepEqual(await readBody(labelled(encoding), 1024), body, encoding);
  }
});

Deno.test("readBody reads a content-encoding's codings whatever their spaces, without a regex over them", async () => {
  const body = encode('{"model":"m"}');
  const labelled = (encoding: string) =>
    new Request("http://x/", { method: "POST", body, headers: { "content-encoding": encoding } });
  for (const encoding of [" identity , ,IDENTITY\t", ",", " , identity"]) {
    assert.deepEqual(await readBody(labelled(encoding), 1024), body, encoding);
  }
  // A regex that backtracks over a run of the client's spaces holds every client up for seconds: no
  // regex may run over the header, so the test fails fast where a timing would only be slow.
  const exec = RegExp.prototype.exec;
  RegExp.prototype.exec = function (this: RegExp, text: string) {
    if (text.length > 1000) throw new Error(`a regex ran over ${text.length} characters of a header`);
    return exec.call(this, text);
  };
  try {
    for (const encoding of ["identityx", ", x", "identity gzip", `,${" ".repeat(60_000)}x`]) {
      await assert.rejects(
        () => readBody(labelled(encoding), 1024),
        (error: RelayError) => error.status === 415,
        encoding.slice(0, 20),
      );
    }
  } finally {
    RegExp.prototype.exec = exec;
  }
});

for (
  const [path, body, shape] of [
    ["/v1/messages", { model: "claude-x", max_tokens: 8, messages: [] }, /^\{"type":"error","error":\{/],
    [
      "/v1/chat/completions",
      { model: "claude-x", messages: [{ role: "user", content: "hi" }] },
      /^\{"error":\{/,
    ],
  ] as const
) {
  Deno.test(`a compressed body to ${path} is a 415 saying so, and goes nowhere`, async () => {
    const upstream = startFakeUpstream();
    await using relay = startTestRelay({ upstreamUrl: upstream.url });
    const json = JSON.stringify(body);
    const gzipped = await new Response(
      new Blob([json]).stream().pipeThrough(new CompressionStream("gzip")),
    ).bytes();
    // Compressed, or plain but labelled so: neither is read, nor sent on still labelled gzip.
    for (const sent of [gzipped, encode(json)]) {
      const response = await fetch(`${relay.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
        body: sent,
      });
      assert.equal(response.status, 415);
      assert.equal(response.headers.get("accept-encoding"), "identity");
      const text = await response.text();
      assert.match(text, shape);
      const { error } = JSON.parse(text);
      assert.equal(error.type, "invalid_request_error");
      assert.equal(
        error.message,
        "request body has content-encoding gzip; relay takes uncompressed bodies only",
      );
    }
    assert.equal(upstream.requests.length, 0);
    await upstream.close();
  });
}

Deno.test("readBody gives a body whose deadline passed while relay stood still a grace for what came meanwhile", async () => {
  const clock = new FakeClock();
  let stood = 0;
  const source = controlledStream();
  const request = { headers: new Headers(), body: source.body as ReadableStream<Uint8Array<ArrayBuffer>> };
  const reading = readBody(request, 1024, {
    timeoutMs: 3_000,
    timers: clock,
    now: () => clock.now() + stood,
  });
  source.push('{"model":');
  // Relay stood still for 5 s (SIGSTOP): its timer fires late, and the rest came meanwhile.
  stood += 5_000;
  clock.advance(3_000);
  assert.deepEqual(clock.armed, [1_000], "a grace, not a 408");
  source.push('"m"}');
  source.end();
  assert.deepEqual(await reading, encode('{"model":"m"}'));
  assert.deepEqual(clock.armed, [], "the grace's timer is cleared with the body in");
});
