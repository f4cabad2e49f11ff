import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { ConfigError } from "../config/errors.ts";
import { CONFIG_SEARCH, pathInConfig } from "../config/find.ts";
import { homeFolder } from "../util/home.ts";
import { resolveConfig } from "../config/resolve.ts";
import { configSchema } from "../config/schema.ts";
import { parseDuration } from "../config/units.ts";
import { ledgerPath } from "../ledger/open.ts";
import {
  USAGE_GROUPS,
  type UsageGroup,
  type UsageReport,
  usageReport,
  type UsageTotals,
} from "../ledger/query.ts";
import { LedgerStore } from "../ledger/store.ts";
import { cutToWidth, formatTable } from "../util/table.ts";
import { formatUsd } from "../util/usd.ts";
import { terminalSafeJson, visible } from "../util/visible.ts";
import { readFieldsDespite } from "../config/read_despite.ts";
import { terminalColour } from "./_colour.ts";
import { reportConfigError } from "./_config_error.ts";
import { fileErrorMessage } from "../util/error_message.ts";
import { fileInTheWay } from "../ledger/unwritable.ts";

/**
 * `relay usage`: totals from the ledger over a period, by model, provider, key or client. Reads the
 * database read-only, so it works while relay serves.
 */
export function usageCommand(setExitCode: (code: number) => void) {
  return new Command("usage")
    .description("totals from the usage ledger: requests, errors, tokens, cost, latency, cache hits")
    .option(
      "-c, --config <path>",
      `config file (default: ${CONFIG_SEARCH})`,
    )
    .option(
      "--since <when>",
      "start of the period, which has no end: a duration back from now (24h, 7d) or a UTC date " +
        "(YYYY-MM-DD)",
      _parseSince,
      "24h",
    )
    .addOption(
      new Option("--by <group>", "what to total by").choices(USAGE_GROUPS).default("model" as UsageGroup),
    )
    .option("--json", "print the report as JSON")
    .action(async (options) => setExitCode(await _usage(options)));
}

/**
 * The start of a `--since` period in wall-clock ms: `24h` or `7d` back from `now`, or a date
 * (`2026-11-01`, midnight UTC). Throws an `InvalidArgumentError` saying what is wrong with anything
 * else: not a duration or a real date, a time before 1970-01-01 (where the ledger's times start), or
 * a date that has not begun anywhere yet.
 *
 * @example
 * ```ts
 * parseSince("7d", Date.UTC(2026, 10, 8)); // Date.UTC(2026, 10, 1)
 * parseSince("2026-11-01", Date.now()); // Date.UTC(2026, 10, 1)
 * ```
 */
export function parseSince(value: string, now: number): number {
  const since = _since(value, now);
  if (since === undefined) {
    throw new InvalidArgumentError("expected a duration such as 24h or 7d, or a date such as 2026-11-01");
  }
  // A date is UTC, yet the user may mean their own: it is refused only once it is in the future in
  // every time zone, the earliest (UTC+14, Kiritimati) included, whatever zone this machine is in.
  if (since > now + _EARLIEST_ZONE_MS) {
    throw new InvalidArgumentError(
      `a date in the future: ${value} has not begun anywhere yet (a date is read as ${value} 00:00 UTC)`,
    );
  }
  return since;
}

/** How far ahead of UTC the earliest time zone is (UTC+14): where each date begins first. */
const _EARLIEST_ZONE_MS = 14 * 3_600_000;

function _since(value: string, now: number): number | undefined {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const time = Date.parse(`${value}T00:00:00Z`);
    // `Date.parse` rolls an impossible day over (2026-02-30 is 2026-03-02); only a real date reads back the same.
    if (Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== value) return undefined;
    if (time < 0) {
      throw new InvalidArgumentError("a date before 1970-01-01, where the ledger's times start");
    }
    return time;
  }
  const back = parseDuration(value);
  if (back === undefined) return undefined;
  // Before 1970 the ledger holds nothing, and far enough back a time has no four-digit year to print.
  if (!(back <= now)) {
    throw new InvalidArgumentError(
      "a duration that long reaches back past the earliest date: use a date such as 2026-11-01",
    );
  }
  return now - back;
}

