/**
 * relay with Anthropic-format upstreams that answer a stream some other way, end to end over real HTTP:
 * the official Anthropic SDK as the client (it reads a stream's events only), relay in-process, and a
 * fake upstream that ignores `"stream": true`, reports a failure under a 200, or labels its stream
 * something else. Also Ollama's missing count_tokens.
 */
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import type { LedgerEntry, LedgerSink } from "../../src/ledger/entry.ts";
import { createAnthropicProvider } from "../../src/providers/anthropic.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import type { Route } from "../../src/routing/router.ts";
import { maskSecret } from "../../src/util/mask.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import {
  controlledStream,
  type FakeHandler,
  startFakeUpstream,
  textAnswerStream,
} from "../_helpers/fake_upstream.ts";
import { startTestRelay, TEST_TIMEOUTS } from "../_helpers/relay.ts";

const ASK = {
  model: "glm-4.6",
  max_tokens: 256,
  messages: [{ role: "user" as const, content: "weather in Paris?" }],
};

/** A whole Message as a compatible server sends it for a streamed request it answers unstreamed. */
const WHOLE_MESSAGE = {
  id: "msg_whole_1",
  type: "message",
  role: "assistant",
  model: "glm-4.6",
  content: [
    { type: "thinking", thinking: "They want the weather.", signature: "c2lnbmF0dXJl" },
    { type: "text", text: "Let me check.", citations: null },
    { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris", days: [1, 2] } },
  ],
  stop_reason: "tool_use",
  stop_sequence: null,
  usage: {
    input_tokens: 321,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 64,
    output_tokens: 57,
  },
};

const OVERLOADED = { type: "error", error: { type: "overloaded_error", message: "busy" } };

function routeTo(name: string, url: string, type = "anthropic-compatible"): Route {
  const key = `sk-${name}-key-000000000000`;
  return {
    provider: createAnthropicProvider({
      name,
      type,
      baseUrl: url,
      authHeader: "bearer",
      countsTokens: type !== "ollama",
    }),
    keys: [{ secret: key, label: maskSecret(key) }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
}

function sdk(url: string) {
  return new Anthropic({ baseURL: url, apiKey: "unused", maxRetries: 0 });
}

/** A ledger that keeps what it is given. */
function keptLedger(): LedgerSink & { entries: LedgerEntry[] } {
  const entries: LedgerEntry[] = [];
  return { entries, record: (entry) => void entries.push(entry) };
}

const answering = (body: unknown, contentType = "application/json"): FakeHandler => () =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), {
    headers: { "content-type": contentType },
  });

Deno.test("the Anthropic SDK streams from a compatible that answers with the whole Message: the same Message, its usage counted", async () => {
  const upstream = startFakeUpstream(answering(WHOLE_MESSAGE));
  const ledger = keptLedger();
  await using relay = startTestRelay({ routes: [routeTo("glm", upstream.url)], ledger });
  const stream = sdk(relay.url).messages.stream(ASK);
  const events: string[] = [];
  stream.on("streamEvent", (event) => events.push(event.type));
  const message = await stream.finalMessage();
  // The SDK's own addition to every Message it parses, not the upstream's.
  const { parsed_output: _parsed, ...upstreams } = message as typeof message & { parsed_output?: unknown };
  assert.deepEqual(JSON.parse(JSON.stringify(upstreams)), WHOLE_MESSAGE);
  assert.equal(events[0], "message_start");
  assert.equal(events.at(-1), "message_stop");
  assert.equal(upstream.requests.length, 1, "asked once: no fallback to an unstreamed request");

  const log = await relay.nextRequestLog();
  assert.deepEqual(
    [log.provider, log.status, log.outcome, log.input_tokens, log.output_tokens, log.cache_read_tokens],
    ["glm", 200, "complete", 321, 57, 64],
  );
  assert.equal(log.usage_estimated, undefined, "the upstream's own figures");
  assert.deepEqual(ledger.entries.map(({ outcome, usage }) => [outcome, usage?.input, usage?.output]), [
    ["complete", 321, 57],
  ]);
});

Deno.test("a model that answered a stream whole has its next streams waited for under first_byte, not connect", async () => {
  const held = Promise.withResolvers<Response>();
  const arrived = Promise.withResolvers<void>();
  let calls = 0;
  const whole = () => Response.json(WHOLE_MESSAGE);
  const upstream = startFakeUpstream(() => {
    if (++calls === 1) return whole();
    arrived.resolve();
    return held.promise;
  });
  const clock = new FakeClock();
  const route = { ...routeTo("glm", upstream.url), timeouts: { ...TEST_TIMEOUTS, connect: 50 } };
  await using relay = startTestRelay({ routes: [route], clock });
  await sdk(relay.url).messages.stream(ASK).finalMessage();
  await relay.nextRequestLog();

  // The server writes the whole answer before its headers: longer than timeouts.connect.
  const pending = sdk(relay.url).messages.stream(ASK).finalMessage();
  await arrived.promise;
  clock.advance(50);
  held.resolve(whole());
  const message = await pending;
  assert.equal(message.id, "msg_whole_1");
  assert.equal((await relay.nextRequestLog()).outcome, "complete");
  await upstream.close();
});

Deno.test("a whole Message that counts no output is recorded with 0 output, as relay's estimate", async () => {
  const { output_tokens: _output, ...usage } = WHOLE_MESSAGE.usage;
  const upstream = startFakeUpstream(answering({ ...WHOLE_MESSAGE, usage }));
  const ledger = keptLedger();
  await using relay = startTestRelay({ routes: [routeTo("glm", upstream.url)], ledger });
  const message = await sdk(relay.url).messages.stream(ASK).finalMessage();
  assert.equal(message.usage.output_tokens, 0, "a number the client can add up");
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.input_tokens, log.output_tokens, log.usage_estimated], [
    "complete",
    321,
    0,
    true,
  ]);
  assert.deepEqual(ledger.entries.map(({ usage }) => usage?.output), [0]);
});

