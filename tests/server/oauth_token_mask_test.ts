/**
 * The access tokens relay fetches itself (Vertex's from a service account, Foundry's from Entra ID) are
 * credentials as its keys are: an upstream that quotes the one it was sent, in an error answer, an
 * error event, a header or a redirect, must not hand it to relay's clients or its log.
 */
import assert from "node:assert/strict";
import { createAzureProvider } from "../../src/providers/azure.ts";
import { entraClientCredentialsTokens } from "../../src/providers/entra_auth.ts";
import { maskSecret } from "../../src/util/mask.ts";
import { makeServiceAccount, startFakeOAuth } from "../_helpers/fake_oauth.ts";
import { messageStartEvent, sseChunks, sseEvent, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { liveConfig, postMessage, startLiveRelay, STREAM_BODY } from "../_helpers/live_relay.ts";
import { startTestRelay, type TestRelay } from "../_helpers/relay.ts";
import { startVertexChain } from "../_helpers/vertex.ts";

/** The first token the fake endpoints issue, as the upstreams below see it. */
const TOKEN = "fake-access-token-1";
const MASKED = maskSecret(TOKEN);

/** The bearer token of a request the fake upstream recorded. */
function bearerOf(headers: Headers): string {
  return (headers.get("authorization") ?? "").replace(/^Bearer /, "");
}

/**
 * relay, keyless as a Vertex provider is, in front of a fake Vertex that gives each request what
 * `answer` makes of the token it was sent, with tokens from a fake Google token endpoint.
 */
function startKeylessVertexChain(answer: (token: string) => Response) {
  return startVertexChain((recorded) => answer(bearerOf(recorded.headers)), { relay: { keys: [] } });
}

/** relay in front of a fake Foundry that answers with `answer`, with tokens from a fake Entra ID. */
function startFoundryChain(answer: (token: string) => Response) {
  const app = { tenantId: "contoso", clientId: "app-id", clientSecret: "app-secret" };
  const entra = startFakeOAuth({
    kind: "client-credentials",
    ...app,
    scope: "https://ai.azure.com/.default",
  });
  const foundry = startFakeUpstream((_request, recorded) => answer(bearerOf(recorded.headers)));
  const relay = startTestRelay({
    provider: createAzureProvider({
      name: "foundry",
      baseUrl: `${foundry.url}/anthropic`,
      auth: entraClientCredentialsTokens({ ...app, tokenUrl: entra.url }),
    }),
    keys: [],
  });
  return {
    relay,
    async [Symbol.asyncDispose]() {
      await relay[Symbol.asyncDispose]();
      await foundry.close();
      await entra.close();
    },
  };
}

function assertNotLogged(relay: TestRelay): void {
  assert.ok(!JSON.stringify(relay.logs).includes(TOKEN), "the token is never logged");
}

Deno.test("a Vertex error answer quoting relay's access token reaches the client with it masked, body and headers", async () => {
  await using chain = await startKeylessVertexChain((token) =>
    Response.json(
      { error: { code: 403, message: `Permission denied for ${token}.`, status: "PERMISSION_DENIED" } },
      { status: 403, headers: { "x-debug-authorization": `Bearer ${token}` } },
    )
  );
  const response = await postMessage(chain.relay.url);
  assert.equal(response.status, 403);
  assert.equal(response.headers.get("x-debug-authorization"), `Bearer ${MASKED}`);
  const { error } = await response.json();
  assert.deepEqual(error, { type: "permission_error", message: `Permission denied for ${MASKED}.` });
  await chain.relay.nextRequestLog();
  assertNotLogged(chain.relay);
});

Deno.test("an error event quoting the token, before the answer or in it, is masked for the client and the log", async () => {
  const quoting = (token: string) =>
    sseEvent("error", { type: "error", error: { type: "api_error", message: `token ${token} refused` } });
  const start = messageStartEvent("msg_1", { input_tokens: 3, output_tokens: 1 });
  const cases = [
    // Before the answer: the attempt failed, and its error is passed on as the HTTP error it stands for.
    {
      events: (token: string) => [quoting(token)],
      answer: JSON.stringify({
        type: "error",
        error: { type: "api_error", message: `token ${MASKED} refused` },
      }),
      logged: { error: `upstream vertex failed: token ${MASKED} refused` },
    },
    // In it: the answer failed midway.
    {
      events: (token: string) => [start, quoting(token)],
      answer: [start, quoting(MASKED)].join(""),
      logged: { message: `token ${MASKED} refused` },
    },
  ];
  for (const { events, answer, logged } of cases) {
    await using chain = await startKeylessVertexChain((token) => sseChunks(events(token)));
    const response = await postMessage(chain.relay.url);
    assert.equal(await response.text(), answer);
    const log = await chain.relay.nextRequestLog();
    for (const [field, text] of Object.entries(logged)) assert.equal(log[field], text);
    assertNotLogged(chain.relay);
  }
});

Deno.test("a Foundry answer quoting the Entra ID token, or a redirect naming it, never shows the token", async () => {
  let redirect = false;
  await using chain = startFoundryChain((token) =>
    redirect
      ? new Response(null, { status: 302, headers: { location: `https://elsewhere.example/${token}/v1` } })
      : Response.json({ error: { code: "403", message: `token ${token} lacks the role` } }, {
        status: 403,
        headers: { "www-authenticate": `Bearer error="insufficient_scope", token="${token}"` },
      })
  );
  const refused = await postMessage(chain.relay.url);
  assert.equal(refused.status, 403);
  assert.equal(
    refused.headers.get("www-authenticate"),
    `Bearer error="insufficient_scope", token="${MASKED}"`,
  );
  assert.equal(
    await refused.text(),
    JSON.stringify({ error: { code: "403", message: `token ${MASKED} lacks the role` } }),
  );

  redirect = true;
  // Another model: the 403 keeps the one refused from the provider for a while.
  const redirected = await postMessage(
    chain.relay.url,
    STREAM_BODY.replace('"claude-sonnet-4-5"', '"claude-haiku-4-5"'),
  );
  assert.equal(redirected.status, 502);
  const { error } = await redirected.json();
  assert.ok(
    error.message.includes(`redirected (302) to https://elsewhere.example/${MASKED}/v1;`),
    error.message,
  );
  await chain.relay.nextRequestLog();
  await chain.relay.nextRequestLog();
  assertNotLogged(chain.relay);
});

Deno.test("log.bodies masks the access token an answer quotes", async () => {
  await using account = await makeServiceAccount();
  const oauth = startFakeOAuth({ kind: "jwt-bearer", ...account, now: Date.now });
  const answer = (token: string) => [
    messageStartEvent("msg_1", { input_tokens: 3, output_tokens: 1 }),
    sseEvent("error", { type: "error", error: { type: "api_error", message: `token ${token} refused` } }),
  ];
  const vertex = startFakeUpstream((_request, recorded) => sseChunks(answer(bearerOf(recorded.headers))));
  const providers = [
    "  - name: vx",
    "    type: vertex",
    "    project: my-project",
    "    region: us-east5",
    `    base_url: ${vertex.url}`,
    `    credentials_file: ${account.file}`,
    `    token_url: ${oauth.url}`,
  ].join("\n") + "\n";
  await using relay = await startLiveRelay(liveConfig(providers, "log:\n  bodies: true\n"));

  const response = await postMessage(relay.url, STREAM_BODY);
  assert.equal(await response.text(), answer(MASKED).join(""));
  const logged = await relay.waitForLog((line) => line.msg === "response body");
  assert.equal(logged.body, answer(MASKED).join(""));
  await relay.waitForLog((line) => line.msg === "request");
  assert.ok(!JSON.stringify(relay.logs).includes(TOKEN), "the token is never logged");
  await vertex.close();
  await oauth.close();
});
