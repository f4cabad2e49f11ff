/**
 * An answer an adapter reads before it answers (OpenAI's unstreamed completion, read whole; Bedrock's
 * count and a stream's first frame), over real HTTP, that stalls past `timeouts.first_byte` or breaks off
 * once its 200's headers are in: the client gets the 504 or 502 it got before, and the headers still
 * reach relay as those of any answer that failed do: its request-id the access line, its rate limits
 * the key pool.
 */
import assert from "node:assert/strict";
import { createBedrockProvider } from "../../src/providers/bedrock.ts";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { maskSecret } from "../../src/util/mask.ts";
import { chunkFrame } from "../_helpers/fake_bedrock.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { type ControlledStream, controlledStream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { startTestRelay, TEST_TIMEOUTS, type TestRelay } from "../_helpers/relay.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

const FIRST_BYTE_MS = 50;
const KEY = "sk-openai-key-0000000000001";

/** How each failure ends the answer, and what relay answers for it, as it did before it kept the headers. */
const FAILURES = [
  {
    failure: "a stall",
    end: (clock: FakeClock) => clock.advance(FIRST_BYTE_MS),
    status: 504,
    type: "timeout_error",
    message: (name: string) =>
      `upstream ${name} did not answer within ${FIRST_BYTE_MS} ms (timeouts.first_byte)`,
  },
  {
    failure: "a cut",
    end: (_clock: FakeClock, body: ControlledStream) => body.fail(new Error("connection reset")),
    status: 502,
    type: "api_error",
    message: (name: string) => `upstream ${name} failed: error reading a body from connection`,
  },
] as const;

/**
 * The real `fetch`, with `waiting` called whenever the answer's reader asks for more of its body than
 * its first chunk: the adapter has the headers, and reads on.
 */
function watchedFetch(waiting: () => void): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!response.body) return response;
    const reader = response.body.getReader();
    let chunks = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (chunks > 0) waiting();
        const { done, value } = await reader.read();
        if (done) return controller.close();
        chunks++;
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
    return new Response(body, response);
  };
}

function post(relay: TestRelay, path: string, body: object): Promise<Response> {
  return fetch(`${relay.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ max_tokens: 64, messages: [{ role: "user", content: "hi" }], ...body }),
  });
}

/** relay's own error answer, as it was before the failure's headers were kept. */
async function assertAnswered(
  response: Response,
  { status, type, message }: { status: number; type: string; message: string },
): Promise<void> {
  assert.equal(response.status, status);
  assert.deepEqual(await response.json(), { type: "error", error: { type, message } });
}

for (const { failure, end, status, type, message } of FAILURES) {
  Deno.test(`an OpenAI upstream's unstreamed 200 that ends in ${failure} while read whole tells relay its request-id and rate limits`, async () => {
    const body = controlledStream();
    const upstream = startFakeUpstream(() =>
      new Response(body.body, {
        headers: {
          "content-type": "application/json",
          "x-request-id": "req_read_whole",
          "x-ratelimit-limit-requests": "50",
          "x-ratelimit-remaining-requests": "0",
          "x-ratelimit-reset-requests": "1m0s",
        },
      })
    );
    const reading = Promise.withResolvers<void>();
    const provider = createOpenAIProvider({
      name: "oa",
      baseUrl: `${upstream.url}/v1`,
      fetch: watchedFetch(reading.resolve),
    });
    const clock = new FakeClock();
    await using relay = startTestRelay({
      routes: [{
        provider,
        keys: [{ secret: KEY, label: maskSecret(KEY) }],
        timeouts: { ...TEST_TIMEOUTS, firstByte: FIRST_BYTE_MS },
        models: new ModelMap(undefined),
      }],
      clock,
    });
    try {
      const answer = post(relay, "/v1/messages", { model: "gpt-x" });
      body.push('{"id":"chatcmpl-1","choices":[');
      await reading.promise;
      end(clock, body);
      await assertAnswered(await answer, { status, type, message: message("oa") });
      const line = await relay.nextRequestLog();
      assert.equal(line.upstream_request_id, "req_read_whole", "the 200's x-request-id, as request-id");

      // The 200 said its key has no request left for a minute: the key pool holds the next one back.
      const next = await post(relay, "/v1/messages", { model: "gpt-x" });
      assert.equal(next.status, 429);
      assert.equal(next.headers.get("retry-after"), "60");
      assert.match((await next.json()).error.message, /^every key that serves gpt-x is at its rate limit/);
      assert.equal(upstream.requests.length, 1);
    } finally {
      await upstream.close();
    }
  });
}

/** Bedrock's reads before it answers: a count's whole body, a stream's first frame. */
const BEDROCK_READS = [
  { read: "a count", path: "/v1/messages/count_tokens", stream: false, contentType: "application/json" },
  {
    read: "a stream's first frame",
    path: "/v1/messages",
    stream: true,
    contentType: "application/vnd.amazon.eventstream",
  },
] as const;

for (const { failure, end, status, type, message } of FAILURES) {
  for (const { read, path, stream, contentType } of BEDROCK_READS) {
    // A count cut short is a count relay cannot read: its 502 says so, with the 200's headers.
    if (failure === "a cut" && !stream) continue;
    Deno.test(`a Bedrock 200 that ends in ${failure} while relay reads ${read} still tells its request-id`, async () => {
      const body = controlledStream();
      const upstream = startFakeUpstream(() =>
        new Response(body.body, {
          headers: { "content-type": contentType, "x-amzn-requestid": "req_bedrock_read" },
        })
      );
      const reading = Promise.withResolvers<void>();
      const provider = createBedrockProvider({
        name: "bd",
        region: "us-east-1",
        baseUrl: upstream.url,
        credentials: "api_key",
        fetch: watchedFetch(reading.resolve),
      });
      const clock = new FakeClock();
      const key = "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl";
      await using relay = startTestRelay({
        provider,
        keys: [key],
        models: { "claude-*": "anthropic.claude-x" },
        timeouts: { firstByte: FIRST_BYTE_MS },
        clock,
      });
      try {
        const answer = post(relay, path, { model: "claude-sonnet-4-5", stream });
        // Half a frame, or half a count: the reader asks for the rest.
        body.push(stream ? chunkFrame('{"type":"message_stop"}').slice(0, 10) : '{"inputTokens":');
        await reading.promise;
        assert.ok(await settlesWithin(clock.whenArmed(FIRST_BYTE_MS), 5_000), "first_byte armed");
        end(clock, body);
        await assertAnswered(await answer, { status, type, message: message("bd") });
        const line = await relay.nextRequestLog();
        assert.equal(line.upstream_request_id, "req_bedrock_read", "the 200's x-amzn-requestid");
      } finally {
        await upstream.close();
      }
    });
  }
}