// The flag's check: the value is kept as written and read against the clock when the report is made.
function _parseSince(value: string): string {
  parseSince(value, Date.now());
  return value;
}

async function _usage(
  options: { config?: string; since: string; by: UsageGroup; json?: boolean },
): Promise<number> {
  let path: string;
  let enabled: boolean;
  try {
    const ledger = await _ledgerSettings(options.config);
    path = ledgerPath(ledger.path, (name) => Deno.env.get(name));
    enabled = ledger.enabled;
  } catch (error) {
    return reportConfigError(error);
  }
  const now = Date.now();
  const since = parseSince(options.since, now);
  let store: LedgerStore;
  try {
    store = LedgerStore.open(path, { readOnly: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return _unreadable(path, error);
    console.error(
      enabled
        ? `no ledger at ${path} yet: relay serve creates it when it starts`
        : `no ledger at ${path}: it is off in this config (ledger.enabled: false)`,
    );
    return 1;
  }
  // An old ledger is still worth reading, but not taken for what this config records.
  if (!enabled) {
    console.error(
      `note: the ledger is off in this config (ledger.enabled: false): ${path} holds what relay recorded ` +
        "while it was on",
    );
  }
  let report: UsageReport;
  try {
    // No end: a record stamped after now (by a clock since set back) is still the period's.
    report = usageReport(store.database, { since, by: options.by, now });
  } catch (error) {
    // A file that opens may still fail to read: corrupt pages are found by the query that meets them.
    return _unreadable(path, error);
  } finally {
    store.close();
  }
  console.log(
    options.json ? terminalSafeJson(_json(report, path), 2) : formatUsage(report, path, _colours()),
  );
  return 0;
}

function _unreadable(path: string, error: unknown): number {
  console.error(
    `relay cannot read the ledger ${path}: ${fileInTheWay(path, error) ?? fileErrorMessage(error)}`,
  );
  return 1;
}

/**
 * `ledger.path` and `ledger.enabled` from the config relay would load. Of a file that does not load
 * only these two are read, the file's error printed as a note: a `${VAR}` this shell does not set
 * elsewhere (a client token's) is not the ledger's business. Throws the file's `ConfigError` when they
 * cannot be read.
 */
async function _ledgerSettings(flag: string | undefined): Promise<{ path?: string; enabled: boolean }> {
  try {
    const resolved = await resolveConfig({ flag, usesProviders: false });
    for (const warning of resolved.warnings) console.error(`warning: ${warning}`);
    return resolved.config.ledger;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const read = await readFieldsDespite(error);
    const ledger = configSchema.shape.ledger.unwrap().shape;
    const path = read(["ledger", "path"], ledger.path);
    const enabled = read(["ledger", "enabled"], ledger.enabled);
    if (path === undefined || enabled === undefined) throw error;
    console.error(
      `note: ${error.file} does not load, so relay usage read only ledger.path and ledger.enabled ` +
        `from it:\n${error.message}`,
    );
    // As loading the file would have read it; a `~` with no home is left for ledgerPath to refuse.
    const home = homeFolder((name) => Deno.env.get(name));
    const resolved = path.value === undefined
      ? undefined
      : pathInConfig(path.value, error.file, home) ?? path.value;
    return { path: resolved, enabled: enabled.value };
  }
}

/** `relay usage --json`: the report with snake_case fields and ISO times. */
function _json(report: UsageReport, path: string) {
  return {
    ledger: path,
    since: new Date(report.since).toISOString(),
    until: new Date(report.until).toISOString(),
    by: report.by,
    groups: report.groups.map(_snakeCase),
    total: _snakeCase(report.total),
  };
}

function _snakeCase(totals: UsageTotals): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(totals).map((
      [key, value],
    ) => [key.replace(/[A-Z]/g, (upper) => `_${upper.toLowerCase()}`), value]),
  );
}

/**
 * A cost that leaves requests out is marked, and one with nothing in it shows none: `$0.00` would say
 * they were free.
 */
function _cost(totals: UsageTotals): string {
  if (totals.unpriced === 0) return formatUsd(totals.costUsd);
  return totals.costUsd === 0 ? "-*" : `${formatUsd(totals.costUsd)}*`;
}

