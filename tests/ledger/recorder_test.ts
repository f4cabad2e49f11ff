import assert from "node:assert/strict";
import { Pricing } from "../../src/ledger/pricing.ts";
import { UsageRecorder } from "../../src/ledger/recorder.ts";
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
