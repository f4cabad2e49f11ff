import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { errorMessage } from "../util/error_message.ts";
import { followLinksSync } from "../util/follow_links.ts";
import type { Logger } from "../util/logger.ts";
import { LedgerBusyError } from "./busy.ts";
import type { LedgerRecord } from "./entry.ts";

/**
 * The schema, one migration a step; `PRAGMA user_version` says how many ran. Only ever append: a
 * database written by an older relay is brought up to date by the steps it has not seen, and an older
 * relay refuses a database with steps it has not seen. A new column goes in {@linkcode _ADDED_COLUMNS}
 * instead.
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

/**
 * Columns added since the steps, when a file lacks them, without a step: an older relay's inserts name
 * their columns, so it can go on writing the file (sharing it, or started again after a downgrade or a
 * failed upgrade), and a reader takes a missing one as NULL (`relay usage` of an archived ledger).
 */
const _ADDED_COLUMNS: readonly (readonly [name: string, type: string])[] = [
  // Rows written before it hold NULL: no search was counted then.
  ["web_search_requests", "INTEGER"],
  // 1 where the usage is relay's estimate; rows written before it hold NULL, as rows without usage do.
  ["usage_estimated", "INTEGER"],
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
  ["web_search_requests", (record) => record.usage && (record.usage.webSearches ?? 0)],
  ["usage_estimated", (record) => record.usage && (record.usageEstimated ? 1 : 0)],
];

export interface LedgerStoreOptions {
  /** For readers such as `relay usage`: no folder or file is created, nothing is written. */
  readOnly?: boolean;
  /** Where a writing store warns that it found its file removed or replaced and reopened it. */
  logger?: Logger;
}

/**
 * The ledger's SQLite database (`node:sqlite`): one `requests` row per request. Opened in WAL mode, so
 * `relay usage` reads while relay writes, and with `synchronous=NORMAL`, so a committed batch survives
 * a killed process (a power cut may lose the last few). The folder is created 0700 and the file kept
 * 0600: it holds usage metadata, never a secret. A writing store whose file is removed or replaced
 * while it is open opens, or creates, the file at its path again before the next batch; relays
 * sharing the file all move to the new one.
 *
 * @example
 * ```ts
 * const store = LedgerStore.open(`${Deno.env.get("HOME")}/.local/share/relay/ledger.db`);
 * store.insert([record]);
 * store.close();
 * ```
 */
export class LedgerStore {
  readonly path: string;
  readonly #readOnly: boolean;
  readonly #logger: Logger | undefined;
  #database: DatabaseSync;
  #insert: StatementSync | undefined;
  /** Asked after every batch a writer flushes (`data_version`) or reads back: prepared once per connection. */
  #dataVersionQuery!: StatementSync;
  #lastIdQuery!: StatementSync;
  /**
   * The file a writing store has open, to notice it removed or replaced at `path` (SQLite would go on
   * writing into the unlinked file, where every record is lost); `undefined` while none is.
   */
  #file: _FileId | undefined;
  /** The `-wal` and `-shm` of the file a writing store has open, to tell them from a new file's. */
  #sidecars: { path: string; id: _FileId }[] = [];
  /** SQLite's `data_version` when last asked; it moves only when another connection commits. */
  #dataVersion = 0;
  /**
   * Whether the file was found removed or replaced and not opened again since: a file relay cannot
   * open (garbage, a newer relay's, a folder it may not write) fails every batch until someone fixes
   * it, and saying so each time would bury the log.
   */
  #lost = false;

  /** `lock`: a writer's, on the file's folder, held; none for a reader. */
  private constructor(path: string, options: LedgerStoreOptions, lock: Deno.FsFile | undefined) {
    this.path = path;
    this.#readOnly = options.readOnly ?? false;
    this.#logger = options.logger;
    this.#database = this.#connect(lock);
    this.#dataVersion = this.#measure();
  }

  /**
   * Opens (creating it, unless read-only) the database at `path` and brings its schema up to date. A
   * writer throws {@linkcode LedgerBusyError} while another process holds the lock on the file's folder
   * (another relay opening it, `flock`, a backup tool); {@linkcode openWhenFree} waits for it.
   */
  static open(path: string, options: LedgerStoreOptions = {}): LedgerStore {
    return new LedgerStore(path, options, options.readOnly ? undefined : _lockFolderNow(path));
  }

