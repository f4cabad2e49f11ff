import assert from "node:assert/strict";
import { ClientRegistry } from "../../src/ledger/clients.ts";
import { Pricing } from "../../src/ledger/pricing.ts";
import { sseChunks, startFakeUpstream, textAnswerStream } from "../_helpers/fake_upstream.ts";
import { startTestRelay } from "../_helpers/relay.ts";

const CI = { name: "ci", token: "rly_ci_token_0002", monthly_budget_usd: 0.8 };
/** All of max_tokens as output on Opus 5.5: $0.40 at its standard price. */
const estimate = { input: 0, output: 20_000 };

Deno.test("a budget holds a fast-mode or US-only request at its dearer price, and refuses fast mode where the model has no fast-mode price", () => {
  const clients = new ClientRegistry([CI], { now: () => Date.UTC(2026, 10, 26), pricing: new Pricing() });
  const held = (spent: string) => ({
    ok: false,
    status: 429,
    message:
      `client ci's requests in flight may spend ${spent} of its monthly budget of $0.80 ($0.00 spent ` +
      "this month); retry once one ends",
    retryAfterS: 5,
  });
  const fast = clients.admit("ci", { model: "claude-opus-5-5", estimate, asks: { speed: "fast" } });
  assert.ok(fast.ok);
  assert.equal(fast.unpriced("claude-opus-5-5"), undefined);
  assert.equal(
    fast.unpriced("claude-sonnet-4-6"),
    "client ci has a monthly budget and no fast-mode price is known for model claude-sonnet-4-6; add it " +
      "under pricing: in the config",
  );
  assert.deepEqual(clients.admit("ci", { model: "claude-opus-5-5", estimate }), held("$0.80"), "twice $0.40");
  fast.cancel();
  const us = () => clients.admit("ci", { model: "claude-opus-5-5", estimate, asks: { inferenceGeo: "us" } });
  const first = us();
  assert.ok(
    first.ok && first.unpriced("claude-sonnet-4-6") === undefined,
    "standard speed: any priced model",
  );
  assert.ok(us().ok);
  assert.deepEqual(us(), held("$0.88"), "twice $0.40 and 10%");
});

Deno.test("relay sends a budgeted client's fast-mode request only to a model with a fast-mode price", async () => {
  const upstream = startFakeUpstream(() =>
    sseChunks([textAnswerStream({
      id: "msg_1",
      text: "a",
      startUsage: { input_tokens: 10, output_tokens: 1, speed: "fast" },
      endUsage: { output_tokens: 10 },
    })])
  );
  const clients = new ClientRegistry([CI], { pricing: new Pricing() });
  {
    await using relay = startTestRelay({ upstreamUrl: upstream.url, clients });
    const ask = (model: string) =>
      fetch(`${relay.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": CI.token },
        body: JSON.stringify({
          model,
          max_tokens: 64,
          speed: "fast",
          messages: [{ role: "user", content: "hi" }],
        }),
      });
    const refused = await ask("claude-sonnet-4-6");
    assert.equal(refused.status, 403);
    assert.match(
      (await refused.json()).error.message,
      /no fast-mode price is known for model claude-sonnet-4-6/,
    );
    const sent = await ask("claude-opus-5-5");
    assert.equal(sent.status, 200);
    await sent.body?.cancel();
  }
  await upstream.close();
  assert.equal(upstream.requests.length, 1);
});
