import { Command } from "@commander-js/extra-typings";
import { SWITCHED_OFF } from "../routing/router.ts";
import type { AdminStatus } from "../server/admin/status.ts";
import { isJsonObject } from "../util/json.ts";
import { formatTable } from "../util/table.ts";
import { formatUsd } from "../util/usd.ts";
import { terminalSafeJson, visible } from "../util/visible.ts";
import { terminalColour } from "./_colour.ts";
import { reportConfigError } from "./_config_error.ts";
import { AdminClientError, adminRequest } from "./_admin_client.ts";
import { CONFIG_SEARCH } from "../config/find.ts";

/**
 * `relay status`: the running relay's state from its admin API (`GET /admin/status`): config version
 * and last reload error, load, and every provider and key with its breaker and pool. Tables, coloured
 * on a terminal; `--json` for scripts.
 */
export function statusCommand(setExitCode: (code: number) => void) {
  return new Command("status")
    .description("show the running relay's providers, keys, breakers, clients, load and config version")
    .option(
      "-c, --config <path>",
      `config file with server.admin.token (default: ${CONFIG_SEARCH})`,
    )
    .option("--url <url>", "the running relay, when not where the config says (e.g. http://127.0.0.1:9000)")
    .option("--json", "print the status as JSON")
    .action(async (options) => {
      try {
        const { body, configError } = await adminRequest(options, "GET", "/status", {
          despiteConfigError: true,
          isAnswer: _isStatus,
        });
        if (configError) {
          console.error(
            `note: ${configError.file} does not load, so relay status read only what it needs from it ` +
              `(the admin token${options.url ? "" : ", host and port"}):\n${configError.message}`,
          );
        }
        const status = body as unknown as AdminStatus;
        console.log(
          options.json ? terminalSafeJson(status, 2) : formatStatus(status, Date.now(), _colours()),
        );
      } catch (error) {
        if (!(error instanceof AdminClientError)) return setExitCode(reportConfigError(error));
        console.error(error.message);
        setExitCode(1);
      }
    });
}

/** How `relay status` colours its tables: identity functions when colour is off. */
export interface StatusColours {
  green: (text: string) => string;
  yellow: (text: string) => string;
  red: (text: string) => string;
  bold: (text: string) => string;
}

const _PLAIN: StatusColours = { green: _same, yellow: _same, red: _same, bold: _same };

/**
 * The status as `relay status` prints it: a summary, then a table of providers, one of keys and, when
 * relay has named clients, one of clients.
 *
 * @example
 * ```ts
 * console.log(formatStatus(status, Date.now()));
 * // relay 0.1.0, up 2h 5m; config version 3 (/home/me/relay.yaml), loaded 12m ago
 * // ...
 * ```
 */
