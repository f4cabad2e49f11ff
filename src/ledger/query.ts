import type { DatabaseSync } from "node:sqlite";
import { addedColumnsSelect } from "./store.ts";

/** What `relay usage` can total by. */
export const USAGE_GROUPS = ["model", "provider", "key", "client"] as const;
export type UsageGroup = typeof USAGE_GROUPS[number];

/** The totals of one group (one model, provider, key or client) over a period. */
export interface UsageTotals {
  /** The model, provider, key (masked label and fingerprint) or client; `null` where none applied. */
  name: string | null;
  requests: number;
  /** Requests that ended in an error relay or the upstream gave: every outcome but `complete` and `client_closed`. */
  errors: number;
  errorRate: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Web search requests (Anthropic's server tool), priced apart from tokens and included in `costUsd`. */
  webSearches: number;
  costUsd: number;
  /** Requests with token usage but no price for their model: their cost is not in `costUsd`. */
  unpriced: number;
  /**
   * Requests whose usage is relay's estimate, in the tokens and cost above: their upstream reported
   * none, or their stream ended before its final usage.
   */
  usageEstimated: number;
  /** Cache reads over all input (input, cache reads and writes); `null` without input. */
  cacheHitRatio: number | null;
  /** Nearest-rank percentiles in ms; `null` when no request of the group has one. */
  ttfbP50: number | null;
  ttfbP95: number | null;
  durationP50: number | null;
  durationP95: number | null;
}

export interface UsageReport {
  /**
   * Wall-clock ms: the period is `since` (inclusive) to `until` (exclusive). A period given no end
   * ends now, or after its latest record if that is later (stamped by a clock since set back).
   */
  since: number;
  until: number;
  by: UsageGroup;
  /** One row a group, the costliest first. */
  groups: UsageTotals[];
  total: UsageTotals;
}

const _GROUP_COLUMNS: Record<UsageGroup, string> = {
  model: "model",
  provider: "provider",
  // The label alone can be shared by two keys (same last four characters); the fingerprint cannot. A
  // key's label changes with its name: the latest names all its rows.
  key: "LAST_VALUE(key_label) OVER (PARTITION BY key_id ORDER BY id " +
    "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) || ' ' || key_id",
  client: "client",
};

/**
 * Totals the ledger's requests from `since` (to `until`, if given) by model, provider, key or client:
 * requests, errors, tokens, web searches, cost, requests with estimated usage, cache hit ratio and
 * p50/p95 of time to first byte and of duration, all computed in SQLite, so a long period never loads
 * its rows into relay.
 *
 * @example
 * ```ts
 * const store = LedgerStore.open(path, { readOnly: true });
 * const report = usageReport(store.database, { since: Date.now() - 86_400_000, by: "model" });
 * report.total.costUsd; // 12.34
 * ```
 */
export function usageReport(
  database: DatabaseSync,
  options: {
    since: number;
    until?: number;
    by: UsageGroup;
    /** Wall-clock ms, `Date.now()` unless given: where a period without `until` ends at the earliest. */
    now?: number;
  },
): UsageReport {
  const until = options.until ?? _end(database, options.since, options.now ?? Date.now());
  const period = [options.since, until] as const;
  const added = addedColumnsSelect(database);
  const groups = _totals(database, _GROUP_COLUMNS[options.by], added, period);
  const [total] = _totals(database, "NULL", added, period);
  return { since: options.since, until, by: options.by, groups, total: total ?? _toTotals({}) };
}

/**
 * Where a period from `since` with no end of its own ends: `now`, or just after its latest record when
 * that is later (the clock was set back since it was written), but never before it starts.
 */
function _end(database: DatabaseSync, since: number, now: number): number {
  const latest = latestTime(database, since);
  return Math.max(now, since, latest === undefined ? 0 : latest + 1);
}

/** The time of the ledger's latest record from `since` on (wall-clock ms), or `undefined` when none. */
export function latestTime(database: DatabaseSync, since = 0): number | undefined {
  const latest = database.prepare("SELECT MAX(time) AS time FROM requests WHERE time >= ?").get(since)?.time;
  return latest == null ? undefined : Number(latest);
}

function _totals(
  database: DatabaseSync,
  group: string,
  added: string,
  period: readonly [number, number],
): UsageTotals[] {
  // Ranks among the group's rows put each percentile at the nearest rank: the smallest value whose
  // rank is at least q * n. Requests without a time to first byte sort last and are not counted.
  const rows = database.prepare(`
    WITH period AS (
      SELECT ${group} AS name, outcome, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
        ${added}, cost_usd, ttfb_ms, duration_ms
      FROM requests WHERE time >= ? AND time < ?
    ),
    ranked AS (
      SELECT *,
        ROW_NUMBER() OVER (PARTITION BY name ORDER BY ttfb_ms IS NULL, ttfb_ms) AS ttfb_rank,
        COUNT(ttfb_ms) OVER (PARTITION BY name) AS ttfb_count,
        ROW_NUMBER() OVER (PARTITION BY name ORDER BY duration_ms) AS duration_rank,
        COUNT(*) OVER (PARTITION BY name) AS count
      FROM period
    )
    SELECT name,
      COUNT(*) AS requests,
      SUM(outcome NOT IN ('complete', 'client_closed')) AS errors,
      TOTAL(input_tokens) AS input_tokens,
      TOTAL(output_tokens) AS output_tokens,
      TOTAL(cache_read_tokens) AS cache_read_tokens,
      TOTAL(cache_write_tokens) AS cache_write_tokens,
      TOTAL(web_search_requests) AS web_search_requests,
      TOTAL(cost_usd) AS cost_usd,
      SUM(cost_usd IS NULL AND input_tokens IS NOT NULL) AS unpriced,
      TOTAL(usage_estimated) AS usage_estimated,
      MIN(CASE WHEN ttfb_rank <= ttfb_count AND ttfb_rank * 100 >= 50 * ttfb_count THEN ttfb_ms END) AS ttfb_p50,
      MIN(CASE WHEN ttfb_rank <= ttfb_count AND ttfb_rank * 100 >= 95 * ttfb_count THEN ttfb_ms END) AS ttfb_p95,
      MIN(CASE WHEN duration_rank * 100 >= 50 * count THEN duration_ms END) AS duration_p50,
      MIN(CASE WHEN duration_rank * 100 >= 95 * count THEN duration_ms END) AS duration_p95
    FROM ranked GROUP BY name ORDER BY cost_usd DESC, requests DESC, name
  `).all(...period);
  return rows.map(_toTotals);
}

/** One result row as totals; an empty row gives the totals of nothing. */
function _toTotals(row: Record<string, unknown>): UsageTotals {
  const number = (column: string) => Number(row[column] ?? 0);
  const maybe = (column: string) => (row[column] == null ? null : Number(row[column]));
  const requests = number("requests");
  const input = number("input_tokens") + number("cache_read_tokens") + number("cache_write_tokens");
  return {
    name: row.name == null ? null : String(row.name),
    requests,
    errors: number("errors"),
    errorRate: requests === 0 ? 0 : number("errors") / requests,
    inputTokens: number("input_tokens"),
    outputTokens: number("output_tokens"),
    cacheReadTokens: number("cache_read_tokens"),
    cacheWriteTokens: number("cache_write_tokens"),
    webSearches: number("web_search_requests"),
    costUsd: Math.round(number("cost_usd") * 1e9) / 1e9,
    unpriced: number("unpriced"),
    usageEstimated: number("usage_estimated"),
    cacheHitRatio: input === 0 ? null : number("cache_read_tokens") / input,
    ttfbP50: maybe("ttfb_p50"),
    ttfbP95: maybe("ttfb_p95"),
    durationP50: maybe("duration_p50"),
    durationP95: maybe("duration_p95"),
  };
}
