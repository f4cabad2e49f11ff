import assert from "node:assert/strict";
import { rawHttp } from "../_helpers/raw_http.ts";
import { ClientRegistry } from "../../src/ledger/clients.ts";
import { controlledStream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
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

Deno.test("/v1/models lists what the config serves when it names models, as Anthropic's API and OpenAI's list them", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, models: MODELS });
  const model = (id: string) => ({
    type: "model",
    id,
    display_name: id,
    created_at: "1970-01-01T00:00:00Z",
    object: "model",
    created: 0,
    owned_by: "relay",
  });
  assert.deepEqual(await (await fetch(`${relay.url}/v1/models?limit=1000`)).json(), {
    object: "list",
    data: [model("claude-sonnet-4-5")],
    has_more: false,
    first_id: "claude-sonnet-4-5",
    last_id: "claude-sonnet-4-5",
  });
  const one = await fetch(`${relay.url}/v1/models/claude-haiku-4-5`);
  assert.deepEqual(await one.json(), model("claude-haiku-4-5"));
  const missing = await fetch(`${relay.url}/v1/models/gpt-4o`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  assert.equal(upstream.requests.length, 0, "answered by relay");
  await upstream.close();
});

Deno.test("/v1/models/{id} is a 404 for a glob's own text, which names no model", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, models: MODELS });
  for (const id of ["claude-haiku-*", "claude-haiku-*-x", "*"]) {
    const response = await fetch(`${relay.url}/v1/models/${id}`);
    assert.equal(response.status, 404, id);
    assert.equal((await response.json()).error.message, `model ${id} is not served by any provider`);
  }
  assert.equal(upstream.requests.length, 0);
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
  const unserved = await fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": HAIKU_ONLY },
    body: '{"model":"claude-haiku-9","max_tokens":8,"messages":[]}',
  });
  assert.equal(unserved.status, 404);
  assert.equal(
    (await unserved.json()).error.message,
    "model claude-haiku-9 is not served by any provider; available: claude-haiku-4-5",
  );
  await upstream.close();
});

Deno.test("a limited client's 404 names the globs it may use that a served glob covers, else none", async () => {
  const upstream = startFakeUpstream();
  const clients = new ClientRegistry([
    { name: "ci", token: HAIKU_ONLY, models: ["claude-haiku-*", "gpt-4"] },
    { name: "other", token: "rly_other_models_0000000000000000", models: ["glm-*"] },
  ]);
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    models: { "claude-*": "mock-*" },
    clients,
  });
  const notFound = async (token: string) => {
    const response = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": token },
      body: '{"model":"gpt-4","max_tokens":8,"messages":[]}',
    });
    return (await response.json()).error.message;
  };
  assert.equal(
    await notFound(HAIKU_ONLY),
    "model gpt-4 is not served by any provider; available: claude-haiku-*",
  );
  const other = await fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": "rly_other_models_0000000000000000" },
    body: '{"model":"glm-5","max_tokens":8,"messages":[]}',
  });
  assert.equal(
    (await other.json()).error.message,
    "model glm-5 is not served by any provider; available: none",
  );
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
  assert.equal(
    list.object,
    undefined,
    "only the page is relay's: the rest is the upstream's list as it came",
  );
  assert.equal(upstream.requests.length, 1, "the list came from the upstream");
  await upstream.close();
});

Deno.test("a client without a model limit gets the upstream's model list as it streams, unread by relay", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() =>
    stream.response({ headers: { "content-type": "application/json" } })
  );
  const clients = new ClientRegistry([
    { name: "ci", token: HAIKU_ONLY, models: ["mock-1-*"] },
    { name: "all", token: "rly_all_models_00000000000000000" },
  ]);
  // A relay that read the list first would wait on the upstream's silence: fail in 2 s, not in a minute.
  await using relay = startTestRelay({ upstreamUrl: upstream.url, clients, timeouts: { idle: 2_000 } });
  const answer = fetch(`${relay.url}/v1/models`, {
    headers: { "x-api-key": "rly_all_models_00000000000000000" },
  });
  stream.push('{"data":[{"type":"model","id":"mock-1"}');
  const reader = (await answer).body!.getReader();
  // Relay reading the list to filter it would hold this until the list ended.
  assert.equal(
    new TextDecoder().decode((await reader.read()).value),
    '{"data":[{"type":"model","id":"mock-1"}',
  );
  stream.push('],\n  "has_more":false}');
  stream.end();
  assert.equal(new TextDecoder().decode((await reader.read()).value), '],\n  "has_more":false}');
  assert.equal((await reader.read()).done, true);
  await upstream.close();
});

