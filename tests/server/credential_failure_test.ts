/**
 * A provider whose credential relay cannot get (Vertex behind a token endpoint that refuses its service
 * account's key, or is down), over real HTTP: what the client is told, whether it may send again, what
 * the log says, and that relay still fails over to a provider that is set up right.
 */
import assert from "node:assert/strict";
import { createAnthropicProvider } from "../../src/providers/anthropic.ts";
import { googleServiceAccountTokens } from "../../src/providers/google_auth.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import type { BreakerChange, Route } from "../../src/routing/router.ts";
import { makeServiceAccount, type TestServiceAccount } from "../_helpers/fake_oauth.ts";
import {
  controlledStream,
  type FakeUpstream,
  MESSAGE_ANSWER,
  messageStartEvent,
  startFakeUpstream,
} from "../_helpers/fake_upstream.ts";
import {
  anthropicRoute as compatibleRoute,
  startTestRelay,
  TEST_TIMEOUTS,
  type TestRelay,
} from "../_helpers/relay.ts";
import { testVertexProvider } from "../_helpers/vertex.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

const BODY = '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}';

/** Google's answer to an assertion signed with a key it no longer knows (a deleted or rotated key). */
const INVALID_GRANT = () =>
  Response.json({ error: "invalid_grant", error_description: "Invalid JWT Signature." }, { status: 400 });
/** A token endpoint that fails on its side. */
const BROKEN = () => Response.json({ error: "internal_failure" }, { status: 500 });

/** A fake token endpoint answering `answer`, a fake Vertex behind it, and the route relay has to them. */
interface VertexBehindTokens extends AsyncDisposable {
  route: Route;
  tokenEndpoint: FakeUpstream;
  vertex: FakeUpstream;
}

async function vertexBehind(answer: () => Response): Promise<VertexBehindTokens> {
  const account: TestServiceAccount = await makeServiceAccount();
  const tokenEndpoint = startFakeUpstream(answer);
  const vertex = startFakeUpstream();
  const tokens = googleServiceAccountTokens({
    credentialsFile: account.file,
    tokenUrl: `${tokenEndpoint.url}/token`,
  });
  return {
    route: {
      provider: testVertexProvider(vertex.url, tokens),
      keys: [],
      timeouts: TEST_TIMEOUTS,
      models: new ModelMap(undefined),
    },
    tokenEndpoint,
    vertex,
    async [Symbol.asyncDispose]() {
      await Promise.all([tokenEndpoint.close(), vertex.close()]);
      await account[Symbol.asyncDispose]();
    },
  };
}

function post(relay: TestRelay, signal?: AbortSignal): Promise<Response> {
  return fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY,
    signal,
  });
}

Deno.test("a key the token endpoint refuses is a 502 the client is told not to retry, logged as credentials", async () => {
  await using chain = await vertexBehind(INVALID_GRANT);
  await using relay = startTestRelay({ routes: [chain.route] });

  const response = await post(relay);
  // A 401 would tell Claude Code its own key is bad; `x-should-retry: false` stops its 10 retries.
  assert.equal(response.status, 502);
  assert.equal(response.headers.get("x-should-retry"), "false");
  const { error } = await response.json();
  assert.equal(error.type, "api_error");
  const refused = `Vertex auth failed: token endpoint ${chain.tokenEndpoint.url}/token answered 400: ` +
    "invalid_grant: Invalid JWT Signature.";
  assert.equal(error.message, `upstream vertex failed: ${refused}`);
  const failed = await relay.logged("attempt failed");
  assert.equal(failed.reason, `credentials: ${refused}`);
  assert.equal(chain.vertex.requests.length, 0);
});

Deno.test("a token endpoint that fails on its side stays a 502 the client may retry", async () => {
  await using chain = await vertexBehind(BROKEN);
  await using relay = startTestRelay({ routes: [chain.route] });

  const response = await post(relay);
  assert.equal(response.status, 502);
  assert.equal(response.headers.get("x-should-retry"), null);
  const { error } = await response.json();
  assert.match(
    error.message,
    /^upstream vertex failed: Vertex auth failed: token endpoint .* answered 500: /,
  );
  const failed = await relay.logged("attempt failed");
  assert.match(String(failed.reason), /^credentials: Vertex auth failed: token endpoint .* answered 500: /);
});