  /**
   * Opens the database at `path` for writing as {@linkcode open} does, waiting off relay's thread while
   * another process holds the lock on its folder, and warning once (to `logger`) that it waits, and for
   * which folder.
   */
  static async openWhenFree(
    path: string,
    options: Omit<LedgerStoreOptions, "readOnly"> = {},
  ): Promise<LedgerStore> {
    return new LedgerStore(path, options, await _lockFolderWhenFree(path, options.logger));
  }

  /**
   * The open database, for the queries of `query.ts`; another one once the file was recreated. Closed
   * (`isOpen` false) while a file found removed or replaced could not be opened again: the next batch
   * tries again.
   */
  get database(): DatabaseSync {
    return this.#database;
  }

  /** Whether {@linkcode database} is open: not while a file found removed or replaced could not be opened again. */
  get isOpen(): boolean {
    return this.#database.isOpen;
  }

  /**
   * Writes `records` in one transaction: all of them or, on an error, none. If the file at `path` is
   * no longer the one open (removed or replaced), it is opened, or created, again first.
   */
  insert(records: readonly LedgerRecord[], { waitForLock = false }: { waitForLock?: boolean } = {}): void {
    if (this.#readOnly) throw new Error(`${this.path} is open read-only`);
    if (records.length === 0) return;
    if (this.#replaced()) {
      // Once a spell, at its first: the writer warns once too, with why the file would not open.
      this.#logger?.[this.#lost ? "debug" : "warn"]("ledger file was removed or replaced; reopening it", {
        path: this.path,
      });
      this.#lost = true;
      try {
        this.#reopen();
      } catch (error) {
        // Another process holding the folder's lock is waited out as another writer's lock on the file is.
        if (error instanceof LedgerBusyError) throw error;
        // SQLite's reason ("file is not a database") does not say which file.
        throw new Error(`cannot reopen ${this.path}: ${errorMessage(error)}`, { cause: error });
      }
      this.#lost = false;
    }
    const insert = this.#insert!;
    this.#begin(waitForLock);
    try {
      for (const record of records) {
        insert.run(..._COLUMNS.map(([, value]) => value(record) ?? null));
      }
      this.#database.exec("COMMIT");
    } catch (error) {
      _rollBack(this.#database);
      throw error;
    }
  }

