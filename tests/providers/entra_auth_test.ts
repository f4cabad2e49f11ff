import assert from "node:assert/strict";
import { entraClientCredentialsTokens } from "../../src/providers/entra_auth.ts";
import { CredentialError } from "../../src/providers/types.ts";
import { startFakeOAuth } from "../_helpers/fake_oauth.ts";

const APP = { tenantId: "contoso.onmicrosoft.com", clientId: "11111111-2222-3333-4444-555555555555" };
const SECRET = "Qx8Q~entra-client-secret-value";
const SCOPE = "https://ai.azure.com/.default";

Deno.test("entraClientCredentialsTokens asks the tenant's v2.0 endpoint for the Foundry scope", async () => {
  const seen: Request[] = [];
  const tokens = entraClientCredentialsTokens({
    ...APP,
    clientSecret: SECRET,
    fetch: (input, init) => {
      seen.push(new Request(input, init));
      return Promise.resolve(
        Response.json({ token_type: "Bearer", expires_in: 3599, access_token: "eyJ0-1" }),
      );
    },
  });

  assert.equal(await tokens.token(), "eyJ0-1");
  assert.equal(seen[0].url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
  assert.deepEqual(Object.fromEntries(new URLSearchParams(await seen[0].text())), {
    grant_type: "client_credentials",
    client_id: APP.clientId,
    client_secret: SECRET,
    scope: SCOPE,
  });
});

Deno.test("entraClientCredentialsTokens takes a token URL and scope, and caches until it is replaced", async () => {
  let now = 0;
  const scope = "api://my-gateway/.default";
  const oauth = startFakeOAuth({
    kind: "client-credentials",
    clientId: APP.clientId,
    clientSecret: SECRET,
    scope,
  });
  const tokens = entraClientCredentialsTokens({
    ...APP,
    clientSecret: SECRET,
    scope,
    tokenUrl: oauth.url,
    now: () => now,
  });

  assert.equal(await tokens.token(), "fake-access-token-1");
  now = 3600_000 - 300_000 - 1;
  assert.equal(await tokens.token(), "fake-access-token-1");
  now += 1;
  // Due for a refresh, but still valid: served while the next is fetched.
  assert.equal(await tokens.token(), "fake-access-token-1");
  now = 3600_000 - 10_000;
  assert.equal(await tokens.token(), "fake-access-token-2");
  assert.equal(oauth.requests.length, 2);
  await oauth.close();
});

Deno.test("entraClientCredentialsTokens reports a refused secret without repeating it", async () => {
  const oauth = startFakeOAuth({
    kind: "client-credentials",
    clientId: APP.clientId,
    clientSecret: SECRET,
    scope: SCOPE,
  });
  const tokens = entraClientCredentialsTokens({ ...APP, clientSecret: "wrong-secret", tokenUrl: oauth.url });

  await assert.rejects(tokens.token(), (error: Error) => {
    assert.equal(
      error.message,
      `token endpoint ${oauth.url} answered 401: invalid_client: AADSTS7000215: Invalid client secret provided.`,
    );
    // Asking again with the same secret cannot help: a person has to set the right one.
    assert.ok(error instanceof CredentialError && error.permanent);
    return true;
  });
  await oauth.close();
});
