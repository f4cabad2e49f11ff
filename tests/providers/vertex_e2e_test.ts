/**
 * relay in front of a fake Vertex AI, with Google's service-account token flow against a fake token
 * endpoint: real HTTP on every hop, so URL, body, bearer token and streamed bytes are all checked as
 * a client would see them.
 */
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { googleServiceAccountTokens } from "../../src/providers/google_auth.ts";
import type { TokenSource } from "../../src/providers/token_cache.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { makeServiceAccount, startFakeOAuth } from "../_helpers/fake_oauth.ts";
import { sseChunks, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { armedBefore, assertHeldToConnect, startTestRelay, type TestRelay } from "../_helpers/relay.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";
import { type GoldenName, loadGolden } from "../_helpers/golden.ts";
import {
  startVertexChain,
  testVertexProvider,
  unexpectedBetasAnswer,
  type VertexChain,
} from "../_helpers/vertex.ts";

const MODEL_PATH = "/v1/projects/my-project/locations/us-east5/publishers/anthropic/models";
const START = 1_750_000_000_000;

/** The whole chain; `golden` is what the fake Vertex streams next, `now` the token flow's clock. */
interface Chain extends VertexChain {
  golden: GoldenName;
  now: number;
  /** Tokens the fake Vertex refuses though the endpoint issued them, as after a revocation. */
  revoked: Set<string>;
  /** Runs before the fake Vertex answers a revoked token, which it then refuses. */
  onRevoked: () => Promise<void>;
  /** Betas the fake Vertex refuses as Vertex does, with a 400 naming them; on count-tokens, any. */
  refusedBetas: Set<string>;
}

/**
 * Starts the fake token endpoint, a fake Vertex that streams `chain.golden` to callers with a token
 * the endpoint issued (and answers like Google's front end otherwise), and relay between them.
 * `wrapTokens` may observe the token source relay uses.
 */
async function startChain(wrapTokens?: (tokens: TokenSource) => TokenSource): Promise<Chain> {
  const state = {
    golden: "tool_use" as GoldenName,
    now: START,
    revoked: new Set<string>(),
    onRevoked: () => Promise.resolve(),
    refusedBetas: new Set<string>(),
  };
  const chain = await startVertexChain(async (recorded, oauth) => {
    const bearer = recorded.headers.get("authorization");
    const revoked = [...state.revoked].some((token) => bearer === `Bearer ${token}`);
    if (revoked) await state.onRevoked();
    if (revoked || !oauth.issued.some((token) => bearer === `Bearer ${token}`)) {
      const message = "Request had invalid authentication credentials.";
      return Response.json({ error: { code: 401, message, status: "UNAUTHENTICATED" } }, { status: 401 });
    }
    const counting = recorded.path.endsWith("/count-tokens:rawPredict");
    const unexpected = (recorded.headers.get("anthropic-beta") ?? "").split(",")
      .filter((beta) => beta !== "" && (counting || state.refusedBetas.has(beta)));
    if (unexpected.length > 0) return unexpectedBetasAnswer(...unexpected);
    if (counting) return Response.json({ input_tokens: 12 });
    return sseChunks([await loadGolden(state.golden)]);
  }, {
    now: () => state.now,
    wrapTokens,
    relay: { models: { "claude-sonnet-4-5": "claude-sonnet-4-5@20250929" } },
  });
  return Object.assign(state, chain);
}

const BODY =
  '{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"hi"}],"stream":true}';

function postMessages(relay: TestRelay, body = BODY): Promise<Response> {
  return fetch(`${relay.url}/v1/messages?beta=true`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "interleaved-thinking-2025-05-14",
      "x-api-key": "client-key-never-forwarded",
    },
    body,
  });
}

Deno.test("relay streams Vertex's tool_use and thinking answers to the client byte for byte", async () => {
  await using chain = await startChain();
  for (const golden of ["tool_use", "thinking"] as const) {
    chain.golden = golden;
    const response = await postMessages(chain.relay);
    assert.equal(response.status, 200);
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), await loadGolden(golden));
  }

  const request = chain.vertex.requests[0];
  assert.equal(request.path, `${MODEL_PATH}/claude-sonnet-4-5@20250929:streamRawPredict`);
  assert.equal(
    new TextDecoder().decode(request.body),
    '{"anthropic_version":"vertex-2023-10-16","max_tokens":1024,"messages":[{"role":"user","content":"hi"}],"stream":true}',
  );
  assert.equal(request.headers.get("authorization"), "Bearer fake-access-token-1");
  assert.equal(request.headers.get("anthropic-beta"), "interleaved-thinking-2025-05-14");
  assert.equal(request.headers.get("x-api-key"), null);
  assert.equal(chain.oauth.requests.length, 1);
});