/** How `relay usage` highlights its table: identity functions when colour is off. */
export interface UsageColours {
  bold: (text: string) => string;
  red: (text: string) => string;
}

function _colours(): UsageColours {
  const colour = terminalColour();
  return { bold: colour(1), red: colour(31) };
}

/**
 * The report as `relay usage` prints it: what was read and when from, then a table with a row per
 * group and the total (a column of web searches when the period has any), and notes on requests
 * without a price or with estimated usage, when there are any.
 *
 * @example
 * ```ts
 * console.log(formatUsage(report, "/home/me/.local/share/relay/ledger.db"));
 * ```
 */
export function formatUsage(
  report: UsageReport,
  path: string,
  colours: UsageColours = { bold: (text) => text, red: (text) => text },
): string {
  // Only a period with web searches shows their column: most never use Anthropic's server tool.
  const searches = report.total.webSearches > 0;
  const header = [
    report.by.toUpperCase(),
    "REQUESTS",
    "ERRORS",
    "INPUT",
    "OUTPUT",
    "CACHE READ",
    "CACHE WRITE",
    "CACHE HIT",
    ...(searches ? ["SEARCHES"] : []),
    "COST",
    "TTFB P50/P95",
    "TIME P50/P95",
  ];
  const cells = (totals: UsageTotals, name: string) => [
    name,
    _count(totals.requests),
    totals.errors === 0 ? "0" : `${_count(totals.errors)} (${_percent(totals.errorRate)})`,
    _count(totals.inputTokens),
    _count(totals.outputTokens),
    _count(totals.cacheReadTokens),
    _count(totals.cacheWriteTokens),
    totals.cacheHitRatio === null ? "-" : _percent(totals.cacheHitRatio),
    ...(searches ? [_count(totals.webSearches)] : []),
    _cost(totals),
    `${_ms(totals.ttfbP50)}/${_ms(totals.ttfbP95)}`,
    `${_ms(totals.durationP50)}/${_ms(totals.durationP95)}`,
  ];
  const rows = [
    header,
    ...report.groups.map((group) => cells(group, group.name === null ? "(none)" : _shown(group.name))),
    cells(report.total, "total"),
  ];
  const table = formatTable(rows, {
    left: 1,
    ruleAbove: rows.length - 1,
    paint: (padded, row, column) => {
      if (row === 0) return colours.bold(padded);
      return column === 2 && rows[row][2] !== "0" ? colours.red(padded) : padded;
    },
  });
  const { unpriced, usageEstimated } = report.total;
  const notes = [
    ...(unpriced > 0
      ? [
        `* leaves out ${_requests(unpriced)} relay has no price for: a model without one, or fast mode ` +
        "without its fast multiple; add them under pricing in the config",
      ]
      : []),
    // Only a period with some: most upstreams report their usage, and most streams end.
    ...(usageEstimated > 0
      ? [
        `usage relay estimated for ${_requests(usageEstimated)}, in the totals above: the stream ended ` +
        "before the upstream reported it, or the upstream reports none (or no input)",
      ]
      : []),
  ];
  return [
    `ledger: ${path}`,
    `from ${_when(report.since)} to ${_when(report.until)}, by ${report.by}`,
    "",
    table,
    ...(notes.length > 0 ? ["", ...notes.map((note) => `note: ${note}`)] : []),
  ].join("\n");
}

// Wide enough for any model, provider, key or client name in use; a client can send a name of any
// length, which would otherwise widen every row for as long as it stays in the period.
const _NAME_COLUMNS = 48;

/** A name as its cell shows it: escaped where a terminal would act on it, and cut to `_NAME_COLUMNS`. */
function _shown(name: string): string {
  return cutToWidth(visible(name), _NAME_COLUMNS);
}

/** "1 request", "2 requests". */
function _requests(count: number): string {
  return `${_count(count)} ${count === 1 ? "request" : "requests"}`;
}

function _count(value: number): string {
  return value.toLocaleString("en-US");
}

function _percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

function _ms(value: number | null): string {
  if (value === null) return "-";
  return value < 1_000 ? `${value}ms` : `${(value / 1_000).toFixed(1)}s`;
}

function _when(time: number): string {
  return `${new Date(time).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
