import type { UsageDetail } from "../stream/usage_tap.ts";

/**
 * One request as relay saw it end: what the access log line says, plus its token usage. It names the
 * client and the key, never their secrets: the client by its configured name, the key by its masked
 * label and its fingerprint (`src/util/fingerprint.ts`).
 */
export interface LedgerEntry {
  /** Wall-clock ms when the request arrived. */
  time: number;
  requestId: string;
  /** The client token's name; `undefined` when relay runs without client tokens. */
  client?: string;
  method: string;
  path: string;
  /** The model the client asked for. */
  model?: string;
  /** The id the upstream knows that model by (the provider's `models:` mapping applied). */
  upstreamModel?: string;
  /** The provider of the last attempt. */
  provider?: string;
  /** The last attempt's key: `keyFingerprint` of it, and its masked label. */
  keyId?: string;
  keyLabel?: string;
  status?: number;
  /** `complete`, `upstream_failed`, `client_closed`, `relay_error` or `upstream_error`. */
  outcome: string;
  attempts: number;
  ttfbMs?: number;
  durationMs: number;
  /** What the answer's own usage events said; `undefined` when it said nothing. */
  usage?: UsageDetail;
  /**
   * Whether `usage` is partly relay's estimate: the upstream reported none (an OpenAI-compatible server
   * that ignores `include_usage`), or the stream ended before its final usage (the client left, the
   * upstream broke off), whose output relay estimated from what was written.
   */
  usageEstimated?: boolean;
}

/** An entry as the ledger stores it: with its cost in USD, `undefined` when the model has no price. */
export interface LedgerRecord extends LedgerEntry {
  costUsd?: number;
}

/** How a caller hands the ledger a record. */
export interface RecordOptions {
  /**
   * Whether the caller waits for room in a full queue (the default; the promise is that wait), as a
   * request holding a slot does. `false`: the promise resolves at once, and a record a full queue
   * cannot take is dropped and counted.
   */
  waitForRoom?: boolean;
}

/** Where relay hands each ended request; the promise is the writer's backpressure. */
export interface LedgerSink {
  record(entry: LedgerEntry, options?: RecordOptions): void | Promise<void>;
}
