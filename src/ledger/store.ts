import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import type { LedgerRecord } from "./entry.ts";

/**
 * The schema, one migration a step; `PRAGMA user_version` says how many ran. Only ever append: a
 * database written by an older relay is brought up to date by the steps it has not seen.
 */
const _MIGRATIONS: readonly string[] = [
  `CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    client TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    model TEXT,
    upstream_model TEXT,
    provider TEXT,
    key_id TEXT,
    key_label TEXT,
    status INTEGER,
    outcome TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    ttfb_ms INTEGER,
    duration_ms INTEGER NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER,
    cost_usd REAL
  );
  CREATE INDEX requests_time ON requests (time);
  CREATE INDEX requests_client_time ON requests (client, time);`,
];

/** Each column and where its value comes from, in the order the insert binds them. */
const _COLUMNS: readonly (readonly [string, (record: LedgerRecord) => SQLInputValue | undefined])[] = [
  ["time", (record) => record.time],
  ["request_id", (record) => record.requestId],
  ["client", (record) => record.client],
  ["method", (record) => record.method],
  ["path", (record) => record.path],
  ["model", (record) => record.model],
  ["upstream_model", (record) => record.upstreamModel],
  ["provider", (record) => record.provider],
  ["key_id", (record) => record.keyId],
  ["key_label", (record) => record.keyLabel],
  ["status", (record) => record.status],
  ["outcome", (record) => record.outcome],
  ["attempts", (record) => record.attempts],
  ["ttfb_ms", (record) => record.ttfbMs],
  ["duration_ms", (record) => record.durationMs],
  ["input_tokens", (record) => record.usage?.input],
  ["output_tokens", (record) => record.usage?.output],
  ["cache_read_tokens", (record) => record.usage?.cacheRead],
  ["cache_write_tokens", (record) => record.usage?.cacheWrite],
  ["cost_usd", (record) => record.costUsd],
];

export interface LedgerStoreOptions {
  /** For readers such as `relay usage`: no folder or file is created, nothing is written. */
  readOnly?: boolean;
}

/**
 * The ledger's SQLite database (`node:sqlite`): one `requests` row per request. Opened in WAL mode, so
 * `relay usage` reads while relay writes, and with `synchronous=NORMAL`, so a committed batch survives
 * a killed process (a power cut may lose the last few). The folder is created 0700 and the file kept
 * 0600: it holds usage metadata, never a secret.
 *
 * @example
 * ```ts
 * const store = LedgerStore.open(`${Deno.env.get("HOME")}/.local/share/relay/ledger.db`);
 * store.insert([record]);
 * store.close();
 * ```
 */
export class LedgerStore {
  /** The open database, for the queries of `query.ts`. */
  readonly database: DatabaseSync;
  readonly path: string;
  readonly #insert: StatementSync | undefined;

  private constructor(path: string, database: DatabaseSync, readOnly: boolean) {
    this.path = path;
    this.database = database;
    this.#insert = readOnly ? undefined : database.prepare(
      `INSERT INTO requests (${_COLUMNS.map(([name]) => name).join(", ")}) ` +
        `VALUES (${_COLUMNS.map(() => "?").join(", ")})`,
    );
  }

  /** Opens (creating it, unless read-only) the database at `path` and brings its schema up to date. */
  static open(path: string, options: LedgerStoreOptions = {}): LedgerStore {
    const readOnly = options.readOnly ?? false;
    if (readOnly) {
      Deno.statSync(path);
    } else {
      Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      Deno.openSync(path, { create: true, write: true, mode: 0o600 }).close();
      Deno.chmodSync(path, 0o600);
    }
    const database = new DatabaseSync(path, { readOnly });
    try {
      // Writes wait briefly for another writer rather than fail; a reader never waits on WAL.
      database.exec(`PRAGMA busy_timeout = ${readOnly ? 2_000 : 250}`);
      if (!readOnly) {
        database.exec("PRAGMA journal_mode = WAL");
        database.exec("PRAGMA synchronous = NORMAL");
        _migrate(database);
      } else if (_version(database) < _MIGRATIONS.length) {
        throw new Error(`${path} is not a relay ledger, or is older than this relay (run relay serve once)`);
      }
      return new LedgerStore(path, database, readOnly);
    } catch (error) {
      database.close();
      throw error;
    }
  }

  /** Writes `records` in one transaction: all of them or, on an error, none. */
  insert(records: readonly LedgerRecord[]): void {
    if (!this.#insert) throw new Error(`${this.path} is open read-only`);
    if (records.length === 0) return;
    this.database.exec("BEGIN");
    try {
      for (const record of records) {
        this.#insert.run(..._COLUMNS.map(([, value]) => value(record) ?? null));
      }
      this.database.exec("COMMIT");
    } catch (error) {
      this.database.exec("ROLLBACK");
      throw error;
    }
  }

  /** Deletes up to `limit` rows older than `time` (wall-clock ms); returns how many went. */
  deleteBefore(time: number, limit: number): number {
    const result = this.database.prepare(
      "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE time < ? ORDER BY time LIMIT ?)",
    ).run(time, limit);
    return Number(result.changes);
  }

  /** What each client spent since `time` (wall-clock ms), in USD, for the monthly budgets. */
  costByClientSince(time: number): Map<string, number> {
    const rows = this.database.prepare(
      "SELECT client, SUM(cost_usd) AS cost FROM requests WHERE time >= ? AND client IS NOT NULL GROUP BY client",
    ).all(time);
    return new Map(rows.map((row) => [String(row.client), Number(row.cost ?? 0)]));
  }

  close(): void {
    if (this.database.isOpen) this.database.close();
  }
}

function _version(database: DatabaseSync): number {
  return Number(database.prepare("PRAGMA user_version").get()?.user_version ?? 0);
}

function _migrate(database: DatabaseSync): void {
  const from = _version(database);
  if (from > _MIGRATIONS.length) {
    throw new Error(
      `the ledger was written by a newer relay (schema ${from}, this one knows ${_MIGRATIONS.length})`,
    );
  }
  for (let step = from; step < _MIGRATIONS.length; step++) {
    database.exec("BEGIN");
    try {
      database.exec(_MIGRATIONS[step]);
      database.exec(`PRAGMA user_version = ${step + 1}`);
      database.exec("COMMIT");
    } catch (error) {
      database.exec("ROLLBACK");
      throw error;
    }
  }
}
