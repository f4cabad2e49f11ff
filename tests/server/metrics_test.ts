import assert from "node:assert/strict";
import { ConcurrencyLimiter } from "../../src/routing/concurrency.ts";
import type { RelayEvent } from "../../src/server/events.ts";
import { createMockProvider } from "../../src/providers/mock.ts";
import { mockOptionsSchema } from "../../src/providers/mock_options.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { type ProviderStatus, Router } from "../../src/routing/router.ts";
import type { LedgerHealth } from "../../src/ledger/writer.ts";
import { RelayMetrics } from "../../src/server/metrics.ts";
import { EventBus } from "../../src/util/event_bus.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { liveConfig, postMessage, startLiveRelay, upstreamProvider } from "../_helpers/live_relay.ts";
import { parsePrometheus } from "../_helpers/prometheus.ts";
import { startTestRelay, TEST_ROUTING, TEST_TIMEOUTS } from "../_helpers/relay.ts";

const KEY = "sk-test-metrics-key-00000001";
const route = { keys: [], timeouts: TEST_TIMEOUTS, models: new ModelMap(undefined) };

function mockRouter(): Router {
  return new Router(
    [{ ...route, provider: createMockProvider("m", mockOptionsSchema.parse({})) }],
    TEST_ROUTING,
  );
}

async function scrape(url: string) {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheus(await response.text());
}

Deno.test("/metrics parses as valid Prometheus exposition, and its counters move as requests pass", async () => {
  const upstream = startFakeUpstream();
  const provider = upstreamProvider("up", upstream.url, [KEY]).replace(KEY, `${KEY}\n        rpm: 4`);
  await using relay = await startLiveRelay(liveConfig(provider));
  const before = await scrape(relay.url);
  assert.equal(
    before.value("relay_requests_total", { provider: "up", model: "claude-sonnet-4-5", status: "200" }),
    undefined,
  );
  assert.equal(before.value("relay_config_version"), 1);
  for (let i = 0; i < 3; i++) await (await postMessage(relay.url)).arrayBuffer();
  const after = await scrape(relay.url);
  const series = { provider: "up", model: "claude-sonnet-4-5" };
  assert.equal(after.value("relay_requests_total", { ...series, status: "200" }), 3);
  assert.equal(after.value("relay_request_duration_seconds_count", series), 3);
  assert.equal(after.value("relay_time_to_first_byte_seconds_count", series), 3);
  assert.equal(after.value("relay_time_to_first_byte_seconds_bucket", { ...series, le: "+Inf" }), 3);
  assert.ok(after.value("relay_tokens_total", { ...series, type: "output" })! > 0);
  assert.ok(after.value("relay_tokens_total", { ...series, type: "input" })! > 0);
  assert.equal(after.value("relay_retries_total"), 0);
  assert.equal(after.value("relay_requests_in_flight"), 0);
  assert.equal(after.value("relay_queue_depth"), 0);
  assert.equal(after.value("relay_provider_in_flight", { provider: "up" }), 0);
  assert.equal(after.value("relay_provider_breaker_state", { provider: "up", state: "closed" }), 1);
  assert.equal(
    after.value("relay_key_breaker_state", { provider: "up", key: "0:sk-...0001", state: "open" }),
    0,
  );
  assert.equal(after.value("relay_key_saturation_ratio", { provider: "up", key: "0:sk-...0001" }), 0.75);
  assert.equal(after.value("relay_key_usable", { provider: "up", key: "0:sk-...0001" }), 1);
  assert.deepEqual(after.families.get("relay_requests_total")!.type, "counter");
  await upstream.close();
});

Deno.test("breaker changes, retries, failovers and reloads show in the metrics", async () => {
  const failing = startFakeUpstream(() => new Response("down", { status: 503 }));
  const healthy = startFakeUpstream();
  const routing = "routing:\n  max_attempts: 2\n  backoff: 0ms\n  breaker:\n    failures: 1\n";
  await using relay = await startLiveRelay(
    liveConfig(
      upstreamProvider("a", failing.url, [KEY]) + upstreamProvider("b", healthy.url, [KEY]),
      routing,
    ),
  );
  await (await postMessage(relay.url)).arrayBuffer();
  await relay.write("providers: [");
  await relay.runtime.reload("test");
  const metrics = await scrape(relay.url);
  assert.equal(
    metrics.value("relay_requests_total", { provider: "b", model: "claude-sonnet-4-5", status: "200" }),
    1,
  );
  assert.equal(metrics.value("relay_retries_total"), 1);
  assert.equal(metrics.value("relay_failovers_total"), 1);
  assert.equal(metrics.value("relay_provider_breaker_state", { provider: "a", state: "open" }), 1);
  assert.equal(metrics.value("relay_provider_breaker_state", { provider: "a", state: "closed" }), 0);
  assert.equal(
    metrics.value("relay_breaker_transitions_total", { provider: "a", scope: "provider", to: "open" }),
    1,
  );
  assert.equal(
    metrics.value("relay_breaker_transitions_total", { provider: "a", scope: "key", to: "open" }),
    1,
  );
  assert.equal(metrics.value("relay_key_usable", { provider: "a", key: "0:sk-...0001" }), 0);
  assert.equal(metrics.value("relay_config_reloads_total", { result: "failure" }), 1);
  await failing.close();
  await healthy.close();
});