  /**
   * Takes the file's write lock for a batch, or throws {@linkcode LedgerBusyError} at once while another
   * connection holds it (another relay sharing the file, a big retention prune): waiting for it here, on
   * relay's one thread, would stall every stream for as long. `waitForLock`: waits as opening does (relay
   * is stopping, and nothing is left to stall).
   */
  #begin(waitForLock: boolean): void {
    if (!waitForLock) this.#database.exec("PRAGMA busy_timeout = 0");
    try {
      this.#database.exec("BEGIN IMMEDIATE");
    } catch (error) {
      if (_isBusy(error)) throw new LedgerBusyError(this.path, { cause: error });
      throw error;
    } finally {
      if (!waitForLock) this.#database.exec(`PRAGMA busy_timeout = ${_WRITER_BUSY_MS}`);
    }
  }

  /**
   * Whether another connection (another relay sharing the file) has written to it since the last ask,
   * or since the file was opened (or opened again, removed under relay: a file just made holds nobody's
   * spend); this store's own writes do not count.
   */
  writtenByOthers(): boolean {
    const before = this.#dataVersion;
    this.#dataVersion = this.#measure();
    return this.#dataVersion !== before;
  }

  #measure(): number {
    return Number(this.#dataVersionQuery.get()?.data_version);
  }

  /** Deletes up to `limit` rows older than `time` (wall-clock ms); returns how many went. */
  deleteBefore(time: number, limit: number): number {
    const result = this.#database.prepare(
      "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE time < ? ORDER BY time LIMIT ?)",
    ).run(time, limit);
    return Number(result.changes);
  }

  /**
   * What each client spent from `since` to `until` (wall-clock ms, `until` excluded: a month), in USD,
   * for the monthly budgets; a row stamped later (by a clock since set back) is not this month's.
   * Costs are added up in whole billionths of a dollar, as `Pricing.cost` rounds them, so the total is
   * exact and the same as relay's own count of them.
   */
  costByClient({ since, until }: { since: number; until: number }): Map<string, number> {
    const rows = this.#database.prepare(
      "SELECT client, SUM(ROUND(cost_usd * 1e9)) / 1e9 AS cost FROM requests WHERE time >= ? AND " +
        "time < ? AND client IS NOT NULL GROUP BY client",
    ).all(since, until);
    return new Map(rows.map((row) => [String(row.client), Number(row.cost ?? 0)]));
  }

  /**
   * What each of `clients` spent from `since` to `until` in the rows after row `afterId`, in whole
   * billionths of a dollar, and the last row it read: a caller that keeps the totals reads each row once.
   */
  costByClientAfter(
    afterId: number,
    { since, until }: { since: number; until: number },
    clients: readonly string[],
  ): { lastId: number; nanos: Map<string, number> } {
    const lastId = Number(this.#lastIdQuery.get()?.id ?? 0);
    const rows = this.#database.prepare(
      "SELECT client, SUM(ROUND(cost_usd * 1e9)) AS nanos FROM requests WHERE id > ? AND id <= ? AND " +
        `time >= ? AND time < ? AND client IN (${clients.map(() => "?").join(", ")}) GROUP BY client`,
    ).all(afterId, lastId, since, until, ...clients);
    return { lastId, nanos: new Map(rows.map((row) => [String(row.client), Number(row.nanos ?? 0)])) };
  }

  close(): void {
    if (this.#database.isOpen) this.#database.close();
  }

  /**
   * Opens the file now at `path` in place of the one removed or replaced. The old file's `-wal` and
   * `-shm`, still at the path unless another relay sharing it removed them, are removed first: SQLite
   * would pair them with the new file, which would take the old one's pages from them and, while a
   * relay still has the old file open, share its `-shm` (writes of one then vanish in the other).
   */
  #reopen(): void {
    this.#database = this.#connect(_lockFolderNow(this.path), () => {
      // Asked while the old file is open: no new `-wal` or `-shm` can have the old ones' inodes yet.
      const stale = this.#sidecars.filter(({ path, id }) => _same(_idOf(path), id)).map(({ path }) => path);
      // SQLite neither empties the `-wal` into a moved file as it closes it nor deletes the sidecars: a
      // file renamed away (rotated, archived) would lose what its `-wal`, about to be removed, still holds.
      this.#checkpointOld();
      this.close();
      this.#sidecars = [];
      this.#file = undefined;
      return stale;
    });
    this.#dataVersion = this.#measure();
  }

  /**
   * Writes what the old file's `-wal` holds into the old file, as far as its readers let it (pages a
   * reader's snapshot still needs stay in the `-wal`): what is left is said, not lost unseen.
   */
  #checkpointOld(): void {
    if (!this.#database.isOpen) return;
    try {
      const result = this.#database.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get();
      const left = Number(result?.log ?? 0) - Number(result?.checkpointed ?? 0);
      if (left > 0) {
        this.#logger?.warn("ledger file moved with records its readers kept from it", {
          path: this.path,
          pages: left,
        });
      }
    } catch (error) {
      this.#logger?.warn("ledger file moved; its last records could not be written into it", {
        path: this.path,
        error: errorMessage(error),
      });
    }
  }

  /**
   * Opens the database at `path`, for writing under `lock` (the folder's, held), else for reading, and
   * prepares the queries asked of it again and again. A writer first lets go of the file it had open
   * (`letGoOfOld`, which says which sidecars at the path are that file's).
   */
  #connect(lock: Deno.FsFile | undefined, letGoOfOld: () => readonly string[] = () => []): DatabaseSync {
    const database = lock === undefined ? this.#openReader() : this.#openWriter(lock, letGoOfOld);
    this.#dataVersionQuery = database.prepare("PRAGMA data_version");
    this.#lastIdQuery = database.prepare("SELECT MAX(id) AS id FROM requests");
    return database;
  }

  /** Opens the file at `path` read-only, refusing one that is not an up-to-date relay ledger. */
  #openReader(): DatabaseSync {
    const { path } = this;
    if (Deno.statSync(path).isDirectory) throw new Error("it is a folder");
    let database: DatabaseSync | undefined;
    try {
      database = new DatabaseSync(path, { readOnly: true });
      database.exec("PRAGMA busy_timeout = 2000");
      // With one schema step, only a file no relay has written has fewer. (A second step must tell an
      // older ledger apart here, and say that `relay serve` brings it up to date and prunes it.)
      if (_version(database) < _MIGRATIONS.length) throw new Error(`${path} is not a relay ledger`);
      return database;
    } catch (error) {
      database?.close();
      // A ledger in WAL mode where this user may not write beside it (an archived copy, a snapshot): a
      // reader needs a `-shm` file there that SQLite cannot make or write. (SQLite's `immutable=1`, which
      // needs none, takes a URI that Deno's permission checks turn into a path.)
      if (!/attempt to write a readonly database/.test(errorMessage(error))) throw error;
      throw new Error(
        `SQLite needs to make or write ${path}-shm to read it, and this user may not: copy the file to a ` +
          "folder you may write, or run as its owner",
      );
    }
  }

  /**
   * Opens, or creates, the file at `path` for writing and prepares its insert, holding `lock` (the
   * folder's, let go of when done). Sidecars at the path are removed first when they cannot be the
   * file's: `letGoOfOld` says they are the old file's, or the file is new, so that they are a removed
   * file's, which another relay may still have open.
   */
  #openWriter(lock: Deno.FsFile, letGoOfOld: () => readonly string[]): DatabaseSync {
    using _lock = lock;
    const { path } = this;
    const stale = letGoOfOld();
    for (const sidecar of _create(path) ? _SIDECARS.map((suffix) => path + suffix) : stale) {
      _removeIfThere(sidecar);
    }
    Deno.chmodSync(path, 0o600);
    const database = new DatabaseSync(path);
    try {
      // Opening, migrating and pruning wait briefly for another writer rather than fail.
      database.exec(`PRAGMA busy_timeout = ${_WRITER_BUSY_MS}`);
      database.exec("PRAGMA journal_mode = WAL");
      database.exec("PRAGMA synchronous = NORMAL");
      _migrate(database);
      this.#insert = database.prepare(
        `INSERT INTO requests (${_COLUMNS.map(([name]) => name).join(", ")}) ` +
          `VALUES (${_COLUMNS.map(() => "?").join(", ")})`,
      );
      this.#file = _idOf(path);
      this.#sidecars = _SIDECARS.flatMap((suffix) => {
        const id = _idOf(path + suffix);
        return id ? [{ path: path + suffix, id }] : [];
      });
      return database;
    } catch (error) {
      database.close();
      throw error;
    }
  }

  /**
   * Whether the file at `path` is not the one open: gone, another file, or unknown since a reopen
   * failed. One stat a batch. While the database is open its file cannot be freed, so no new file
   * can have its device and inode.
   */
  #replaced(): boolean {
    return !_same(_idOf(this.path), this.#file);
  }
}