export function formatStatus(status: AdminStatus, now: number, colours: StatusColours = _PLAIN): string {
  const { config, server } = status;
  // Spans as relay measured them; a relay of an earlier version gives only dates, read against `now`.
  const since = (ms: number | undefined, iso: string) => _duration(ms ?? now - Date.parse(iso));
  const lines = [
    `relay ${status.relay_version}, up ${since(status.uptime_ms, status.started_at)}; ` +
    `config version ${config.version} (${visible(config.path ?? "built-in defaults")}), ` +
    `loaded ${since(config.loaded_ago_ms, config.loaded_at)} ago`,
    `load: ${server.in_flight} in flight, ${server.queued} queued, ${server.exchanges} upstream exchanges`,
    ..._ledgerLines(status.ledger, colours),
  ];
  // A relay of an earlier version (upgraded, not restarted yet) does not say.
  const pending = config.needs_restart ?? [];
  if (pending.length > 0) lines.push(colours.yellow(`needs a restart to apply: ${pending.join(", ")}`));
  if (config.last_error) {
    const { at, ago_ms, reason, error } = config.last_error;
    lines.push(
      colours.red(
        `last reload failed ${since(ago_ms, at)} ago (${visible(reason)}); the config above keeps serving:`,
      ),
    );
    lines.push(..._indented(error));
  }
  const state = (enabled: boolean, why?: string | null) =>
    enabled ? "on" : why && why !== SWITCHED_OFF ? `off: ${why}` : "off";
  const providers = [
    ["PROVIDER", "TYPE", "STATE", "BREAKER", "IN FLIGHT", "KEYS"],
    ...status.providers.map((p) => [
      p.name,
      p.type,
      state(p.enabled),
      _breaker(p, now),
      p.max_in_flight === null ? `${p.in_flight}` : `${p.in_flight}/${p.max_in_flight}`,
      p.keys.length === 0 ? "-" : `${p.keys.filter((key) => key.enabled).length}/${p.keys.length} on`,
    ]),
  ];
  const keys = [
    ["PROVIDER", "KEY", "STATE", "BREAKER", "USED", "COOLING", "RESETS"],
    ...status.providers.flatMap((p) =>
      p.keys.map((key) => [
        p.name,
        `${key.index} ${key.label}`,
        state(key.enabled, key.disabled_reason),
        _breaker(key, now),
        _spent(key.saturation),
        key.cooling_until ? `${_duration(Date.parse(key.cooling_until) - now)}` : "-",
        // A key with no limits still counts its requests in a window that ends: nothing spent, nothing to reset.
        key.resets_at && key.saturation > 0 ? `in ${_duration(Date.parse(key.resets_at) - now)}` : "-",
      ])
    ),
  ];
  const paint =
    (table: string[][], stateColumn: number, breakerColumn: number) =>
    (cell: string, row: number, column: number) => {
      if (row === 0) return colours.bold(cell);
      if (column === stateColumn) {
        return table[row][column] === "on" ? colours.green(cell) : colours.red(cell);
      }
      if (column !== breakerColumn) return cell;
      const breaker = table[row][column];
      return breaker.startsWith("closed")
        ? colours.green(cell)
        : breaker.startsWith("half_open") || breaker.endsWith("(probing)")
        ? colours.yellow(cell)
        : colours.red(cell);
    };
  // Key names come from the config and reasons from upstreams: every cell is escaped, not just those.
  const table = (rows: string[][]) => {
    const shown = rows.map((row) => row.map(visible));
    return formatTable(shown, { left: 4, paint: paint(shown, 2, 3) });
  };
  lines.push("", table(providers));
  if (keys.length > 1) lines.push("", table(keys));
  lines.push(..._refusedLines(status.providers, now, colours));
  // A relay of an earlier version does not say.
  const clients = status.clients ?? [];
  if (clients.length > 0) lines.push("", _clientTable(clients, colours));
  return lines.join("\n");
}

/**
 * The models upstreams refused a key, or a provider without keys, lately (403), then those it is at
 * its rate limit for where its upstream limits each model apart (a 429), one line each: the key serves
 * every other model meanwhile. A relay of an earlier version does not say.
 */
function _refusedLines(providers: AdminStatus["providers"], now: number, colours: StatusColours): string[] {
  const held = (field: "refused_models" | "cooled_models", what: (model: string) => string) =>
    providers.flatMap((p) => [
      ...(p[field] ?? []).map((hold) => ({ who: p.name, what: what(hold.model), until: hold.until })),
      ...p.keys.flatMap((key) =>
        (key[field] ?? []).map((hold) => ({
          who: `${p.name} ${key.index} ${key.label}`,
          what: what(hold.model),
          until: hold.until,
        }))
      ),
    ]);
  const lines = [
    ...held("refused_models", (model) => `refused ${model} by its upstream (403)`),
    ...held("cooled_models", (model) => `at its rate limit for ${model} (429; other models are served)`),
  ];
  if (lines.length === 0) return [];
  return [
    "",
    ...lines.map(({ who, what, until }) =>
      colours.yellow(
        visible(
          `${who}: ${what}; asked again ` +
            (until === null ? "later" : `in ${_duration(Date.parse(until) - now)}`),
        ),
      )
    ),
  ];
}

/**
 * The clients' table: limits and how spent they are; a budget that is spent in red, one that only
 * requests in flight stand between and the limit in yellow (new requests wait for them: 429).
 */
