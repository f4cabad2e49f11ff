import type { DatabaseSync } from "node:sqlite";
import type { LedgerRecord } from "../../src/ledger/entry.ts";
import { LedgerStore } from "../../src/ledger/store.ts";

/** A complete request's record, with `fields` over it. */
export function ledgerRecord(fields: Partial<LedgerRecord> = {}): LedgerRecord {
  return {
    time: Date.UTC(2026, 10, 17, 9),
    requestId: "relay_0001",
    client: "ci",
    method: "POST",
    path: "/v1/messages",
    model: "claude-sonnet-4-5",
    upstreamModel: "claude-sonnet-4-5",
    provider: "anthropic",
    keyId: "fc15735de69a",
    keyLabel: "sk-ant-...x7f2",
    status: 200,
    outcome: "complete",
    attempts: 1,
    ttfbMs: 420,
    durationMs: 3_100,
    usage: { input: 4, output: 73, cacheRead: 14_207, cacheWrite: 1_832, cacheWrite1h: 632 },
    costUsd: 0.0136611,
    ...fields,
  };
}

/** The request ids `database` holds, in the order they were written. */
export function requestIds(database: DatabaseSync): unknown[] {
  return database.prepare("SELECT request_id FROM requests ORDER BY id").all().map((row) => row.request_id);
}

/** The request ids the ledger file at `path` holds, read as `relay usage` reads it (no lock). */
export function storedRequestIds(path: string): unknown[] {
  const reader = LedgerStore.open(path, { readOnly: true });
  try {
    return requestIds(reader.database);
  } finally {
    reader.close();
  }
}
