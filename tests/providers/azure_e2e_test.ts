/**
 * relay in front of a fake Microsoft Foundry resource, with a resource key or with Entra ID tokens from
 * a fake token endpoint: real HTTP on every hop.
 */
import assert from "node:assert/strict";
import { createAzureProvider } from "../../src/providers/azure.ts";
import { entraClientCredentialsTokens } from "../../src/providers/entra_auth.ts";
import { startFakeOAuth } from "../_helpers/fake_oauth.ts";
import { type FakeUpstream, sseChunks, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { PROVIDER_KEY, startTestRelay, type TestRelay } from "../_helpers/relay.ts";
import { loadGolden } from "../_helpers/golden.ts";

const APP = { tenantId: "contoso", clientId: "app-id", clientSecret: "app-secret" };
const SCOPE = "https://ai.azure.com/.default";
const DEPLOYMENT = "sonnet-prod-eastus2";

/** A Foundry resource that streams the thinking golden to callers `authorized` lets in. */
function startFakeFoundry(authorized: (headers: Headers) => boolean): FakeUpstream {
  return startFakeUpstream(async (_request, recorded) => {
    if (!authorized(recorded.headers)) {
      const message = "Access denied due to invalid subscription key or wrong API endpoint.";
      return Response.json({ error: { code: "401", message } }, { status: 401 });
    }
    return sseChunks([await loadGolden("thinking")]);
  });
}

/** A fake Entra ID token endpoint that issues APP tokens for SCOPE when shown `clientSecret`. */
function startFakeEntra(clientSecret: string) {
  return startFakeOAuth({ kind: "client-credentials", clientId: APP.clientId, clientSecret, scope: SCOPE });
}

/** relay in front of `foundry`, with Entra ID tokens from `tokenUrl`. */
function entraRelay(foundry: FakeUpstream, tokenUrl: string, models?: Record<string, string>): TestRelay {
  return startTestRelay({
    provider: createAzureProvider({
      name: "foundry",
      baseUrl: `${foundry.url}/anthropic`,
      auth: entraClientCredentialsTokens({ ...APP, tokenUrl }),
    }),
    models,
  });
}

function postMessages(relay: TestRelay, model = "claude-sonnet-4-5"): Promise<Response> {
  return fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: `{"model":"${model}","max_tokens":1024,"messages":[{"role":"user","content":"hi"}],"stream":true}`,
  });
}

/** Checks `response` is a 200 carrying Foundry's stream, the thinking golden, byte for byte. */
async function assertRelayedWhole(response: Response): Promise<void> {
  assert.equal(response.status, 200);
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), await loadGolden("thinking"));
}

Deno.test("relay reaches Foundry with Entra ID tokens, fetched once, under the deployment's name", async () => {
  const entra = startFakeEntra(APP.clientSecret);
  const foundry = startFakeFoundry((headers) =>
    entra.issued.some((token) => headers.get("authorization") === `Bearer ${token}`)
  );
  await using relay = entraRelay(foundry, entra.url, { "claude-sonnet-4-5": DEPLOYMENT });

  for (let i = 0; i < 2; i++) {
    await assertRelayedWhole(await postMessages(relay));
  }
  const [request] = foundry.requests;
  assert.equal(request.path, "/anthropic/v1/messages");
  assert.equal(request.headers.get("authorization"), "Bearer fake-access-token-1");
  assert.equal(request.headers.get("x-api-key"), null);
  assert.equal(
    new TextDecoder().decode(request.body),
    `{"model":"${DEPLOYMENT}","max_tokens":1024,"messages":[{"role":"user","content":"hi"}],"stream":true}`,
  );
  assert.equal(entra.requests.length, 1);
  await foundry.close();
  await entra.close();
});

Deno.test("an Entra ID token Foundry refuses is dropped: the request succeeds with a fresh one", async () => {
  const entra = startFakeEntra(APP.clientSecret);
  // Foundry refuses the first token, as after a revocation, and then any it is shown `refusing` says to.
  let refusing = (token: string): boolean => token === "fake-access-token-1";
  const foundry = startFakeFoundry((headers) =>
    entra.issued.some((token) => headers.get("authorization") === `Bearer ${token}` && !refusing(token))
  );
  await using relay = entraRelay(foundry, entra.url);

  await assertRelayedWhole(await postMessages(relay));
  assert.deepEqual(foundry.requests.map((request) => request.headers.get("authorization")), [
    "Bearer fake-access-token-1",
    "Bearer fake-access-token-2",
  ]);
  assert.equal(entra.requests.length, 2);

  // A fresh token refused too is Foundry's answer: one retry, no loop.
  refusing = () => true;
  const refused = await postMessages(relay);
  assert.equal(refused.status, 401);
  await refused.body!.cancel();
  assert.deepEqual(foundry.requests.slice(2).map((request) => request.headers.get("authorization")), [
    "Bearer fake-access-token-2",
    "Bearer fake-access-token-3",
  ]);
  assert.equal(entra.requests.length, 3);
  await foundry.close();
  await entra.close();
});

Deno.test("relay reaches Foundry with the resource key as x-api-key", async () => {
  const foundry = startFakeFoundry((headers) =>
    headers.get("x-api-key") === PROVIDER_KEY && !headers.has("authorization")
  );
  await using relay = startTestRelay({
    provider: createAzureProvider({
      name: "foundry",
      baseUrl: `${foundry.url}/anthropic`,
      auth: "x-api-key",
    }),
  });

  await assertRelayedWhole(await postMessages(relay));
  await foundry.close();
});

Deno.test("a refused Entra secret becomes a 502 that says why, without the secret", async () => {
  const entra = startFakeEntra("rotated");
  const foundry = startFakeFoundry(() => true);
  await using relay = entraRelay(foundry, entra.url);

  const response = await postMessages(relay);
  assert.equal(response.status, 502);
  // A secret only a person can set right: the client is told not to send again.
  assert.equal(response.headers.get("x-should-retry"), "false");
  const { error } = await response.json();
  assert.equal(
    error.message,
    `upstream foundry failed: Azure Entra ID auth failed: token endpoint ${entra.url} answered 401: ` +
      "invalid_client: AADSTS7000215: Invalid client secret provided.",
  );
  assert.equal(foundry.requests.length, 0);
  await foundry.close();
  await entra.close();
});