Deno.test("two requests at startup share ONE token fetch", async () => {
  const bothAsked = Promise.withResolvers<void>();
  let asked = 0;
  await using chain = await startChain((tokens) => ({
    token() {
      if (++asked === 2) bothAsked.resolve();
      return tokens.token();
    },
    invalidate: (token) => tokens.invalidate(token),
  }));
  const release = chain.oauth.hold();

  const responses = [postMessages(chain.relay), postMessages(chain.relay)];
  await bothAsked.promise;
  release();
  for (const response of await Promise.all(responses)) {
    assert.equal(response.status, 200);
    await response.body!.cancel();
  }
  assert.equal(chain.oauth.requests.length, 1);
  assert.deepEqual(
    chain.vertex.requests.map((request) => request.headers.get("authorization")),
    ["Bearer fake-access-token-1", "Bearer fake-access-token-1"],
  );
});

Deno.test("a token due for refresh is replaced behind the requests that still use it", async () => {
  await using chain = await startChain();
  const bearers = () => chain.vertex.requests.map((request) => request.headers.get("authorization"));

  await (await postMessages(chain.relay)).arrayBuffer();
  chain.now = START + 54 * 60_000;
  await (await postMessages(chain.relay)).arrayBuffer();
  assert.deepEqual(bearers(), ["Bearer fake-access-token-1", "Bearer fake-access-token-1"]);

  chain.now = START + 55 * 60_000;
  const refreshedAt = chain.now;
  await (await postMessages(chain.relay)).arrayBuffer();
  assert.equal(bearers()[2], "Bearer fake-access-token-1");
  chain.now = START + 60 * 60_000 - 10_000;
  await (await postMessages(chain.relay)).arrayBuffer();
  assert.equal(bearers()[3], "Bearer fake-access-token-2");
  assert.equal(chain.oauth.requests.length, 2);
  assert.equal(chain.oauth.assertions[1].claims.iat, refreshedAt / 1000);
});

Deno.test("a refused token request becomes a 502 that says why, without the key", async () => {
  await using chain = await startChain();
  await using stranger = await makeServiceAccount();
  const refusing = startFakeOAuth({ kind: "jwt-bearer", ...stranger, now: () => START });
  await using relay = startTestRelay({
    provider: testVertexProvider(
      chain.vertex.url,
      googleServiceAccountTokens({ credentialsFile: chain.account.file, tokenUrl: refusing.url }),
    ),
  });

  const response = await postMessages(relay);
  assert.equal(response.status, 502);
  const { error } = await response.json();
  assert.equal(error.type, "api_error");
  assert.match(
    error.message,
    /^upstream vertex failed: Vertex auth failed: token endpoint .* answered 400: invalid_grant/,
  );
  assert.ok(!error.message.includes("PRIVATE KEY"));
  assert.equal(chain.vertex.requests.length, 0);
  await refusing.close();
});

Deno.test("a token endpoint that does not answer is named when relay's deadline passes, not Vertex", async () => {
  const vertex = startFakeUpstream();
  const clock = new FakeClock();
  // A token source waiting on an endpoint that never answers: only the request's signal ends the wait.
  const hung: TokenSource = {
    token: (signal) =>
      new Promise((_, reject) =>
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true })
      ),
    invalidate() {},
  };
  await using relay = startTestRelay({
    provider: testVertexProvider(vertex.url, hung),
    timeouts: { connect: 2_000 },
    clock,
  });
  const answer = postMessages(relay);
  await armedBefore(clock, 2_000, answer);
  clock.advance(2_000);
  const response = await answer;
  assert.equal(response.status, 504);
  assert.equal(
    (await response.json()).error.message,
    "upstream vertex had no access token within 2000 ms (timeouts.connect): its token endpoint is slow or down",
  );
  assert.equal(vertex.requests.length, 0);
  await vertex.close();
});

Deno.test("a stream's resend without refused betas is still under connect: one that hangs times out in it", async () => {
  const clock = new FakeClock();
  const resent = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const timeouts = { connect: 10_000, firstByte: 600_000, idle: 60_000 };
  await using chain = await startVertexChain(async (recorded) => {
    if (recorded.headers.get("anthropic-beta") !== null) {
      return unexpectedBetasAnswer("interleaved-thinking-2025-05-14");
    }
    resent.resolve();
    await release.promise;
    return Response.json({ error: { code: 500, message: "released", status: "INTERNAL" } }, { status: 500 });
  }, { relay: { models: { "claude-sonnet-4-5": "claude-sonnet-4-5@20250929" }, timeouts, clock } });
  try {
    const answer = postMessages(chain.relay);
    await resent.promise;
    await assertHeldToConnect(clock, answer);
    assert.equal(chain.vertex.requests.length, 2);
  } finally {
    release.resolve();
  }
});

