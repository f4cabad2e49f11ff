/** The ledger and client limits end to end: relay in-process, its real ledger on disk. */
import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { type OpenLedger, openLedger } from "../../src/ledger/open.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { createMockProvider } from "../../src/providers/mock.ts";
import { mockOptionsSchema } from "../../src/providers/mock_options.ts";
import { keyFingerprint } from "../../src/util/fingerprint.ts";
import { createLogger } from "../../src/util/logger.ts";
import {
  controlledStream,
  messageStartEvent,
  sseChunks,
  sseEvent,
  startFakeUpstream,
  textAnswerStream,
} from "../_helpers/fake_upstream.ts";
import { PROVIDER_KEY, startTestRelay, type TestRelayOptions } from "../_helpers/relay.ts";
import { loadGolden } from "../_helpers/golden.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

const CI_TOKEN = "rly_ci_token_0000000000000002";
const DEV_TOKEN = "rly_dev_token_000000000000003";

function body(model: string, stream = true): string {
  return JSON.stringify({ model, max_tokens: 64, stream, messages: [{ role: "user", content: "hi" }] });
}

function post(url: string, model: string, token: string, init: { stream?: boolean } = {}) {
  return fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": token },
    body: body(model, init.stream),
  });
}

/** relay with a ledger at `path`, the clients `tokens` names, and what the test adds. */
async function relayWithLedger(
  path: string,
  tokens: unknown[],
  options: TestRelayOptions & { queueSize?: number; flushInterval?: string } = {},
) {
  const warnings: Record<string, unknown>[] = [];
  const config = configSchema.parse({
    server: { auth: { tokens } },
    ledger: { path, queue_size: options.queueSize, flush_interval: options.flushInterval },
    providers: [{ name: "mock", type: "mock" }],
  });
  const ledger: OpenLedger = await openLedger(config, {
    logger: createLogger({ level: "warn", write: (line) => warnings.push(JSON.parse(line)) }),
  });
  const relay = startTestRelay({ ...options, clients: ledger.clients, ledger: ledger.recorder });
  return {
    relay,
    ledger,
    warnings,
    async [Symbol.asyncDispose]() {
      await relay[Symbol.asyncDispose]();
      await ledger.close();
    },
  };
}

function rows(path: string): Record<string, unknown>[] {
  const store = LedgerStore.open(path, { readOnly: true });
  try {
    return store.database.prepare("SELECT * FROM requests ORDER BY id").all().map((row) => ({ ...row }));
  } finally {
    store.close();
  }
}

Deno.test("a golden stream's tokens and cost reach the ledger exactly, bytes untouched, no secret on disk", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const golden = await loadGolden("cached");
  const upstream = startFakeUpstream(() => sseChunks([golden.subarray(0, 333), golden.subarray(333)]));
  {
    await using setup = await relayWithLedger(path, [{ name: "ci", token: CI_TOKEN }], {
      upstreamUrl: upstream.url,
      flushInterval: "1h",
    });
    const response = await post(setup.relay.url, "claude-sonnet-4-5", CI_TOKEN);
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), golden);
    const line = await setup.relay.nextRequestLog();
    assert.equal(line.client, "ci");
    assert.deepEqual(rows(path), [], "held for the batch, not written on the request path");
    // Closing, as relay does on SIGTERM, writes the batch.
  }
  await upstream.close();
  const [row] = rows(path);
  assert.equal(typeof row.time, "number");
  assert.match(String(row.request_id), /^relay_/);
  assert.deepEqual({ ...row, id: 0, time: 0, request_id: "", ttfb_ms: 0, duration_ms: 0 }, {
    id: 0,
    time: 0,
    request_id: "",
    client: "ci",
    method: "POST",
    path: "/v1/messages",
    model: "claude-sonnet-4-5",
    upstream_model: "claude-sonnet-4-5",
    provider: "upstream",
    key_id: keyFingerprint(PROVIDER_KEY),
    key_label: "sk-ant-...x7f2",
    status: 200,
    outcome: "complete",
    attempts: 1,
    ttfb_ms: 0,
    duration_ms: 0,
    input_tokens: 4,
    output_tokens: 73,
    cache_read_tokens: 14_207,
    cache_write_tokens: 1_832,
    cost_usd: 0.0136611,
    web_search_requests: 0,
    usage_estimated: 0,
  });
  const onDisk = new TextDecoder("latin1").decode(await Deno.readFile(path));
  assert.ok(onDisk.includes(keyFingerprint(PROVIDER_KEY)), "the records are in the file searched");
  for (const secret of [CI_TOKEN, PROVIDER_KEY]) {
    assert.ok(!onDisk.includes(secret), "no secret in the ledger");
  }
});