Deno.test("a refused key fails over to the next provider and counts against its own provider's breaker", async () => {
  await using chain = await vertexBehind(INVALID_GRANT);
  const anthropic = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [chain.route, {
      provider: createAnthropicProvider({
        name: "anthropic",
        type: "anthropic",
        baseUrl: anthropic.url,
        authHeader: "x-api-key",
      }),
      keys: [{ secret: "sk-ant-api03-fallback-key-00000000", label: "sk-ant-...0000" }],
      timeouts: TEST_TIMEOUTS,
      models: new ModelMap(undefined),
    }],
    retry: { maxAttempts: 2 },
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 } },
  });

  const first = await post(relay);
  assert.equal(first.status, 200, "another provider may be set up right");
  assert.equal(first.headers.get("x-should-retry"), null);
  await first.arrayBuffer();
  const failed = await relay.logged("attempt failed");
  assert.equal(failed.provider, "vertex");
  assert.equal(failed.next, "retry_next_provider");
  assert.match(String(failed.reason), /^credentials: Vertex auth failed: .* invalid_grant/);

  // Vertex's breaker opened on the refusal: the next request costs no token request and goes on at once.
  const second = await post(relay);
  assert.equal(second.status, 200);
  await second.arrayBuffer();
  assert.equal(chain.tokenEndpoint.requests.length, 1);
  assert.equal(anthropic.requests.length, 2);
  await anthropic.close();
});

Deno.test("an upstream's own answer from an earlier attempt beats a refused key, and may be retried", async () => {
  const overloaded = startFakeUpstream(() =>
    Response.json({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, {
      status: 529,
    })
  );
  await using chain = await vertexBehind(INVALID_GRANT);
  await using relay = startTestRelay({
    routes: [anthropicRoute(overloaded.url), chain.route],
    retry: { maxAttempts: 2 },
  });

  const response = await post(relay);
  // The overloaded provider may answer the client's next try; the refused key says nothing of it.
  assert.equal(response.status, 529);
  assert.equal(response.headers.get("x-should-retry"), null);
  assert.equal((await response.json()).error.type, "overloaded_error");
  assert.equal(chain.tokenEndpoint.requests.length, 1, "the refused key was tried");
  const log = await relay.nextRequestLog();
  assert.deepEqual(
    [log.provider, log.status],
    ["anthropic", 529],
    "the log tells of the answer the client got",
  );
  await overloaded.close();
});

Deno.test("a refused key after a provider that could not be reached is a 502 the client may retry", async () => {
  const gone = startFakeUpstream();
  const goneUrl = gone.url;
  await gone.close();
  await using chain = await vertexBehind(INVALID_GRANT);
  await using relay = startTestRelay({
    routes: [anthropicRoute(goneUrl), chain.route],
    retry: { maxAttempts: 2 },
  });

  const response = await post(relay);
  assert.equal(response.status, 502);
  assert.equal(response.headers.get("x-should-retry"), null, "the unreachable provider may be back");
  assert.match((await response.json()).error.message, /^upstream vertex failed: Vertex auth failed: /);
});

Deno.test("a refused key after a stand-in's refusal is relay's 502 quoting it: relay's own trouble, told as such", async () => {
  const error = (status: number, type: string, message: string) => () =>
    Response.json({ type: "error", error: { type, message } }, { status });
  const down = startFakeUpstream(error(500, "api_error", "down"));
  const refuse = error(400, "invalid_request_error", "metadata: Extra inputs are not permitted");
  const picky = startFakeUpstream((_, recorded) =>
    new TextDecoder().decode(recorded.body).includes("metadata") ? refuse() : Response.json(MESSAGE_ANSWER)
  );
  await using chain = await vertexBehind(INVALID_GRANT);
  await using relay = startTestRelay({
    routes: [compatibleRoute("down", down.url), compatibleRoute("picky", picky.url), chain.route],
    retry: { maxAttempts: 3 },
    // Without a last resort, down's open breaker ends the plan: the refused key's failure is the last.
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 }, lastResort: false },
  });
  const ask = (content: string) =>
    fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: BODY.replace('"hi"', JSON.stringify(content)),
    });
  const served = await ask("opens down's breaker, served by picky");
  assert.equal(served.status, 200);
  await served.body?.cancel();

  const response = await ask("metadata: a request picky refuses while down is open");
  assert.equal(response.status, 502, "relay could not get vertex's credential: its own trouble");
  const { error: told } = await response.json();
  assert.match(told.message, /^upstream vertex failed: Vertex auth failed: .*invalid_grant/);
  assert.match(
    told.message,
    /picky, standing in, refused it \(400: metadata: Extra inputs are not permitted\)/,
  );
  assert.equal(picky.requests.length, 2);
  await Promise.all([down.close(), picky.close()]);
});

