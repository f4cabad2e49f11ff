import assert from "node:assert/strict";
import { type AzureProviderOptions, createAzureProvider } from "../../src/providers/azure.ts";
import { TokenCache } from "../../src/providers/token_cache.ts";
import type { ProviderRequest } from "../../src/providers/types.ts";
import { providerRequest } from "../_helpers/provider_request.ts";

const BASE_URL = "https://my-resource.services.ai.azure.com/anthropic";
const KEY = { secret: "azure-resource-key-0000", label: "azure...0000" };
const SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds4cPyNFBRc3jgmBMWYWKaMm4GIQHkX+/==";
const BODY = `{ "model" : "claude-sonnet-4-5", "max_tokens":1024,` +
  `"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"27 \\u00d7 453","signature":"${SIGNATURE}"}]}],` +
  `\n "stream":true}`;

function request(init: Partial<ProviderRequest> = {}): ProviderRequest {
  return providerRequest(BODY, {
    headers: new Headers({
      "content-type": "application/json",
      "anthropic-beta": "interleaved-thinking-2025-05-14",
    }),
    ...init,
  });
}

/** Entra ID tokens that are always `token`, recording the ones invalidated. */
function fixedTokens(token: string) {
  const invalidated: string[] = [];
  return {
    invalidated,
    token: () => Promise.resolve(token),
    invalidate: (t: string) => void invalidated.push(t),
  };
}

/** An Azure provider over a fetch that records each request and answers with `answer`. */
function azure(auth: AzureProviderOptions["auth"], answer = new Response("{}")) {
  const seen: Request[] = [];
  const provider = createAzureProvider({
    name: "foundry",
    baseUrl: `${BASE_URL}/`,
    auth,
    fetch: (input, init) => {
      seen.push(new Request(input, init));
      return Promise.resolve(answer);
    },
  });
  return { provider, seen };
}

Deno.test("Azure with a resource key sends Anthropic's request unchanged to {base}/v1/messages", async () => {
  const answer = new Response("event: ping\ndata: {}\n\n", {
    headers: { "content-type": "text/event-stream" },
  });
  const { provider, seen } = azure("x-api-key", answer);

  assert.equal(await provider.send(request(), KEY), answer);
  assert.equal(provider.type, "azure");
  assert.equal(seen[0].url, `${BASE_URL}/v1/messages?beta=true`);
  assert.equal(seen[0].headers.get("x-api-key"), KEY.secret);
  assert.equal(seen[0].headers.get("authorization"), null);
  assert.equal(seen[0].headers.get("anthropic-beta"), "interleaved-thinking-2025-05-14");
  assert.equal(await seen[0].text(), BODY);
});

Deno.test("Azure with Entra ID sends a bearer token and no key", async () => {
  const { provider, seen } = azure(fixedTokens("eyJ0.entra-token"));

  await provider.send(request({ path: "/v1/messages/count_tokens", search: "" }), KEY);
  assert.equal(seen[0].url, `${BASE_URL}/v1/messages/count_tokens`);
  assert.equal(seen[0].headers.get("authorization"), "Bearer eyJ0.entra-token");
  assert.equal(seen[0].headers.get("x-api-key"), null);
});

Deno.test("Azure names the deployment in the body's model and leaves every other byte alone", async () => {
  for (const auth of ["x-api-key", fixedTokens("t")] as const) {
    const { provider, seen } = azure(auth);
    await provider.send(request({ upstreamModel: "sonnet-prod-eastus2" }), KEY);
    assert.equal(await seen[0].text(), BODY.replace('"claude-sonnet-4-5"', '"sonnet-prod-eastus2"'));
  }
});

Deno.test("Azure rejects with the reason when Entra ID gives no token, and sends nothing", async () => {
  const { provider, seen } = azure({
    token: () => Promise.reject(new Error("token endpoint refused")),
    invalidate: () => assert.fail("no token was handed out"),
  });
  await assert.rejects(provider.send(request(), undefined), {
    message: "Azure Entra ID auth failed: token endpoint refused",
  });
  assert.equal(seen.length, 0);
});

Deno.test("Azure with Entra ID drops a refused token and sends once more with a fresh one", async () => {
  let issued = 0;
  const invalidated: string[] = [];
  const tokens = {
    token: () => Promise.resolve(`entra-${++issued}`),
    invalidate: (t: string) => void invalidated.push(t),
  };
  const seen: Request[] = [];
  const provider = createAzureProvider({
    name: "foundry",
    baseUrl: BASE_URL,
    auth: tokens,
    fetch: (input, init) => {
      seen.push(new Request(input, init));
      const status = seen.length === 1 ? 401 : 200;
      return Promise.resolve(Response.json({ error: { code: "401", message: "Access denied" } }, { status }));
    },
  });

  const response = await provider.send(request(), undefined);
  assert.equal(response.status, 200);
  await response.body!.cancel();
  assert.deepEqual(invalidated, ["entra-1"]);
  assert.deepEqual(seen.map((sent) => sent.headers.get("authorization")), [
    "Bearer entra-1",
    "Bearer entra-2",
  ]);
  assert.equal(await seen[1].text(), BODY);
});

Deno.test("Azure stops waiting for an Entra ID token once the request's signal aborts", async () => {
  const client = new AbortController();
  const { provider, seen } = azure(new TokenCache(() => new Promise(() => {})));
  const sending = provider.send(request({ signal: client.signal }), undefined);
  const reason = new Error("client left");
  client.abort(reason);
  await assert.rejects(sending, (error) => error === reason);
  assert.equal(seen.length, 0);
});
