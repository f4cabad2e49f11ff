import assert from "node:assert/strict";
import { SharedSpend } from "../../src/ledger/shared_spend.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { ledgerRecord } from "./_records.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

const NOVEMBER = { since: Date.UTC(2026, 10, 1), until: Date.UTC(2026, 11, 1) };

Deno.test("SharedSpend reads each row once, adding what other relays wrote to what it read before", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const mine = LedgerStore.open(path);
  const theirs = LedgerStore.open(path);
  try {
    const spend = new SharedSpend(mine);
    const after: number[] = [];
    const read = mine.costByClientAfter.bind(mine);
    mine.costByClientAfter = (
      afterId,
      month,
      clients,
    ) => (after.push(afterId), read(afterId, month, clients));
    mine.insert([
      ledgerRecord({ time: NOVEMBER.since - 1, costUsd: 100 }),
      ledgerRecord({ time: NOVEMBER.since, costUsd: 0.1 }),
      ledgerRecord({ time: NOVEMBER.until, costUsd: 40 }),
    ]);
    assert.deepEqual(
      spend.read(NOVEMBER, ["ci"]),
      new Map([["ci", 0.1]]),
      "October's row is not this month's, nor December's (stamped by a clock since set back)",
    );
    theirs.insert([
      ledgerRecord({ time: NOVEMBER.since + 1, costUsd: 0.2 }),
      ledgerRecord({ client: "dev", costUsd: 5 }),
    ]);
    assert.deepEqual(spend.read(NOVEMBER, ["ci"]), new Map([["ci", 0.3]]), "0.1 + 0.2, exactly");
    assert.deepEqual(spend.read(NOVEMBER, ["ci"]), new Map([["ci", 0.3]]), "nothing new: the same");
    assert.deepEqual(
      spend.read(NOVEMBER, ["ci", "dev"]),
      new Map([["ci", 0.3], ["dev", 5]]),
      "a new client: read whole",
    );
    // Each read starts after the last row the one before read; a new set of clients starts over.
    assert.deepEqual(after, [0, 3, 5, 0]);
  } finally {
    theirs.close();
    mine.close();
  }
});
