import { LedgerStore } from "../src/ledger/store.ts";
import { ledgerRecord } from "../tests/ledger/_records.ts";

// A full batch at the default `ledger.queue_size`: the longest relay's thread waits on one write.
const _BATCH = Array.from({ length: 10_000 }, (_, index) => ledgerRecord({ requestId: `relay_${index}` }));
const folder = Deno.makeTempDirSync({ prefix: "relay-ledger-bench-" });
const store = LedgerStore.open(`${folder}/ledger.db`);
globalThis.addEventListener("unload", () => {
  store.close();
  Deno.removeSync(folder, { recursive: true });
});

Deno.bench({
  name: `LedgerStore.insert, a batch of ${_BATCH.length} records`,
  group: "ledger batch",
  n: 20,
  warmup: 2,
  fn: () => store.insert(_BATCH),
});
