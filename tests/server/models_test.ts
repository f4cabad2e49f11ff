import assert from "node:assert/strict";
import { ClientRegistry } from "../../src/ledger/clients.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { startTestRelay } from "../_helpers/relay.ts";

const MODELS = { "claude-sonnet-4-5": "glm-4.7", "claude-haiku-*": "glm-4.5-air" };

Deno.test("a mapped model reaches the upstream under its upstream id, every other byte unchanged", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, models: MODELS });
  const body = '{"stream":false, "model" :"claude-sonnet-4-5","max_tokens":8,' +
    '"messages":[{"role":"user","content":[{"type":"thinking","thinking":"x","signature":"Eq+/=="}]}]}';
  const response = await fetch(`${relay.url}/v1/messages`, { method: "POST", body });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const seen = new TextDecoder().decode((await upstream.nextRequest()).body);
  assert.equal(seen, body.replace('"claude-sonnet-4-5"', '"glm-4.7"'));
  await upstream.close();
});

Deno.test("a model no provider serves is a 404 naming what is available", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, models: MODELS });
  const response = await fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    body: '{"model":"claude-opus-4-1","max_tokens":8,"messages":[]}',
  });
  assert.equal(response.status, 404);
  const { error } = await response.json();
  assert.equal(error.type, "not_found_error");
  assert.equal(
    error.message,
    "model claude-opus-4-1 is not served by any provider; available: claude-sonnet-4-5, claude-haiku-*",
  );
  assert.equal(upstream.requests.length, 0);
  await upstream.close();
});

Deno.test("/v1/models lists what the config serves when it names models", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, models: MODELS });
  const list = await (await fetch(`${relay.url}/v1/models?limit=1000`)).json();
  assert.deepEqual(list.data.map((model: { id: string }) => model.id), ["claude-sonnet-4-5"]);
  assert.equal(list.has_more, false);
  const one = await fetch(`${relay.url}/v1/models/claude-haiku-4-5`);
  assert.equal((await one.json()).id, "claude-haiku-4-5");
  const missing = await fetch(`${relay.url}/v1/models/gpt-4o`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  assert.equal(upstream.requests.length, 0, "answered by relay");
  await upstream.close();
});

const HAIKU_ONLY = "rly_haiku_only_0000000000000000";

Deno.test("a client limited to some models is shown only those, and asking for another by id is a 403", async () => {
  const upstream = startFakeUpstream();
  const clients = new ClientRegistry([
    { name: "ci", token: HAIKU_ONLY, models: ["claude-haiku-*"] },
    { name: "all", token: "rly_all_models_00000000000000000" },
  ]);
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    models: { "claude-sonnet-4-5": "glm-4.7", "claude-haiku-4-5": "glm-4.5-air" },
    clients,
  });
  const ids = async (token: string) =>
    (await (await fetch(`${relay.url}/v1/models`, { headers: { "x-api-key": token } })).json()).data
      .map((model: { id: string }) => model.id);
  assert.deepEqual(await ids(HAIKU_ONLY), ["claude-haiku-4-5"]);
  assert.deepEqual(await ids("rly_all_models_00000000000000000"), ["claude-sonnet-4-5", "claude-haiku-4-5"]);
  const refused = await fetch(`${relay.url}/v1/models/claude-sonnet-4-5`, {
    headers: { "x-api-key": HAIKU_ONLY },
  });
  assert.equal(refused.status, 403);
  assert.match((await refused.json()).error.message, /client ci may not use model claude-sonnet-4-5/);
  const allowed = await fetch(`${relay.url}/v1/models/claude-haiku-4-5`, {
    headers: { "x-api-key": HAIKU_ONLY },
  });
  assert.equal((await allowed.json()).id, "claude-haiku-4-5");
  await upstream.close();
});

Deno.test("an upstream's own model list is filtered for a client limited to some models", async () => {
  const upstream = startFakeUpstream();
  const clients = new ClientRegistry([{ name: "ci", token: HAIKU_ONLY, models: ["mock-1-*"] }]);
  await using relay = startTestRelay({ upstreamUrl: upstream.url, clients });
  const list = await (await fetch(`${relay.url}/v1/models`, { headers: { "x-api-key": HAIKU_ONLY } })).json();
  assert.deepEqual(list.data.map((model: { id: string }) => model.id), ["mock-1-fast"]);
  assert.equal(list.first_id, "mock-1-fast");
  assert.equal(list.last_id, "mock-1-fast");
  assert.equal(list.has_more, false);
  assert.equal(upstream.requests.length, 1, "the list came from the upstream");
  await upstream.close();
});