/** How long opening the file, migrating and pruning wait for another writer's lock. */
const _WRITER_BUSY_MS = 250;

/**
 * SQLite's `SQLITE_BUSY`: the lock is another connection's. `node:sqlite` gives no result code (only
 * `code: "ERR_SQLITE_ERROR"`), so SQLite's message for it is what tells.
 */
function _isBusy(error: unknown): boolean {
  return /database is locked/.test(String(error));
}

/** Where a file is on its device; equal for two paths only while both name the same file. */
type _FileId = { dev: number; ino: number | null };

/** The `-wal` and `-shm` SQLite keeps beside a database in WAL mode, found by the database's name. */
const _SIDECARS = ["-wal", "-shm"] as const;

/** The file at `path`, or `undefined` if none can be there: gone, or its folder is now something else. */
function _idOf(path: string): _FileId | undefined {
  try {
    const { dev, ino } = Deno.statSync(path);
    return { dev, ino };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return undefined;
    throw error;
  }
}

function _same(a: _FileId | undefined, b: _FileId | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/**
 * Creates the file at `path`, 0600; whether it was not there before. A link to a file that is not
 * there (yet, or any more) gets its file made where it points, as it would be were the path the file.
 */
function _create(path: string): boolean {
  if (_createNew(path)) return true;
  if (_exists(path)) return false;
  return _createNew(followLinksSync(path));
}

/** Creates the file at `path`, 0600, unless something is there: a file, or a link (to nothing, too). */
function _createNew(path: string): boolean {
  try {
    Deno.openSync(path, { createNew: true, write: true, mode: 0o600 }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
}

/** Whether `path` leads to something: a link to nothing does not. */
function _exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function _removeIfThere(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Opens the folder of the ledger at `path` (creating it 0700) and tries its exclusive lock, held until the
 * handle is closed: relays sharing the file open it one at a time, so that none removes the sidecars
 * another just made, nor migrates a new file another is migrating. Never waits: a process holding the
 * lock (another relay for milliseconds, `flock` or a backup tool for as long as it likes) would stall
 * relay's one thread, every stream and signal with it.
 */
function _tryLockFolder(path: string): { folder: string; handle: Deno.FsFile; locked: boolean } {
  const folder = dirname(path);
  Deno.mkdirSync(folder, { recursive: true, mode: 0o700 });
  const handle = Deno.openSync(folder);
  try {
    return { folder, handle, locked: handle.tryLockSync(true) };
  } catch (error) {
    handle.close();
    throw error;
  }
}

/** The lock on the folder of `path`, taken now, else {@linkcode LedgerBusyError}: tried again later. */
function _lockFolderNow(path: string): Deno.FsFile {
  const { folder, handle, locked } = _tryLockFolder(path);
  if (locked) return handle;
  handle.close();
  throw new LedgerBusyError(folder);
}

/**
 * The lock on the folder of `path`, waited for off relay's thread: Deno's `lock` waits on a thread of its
 * own, so streams, `/health` and signals go on meanwhile.
 */
async function _lockFolderWhenFree(path: string, logger: Logger | undefined): Promise<Deno.FsFile> {
  const { folder, handle, locked } = _tryLockFolder(path);
  if (locked) return handle;
  logger?.warn("ledger waiting for the lock on its folder", {
    folder,
    hint: "a relay opening the ledger holds it for milliseconds; a longer hold is another process's " +
      "(flock, a backup tool; lslocks names it), and the ledger opens once it lets go",
  });
  try {
    await handle.lock(true);
    return handle;
  } catch (error) {
    handle.close();
    throw error;
  }
}

function _version(database: DatabaseSync): number {
  return Number(database.prepare("PRAGMA user_version").get()?.user_version ?? 0);
}

function _migrate(database: DatabaseSync): void {
  if (_checkedVersion(database) === _MIGRATIONS.length && _missingColumns(database).length === 0) return;
  // Under the write lock, asked again: another relay opening the same new file may have run the steps since.
  database.exec("BEGIN IMMEDIATE");
  try {
    for (let step = _checkedVersion(database); step < _MIGRATIONS.length; step++) {
      database.exec(_MIGRATIONS[step]);
    }
    database.exec(`PRAGMA user_version = ${_MIGRATIONS.length}`);
    for (const [name, type] of _missingColumns(database)) {
      database.exec(`ALTER TABLE requests ADD COLUMN ${name} ${type}`);
    }
    database.exec("COMMIT");
  } catch (error) {
    _rollBack(database);
    throw error;
  }
}

function _missingColumns(database: DatabaseSync): (readonly [string, string])[] {
  const present = _columnsOf(database);
  return _ADDED_COLUMNS.filter(([name]) => !present.has(name));
}

/**
 * The columns added since the schema's steps, as a select list over the `requests` table of `database`:
 * each one it lacks (a ledger an older relay wrote, and no relay has opened since) as NULL under its name.
 *
 * @example
 * ```ts
 * addedColumnsSelect(store.database); // "web_search_requests, usage_estimated"
 * addedColumnsSelect(archived.database); // "web_search_requests, NULL AS usage_estimated"
 * ```
 */
export function addedColumnsSelect(database: DatabaseSync): string {
  const present = _columnsOf(database);
  return _ADDED_COLUMNS.map(([name]) => present.has(name) ? name : `NULL AS ${name}`).join(", ");
}

/** The names of the columns the `requests` table of `database` has. */
function _columnsOf(database: DatabaseSync): Set<string> {
  return new Set(database.prepare("PRAGMA table_info(requests)").all().map((row) => String(row.name)));
}

/** Why a ledger at schema `version` cannot be used here: a newer relay wrote it. */
export function newerSchema(version: number): string | undefined {
  return version > _MIGRATIONS.length
    ? `the ledger was written by a newer relay (schema ${version}, this one knows ${_MIGRATIONS.length})`
    : undefined;
}

/** The schema version of `database`, which this relay must know. */
function _checkedVersion(database: DatabaseSync): number {
  const version = _version(database);
  const newer = newerSchema(version);
  if (newer !== undefined) throw new Error(newer);
  return version;
}

/**
 * Rolls back the transaction a failed statement left open. SQLite has already rolled back on some
 * errors (a full disk, an I/O error), where a `ROLLBACK` would throw and hide the error that matters.
 */
function _rollBack(database: DatabaseSync): void {
  if (database.isTransaction) database.exec("ROLLBACK");
}
