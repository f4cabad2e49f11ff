/**
 * A body that names `model` (or another field relay reads) twice is read by `JSON.parse` as its last,
 * and may be read by the upstream as its first: relay would admit and bill one model while another ran.
 */
import assert from "node:assert/strict";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { postMessage } from "../_helpers/live_relay.ts";
import { startTestRelay } from "../_helpers/relay.ts";

Deno.test("a body naming model, stream, max_tokens or speed twice is a 400 naming it, and goes nowhere; once goes on", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const messages = '"messages":[{"role":"user","content":"x"}]';
  for (
    const [field, body] of [
      ["model", `{"model":"claude-opus-4-1","max_tokens":5,"model":"claude-haiku-4-5",${messages}}`],
      ["model", `{"model":"claude-opus-4-1","max_tokens":5,"mod\\u0065l":"claude-haiku-4-5",${messages}}`],
      ["stream", `{"model":"claude-haiku-4-5","stream":false,"max_tokens":5,"stream" : true,${messages}}`],
      ["max_tokens", `{"model":"claude-haiku-4-5","max_tokens":64000,${messages},"max_tokens":5}`],
      ["speed", `{"speed":"fast","model":"claude-opus-4-6","max_tokens":5,${messages},"speed":"standard"}`],
    ]
  ) {
    const response = await postMessage(relay.url, body);
    assert.equal(response.status, 400, body);
    const { error } = await response.json();
    assert.equal(error.type, "invalid_request_error");
    assert.equal(error.message, `${field}: given more than once; a request body gives each field once`);
    await relay.nextRequestLog();
  }
  assert.equal(upstream.requests.length, 0);
  // Named once at the top level, a body goes on as it came, whatever its tools and messages name.
  const schema = '{"type":"object","properties":{"model":{"type":"string"},"stream":{"type":"boolean"}}}';
  const body = `{"model":"claude-haiku-4-5","max_tokens":5,"tools":[{"name":"a","input_schema":${schema}},` +
    `{"name":"b","input_schema":${schema}}],"messages":[{"role":"user","content":"\\u006dodel"}]}`;
  const response = await postMessage(relay.url, body);
  assert.equal(response.status, 200);
  await response.body?.cancel();
  await relay.nextRequestLog();
  assert.equal(new TextDecoder().decode((await upstream.nextRequest()).body), body);
  await upstream.close();
});
