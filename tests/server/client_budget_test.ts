/**
 * Monthly budgets over real HTTP: what requests in flight hold of a budget, and the models a budgeted
 * client's requests may run as (only priced ones).
 */
import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { ClientRegistry } from "../../src/ledger/clients.ts";
import type { LedgerEntry } from "../../src/ledger/entry.ts";
import { openLedger } from "../../src/ledger/open.ts";
import { Pricing } from "../../src/ledger/pricing.ts";
import { createAnthropicProvider } from "../../src/providers/anthropic.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import type { Route } from "../../src/routing/router.ts";
import { createLogger } from "../../src/util/logger.ts";
import { maskSecret } from "../../src/util/mask.ts";
import {
  type FakeUpstream,
  sseChunks,
  startFakeUpstream,
  textAnswerStream,
} from "../_helpers/fake_upstream.ts";
import { startTestRelay, TEST_TIMEOUTS } from "../_helpers/relay.ts";

const CI_TOKEN = "rly_ci_token_0000000000000002";
const DEV_TOKEN = "rly_dev_token_000000000000003";
const UNPRICED = "acme-large-1";

function post(url: string, token: string, model: string, path = "/v1/messages") {
  return fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": token },
    body: JSON.stringify({
      model,
      max_tokens: 300,
      stream: true,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
}

/** A whole stream that used 10 input tokens and all 300 of `max_tokens`. */
const USED_IT_ALL = textAnswerStream({
  id: "msg_budget",
  text: "…",
  stopReason: "max_tokens",
  startUsage: { input_tokens: 10, output_tokens: 1 },
  endUsage: { output_tokens: 300 },
});

Deno.test("20 parallel streams of a client with $0.01 left spend at most one request past its budget", async () => {
  const budget = 0.01;
  // $3 and $15 per million: each request holds about $0.0045 (its input estimate and 300 output
  // tokens) and costs $0.00453.
  const oneRequest = (10 * 3 + 300 * 15) / 1e6;
  const ledger = await openLedger(
    configSchema.parse({
      server: { auth: { tokens: [{ name: "ci", token: CI_TOKEN, monthly_budget_usd: budget }] } },
      ledger: { enabled: false },
      pricing: { "claude-sonnet-4-5": { input: 3, output: 15 } },
      providers: [{ name: "mock", type: "mock" }],
    }),
    { logger: createLogger({ write: () => {} }) },
  );
  // Every request ends up either at the upstream, which holds its answer until all are in, or refused.
  const parallel = 20;
  let arrived = 0;
  const allIn = Promise.withResolvers<void>();
  const arrive = () => ++arrived === parallel && allIn.resolve();
  const answer = Promise.withResolvers<void>();
  const upstream = startFakeUpstream(async () => {
    arrive();
    await answer.promise;
    return sseChunks([USED_IT_ALL]);
  });
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    clients: ledger.clients,
    ledger: ledger.recorder,
  });
  const refusals: string[] = [];
  const responses = Array.from({ length: parallel }, async () => {
    const response = await post(relay.url, CI_TOKEN, "claude-sonnet-4-5");
    if (response.status === 429) {
      refusals.push(`${response.headers.get("retry-after")} ${(await response.json()).error.message}`);
      arrive();
    } else await response.arrayBuffer();
    return response.status;
  });
  await allIn.promise;
  answer.resolve();
  const statuses = await Promise.all(responses);
  for (let request = 0; request < parallel; request++) await relay.nextRequestLog();
  await upstream.close();

  assert.equal(upstream.requests.length, 3, "three worst cases fit in $0.01 held, $0.0135 does not");
  assert.deepEqual(statuses.filter((status) => status === 200).length, 3);
  assert.equal(refusals.length, parallel - 3);
  assert.match(
    refusals[0],
    /^5 client ci's requests in flight may spend \$0\.01 of its monthly budget of \$0\.01 \(\$0\.00 spent this month\); retry once one ends$/,
  );
  const spent = ledger.clients.spentThisMonth("ci");
  assert.ok(spent < budget + oneRequest, `$${spent} spent of $${budget}: not even one request over`);
  assert.equal(spent, 0.01359, "three requests' cost");
  await ledger.close();
});