Deno.test("the model label is bounded: past maxModels distinct names, models count as other", async () => {
  await using relay = await startLiveRelay(liveConfig("  - name: m\n    type: mock\n"), {
    metrics: { maxModels: 3 },
  });
  for (let i = 0; i < 8; i++) {
    const body = JSON.stringify({
      model: `model-${i}`,
      max_tokens: 8,
      messages: [{ role: "user", content: "hi" }],
    });
    await (await postMessage(relay.url, body)).arrayBuffer();
  }
  const models = (await scrape(relay.url)).samples("relay_requests_total").map((sample) =>
    sample.labels.model
  );
  assert.deepEqual(models.sort(), ["model-0", "model-1", "model-2", "other"]);
});

Deno.test("requests no provider took count under model none; an outsized model name never becomes a label", () => {
  const events = new EventBus<RelayEvent>();
  const router = mockRouter();
  const metrics = new RelayMetrics(events, {
    router: () => router,
    limiter: new ConcurrencyLimiter({ max: 1, maxQueue: 0 }),
  });
  const request = (model: string, provider?: string) =>
    events.publish({
      type: "request",
      data: { line: { model, provider, status: 404, duration_ms: 3, attempts: 0 } },
    });
  request("x".repeat(500), "m");
  request("unknown-model");
  const parsed = parsePrometheus(metrics.render());
  assert.deepEqual(parsed.samples("relay_requests_total").map((sample) => sample.labels), [
    { provider: "m", model: "other", status: "404" },
    { provider: "none", model: "none", status: "404" },
  ]);
  assert.equal(
    parsed.value("relay_time_to_first_byte_seconds_count", { provider: "m", model: "other" }),
    undefined,
  );
});

Deno.test("/metrics works without a reloadable config too", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  await (await postMessage(relay.url)).arrayBuffer();
  const metrics = await scrape(relay.url);
  assert.equal(
    metrics.value("relay_requests_total", {
      provider: "upstream",
      model: "claude-sonnet-4-5",
      status: "200",
    }),
    1,
  );
  assert.equal(metrics.families.has("relay_config_version"), false);
  assert.equal(metrics.families.has("relay_ledger_state"), false, "nor a ledger to tell of");
  await upstream.close();
});

Deno.test("relay's own refusals (an unknown route, bad JSON) count in the metrics, as their access lines say", async () => {
  const upstream = startFakeUpstream();
  await using relay = await startLiveRelay(liveConfig(upstreamProvider("up", upstream.url, [KEY])));
  assert.equal((await fetch(`${relay.url}/v1/nope`)).status, 404);
  const refused = await fetch(`${relay.url}/v1/chat/completions`, { method: "POST", body: "{" });
  assert.equal(refused.status, 400);
  await refused.body?.cancel();
  const metrics = await scrape(relay.url);
  const none = { provider: "none", model: "none" };
  assert.equal(metrics.value("relay_requests_total", { ...none, status: "404" }), 1);
  assert.equal(metrics.value("relay_requests_total", { ...none, status: "400" }), 1);
  await upstream.close();
});

Deno.test("a breaker's probe out shows in the metrics, though the breaker reads open", () => {
  const [provider] = mockRouter().status();
  const probing = {
    ...provider,
    breaker: "open",
    probing: true,
    keys: [{ index: 0, label: "sk-...0001", ratio: 0, breaker: "open", probing: true }],
  } satisfies ProviderStatus;
  const idle = { ...provider, name: "idle" };
  const metrics = new RelayMetrics(new EventBus<RelayEvent>(), {
    router: () => ({ status: () => [probing, idle] }) as unknown as Router,
    limiter: new ConcurrencyLimiter({ max: 1, maxQueue: 0 }),
  });
  const parsed = parsePrometheus(metrics.render());
  assert.deepEqual(
    parsed.samples("relay_provider_breaker_probing").map(({ labels, value }) => [labels.provider, value]),
    [["m", 1], ["idle", 0]],
  );
  assert.equal(parsed.value("relay_key_breaker_probing", { provider: "m", key: "0:sk-...0001" }), 1);
  assert.equal(parsed.value("relay_provider_breaker_state", { provider: "m", state: "open" }), 1);
});

