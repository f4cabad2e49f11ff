/**
 * What the Vertex tests share: Vertex's own 400 for betas a model has not taken up, the adapter as the
 * tests configure it, and relay in front of a fake Vertex with Google's service-account token flow
 * against a fake token endpoint, real HTTP on every hop.
 */
import { googleServiceAccountTokens } from "../../src/providers/google_auth.ts";
import type { TokenSource } from "../../src/providers/token_cache.ts";
import { createVertexProvider } from "../../src/providers/vertex.ts";
import type { Timers } from "../../src/util/timers.ts";
import { type FakeOAuth, makeServiceAccount, startFakeOAuth, type TestServiceAccount } from "./fake_oauth.ts";
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from "./fake_upstream.ts";
import { startTestRelay, type TestRelay, type TestRelayOptions } from "./relay.ts";

/** Vertex's answer to betas a model has not taken up, worded as Vertex words it. */
export function unexpectedBetasAnswer(...betas: string[]): Response {
  const message = `Unexpected value(s) ${betas.map((beta) => `\`${beta}\``).join(", ")} for the ` +
    "`anthropic-beta` header. Please consult our documentation at docs.anthropic.com or try again without the header.";
  return Response.json(
    { type: "error", error: { type: "invalid_request_error", message }, request_id: "req_vrtx_011" },
    { status: 400, headers: { "request-id": "req_vrtx_011" } },
  );
}

/** The Vertex adapter as these tests configure it, at `baseUrl`, with `tokens`, its peeks on `timers`. */
export function testVertexProvider(baseUrl: string, tokens: TokenSource, timers?: Timers) {
  return createVertexProvider({
    name: "vertex",
    project: "my-project",
    region: "us-east5",
    baseUrl,
    tokens,
    timers,
  });
}

/** What the fake Vertex answers a request with; `oauth` tells which tokens were really issued. */
export type FakeVertexAnswer = (recorded: RecordedRequest, oauth: FakeOAuth) => Response | Promise<Response>;

export interface VertexChainOptions {
  /** The token flow's clock, in ms; the real one when left out. */
  now?: () => number;
  /** May observe the token source relay uses. */
  wrapTokens?: (tokens: TokenSource) => TokenSource;
  /** relay's options besides its provider, the Vertex one, whose timers are relay's `clock` when given. */
  relay?: Omit<TestRelayOptions, "provider">;
}

/** The whole chain, disposed of hop by hop, relay first. */
export interface VertexChain extends AsyncDisposable {
  relay: TestRelay;
  vertex: FakeUpstream;
  oauth: FakeOAuth;
  account: TestServiceAccount;
}

/**
 * Starts a fake Google token endpoint for a fresh service account, a fake Vertex that gives every
 * request what `answer` makes of it, and relay between them, getting its tokens from that endpoint.
 */
export async function startVertexChain(
  answer: FakeVertexAnswer,
  { now = Date.now, wrapTokens = (tokens) => tokens, relay: relayOptions = {} }: VertexChainOptions = {},
): Promise<VertexChain> {
  const account = await makeServiceAccount();
  const oauth = startFakeOAuth({ kind: "jwt-bearer", ...account, now });
  const vertex = startFakeUpstream((_request, recorded) => answer(recorded, oauth));
  const tokens = googleServiceAccountTokens({ credentialsFile: account.file, tokenUrl: oauth.url, now });
  const relay = startTestRelay({
    ...relayOptions,
    provider: testVertexProvider(vertex.url, wrapTokens(tokens), relayOptions.clock),
  });
  return {
    relay,
    vertex,
    oauth,
    account,
    async [Symbol.asyncDispose]() {
      await relay[Symbol.asyncDispose]();
      await vertex.close();
      await oauth.close();
      await account[Symbol.asyncDispose]();
    },
  };
}