Deno.test("limits are enforced before sending: 403 for a model or a spent budget, 429 with retry-after for rpm", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const upstream = startFakeUpstream();
  {
    await using setup = await relayWithLedger(path, [
      { name: "ci", token: CI_TOKEN, rpm: 2, models: ["claude-haiku-*"] },
      // The mock upstream's answer costs about $0.0002 on Sonnet: one request spends this budget.
      { name: "dev", token: DEV_TOKEN, monthly_budget_usd: 0.0001 },
    ], { upstreamUrl: upstream.url });
    const { url } = setup.relay;

    const wrongModel = await post(url, "claude-opus-4-1", CI_TOKEN);
    assert.equal(wrongModel.status, 403);
    assert.deepEqual(await wrongModel.json(), {
      type: "error",
      error: {
        type: "permission_error",
        message: "client ci may not use model claude-opus-4-1; allowed: claude-haiku-*",
      },
    });
    // A refused request is not counted against rpm: two more fill the minute.
    for (let i = 0; i < 2; i++) {
      const answer = await post(url, "claude-haiku-4-5", CI_TOKEN);
      assert.equal(answer.status, 200);
      assert.equal((await answer.text()).length > 0, true);
    }
    const overRpm = await post(url, "claude-haiku-4-5", CI_TOKEN);
    assert.equal(overRpm.status, 429);
    const retryAfter = Number(overRpm.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`);
    const rateBody = await overRpm.json();
    assert.equal(rateBody.error.type, "rate_limit_error");
    assert.match(
      rateBody.error.message,
      /^client ci is over its limit of 2 requests per minute \(rpm\); retry in \d+ s$/,
    );

    const first = await post(url, "claude-sonnet-4-5", DEV_TOKEN, { stream: false });
    assert.equal((await first.json()).type, "message");
    for (let i = 0; i < 5; i++) await setup.relay.nextRequestLog();
    const spent = await post(url, "claude-sonnet-4-5", DEV_TOKEN);
    assert.equal(spent.status, 403);
    const spentBody = await spent.json();
    assert.equal(spentBody.error.type, "permission_error");
    assert.match(
      spentBody.error.message,
      /^monthly budget of \$0\.0001 for client dev is spent \(\$0\.0\d{3} this month\); resets \d{4}-\d{2}-01$/,
    );
    assert.equal(upstream.requests.length, 3, "refused requests never reached the upstream");
  }
  await upstream.close();
  const recorded = rows(path).map((row) => [row.client, row.status, row.outcome]);
  assert.deepEqual(recorded, [
    ["ci", 403, "relay_error"],
    ["ci", 200, "complete"],
    ["ci", 200, "complete"],
    ["ci", 429, "relay_error"],
    ["dev", 200, "complete"],
    ["dev", 403, "relay_error"],
  ]);
});

Deno.test("a client's month-to-date spend survives a restart: the budget still holds", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const tokens = [{ name: "dev", token: DEV_TOKEN, monthly_budget_usd: 0.0001 }];
  // An Anthropic-compatible upstream answering as the mock does: priced, where the mock's own answers are free.
  const upstream = startFakeUpstream();
  {
    await using setup = await relayWithLedger(path, tokens, { upstreamUrl: upstream.url });
    assert.equal(
      (await (await post(setup.relay.url, "claude-sonnet-4-5", DEV_TOKEN, { stream: false })).json()).type,
      "message",
    );
    await setup.relay.nextRequestLog();
  }
  {
    await using setup = await relayWithLedger(path, tokens, { upstreamUrl: upstream.url });
    assert.ok(setup.ledger.clients.spentThisMonth("dev") > 0.0001, "read back from the database");
    const refused = await post(setup.relay.url, "claude-sonnet-4-5", DEV_TOKEN);
    assert.equal(refused.status, 403);
    await refused.body?.cancel();
  }
  await upstream.close();
  assert.equal(rows(path).length, 2);
  assert.equal(upstream.requests.length, 1, "the refused request never reached the upstream");
});

Deno.test("the mock's answers are recorded with their tokens at no cost and never spend a budget; the same answer from a real upstream is priced", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  // Less than one of the mock's answers costs on Sonnet 4.5 at a real provider's price.
  const tokens = [{ name: "dev", token: DEV_TOKEN, monthly_budget_usd: 0.0001 }];
  {
    await using setup = await relayWithLedger(path, tokens, {
      provider: createMockProvider("mock", mockOptionsSchema.parse({})),
    });
    for (const stream of [false, true, false]) {
      const answer = await post(setup.relay.url, "claude-sonnet-4-5", DEV_TOKEN, { stream });
      assert.equal(answer.status, 200);
      await answer.arrayBuffer();
      await setup.relay.nextRequestLog();
    }
    assert.equal(setup.ledger.clients.spentThisMonth("dev"), 0);
    assert.deepEqual(setup.warnings, []);
  }
  // The same request to an upstream answering as the mock does: its tokens, at Sonnet 4.5's price.
  const upstream = startFakeUpstream();
  {
    await using setup = await relayWithLedger(path, tokens, { upstreamUrl: upstream.url });
    const answer = await post(setup.relay.url, "claude-sonnet-4-5", DEV_TOKEN, { stream: false });
    assert.equal(answer.status, 200);
    await answer.arrayBuffer();
    await setup.relay.nextRequestLog();
    assert.ok(setup.ledger.clients.spentThisMonth("dev") > 0.0001);
  }
  await upstream.close();
  const recorded = rows(path).map((row) => [row.provider, row.input_tokens, row.output_tokens, row.cost_usd]);
  const [mock, , , priced] = recorded;
  assert.ok(Number(mock[1]) > 0 && Number(mock[2]) > 0, "tokens counted");
  assert.deepEqual(recorded.slice(0, 3), [mock, mock, mock]);
  assert.deepEqual(priced.slice(0, 3), ["upstream", mock[1], mock[2]]);
  // $3 and $15 a million on Sonnet 4.5.
  assert.equal(priced[3], (Number(mock[1]) * 3 + Number(mock[2]) * 15) / 1e6);
});

Deno.test("a budgeted client may ask the mock for a model no price is known for, as its answers cost nothing; a real upstream's still refused", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const tokens = [{ name: "dev", token: DEV_TOKEN, monthly_budget_usd: 1 }];
  {
    await using setup = await relayWithLedger(path, tokens, {
      provider: createMockProvider("mock", mockOptionsSchema.parse({})),
    });
    const answer = await post(setup.relay.url, "mock-1", DEV_TOKEN, { stream: false });
    assert.equal(answer.status, 200);
    await answer.arrayBuffer();
    await setup.relay.nextRequestLog();
  }
  const upstream = startFakeUpstream();
  {
    await using setup = await relayWithLedger(path, tokens, { upstreamUrl: upstream.url });
    const answer = await post(setup.relay.url, "mock-1", DEV_TOKEN, { stream: false });
    assert.equal(answer.status, 403);
    assert.match((await answer.json()).error.message, /no price is known for model mock-1/);
    await setup.relay.nextRequestLog();
  }
  await upstream.close();
  assert.equal(upstream.requests.length, 0);
});

Deno.test("web searches an answer ran are in its ledger row and cost, and spend the client's budget", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const answer = textAnswerStream({
    id: "msg_search",
    text: "Sunny.",
    startUsage: { input_tokens: 100, output_tokens: 1, server_tool_use: { web_search_requests: 0 } },
    endUsage: { output_tokens: 20, server_tool_use: { web_search_requests: 5 } },
  });
  const upstream = startFakeUpstream(() => sseChunks([answer]));
  {
    // The tokens cost $0.0006 on Sonnet, the searches $0.05: only the searches spend this budget.
    await using setup = await relayWithLedger(path, [{
      name: "dev",
      token: DEV_TOKEN,
      monthly_budget_usd: 0.01,
    }], {
      upstreamUrl: upstream.url,
    });
    const first = await post(setup.relay.url, "claude-sonnet-4-5", DEV_TOKEN);
    assert.equal(first.status, 200);
    await first.body?.cancel();
    await setup.relay.nextRequestLog();
    assert.equal(setup.ledger.clients.spentThisMonth("dev"), 0.0506);
    const spent = await post(setup.relay.url, "claude-sonnet-4-5", DEV_TOKEN);
    assert.equal(spent.status, 403);
    await spent.body?.cancel();
  }
  await upstream.close();
  const [row] = rows(path);
  assert.deepEqual([row.input_tokens, row.output_tokens, row.web_search_requests, row.cost_usd], [
    100,
    20,
    5,
    0.0506,
  ]);
});

Deno.test("a stream that ends before its usage, the client gone or the upstream broken off, is billed the output it wrote, marked estimated", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const start = messageStartEvent("msg_cut", { input_tokens: 100, output_tokens: 1 });
  // 350 characters of text: 100 tokens as relay estimates them.
  const deltas = Array.from({ length: 10 }, (_, i) =>
    sseEvent("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: `${i}`.repeat(35) },
    })).join("");
  const streams = [controlledStream(), controlledStream()];
  const upstream = startFakeUpstream(() => streams.shift()!.response());
  {
    await using setup = await relayWithLedger(path, [{ name: "ci", token: CI_TOKEN }], {
      upstreamUrl: upstream.url,
    });
    const send = (signal?: AbortSignal) =>
      fetch(`${setup.relay.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": CI_TOKEN },
        body: body("claude-sonnet-4-5"),
        signal,
      });
    // The client leaves (Claude Code's Esc) once it has read every delta.
    const [left, broken] = streams;
    const client = new AbortController();
    const leaving = send(client.signal);
    left.push(start + deltas);
    const reader = (await leaving).body!.getReader();
    let read = "";
    while (!read.includes("9".repeat(35))) read += new TextDecoder().decode((await reader.read()).value);
    client.abort();
    await left.cancelled;
    const gone = await setup.relay.nextRequestLog();
    assert.deepEqual([gone.outcome, gone.output_tokens, gone.usage_estimated], ["client_closed", 100, true]);
    // The upstream breaks off mid-answer, before message_stop.
    const failing = send();
    broken.push(start + deltas);
    const answer = await failing;
    broken.end();
    assert.match(await answer.text(), /event: error\n/, "relay ends the answer with an error event");
    const failed = await setup.relay.nextRequestLog();
    assert.deepEqual([failed.outcome, failed.output_tokens, failed.usage_estimated], [
      "upstream_failed",
      100,
      true,
    ]);
  }
  await upstream.close();
  for (const row of rows(path)) {
    // $3 and $15 a million on Sonnet 4.5: the output the answer wrote, not message_start's one token.
    assert.deepEqual([row.input_tokens, row.output_tokens, row.usage_estimated, row.cost_usd], [
      100,
      100,
      1,
      0.0018,
    ]);
  }
  assert.equal(rows(path).length, 2);
});