function _clientTable(clients: AdminStatus["clients"], colours: StatusColours): string {
  const window = (limit: { limit: number; saturation: number } | null) =>
    limit ? `${_spent(limit.saturation)} of ${limit.limit.toLocaleString("en-US")}` : "-";
  const rows = [
    ["CLIENT", "MODELS", "RPM", "TPM", "SPENT THIS MONTH", "HELD", "BUDGET"],
    ...clients.map((client) => [
      client.name,
      client.models ? client.models.join(", ") : "any",
      window(client.rpm),
      window(client.tpm),
      formatUsd(client.spent_usd),
      client.monthly_budget_usd === null ? "-" : formatUsd(client.held_usd),
      client.monthly_budget_usd === null ? "-" : formatUsd(client.monthly_budget_usd),
    ]),
  ];
  const budgetColour = (
    { monthly_budget_usd: budget, spent_usd, held_usd }: AdminStatus["clients"][number],
  ) =>
    budget === null
      ? _same
      : spent_usd >= budget
      ? colours.red
      : spent_usd + held_usd >= budget
      ? colours.yellow
      : _same;
  return formatTable(rows.map((row) => row.map(visible)), {
    left: 2,
    paint: (cell, row, column) =>
      row === 0 ? colours.bold(cell) : column >= 4 ? budgetColour(clients[row - 1])(cell) : cell,
  });
}

/**
 * The ledger's line: its state and counts, coloured unless it is `ok`, and why the last write failed.
 * Nothing for a relay of an earlier version, which does not say.
 */
function _ledgerLines(ledger: AdminStatus["ledger"] | undefined, colours: StatusColours): string[] {
  if (!ledger) return [];
  if (!ledger.enabled) return ["ledger: off (usage is not recorded)"];
  const { state, error, written_total, pending, dropped_total } = ledger;
  const counts = `${written_total} record${written_total === 1 ? "" : "s"} written, ${pending} pending` +
    (dropped_total > 0 ? `, ${dropped_total} dropped` : "");
  const file = visible(ledger.path);
  if (state === "ok") return [`ledger: ok; ${counts} (${file})`];
  const paint = state === "locked" ? colours.yellow : colours.red;
  return [
    paint(`ledger: ${state} for ${_duration(ledger.for_ms)}; ${counts} (${file})` + (error ? ":" : "")),
    ...(error ? _indented(error) : []),
  ];
}

/** `text`'s lines, indented under the line that introduces them, anything a terminal acts on escaped. */
function _indented(text: string): string[] {
  return text.split("\n").map((line) => `  ${visible(line)}`);
}

/** Whether `body` has the parts of an {@linkcode AdminStatus} that `relay status` reads. */
function _isStatus(body: Record<string, unknown>): boolean {
  return typeof body.relay_version === "string" && isJsonObject(body.config) && isJsonObject(body.server) &&
    Array.isArray(body.providers);
}

function _colours(): StatusColours {
  const colour = terminalColour();
  return { green: colour(32), yellow: colour(33), red: colour(31), bold: colour(1) };
}

function _same(text: string): string {
  return text;
}

/** How spent a window is, in whole percents; one with anything in it never reads 0%, which says empty. */
function _spent(saturation: number): string {
  const percent = Math.round(saturation * 100);
  return percent === 0 && saturation > 0 ? "<1%" : `${percent}%`;
}

/** A breaker's state and what comes next: its probe out now, or when it lets one through. */
function _breaker(
  holder: { breaker: string; probing?: boolean; retry_at?: string | null },
  now: number,
): string {
  if (holder.probing) return `${holder.breaker} (probing)`;
  return holder.retry_at
    ? `${holder.breaker} (probe in ${_duration(Date.parse(holder.retry_at) - now)})`
    : holder.breaker;
}

/** A span in its two largest units: `42s`, `3m 5s`, `2h 5m`, `3d 4h`. */
function _duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const units: [number, string][] = [[86_400, "d"], [3_600, "h"], [60, "m"], [1, "s"]];
  const parts: string[] = [];
  let rest = seconds;
  for (const [size, unit] of units) {
    if (rest >= size || (unit === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}
