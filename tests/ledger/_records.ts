import type { LedgerRecord } from "../../src/ledger/entry.ts";

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

/** A fresh temporary folder, removed when the test's `using` scope ends. */
export async function tempFolder(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "relay-ledger-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}
