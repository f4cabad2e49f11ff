import assert from "node:assert/strict";
import { ClientRegistry } from "../../src/ledger/clients.ts";
import type { LedgerRecord } from "../../src/ledger/entry.ts";
import { Pricing } from "../../src/ledger/pricing.ts";
import { UsageRecorder } from "../../src/ledger/recorder.ts";
import { LedgerWriter } from "../../src/ledger/writer.ts";
import { createLogger } from "../../src/util/logger.ts";
import { ledgerRecord } from "./_records.ts";

Deno.test("an unpriced model is warned about once, and the models remembered for it are bounded", () => {
  const warned: string[] = [];
  const logger = createLogger({ level: "warn", write: (line) => warned.push(JSON.parse(line).model) });
  const recorder = new UsageRecorder({ pricing: new Pricing(), logger });
  const record = (model: string) => recorder.record(ledgerRecord({ model, upstreamModel: model }));
  record("local-llama");
  record("local-llama");
  assert.deepEqual(warned, ["local-llama"]);
  // A client naming a new model in every request: what relay keeps of them stops growing.
  for (let i = 0; i < 5_000; i++) record(`made-up-${i}`);
  assert.equal(warned.length, 1_024);
});

Deno.test("a mock provider's answer is recorded with its tokens at no cost, spends no budget and is not warned about", async () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const warned: unknown[] = [];
  const logger = createLogger({ level: "warn", write: (line) => warned.push(JSON.parse(line).msg) });
  const written: LedgerRecord[] = [];
  const writer = new LedgerWriter({
    write: (records) => written.push(...records),
    queueSize: 10,
    flushIntervalMs: 1_000,
    logger,
  });
  // A budget one priced answer of these tokens would spend many times over.
  const clients = new ClientRegistry(
    [{ name: "ci", token: "rly_ci_token_0002", monthly_budget_usd: 0.0001 }],
    {
      now: () => now,
    },
  );
  const pricing = new Pricing({}, [{ name: "mock", type: "mock" }, { name: "anthropic", type: "anthropic" }]);
  const recorder = new UsageRecorder({ pricing, clients, writer, logger });
  const usage = { input: 4, output: 73, cacheRead: 14_207, cacheWrite: 1_832, cacheWrite1h: 632 };
  for (const model of ["claude-sonnet-4-5", "mock-1"]) {
    await recorder.record(ledgerRecord({ time: now, model, upstreamModel: model, provider: "mock", usage }));
  }
  assert.equal(clients.spentThisMonth("ci"), 0);
  await recorder.record(ledgerRecord({ time: now, provider: "anthropic", usage }));
  await writer.close();
  assert.deepEqual(
    written.map(({ provider, model, usage: used, costUsd }) => [provider, model, used?.output, costUsd]),
    [
      ["mock", "claude-sonnet-4-5", 73, 0],
      ["mock", "mock-1", 73, 0],
      ["anthropic", "claude-sonnet-4-5", 73, 0.0136611],
    ],
  );
  assert.equal(clients.spentThisMonth("ci"), 0.0136611, "a real provider's answer still spends it");
  assert.deepEqual(warned, [], "the mock's own model has no price to miss");
});