/** An Anthropic-format route named `name` to `upstream`, running models as `models` says (all as named). */
function routeTo(name: string, upstream: FakeUpstream, models?: Record<string, string>): Route {
  return {
    provider: createAnthropicProvider({
      name,
      type: "anthropic",
      baseUrl: upstream.url,
      authHeader: "x-api-key",
    }),
    keys: [{ secret: `sk-${name}-key-000000000000`, label: maskSecret(`sk-${name}-key-000000000000`) }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(models),
  };
}

/** Relay with `ci` ($1 a month) and `dev` (no budget), over routes `deployment` then `priced`. */
async function budgetedRelay(
  test: (
    setup: { url: string; deployment: FakeUpstream; priced: FakeUpstream; recorded: LedgerEntry[] },
  ) => Promise<void>,
) {
  const deployment = startFakeUpstream();
  const priced = startFakeUpstream();
  const recorded: LedgerEntry[] = [];
  const clients = new ClientRegistry([
    { name: "ci", token: CI_TOKEN, monthly_budget_usd: 1 },
    { name: "dev", token: DEV_TOKEN },
  ], { pricing: new Pricing() });
  {
    await using relay = startTestRelay({
      routes: [
        // The first route runs Sonnet under a deployment's own id, which no price names.
        routeTo("deployment", deployment, { "claude-sonnet-4-5": "acme-sonnet-deployment", "*": "*" }),
        routeTo("priced", priced),
      ],
      retry: { maxAttempts: 3 },
      // Each request goes down the routes in order, whichever route the last one of its conversation took.
      routing: { affinity: false },
      clients,
      ledger: { record: (entry) => void recorded.push(entry) },
    });
    await test({ url: relay.url, deployment, priced, recorded });
  }
  await deployment.close();
  await priced.close();
}

Deno.test("a budgeted client's request skips a route whose model has no price; one without a budget does not", async () => {
  await budgetedRelay(async ({ url, deployment, priced, recorded }) => {
    const budgeted = await post(url, CI_TOKEN, "claude-sonnet-4-5");
    assert.equal(budgeted.status, 200);
    await budgeted.arrayBuffer();
    assert.deepEqual([deployment.requests.length, priced.requests.length], [0, 1], "failed over, unsent");

    const unlimited = await post(url, DEV_TOKEN, "claude-sonnet-4-5");
    assert.equal(unlimited.status, 200);
    await unlimited.arrayBuffer();
    assert.deepEqual([deployment.requests.length, priced.requests.length], [1, 1]);
    assert.deepEqual(
      recorded.map((
        { client, provider, upstreamModel, attempts },
      ) => [client, provider, upstreamModel, attempts]),
      [["ci", "priced", "claude-sonnet-4-5", 1], ["dev", "deployment", "acme-sonnet-deployment", 1]],
    );
  });
});

Deno.test("a budgeted client's request with no priced route left is refused with 403, sent nowhere, and recorded", async () => {
  await budgetedRelay(async ({ url, deployment, priced, recorded }) => {
    const refused = await post(url, CI_TOKEN, UNPRICED);
    assert.equal(refused.status, 403);
    assert.deepEqual(await refused.json(), {
      type: "error",
      error: {
        type: "permission_error",
        message: `client ci has a monthly budget and no price is known for model ${UNPRICED}; add it under ` +
          "pricing: in the config",
      },
    });
    assert.deepEqual([deployment.requests.length, priced.requests.length], [0, 0]);
    assert.deepEqual(
      recorded.map(({ client, model, status, outcome, attempts }) => ({
        client,
        model,
        status,
        outcome,
        attempts,
      })),
      [{ client: "ci", model: UNPRICED, status: 403, outcome: "relay_error", attempts: 0 }],
    );

    const counted = await post(url, CI_TOKEN, UNPRICED, "/v1/messages/count_tokens");
    assert.equal(counted.status, 200, "a token count costs nothing: nothing to price");
    await counted.arrayBuffer();
    const unlimited = await post(url, DEV_TOKEN, UNPRICED);
    assert.equal(unlimited.status, 200, "no budget, no price needed");
    await unlimited.arrayBuffer();
    assert.deepEqual([deployment.requests.length, priced.requests.length], [2, 0]);
  });
});

/** `ci`, whose $0.001 a month one request's worst case ($0.0045) uses up while it is held. */
function heldClients(): ClientRegistry {
  return new ClientRegistry([{ name: "ci", token: CI_TOKEN, monthly_budget_usd: 0.001 }], {
    pricing: new Pricing(),
  });
}

/** Whether `ci` may start a request that costs something: none of its budget is spent or held. */
function nothingHeld(clients: ClientRegistry): boolean {
  const probe = clients.admit("ci", { model: "claude-sonnet-4-5", estimate: { input: 1, output: 0 } });
  if (probe.ok) probe.cancel();
  return probe.ok;
}

Deno.test("a request holds its budget until the ledger has taken its record, which charges it", async () => {
  const clients = heldClients();
  const heldAsRecorded: boolean[] = [];
  const upstream = startFakeUpstream(() => sseChunks([USED_IT_ALL]));
  {
    await using relay = startTestRelay({
      upstreamUrl: upstream.url,
      clients,
      ledger: { record: () => void heldAsRecorded.push(!nothingHeld(clients)) },
    });
    const answer = await post(relay.url, CI_TOKEN, "claude-sonnet-4-5");
    await answer.arrayBuffer();
    await relay.nextRequestLog();
  }
  await upstream.close();
  assert.deepEqual(heldAsRecorded, [true], "no moment where neither the hold nor the charge counts");
  assert.equal(nothingHeld(clients), true, "let go once recorded (this ledger charges nothing)");
});

Deno.test("a request that fails inside relay still lets go of what it held of the budget", async () => {
  const clients = heldClients();
  const broken = {
    name: "broken",
    type: "test",
    serves: (): boolean => {
      throw new Error("a bug in relay");
    },
    send: () => Promise.reject(new Error("never sent")),
  };
  {
    await using relay = startTestRelay({ provider: broken, clients });
    const answer = await post(relay.url, CI_TOKEN, "claude-sonnet-4-5");
    assert.equal(answer.status, 500);
    await answer.arrayBuffer();
  }
  assert.equal(nothingHeld(clients), true);
});