Deno.test("a model list too long to filter is a 502 for a client limited to some models, never sent whole", async () => {
  const big = JSON.stringify({
    data: [{ type: "model", id: "mock-1", padding: "x".repeat(4 * 1024 * 1024) }],
  });
  const upstream = startFakeUpstream(() =>
    new Response(big, { headers: { "content-type": "application/json" } })
  );
  const clients = new ClientRegistry([{ name: "ci", token: HAIKU_ONLY, models: ["mock-1-*"] }]);
  await using relay = startTestRelay({ upstreamUrl: upstream.url, clients });
  const response = await fetch(`${relay.url}/v1/models`, { headers: { "x-api-key": HAIKU_ONLY } });
  assert.equal(response.status, 502);
  const { error } = await response.json();
  assert.equal(error.type, "api_error");
  assert.match(
    error.message,
    /model list is over 4 MiB .*cannot filter it for a client limited to some models/,
  );
  await upstream.close();
});

Deno.test("count_tokens spends none of a client's tpm: a long count leaves room for a message", async () => {
  const upstream = startFakeUpstream();
  const clients = new ClientRegistry([{ name: "tp", token: HAIKU_ONLY, tpm: 1000 }]);
  await using relay = startTestRelay({ upstreamUrl: upstream.url, clients });
  const send = (path: string, content: string) =>
    fetch(`${relay.url}${path}`, {
      method: "POST",
      headers: { "x-api-key": HAIKU_ONLY, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-1", max_tokens: 8, messages: [{ role: "user", content }] }),
    });
  const counted = await send("/v1/messages/count_tokens", "word ".repeat(800));
  assert.equal(counted.status, 200);
  await counted.body?.cancel();
  const asked = await send("/v1/messages", "hi");
  assert.equal(asked.status, 200, "the 4,000-character count did not hold about 1,100 tokens of the minute");
  await asked.body?.cancel();
  await upstream.close();
});

Deno.test("count_tokens is a request to relay: it spends one of a client's rpm", async () => {
  const upstream = startFakeUpstream();
  const clients = new ClientRegistry([{ name: "rp", token: HAIKU_ONLY, rpm: 1 }]);
  await using relay = startTestRelay({ upstreamUrl: upstream.url, clients });
  const send = (path: string) =>
    fetch(`${relay.url}${path}`, {
      method: "POST",
      headers: { "x-api-key": HAIKU_ONLY, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-1", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
  const counted = await send("/v1/messages/count_tokens");
  assert.equal(counted.status, 200);
  await counted.body?.cancel();
  const asked = await send("/v1/messages");
  assert.equal(asked.status, 429);
  assert.match(
    (await asked.json()).error.message,
    /client rp is over its limit of 1 requests per minute \(rpm\)/,
  );
  assert.equal(upstream.requests.length, 1);
  await upstream.close();
});

/** The status line and body of a GET of `target`, sent as is: `fetch` would resolve a `%2E%2E` first. */
async function rawGet(url: string, target: string, token: string): Promise<{ status: string; body: string }> {
  const answer = await rawHttp(
    url,
    `GET ${target} HTTP/1.1\r\nhost: localhost\r\nx-api-key: ${token}\r\nconnection: close\r\n\r\n`,
  );
  return {
    status: answer.slice(0, answer.indexOf("\r\n")),
    body: answer.slice(answer.indexOf("\r\n\r\n") + 4),
  };
}

Deno.test("a model id that would leave its path segment is a 404 and never reaches the upstream", async () => {
  const upstream = startFakeUpstream(() => Response.json({ type: "model", id: "claude-haiku-4-5" }));
  const base = `${upstream.url}/api/anthropic`;
  const clients = new ClientRegistry([{ name: "ci", token: HAIKU_ONLY, models: ["claude-haiku-*"] }]);
  await using limited = startTestRelay({ upstreamUrl: base, clients });
  await using open = startTestRelay({ upstreamUrl: base });
  const why = 'no model id is "." or ".." or holds "/", "\\" or a control character';
  const refusal = (id: string) => `model ${JSON.stringify(id)} does not exist: ${why}`;
  for (
    const [relay, sent, id] of [
      [limited, "claude-haiku-%5C..%5C..%5Cmessages%5Cbatches", "claude-haiku-\\..\\..\\messages\\batches"],
      [
        limited,
        "claude-haiku-%5C..%5C..%5C..%5C..%5C..%5Cadmin%5Csecret",
        "claude-haiku-\\..\\..\\..\\..\\..\\admin\\secret",
      ],
      [limited, "claude-haiku-%2F..%2F..%2Fmessages", "claude-haiku-/../../messages"],
      [limited, "claude-haiku-x%09", "claude-haiku-x\t"],
      [open, "%2E%2E", ".."],
      [open, ".%2e", ".."],
      [open, "%2E", "."],
    ] as const
  ) {
    const { status, body } = await rawGet(relay.url, `/v1/models/${sent}`, HAIKU_ONLY);
    assert.match(status, /^HTTP\/1\.1 404 /, sent);
    assert.deepEqual(JSON.parse(body).error, { type: "not_found_error", message: refusal(id) });
  }
  // Not a model the client may use: refused before its shape matters.
  assert.match((await rawGet(limited.url, "/v1/models/%2E%2E", HAIKU_ONLY)).status, /^HTTP\/1\.1 403 /);
  assert.deepEqual(upstream.requests.map((request) => request.path), []);
  const { status } = await rawGet(limited.url, "/v1/models/claude-haiku-4-5", HAIKU_ONLY);
  assert.match(status, /^HTTP\/1\.1 200 /);
  assert.deepEqual(upstream.requests.map((request) => request.path), [
    "/api/anthropic/v1/models/claude-haiku-4-5",
  ]);
  await upstream.close();
});

Deno.test("a model id with a space, `@` or `:` reaches the upstream as one path segment, encoded", async () => {
  const upstream = startFakeUpstream(() => Response.json({ type: "model" }));
  await using relay = startTestRelay({ upstreamUrl: `${upstream.url}/api/anthropic` });
  for (const id of ["claude-sonnet-4-5@20250929", "anthropic.claude-sonnet-4-5-20250929-v1:0", "my model"]) {
    const response = await fetch(`${relay.url}/v1/models/${encodeURIComponent(id)}`);
    assert.equal(response.status, 200, id);
    await response.body?.cancel();
    const { path } = await upstream.nextRequest();
    assert.equal(path, `/api/anthropic/v1/models/${encodeURIComponent(id)}`);
  }
  // Sent unescaped, as a raw request line may, it is encoded all the same.
  assert.match((await rawGet(relay.url, "/v1/models/a@b:c;d", "unused")).status, /^HTTP\/1\.1 200 /);
  assert.equal((await upstream.nextRequest()).path, "/api/anthropic/v1/models/a%40b%3Ac%3Bd");
  await upstream.close();
});

Deno.test("/v1/models from the config pages as Anthropic's API does: limit, after_id, before_id", async () => {
  const upstream = startFakeUpstream();
  const models = { "model-a": "a", "model-b": "b", "model-c": "c", "model-d": "d" };
  await using relay = startTestRelay({ upstreamUrl: upstream.url, models });
  const list = async (query: string) => {
    const response = await fetch(`${relay.url}/v1/models${query}`);
    const body = await response.json();
    return response.ok
      ? [body.data.map((model: { id: string }) => model.id), body.has_more]
      : response.status;
  };
  assert.deepEqual(
    await list(""),
    [["model-a", "model-b", "model-c", "model-d"], false],
    "without limit, all",
  );
  assert.deepEqual(await list("?limit=1"), [["model-a"], true]);
  assert.deepEqual(await list("?limit=2&after_id=model-a"), [["model-b", "model-c"], true]);
  assert.deepEqual(await list("?after_id=model-c"), [["model-d"], false]);
  assert.deepEqual(await list("?limit=2&before_id=model-d"), [["model-b", "model-c"], true]);
  assert.deepEqual(await list("?limit=5&before_id=model-b"), [["model-a"], false]);
  for (
    const bad of [
      "?limit=0",
      "?limit=1001",
      "?limit=x",
      "?after_id=nope",
      "?after_id=model-a&before_id=model-b",
    ]
  ) {
    assert.equal(await list(bad), 400, bad);
  }
  assert.equal(upstream.requests.length, 0, "answered from the config");
  await upstream.close();
});
