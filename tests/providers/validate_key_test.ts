import assert from "node:assert/strict";
import { checkKey } from "../../src/providers/validate_key.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";

const KEY = "sk-ant-api03-validate-test-0000x7f2";

function provider(baseUrl: string, authHeader: "x-api-key" | "bearer" = "x-api-key") {
  return { name: "anthropic", type: "anthropic" as const, base_url: baseUrl, auth_header: authHeader };
}

Deno.test("checkKey makes one GET /v1/models?limit=1 with the key as the provider sends it", async () => {
  const upstream = startFakeUpstream(() => Response.json({ data: [], has_more: false }));
  try {
    const result = await checkKey(provider(`${upstream.url}/api/anthropic/`, "bearer"), KEY);
    assert.deepEqual(result, { outcome: "works", detail: "HTTP 200" });
    assert.equal(upstream.requests.length, 1);
    const [request] = upstream.requests;
    assert.equal(request.method, "GET");
    assert.equal(request.path, "/api/anthropic/v1/models?limit=1");
    assert.equal(request.headers.get("authorization"), `Bearer ${KEY}`);
    assert.equal(request.headers.get("anthropic-version"), "2023-06-01");
    assert.equal(request.headers.get("x-api-key"), null);
  } finally {
    await upstream.close();
  }
});

Deno.test("checkKey calls 401 and 403 rejected, with the upstream's reason", async () => {
  for (const status of [401, 403]) {
    const upstream = startFakeUpstream((request) =>
      Response.json(
        { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } },
        { status: request.headers.get("x-api-key") === KEY ? status : 500 },
      )
    );
    try {
      assert.deepEqual(await checkKey(provider(upstream.url), KEY), {
        outcome: "rejected",
        detail: `HTTP ${status} (invalid x-api-key)`,
      });
    } finally {
      await upstream.close();
    }
  }
});

Deno.test("checkKey calls any other answer unexpected: it says nothing of the key", async () => {
  const upstream = startFakeUpstream(() => new Response("not here", { status: 404 }));
  try {
    const result = await checkKey(provider(upstream.url), KEY);
    assert.equal(result.outcome, "unexpected");
    assert.match(result.detail, /^HTTP 404: /);
  } finally {
    await upstream.close();
  }
});

Deno.test("checkKey calls a refused connection unreachable, naming where it tried", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  const result = await checkKey(provider(url), KEY);
  assert.equal(result.outcome, "unreachable");
  assert.ok(result.detail.startsWith(`${url}: `), result.detail);
});

Deno.test("checkKey gives up on a silent upstream after its timeout: unreachable", async () => {
  const upstream = startFakeUpstream((request) =>
    new Promise<Response>((resolve) =>
      request.signal.addEventListener("abort", () => resolve(new Response(null, { status: 499 })))
    )
  );
  try {
    const result = await checkKey(provider(upstream.url), KEY, { timeoutMs: 50 });
    assert.deepEqual(result, { outcome: "unreachable", detail: `${upstream.url}: no answer within 0.05 s` });
  } finally {
    await upstream.close();
  }
});

Deno.test("checkKey rethrows the caller's own abort instead of blaming the network", async () => {
  const upstream = startFakeUpstream((request) =>
    new Promise<Response>((resolve) =>
      request.signal.addEventListener("abort", () => resolve(new Response(null, { status: 499 })))
    )
  );
  try {
    const controller = new AbortController();
    const checking = checkKey(provider(upstream.url), KEY, { signal: controller.signal });
    await upstream.nextRequest();
    controller.abort(new Error("ctrl-c"));
    await assert.rejects(checking, /ctrl-c/);
  } finally {
    await upstream.close();
  }
});
