/**
 * A provider that stands in for one that cannot take a request now may refuse as invalid what that one
 * takes. The hunt's case, with a real Claude Code: a session failed over to an OpenAI-compatible provider,
 * whose 429 then sent a tool-loop request back to Anthropic's, which refused the turn for its missing
 * signed thinking (a 400); relay gave that 400 to Claude Code, which ended the session, where the 429
 * alone would have had it wait two seconds and go on. Over real HTTP, on a fake clock.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { type FakeHandler, MESSAGE_ANSWER, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { anthropicRoute, startTestRelay, type TestRelay } from "../_helpers/relay.ts";

/** Anthropic's words for a tool loop whose turn lost its signed thinking. */
const NO_THINKING =
  "messages.3.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. " +
  "When `thinking` is enabled, a final `assistant` message must start with a thinking block";

const anthropicError = (status: number, type: string, message: string, headers: HeadersInit = {}) =>
  Response.json({ type: "error", error: { type, message } }, { status, headers });

const refusedAsInvalid = () => anthropicError(400, "invalid_request_error", NO_THINKING);

/** An upstream that answers its first `times` requests 529, then a message. */
function overloadedFor(times: number): FakeHandler {
  return () =>
    times-- > 0 ? anthropicError(529, "overloaded_error", "Overloaded") : Response.json(MESSAGE_ANSWER);
}

/** relay over two providers in failover order, `first` then `second`, each a fake upstream. */
function overTwo(first: FakeHandler, second: FakeHandler) {
  const upstreams = [startFakeUpstream(first), startFakeUpstream(second)];
  const relay = startTestRelay({
    routes: [anthropicRoute("first", upstreams[0].url), anthropicRoute("second", upstreams[1].url)],
    retry: { maxAttempts: 4, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 }, maxWaitMs: 0 },
    clock: new FakeClock(),
  });
  return {
    relay,
    asked: () => upstreams.map((upstream) => upstream.requests.length),
    async [Symbol.asyncDispose]() {
      await relay[Symbol.asyncDispose]();
      for (const upstream of upstreams) await upstream.close();
    },
  };
}

function ask(relay: TestRelay, content = "hi"): Promise<Response> {
  return fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({
      model: "claude-sonnet-4-5",
      max_tokens: 64,
      messages: [{ role: "user", content }],
    }),
  });
}

Deno.test("a stand-in's 400 does not end the request: the provider it stood in for takes it again", async () => {
  await using two = overTwo(overloadedFor(1), refusedAsInvalid);
  const answer = await ask(two.relay);
  assert.equal(answer.status, 200, "the 529 passed; the stand-in's refusal did not end the request");
  assert.deepEqual((await answer.json()).content, MESSAGE_ANSWER.content);
  assert.deepEqual(two.asked(), [2, 1], "the stand-in is passed over once it refused: not asked again");
  const failed = two.relay.logs.filter((line) => line.msg === "attempt failed");
  assert.deepEqual(failed.map((line) => [line.provider, line.next, line.reason]), [
    ["first", "retry_next_provider", "529 from upstream"],
    [
      "second",
      "skip_provider",
      "400 from upstream, standing in for a provider that cannot take the request now",
    ],
  ]);
});

Deno.test("a stand-in's 400 leaves the client the reason the provider it stood in for could not take the request", async () => {
  await using two = overTwo(
    () => anthropicError(429, "rate_limit_error", "Slow down", { "retry-after": "2" }),
    refusedAsInvalid,
  );
  const answer = await ask(two.relay);
  assert.equal(answer.status, 429, "the first provider's 429, which its client waits out");
  assert.equal(answer.headers.get("retry-after"), "2");
  assert.equal((await answer.json()).error.message, "Slow down");

  // While the first one's key cools, the stand-in is asked first: its refusal still is not the answer.
  const other = await ask(two.relay, "another request");
  assert.equal(other.status, 429, "relay's own: every key that serves the model is at its rate limit");
  const { error } = await other.json();
  assert.equal(error.type, "rate_limit_error");
  assert.ok(
    error.message.endsWith(`; second, standing in, refused it (400: ${NO_THINKING})`),
    `the stand-in's words, should the request be at fault in itself: ${error.message}`,
  );
  assert.deepEqual(two.asked(), [1, 2], "the first one's key is cooling: not asked again");
  const log = await two.relay.nextRequestLog();
  assert.equal(log.provider, "first", "the first request's line: the first provider's own 429");
  const own = await two.relay.nextRequestLog();
  assert.deepEqual([own.provider, own.status], [undefined, 429], "relay's own");

  // Sent again, and refused so again: a request at fault in itself is told so after one wait.
  const again = await ask(two.relay);
  assert.equal(again.status, 400);
  assert.equal((await again.json()).error.message, NO_THINKING);
  assert.deepEqual(two.asked(), [1, 3]);
});

Deno.test("a stand-in's refusal counts toward no routing.max_attempts: the provider it stood in for is tried as often", async () => {
  await using two = overTwo(overloadedFor(3), refusedAsInvalid);
  const answer = await ask(two.relay);
  assert.equal(
    answer.status,
    200,
    "three 529s and a refusal are within four attempts, as three 529s alone are",
  );
  await answer.body?.cancel();
  assert.deepEqual(two.asked(), [4, 1]);
});

Deno.test("a provider that stands in for none answers its 400 to the client as it is", async () => {
  await using two = overTwo(
    () => anthropicError(401, "authentication_error", "invalid x-api-key"),
    refusedAsInvalid,
  );
  const answer = await ask(two.relay);
  assert.equal(
    answer.status,
    400,
    "the first provider's only key was refused: the second is the request's own",
  );
  assert.equal((await answer.json()).error.message, NO_THINKING);
  assert.deepEqual(two.asked(), [1, 1]);
});