Deno.test("an unstreamed request its client leaves while the upstream has it is billed the input relay estimated", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const held = controlledStream();
  const upstream = startFakeUpstream(() =>
    new Response(held.body, { headers: { "content-type": "application/json" } })
  );
  {
    await using setup = await relayWithLedger(path, [{ name: "ci", token: CI_TOKEN }], {
      upstreamUrl: upstream.url,
    });
    const client = new AbortController();
    const leaving = fetch(`${setup.relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": CI_TOKEN },
      body: body("claude-sonnet-4-5", false),
      signal: client.signal,
    }).catch((error) => error);
    await upstream.nextRequest();
    client.abort();
    assert.equal((await leaving).name, "AbortError");
    await held.cancelled;
    const gone = await setup.relay.nextRequestLog();
    assert.deepEqual([gone.outcome, gone.output_tokens, gone.usage_estimated], ["client_closed", 0, true]);
    assert.ok(Number(gone.input_tokens) > 0, "the input relay estimated");
    assert.ok(setup.ledger.clients.spentThisMonth("ci") > 0, "the client's budget is charged it");
  }
  await upstream.close();
  const [row] = rows(path);
  assert.deepEqual([row.outcome, row.output_tokens, row.usage_estimated], ["client_closed", 0, 1]);
  // $3 a million input tokens on Sonnet 4.5.
  assert.equal(row.cost_usd, Number(row.input_tokens) * 3 / 1e6);
});

Deno.test("a 10k-request burst at 50 at once: every record is in the ledger, none dropped", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const total = 10_000;
  const started = performance.now();
  {
    // A queue far smaller than the concurrency and an interval that never comes: only full batches are
    // written, and the writer's backpressure is what keeps every record.
    await using setup = await relayWithLedger(path, [{ name: "ci", token: CI_TOKEN }], {
      provider: createMockProvider("mock", mockOptionsSchema.parse({ events: 2 })),
      queueSize: 16,
      flushInterval: "1h",
    });
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        const response = await post(setup.relay.url, "claude-haiku-4-5", CI_TOKEN, {
          stream: next % 2 === 0,
        });
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    assert.deepEqual(setup.warnings.filter((line) => line.msg === "ledger dropped records"), []);
  }
  const elapsed = performance.now() - started;
  const store = LedgerStore.open(path, { readOnly: true });
  try {
    const summary = store.database.prepare(
      "SELECT count(*) AS n, count(DISTINCT request_id) AS ids, sum(outcome = 'complete') AS complete, " +
        "sum(client = 'ci') AS ci, min(output_tokens) AS min_out FROM requests",
    ).get();
    assert.deepEqual({ ...summary }, { n: total, ids: total, complete: total, ci: total, min_out: 2 });
  } finally {
    store.close();
  }
  const size = (await Deno.stat(path)).size;
  console.log(`10k burst: ${Math.round(elapsed)} ms, ledger ${Math.round(size / 1024)} KiB`);
});

Deno.test("the front door's requests are recorded once, under the client, as the /v1/messages they became", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  {
    await using setup = await relayWithLedger(path, [{ name: "ci", token: CI_TOKEN }], {
      provider: createMockProvider("mock", mockOptionsSchema.parse({})),
    });
    const response = await fetch(`${setup.relay.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${CI_TOKEN}` },
      body: JSON.stringify({ model: "claude-haiku-4-5", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal((await response.json()).object, "chat.completion");
    await setup.relay.nextRequestLog();
  }
  assert.deepEqual(rows(path).map((row) => [row.client, row.path, row.outcome]), [[
    "ci",
    "/v1/messages",
    "complete",
  ]]);
});

Deno.test("a ledger that cannot keep up holds the request's slot, never its bytes", async () => {
  const hold = Promise.withResolvers<void>();
  const recorded: string[] = [];
  await using relay = startTestRelay({
    provider: createMockProvider("mock", mockOptionsSchema.parse({})),
    maxConcurrent: 1,
    maxQueue: 0,
    ledger: {
      record(entry) {
        recorded.push(`${entry.model} ${entry.status}`);
        // The first request's record waits, as it would for a full writer queue.
        return recorded.length === 1 ? hold.promise : undefined;
      },
    },
  });
  const first = await post(relay.url, "first-model", "unused");
  assert.match(await first.text(), /event: message_stop/, "the whole stream arrived while its record waited");
  // The only slot is still the first request's: with no queue, the next is turned away at once.
  const busy = await post(relay.url, "second-model", "unused");
  assert.equal(busy.status, 503);
  await busy.body?.cancel();
  hold.resolve();
  await relay.nextRequestLog();
  await relay.nextRequestLog();
  const third = await post(relay.url, "third-model", "unused");
  assert.equal(third.status, 200);
  await third.arrayBuffer();
  await relay.nextRequestLog();
  assert.deepEqual(recorded, ["first-model 200", "second-model 503", "third-model 200"]);
});

Deno.test("a ledger that throws is logged, never the request's failure", async () => {
  await using relay = startTestRelay({
    provider: createMockProvider("mock", mockOptionsSchema.parse({})),
    ledger: {
      record() {
        throw new Error("database is locked");
      },
    },
  });
  const response = await post(relay.url, "claude-haiku-4-5", "unused");
  assert.match(await response.text(), /event: message_stop/);
  const refused = await post(relay.url, "", "unused");
  assert.equal(refused.status, 400);
  await refused.body?.cancel();
  const failures = relay.logs.filter((line) => line.msg === "ledger failed");
  assert.equal(failures.length, 2);
  assert.match(String(failures[0].error), /database is locked/);
});