Deno.test("the ledger's state, records pending, written and dropped are read from its writer when scraped", () => {
  const router = mockRouter();
  const health: LedgerHealth = {
    state: "ok",
    error: undefined,
    since: 0,
    pending: 0,
    written: 0,
    dropped: 0,
  };
  let reads = 0;
  const metrics = new RelayMetrics(new EventBus<RelayEvent>(), {
    router: () => router,
    limiter: new ConcurrencyLimiter({ max: 1, maxQueue: 0 }),
    ledger: () => {
      reads++;
      return health;
    },
  });
  assert.equal(reads, 0, "nothing is read until a scrape");
  const scraped = () => {
    const parsed = parsePrometheus(metrics.render());
    return {
      state: parsed.samples("relay_ledger_state").map(({ labels, value }) => [labels.state, value]),
      pending: parsed.value("relay_ledger_pending_records"),
      written: parsed.value("relay_ledger_records_written_total"),
      dropped: parsed.value("relay_ledger_records_dropped_total"),
      types: ["relay_ledger_records_written_total", "relay_ledger_records_dropped_total"]
        .map((name) => parsed.families.get(name)?.type),
    };
  };
  /** The series as a ledger in `state` with these counts gives them. */
  const expected = (state: string, pending: number, written: number, dropped: number) => ({
    state: ["ok", "locked", "failing"].map((each) => [each, each === state ? 1 : 0]),
    pending,
    written,
    dropped,
    types: ["counter", "counter"],
  });
  assert.deepEqual(scraped(), expected("ok", 0, 0, 0));
  Object.assign(health, {
    state: "failing",
    error: "database or disk is full",
    pending: 1_234,
    written: 500,
  });
  assert.deepEqual(scraped(), expected("failing", 1_234, 500, 0));
  Object.assign(health, { state: "locked", pending: 2_000, dropped: 7 });
  assert.deepEqual(scraped(), expected("locked", 2_000, 500, 7));
});

Deno.test("each client's spend this month, budget, holds and windows are in the metrics, read when scraped", async () => {
  const upstream = startFakeUpstream();
  const token = "rly_metrics_client_token_0001";
  const clients = `  auth:\n    tokens:\n      - name: ci\n        token: ${token}\n        rpm: 4\n` +
    "        monthly_budget_usd: 5\n      - name: dev\n        token: rly_metrics_client_token_0002\n";
  await using relay = await startLiveRelay(
    liveConfig(upstreamProvider("up", upstream.url, [KEY]), clients) +
      "pricing:\n  claude-sonnet-4-5: { input: 3, output: 15 }\nledger:\n  enabled: false\n",
    { ledger: true },
  );
  await (await postMessage(relay.url, undefined, { "x-api-key": token })).arrayBuffer();
  await relay.waitForLog((line) => line.msg === "request");
  const scraped = await scrape(relay.url);
  const series = (name: string) =>
    scraped.samples(name).map(({ labels, value }) => [Object.values(labels).join(","), value]);
  assert.ok((scraped.value("relay_client_spent_usd", { client: "ci" }) ?? 0) > 0, "charged");
  assert.deepEqual(series("relay_client_spent_usd").map(([client]) => client), ["ci", "dev"]);
  assert.deepEqual(series("relay_client_budget_usd"), [["ci", 5]], "only budgeted clients");
  assert.deepEqual(series("relay_client_held_usd"), [["ci", 0]], "nothing in flight");
  assert.deepEqual(series("relay_client_window_saturation_ratio"), [["ci,rpm", 0.25]]);
  assert.ok(!(await (await fetch(`${relay.url}/metrics`)).text()).includes(token), "no token");
  await upstream.close();
});

Deno.test("the clients' and the router's status are read once per scrape, however many gauges show them", () => {
  const router = mockRouter();
  const reads = { clients: 0, router: 0 };
  const client = (name: string, spentUsd: number) => ({
    name,
    models: undefined,
    rpm: { limit: 4, saturation: spentUsd / 10 },
    tpm: undefined,
    monthlyBudgetUsd: 5,
    spentUsd,
    heldUsd: 0,
  });
  let spent = 1;
  const metrics = new RelayMetrics(new EventBus<RelayEvent>(), {
    router: () => {
      reads.router++;
      return router;
    },
    limiter: new ConcurrencyLimiter({ max: 1, maxQueue: 0 }),
    clients: () => {
      reads.clients++;
      return [client("ci", spent), client("dev", 2)];
    },
  });
  const first = parsePrometheus(metrics.render());
  assert.deepEqual(reads, { clients: 1, router: 1 });
  assert.equal(first.value("relay_client_spent_usd", { client: "ci" }), 1);
  spent = 3;
  const second = parsePrometheus(metrics.render());
  assert.deepEqual(reads, { clients: 2, router: 2 }, "each scrape reads them afresh");
  assert.equal(second.value("relay_client_spent_usd", { client: "ci" }), 3);
  assert.equal(second.value("relay_client_window_saturation_ratio", { client: "ci", window: "rpm" }), 0.3);
  assert.equal(second.value("relay_provider_enabled", { provider: "m" }), 1);
});