function anthropicRoute(url: string): Route {
  return {
    provider: createAnthropicProvider({
      name: "anthropic",
      type: "anthropic",
      baseUrl: url,
      authHeader: "x-api-key",
    }),
    keys: [{ secret: "sk-ant-api03-fallback-key-00000000", label: "sk-ant-...0000" }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
}

Deno.test("a refused key beside a provider that is only busy is a 502 the client may retry", async () => {
  const held = controlledStream();
  const busy = startFakeUpstream(() => held.response());
  await using chain = await vertexBehind(INVALID_GRANT);
  await using relay = startTestRelay({
    routes: [{ ...anthropicRoute(busy.url), maxInFlight: 1 }, chain.route],
    retry: { maxAttempts: 2 },
  });
  held.push(messageStartEvent("msg_held", { input_tokens: 1, output_tokens: 1 }));
  const first = await post(relay);
  assert.equal(first.status, 200, "the first request holds the busy provider's one place");
  // Unasked while it is full, it may serve the client's next try: nothing says not to send again.
  const response = await post(relay);
  assert.equal(response.status, 502);
  assert.equal(response.headers.get("x-should-retry"), null);
  await response.body?.cancel();
  await first.body?.cancel();
  await busy.close();
});

/**
 * `relay`'s answer to a request, its body read, given within 5 s: not held, looking again every second on
 * a clock that never moves. One held is left, failing the test rather than holding the relay's close.
 */
async function answeredAtOnce(relay: TestRelay): Promise<Response> {
  const leave = new AbortController();
  const answer = post(relay, leave.signal);
  const settled = await settlesWithin(answer, 5_000);
  if (!settled) leave.abort();
  assert.ok(settled, "not held for max_wait, asking every second");
  const response = await answer;
  await response.body?.cancel();
  return response;
}

Deno.test("a provider that refuses relay's key for good is asked once a request, beside one switched off, which cannot serve the next try", async () => {
  await using chain = await vertexBehind(INVALID_GRANT);
  const other = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [chain.route, compatibleRoute("gw", other.url)],
    retry: { maxAttempts: 3, maxWaitMs: 30_000, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 } },
    clock: new FakeClock(),
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 } },
  });
  relay.router.setEnabled("gw", false);
  for (const request of [1, 2]) {
    const response = await answeredAtOnce(relay);
    assert.deepEqual([response.status, response.headers.get("x-should-retry")], [502, "false"], `${request}`);
    assert.equal(chain.tokenEndpoint.requests.length, request, "one try a request, its breaker open or not");
  }
  assert.equal(other.requests.length, 0);
  await other.close();
});

Deno.test("a lone provider that refuses relay's key for good says so at once, its breaker open or not", async () => {
  await using chain = await vertexBehind(INVALID_GRANT);
  const changes: BreakerChange[] = [];
  // A held request would look again every second of max_wait on this clock, which never moves.
  await using relay = startTestRelay({
    routes: [chain.route],
    retry: { maxAttempts: 3, maxWaitMs: 30_000, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 } },
    clock: new FakeClock(),
    routing: {
      breaker: { failureThreshold: 2, windowMs: 60_000, cooldownMs: 30_000 },
      onBreakerChange: (change) => void changes.push(change),
    },
  });
  // Refused for good: asked once a request, not max_attempts times. The second failure opens the breaker
  // before that request ends, which once took the header away from it.
  const opened = [{ provider: "vertex", key: undefined, from: "closed", to: "open" }]; // the provider's own
  for (const [request, breakerBy] of [[1, []], [2, opened]] as const) {
    const response = await answeredAtOnce(relay);
    assert.equal(response.status, 502);
    assert.equal(response.headers.get("x-should-retry"), "false", `request ${request}`);
    assert.deepEqual(changes, breakerBy, `breaker changes by the answer to request ${request}`);
    assert.equal(chain.tokenEndpoint.requests.length, request, "one try a request");
  }
  const lastResort = await answeredAtOnce(relay);
  assert.deepEqual(
    [lastResort.status, lastResort.headers.get("x-should-retry"), chain.tokenEndpoint.requests.length],
    [502, "false", 3],
    "with nowhere else to go, the next request is the breaker's early probe, refused for good again",
  );
  assert.equal(changes.length, 1, "the early probe's failure leaves the breaker open, as it was");
});
