import assert from "node:assert/strict";
import { usageReport } from "../../src/ledger/query.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { ledgerRecord } from "./_records.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

const T = Date.UTC(2026, 10, 17, 9);
const usage = (input: number, output: number, cacheRead = 0, cacheWrite = 0) => ({
  input,
  output,
  cacheRead,
  cacheWrite,
  cacheWrite1h: 0,
});

async function withStore(run: (store: LedgerStore) => void) {
  await using folder = await tempFolder();
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  try {
    run(store);
  } finally {
    store.close();
  }
}

Deno.test("usageReport totals by model: requests, errors, tokens, cost, cache hits and nearest-rank percentiles", async () => {
  await withStore((store) => {
    store.insert([
      // 20 sonnet requests, ttfb 10..200 ms, duration 100..2000 ms; two of them failed.
      ...Array.from({ length: 20 }, (_, i) =>
        ledgerRecord({
          requestId: `s${i}`,
          time: T + i,
          ttfbMs: (i + 1) * 10,
          durationMs: (i + 1) * 100,
          outcome: i < 2 ? "upstream_error" : "complete",
          usage: usage(100, 10, 300, 100),
          costUsd: 0.25,
        })),
      ledgerRecord({
        requestId: "h1",
        time: T,
        model: "claude-haiku-4-5",
        ttfbMs: undefined,
        durationMs: 7,
        outcome: "relay_error",
        status: 429,
        usage: undefined,
        costUsd: 0,
      }),
      ledgerRecord({
        requestId: "h2",
        time: T,
        model: "claude-haiku-4-5",
        outcome: "client_closed",
        costUsd: 1,
      }),
      ledgerRecord({
        requestId: "local",
        time: T,
        model: "qwen3-coder",
        usage: usage(50, 5),
        costUsd: undefined,
      }),
      ledgerRecord({ requestId: "too-old", time: T - 1, costUsd: 1_000 }),
      ledgerRecord({ requestId: "too-new", time: T + 1_000, costUsd: 1_000 }),
    ]);
    const report = usageReport(store.database, { since: T, until: T + 1_000, by: "model" });
    assert.deepEqual(report.groups.map((group) => group.name), [
      "claude-sonnet-4-5",
      "claude-haiku-4-5",
      "qwen3-coder",
    ]);
    const [sonnet, haiku, local] = report.groups;
    assert.deepEqual(sonnet, {
      name: "claude-sonnet-4-5",
      requests: 20,
      errors: 2,
      errorRate: 0.1,
      inputTokens: 2_000,
      outputTokens: 200,
      cacheReadTokens: 6_000,
      cacheWriteTokens: 2_000,
      webSearches: 0,
      costUsd: 5,
      unpriced: 0,
      usageEstimated: 0,
      cacheHitRatio: 0.6,
      ttfbP50: 100,
      ttfbP95: 190,
      durationP50: 1_000,
      durationP95: 1_900,
    });
    assert.equal(haiku.requests, 2);
    assert.equal(haiku.errors, 1, "a client that left is not an error");
    assert.equal(haiku.ttfbP50, 420, "requests without a first byte are not in the ttfb percentiles");
    assert.equal(haiku.durationP50, 7);
    assert.equal(local.unpriced, 1);
    assert.equal(local.costUsd, 0);
    assert.equal(report.total.name, null);
    assert.equal(report.total.requests, 23);
    assert.equal(report.total.costUsd, 6);
    assert.equal(report.total.errors, 3);
  });
});

Deno.test("usageReport groups by provider, key and client; an empty period totals nothing", async () => {
  await withStore((store) => {
    store.insert([
      ledgerRecord({ requestId: "a", time: T, provider: "anthropic", client: "ci", costUsd: 1 }),
      ledgerRecord({
        requestId: "b",
        time: T,
        provider: "bedrock",
        keyId: undefined,
        keyLabel: undefined,
        client: "dev",
        costUsd: 2,
      }),
      ledgerRecord({ requestId: "c", time: T, provider: "anthropic", client: undefined, costUsd: 0.5 }),
      // The same key, named since: one row, under its latest label.
      ledgerRecord({
        requestId: "d",
        time: T,
        keyLabel: "main (sk-ant-...x7f2)",
        client: "ci",
        costUsd: 0.25,
      }),
    ]);
    const names = (by: "provider" | "key" | "client") =>
      usageReport(store.database, { since: T, until: T + 1, by }).groups.map((
        group,
      ) => [group.name, group.costUsd]);
    assert.deepEqual(names("provider"), [["bedrock", 2], ["anthropic", 1.75]]);
    assert.deepEqual(names("key"), [[null, 2], ["main (sk-ant-...x7f2) fc15735de69a", 1.75]]);
    assert.deepEqual(names("client"), [["dev", 2], ["ci", 1.25], [null, 0.5]]);
    const empty = usageReport(store.database, { since: T + 10, until: T + 20, by: "model" });
    assert.deepEqual(empty.groups, []);
    assert.equal(empty.total.requests, 0);
    assert.equal(empty.total.cacheHitRatio, null);
    assert.equal(empty.total.ttfbP95, null);
  });
});

Deno.test("usageReport totals web searches; rows written before they were counted count none", async () => {
  await withStore((store) => {
    store.insert([
      ledgerRecord({ requestId: "a", time: T, usage: { ...usage(10, 1), webSearches: 5 }, costUsd: 0.05 }),
      ledgerRecord({ requestId: "b", time: T, usage: { ...usage(10, 1), webSearches: 2 }, costUsd: 0.02 }),
      ledgerRecord({ requestId: "c", time: T, model: "gpt-4o", usage: usage(10, 1), costUsd: 0.01 }),
    ]);
    // As a row from before the column reads.
    store.database.exec("UPDATE requests SET web_search_requests = NULL WHERE request_id = 'c'");
    const report = usageReport(store.database, { since: T, until: T + 1, by: "model" });
    assert.deepEqual(report.groups.map((group) => [group.name, group.webSearches]), [
      ["claude-sonnet-4-5", 7],
      ["gpt-4o", 0],
    ]);
    assert.equal(report.total.webSearches, 7);
    assert.equal(report.total.costUsd, 0.08);
  });
});

Deno.test("usageReport counts the requests whose usage is relay's estimate; rows written before they were marked count none", async () => {
  await withStore((store) => {
    store.insert([
      ledgerRecord({ requestId: "a", time: T, usage: usage(10, 40), usageEstimated: true }),
      ledgerRecord({ requestId: "b", time: T, usage: usage(10, 40), usageEstimated: true }),
      ledgerRecord({ requestId: "c", time: T, usage: usage(10, 40) }),
      ledgerRecord({ requestId: "d", time: T, model: "gpt-4o", usage: usage(10, 1), usageEstimated: true }),
    ]);
    // As a row from before the column reads.
    store.database.exec("UPDATE requests SET usage_estimated = NULL WHERE request_id = 'd'");
    const report = usageReport(store.database, { since: T, until: T + 1, by: "model" });
    assert.deepEqual(report.groups.map((group) => [group.name, group.usageEstimated]), [
      ["claude-sonnet-4-5", 2],
      ["gpt-4o", 0],
    ]);
    assert.equal(report.total.usageEstimated, 2);
  });
});