Deno.test("Google's own errors reach the client in Anthropic's envelope", async () => {
  await using chain = await startChain();
  await using relay = startTestRelay({
    provider: testVertexProvider(chain.vertex.url, {
      token: () => Promise.resolve("not-a-token-the-endpoint-issued"),
      invalidate: () => {},
    }),
  });

  const response = await postMessages(relay);
  assert.equal(response.status, 401);
  assert.deepEqual(await response.json(), {
    type: "error",
    error: { type: "authentication_error", message: "Request had invalid authentication credentials." },
  });
});

Deno.test("a token Vertex refuses is dropped: the request succeeds with a fresh one", async () => {
  await using chain = await startChain();
  chain.revoked.add("fake-access-token-1");
  const bearers = () => chain.vertex.requests.map((request) => request.headers.get("authorization"));

  for (let i = 0; i < 2; i++) {
    const response = await postMessages(chain.relay);
    assert.equal(response.status, 200);
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), await loadGolden("tool_use"));
  }
  assert.deepEqual(bearers(), [
    "Bearer fake-access-token-1",
    "Bearer fake-access-token-2",
    "Bearer fake-access-token-2",
  ]);
  assert.equal(chain.oauth.requests.length, 2);
});

Deno.test("requests refused together with the same token share ONE refresh", async () => {
  await using chain = await startChain();
  await (await postMessages(chain.relay)).arrayBuffer();
  chain.revoked.add("fake-access-token-1");
  // Vertex refuses neither request before both have arrived with the revoked token.
  const bothRefused = Promise.withResolvers<void>();
  let refusals = 0;
  chain.onRevoked = () => {
    if (++refusals === 2) bothRefused.resolve();
    return bothRefused.promise;
  };

  const responses = await Promise.all([postMessages(chain.relay), postMessages(chain.relay)]);
  for (const response of responses) {
    assert.equal(response.status, 200);
    await response.body!.cancel();
  }
  assert.equal(chain.oauth.requests.length, 2);
  assert.deepEqual(chain.vertex.requests.slice(3).map((request) => request.headers.get("authorization")), [
    "Bearer fake-access-token-2",
    "Bearer fake-access-token-2",
  ]);
});

Deno.test("a fresh token Vertex refuses too is answered as a 401, after two tries", async () => {
  await using chain = await startChain();
  chain.revoked.add("fake-access-token-1").add("fake-access-token-2");

  const response = await postMessages(chain.relay);
  assert.equal(response.status, 401);
  assert.equal((await response.json()).error.type, "authentication_error");
  assert.equal(chain.vertex.requests.length, 2);
  assert.equal(chain.oauth.requests.length, 2);
});

Deno.test("the Anthropic SDK streams through relay and Vertex with tool ids and signatures intact", async () => {
  await using chain = await startChain();
  const anthropic = new Anthropic({ baseURL: chain.relay.url, apiKey: "unused", maxRetries: 0 });
  const finalContent = async (golden: GoldenName) => {
    chain.golden = golden;
    const message = await anthropic.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 1024,
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
    const expected = assembleAnthropicStream(new SseDecoder().feed(await loadGolden(golden))).message;
    assert.deepEqual(message.content, expected.content);
    return message.content;
  };

  const tool = (await finalContent("tool_use")).find((block) => block.type === "tool_use");
  assert.equal(tool?.type === "tool_use" && tool.id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  const [thinking] = await finalContent("thinking");
  assert.equal(thinking.type === "thinking" && thinking.signature.slice(0, 12), "EqQBCgIYAhIM");
});

Deno.test("Claude Code's first-party betas reach Vertex as Vertex takes them: filtered, learned, none on a count", async () => {
  await using chain = await startChain();
  chain.refusedBetas = new Set(["effort-2025-11-24", "web-search-2025-03-05"]);
  const betas =
    "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,context-1m-2025-08-07," +
    "prompt-caching-scope-2026-01-05,effort-2025-11-24,web-search-2025-03-05";
  const ask = (path: string, body: string) =>
    fetch(`${chain.relay.url}${path}?beta=true`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": betas,
      },
      body,
    });

  for (let i = 0; i < 2; i++) {
    const response = await ask("/v1/messages", BODY);
    assert.equal(response.status, 200);
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), await loadGolden(chain.golden));
  }
  assert.deepEqual(chain.vertex.requests.map((request) => request.headers.get("anthropic-beta")), [
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-1m-2025-08-07,effort-2025-11-24," +
    "web-search-2025-03-05",
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-1m-2025-08-07",
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-1m-2025-08-07",
  ]);

  const counted = await ask(
    "/v1/messages/count_tokens",
    '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}',
  );
  assert.equal(counted.status, 200);
  assert.deepEqual(await counted.json(), { input_tokens: 12 });
  assert.equal(chain.vertex.requests.length, 4);
  assert.equal(chain.vertex.requests[3].headers.get("anthropic-beta"), null);
});