Deno.test("a JSON error under a 200 to a stream is a failure: retried elsewhere, counted by the breaker, passed on as an error", async (t) => {
  const busy = startFakeUpstream(answering(OVERLOADED));
  const up = startFakeUpstream(answering(WHOLE_MESSAGE));
  await t.step("the next provider answers", async () => {
    await using relay = startTestRelay({
      routes: [routeTo("busy", busy.url), routeTo("up", up.url)],
      retry: { maxAttempts: 2 },
    });
    const message = await sdk(relay.url).messages.stream(ASK).finalMessage();
    assert.equal(message.id, WHOLE_MESSAGE.id);
    const log = await relay.nextRequestLog();
    assert.deepEqual([log.provider, log.attempts, log.failovers, log.outcome], ["up", 2, 1, "complete"]);
    const failed = relay.logs.find((line) => line.msg === "attempt failed");
    assert.deepEqual(
      [failed?.provider, failed?.reason, failed?.next],
      ["busy", "overloaded_error event before message_start", "retry_next_provider"],
    );
  });
  await t.step("alone, its error reaches the client, and opens its breaker", async () => {
    await using relay = startTestRelay({
      routes: [routeTo("busy", busy.url)],
      // No last resort: the next request is refused, as the breaker's count makes it.
      routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 }, lastResort: false },
    });
    await assert.rejects(
      () => sdk(relay.url).messages.stream(ASK).finalMessage(),
      (error: unknown) => error instanceof Anthropic.APIError && /overloaded_error/.test(error.message),
    );
    const log = await relay.nextRequestLog();
    assert.deepEqual([log.provider, log.outcome], ["busy", "upstream_error"]);
    const next = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...ASK, stream: true }),
    });
    assert.equal(next.status, 503, "the breaker counted the failure");
    assert.match((await next.json()).error.message, /circuit open/);
  });
  await Promise.all([busy.close(), up.close()]);
});

Deno.test("a stream answered with JSON that is no Message is relay's 502 naming the provider, retried elsewhere", async () => {
  const odd = startFakeUpstream(answering({ choices: [] }));
  const up = startFakeUpstream(answering(WHOLE_MESSAGE));
  {
    await using relay = startTestRelay({ routes: [routeTo("odd", odd.url)] });
    await assert.rejects(
      () => sdk(relay.url).messages.stream(ASK).finalMessage(),
      (error: unknown) =>
        error instanceof Anthropic.APIError && error.status === 502 &&
        error.message.includes("upstream odd answered a stream with JSON that is not a Message"),
    );
    assert.equal((await relay.nextRequestLog()).outcome, "relay_error", "relay's answer, not the upstream's");
  }
  {
    await using relay = startTestRelay({
      routes: [routeTo("odd", odd.url), routeTo("up", up.url)],
      retry: { maxAttempts: 2 },
    });
    assert.equal((await sdk(relay.url).messages.stream(ASK).finalMessage()).id, WHOLE_MESSAGE.id);
    assert.equal(relay.logs.find((line) => line.msg === "attempt failed")?.provider, "odd");
  }
  await Promise.all([odd.close(), up.close()]);
});

