/**
 * A key its upstream refused (a 401) over real HTTP: the client gets the upstream's own 401 once, and
 * while no key is left, relay's own 401 `authentication_error` quoting the upstream's words, masked, with
 * `x-should-retry: false` and no `retry-after`, without asking the upstream again. Before, relay answered
 * a 503, which Codex retried for 21 s whatever the header said, and Claude Code's retries hid the key's
 * fault. A key that time brings back beside it keeps relay's rate-limit answer and its `retry-after`.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { type FakeHandler, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { startTestRelay, type TestRelay } from "../_helpers/relay.ts";

const REVOKED = "sk-ant-api03-revoked-key-00000000x7f2";
const COOLING = "sk-ant-api03-cooling-key-00000000a1b2";
const RETRY = { maxAttempts: 3 };
const MESSAGE = JSON.stringify({
  model: "claude-sonnet-4-5",
  max_tokens: 64,
  messages: [{ role: "user", content: "hi" }],
});

/** Anthropic's 401, naming the key it refused as OpenAI's does. */
const refusing: FakeHandler = (_request, recorded) =>
  Response.json({
    type: "error",
    error: {
      type: "authentication_error",
      message: `invalid x-api-key: ${recorded.headers.get("x-api-key")}`,
    },
  }, { status: 401 });

function ask(relay: TestRelay, path = "/v1/messages", body = MESSAGE): Promise<Response> {
  return fetch(`${relay.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
}

Deno.test("once its only key was refused, relay answers 401 authentication_error in the upstream's words, not to retry", async () => {
  const upstream = startFakeUpstream(refusing);
  await using relay = startTestRelay({ upstreamUrl: upstream.url, keys: [REVOKED], retry: RETRY });
  try {
    const first = await ask(relay);
    assert.equal(first.status, 401, "the upstream's own answer, the first time");
    await first.body?.cancel();

    const again = await ask(relay);
    const { headers } = again;
    assert.deepEqual([again.status, headers.get("x-should-retry"), headers.get("retry-after")], [
      401,
      "false",
      null,
    ]);
    assert.deepEqual((await again.json()).error, {
      type: "authentication_error",
      message:
        "no upstream can take the request: no provider or key that serves this model is in rotation: " +
        "relay took out the keys their upstream refused (upstream said: invalid x-api-key: sk-ant-...x7f2); " +
        "a fixed key and a reload, or the admin API, put them back",
    });
    // Codex's front door: the same status and type, which Codex does not retry.
    const responses = await ask(
      relay,
      "/v1/responses",
      JSON.stringify({ model: "claude-sonnet-4-5", input: "hi" }),
    );
    assert.equal(responses.status, 401);
    assert.equal((await responses.json()).error.type, "authentication_error");
    assert.equal(upstream.requests.length, 1, "the refused key is not sent again");
  } finally {
    await upstream.close();
  }
});

Deno.test("a refused key beside one cooling keeps relay's 429 with retry-after: the other comes back", async () => {
  const upstream = startFakeUpstream((request, recorded) =>
    recorded.headers.get("x-api-key") === REVOKED
      ? refusing(request, recorded)
      : Response.json({ type: "error", error: { type: "rate_limit_error", message: "slow down" } }, {
        status: 429,
        headers: { "retry-after": "30" },
      })
  );
  const clock = new FakeClock(1_000_000);
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    keys: [REVOKED, COOLING],
    retry: RETRY,
    clock,
  });
  try {
    const first = await ask(relay);
    assert.equal(first.status, 429, "the cooling key's own answer, the last tried");
    await first.body?.cancel();
    assert.equal(upstream.requests.length, 2);

    const again = await ask(relay);
    assert.equal(again.status, 429);
    assert.equal(again.headers.get("retry-after"), "30");
    assert.equal(again.headers.get("x-should-retry"), null);
    const { error } = await again.json();
    assert.equal(error.type, "rate_limit_error");
    assert.match(
      error.message,
      /^every key that serves claude-sonnet-4-5 is at its rate limit; the next frees up in 30 s/,
    );
    assert.equal(upstream.requests.length, 2, "neither key is asked meanwhile");
  } finally {
    await upstream.close();
  }
});