Deno.test("a whole Message broken off before its end is a failure before the answer: relay tries elsewhere", async () => {
  const stream = controlledStream();
  const broken = startFakeUpstream(() =>
    stream.response({ headers: { "content-type": "application/json" } })
  );
  const up = startFakeUpstream(answering(WHOLE_MESSAGE));
  await using relay = startTestRelay({
    routes: [routeTo("broken", broken.url), routeTo("up", up.url)],
    retry: { maxAttempts: 2 },
  });
  stream.push(JSON.stringify(WHOLE_MESSAGE).slice(0, 60));
  const answer = sdk(relay.url).messages.stream(ASK).finalMessage();
  await stream.whenRead();
  stream.fail(new Error("connection reset"));
  assert.equal((await answer).id, WHOLE_MESSAGE.id);
  const failed = relay.logs.find((line) => line.msg === "attempt failed");
  assert.deepEqual([failed?.provider, failed?.next], ["broken", "retry_next_provider"]);
  assert.deepEqual((await relay.nextRequestLog()).provider, "up");
  await Promise.all([broken.close(), up.close()]);
});

Deno.test("an SSE stream under another content type is a stream: its usage counted, its end checked", async (t) => {
  const stream = textAnswerStream({
    id: "msg_labelled",
    text: "hi there",
    startUsage: { input_tokens: 40, output_tokens: 1 },
    endUsage: { output_tokens: 9 },
  });
  for (const contentType of ["text/plain; charset=utf-8", "application/octet-stream", "application/json"]) {
    await t.step(contentType, async () => {
      const upstream = startFakeUpstream(answering(stream, contentType));
      await using relay = startTestRelay({ routes: [routeTo("glm", upstream.url)] });
      const message = await sdk(relay.url).messages.stream(ASK).finalMessage();
      assert.equal(message.id, "msg_labelled");
      const log = await relay.nextRequestLog();
      assert.deepEqual([log.outcome, log.input_tokens, log.output_tokens], ["complete", 40, 9]);
      await upstream.close();
    });
  }
  await t.step("one cut before its message_stop ends in an error", async () => {
    const cut = stream.slice(0, stream.indexOf("event: message_delta"));
    const upstream = startFakeUpstream(answering(cut, "text/plain"));
    await using relay = startTestRelay({ routes: [routeTo("glm", upstream.url)] });
    await assert.rejects(() => sdk(relay.url).messages.stream(ASK).finalMessage(), Anthropic.APIError);
    assert.equal((await relay.nextRequestLog()).outcome, "upstream_failed");
    await upstream.close();
  });
  await t.step(
    "a body that is neither SSE nor JSON is relay's 502 api_error naming the provider",
    async () => {
      const upstream = startFakeUpstream(answering("Hello, this is not a stream.", "text/plain"));
      await using relay = startTestRelay({ routes: [routeTo("glm", upstream.url)] });
      await assert.rejects(
        () => sdk(relay.url).messages.stream(ASK).finalMessage(),
        (error: unknown) =>
          error instanceof Anthropic.APIError && error.status === 502 && error.type === "api_error" &&
          error.message.includes(
            "upstream glm answered a stream with a body (text/plain) that is neither SSE nor JSON",
          ),
      );
      await upstream.close();
    },
  );
});

Deno.test("count_tokens skips an Ollama provider; with only Ollama, it is the 404 an OpenAI-only relay gives", async (t) => {
  const ollama = startFakeUpstream(() => new Response("404 page not found", { status: 404 }));
  const counting = startFakeUpstream(answering({ input_tokens: 42 }));
  const count = (url: string) =>
    fetch(`${url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "glm-4.6", messages: [{ role: "user", content: "hi" }] }),
    });
  await t.step("a later provider counts", async () => {
    await using relay = startTestRelay({
      routes: [routeTo("local", ollama.url, "ollama"), routeTo("compat", counting.url)],
    });
    const counted = await count(relay.url);
    assert.equal(counted.status, 200);
    assert.deepEqual(await counted.json(), { input_tokens: 42 });
    const log = await relay.nextRequestLog();
    assert.deepEqual([log.provider, log.attempts, log.failovers], ["compat", 1, 0], "no attempt at Ollama");
  });
  await t.step("none counts", async () => {
    await using relay = startTestRelay({ routes: [routeTo("local", ollama.url, "ollama")] });
    const counted = await count(relay.url);
    assert.equal(counted.status, 404);
    const { error } = await counted.json();
    assert.equal(error.type, "not_found_error");
    assert.match(
      error.message,
      /^POST \/v1\/messages\/count_tokens is not available from any provider that serves/,
    );
    assert.deepEqual((await relay.nextRequestLog()).attempts, 0);
  });
  assert.equal(ollama.requests.length, 0, "Ollama was never asked to count");
  await Promise.all([ollama.close(), counting.close()]);
});
