import { realTimers, type Timers } from "../util/timers.ts";
import type { LogFields, Logger } from "../util/logger.ts";
import type { LedgerRecord, RecordOptions } from "./entry.ts";
import { LedgerBusyError } from "./busy.ts";
import { errorMessage } from "../util/error_message.ts";

export interface LedgerWriterOptions {
  /**
   * Writes one batch: all of it, or nothing and throws (`LedgerStore.insert`). `last`: the batch is
   * written as relay stops, when waiting out another writer's lock stalls nothing.
   */
  write: (records: readonly LedgerRecord[], last: boolean) => void;
  /** Most records held for the next batch (`ledger.queue_size`); more wait for room, or are dropped. */
  queueSize: number;
  /** Longest a record is held before its batch is written (`ledger.flush_interval`). */
  flushIntervalMs: number;
  logger: Logger;
  /** The global timers unless given; tests fire them by hand. */
  timers?: Timers;
  /** Monotonic ms, when the state changed (`performance.now` unless given): no clock step moves it. */
  now?: () => number;
}

/**
 * The least a failed batch waits before it is tried again: with `ledger.flush_interval: 0` (each
 * record written at once) a lock held for seconds would otherwise be tried in a loop, taking relay's
 * thread from its streams.
 */
export const MIN_RETRY_MS = 100;

/**
 * How writing goes: `ok` while batches go in, `locked` while another writer's lock holds them back (on
 * the file, or on its folder while a file removed or replaced is reopened), `failing` while the database
 * refuses them (a full disk, a file it cannot reopen).
 */
export type LedgerState = "ok" | "locked" | "failing";

/** What {@linkcode LedgerWriter.health} tells, for the admin status and `/metrics`. */
export interface LedgerHealth {
  state: LedgerState;
  /** Why the last try failed, while the state is not `ok`. */
  error: string | undefined;
  /** When the state began, on the writer's monotonic clock (`now`); its start for a writer always `ok`. */
  since: number;
  /** Records held for the next batch, and those waiting for room in it. */
  pending: number;
  /** Records written so far. */
  written: number;
  /** Records lost so far. */
  dropped: number;
}

/**
 * Takes records off the request path and writes them in batches, one transaction each: a batch goes
 * `flushIntervalMs` after the first record of it arrived, or at once when the queue is full.
 *
 * It never drops a record a caller waits for: while the queue is full, {@linkcode record} returns a
 * promise that resolves only once its record is queued, which is the backpressure relay passes on (a
 * request's slot is held until its record is in, so at most `server.max_concurrent` records wait). A
 * caller that does not wait (relay's own answers, which hold no slot) has its record queued, the queue
 * written at once if full, or dropped while a full queue cannot be written (locked, failing). Records
 * are also dropped when the database refuses a batch while others wait for room, arrive after
 * {@linkcode close}, or are still held when the last write at `close` fails; `dropped` counts them all
 * and a warning says so (for records no one waited for, once a spell of failed tries). A failed batch
 * with nobody waiting is kept and tried again.
 *
 * @example
 * ```ts
 * const writer = new LedgerWriter({ write: (batch) => store.insert(batch), queueSize: 10_000, flushIntervalMs: 1_000, logger });
 * await writer.record(record); // at once, unless the queue is full
 * await writer.close(); // writes everything still held
 * ```
 */
export class LedgerWriter {
  readonly #options: LedgerWriterOptions;
  readonly #timers: Timers;
  readonly #now: () => number;
  #queue: LedgerRecord[] = [];
  readonly #waiting: { record: LedgerRecord; queued: () => void }[] = [];
  #timer: { handle: unknown; ms: number } | undefined;
  #closed = false;
  #written = 0;
  #dropped = 0;
  /** The warning of the spell of failed tries under way; `undefined` while batches go in. */
  #spell: string | undefined;
  /** Records no one waited for dropped since a batch last went in: warned about at the first only. */
  #droppedUnwaited = 0;
  /**
   * The state the last try left, which the admin status and `/metrics` read: unlike `#spell`, which
   * paces the warnings, a batch dropped with callers waiting is a failure too.
   */
  #state: { state: LedgerState; error?: string; since: number };

  constructor(options: LedgerWriterOptions) {
    if (!(options.queueSize >= 1)) {
      throw new RangeError(`queueSize must be at least 1, not ${options.queueSize}`);
    }
    this.#options = options;
    this.#timers = options.timers ?? realTimers;
    this.#now = options.now ?? (() => performance.now());
    this.#state = { state: "ok", since: this.#now() };
  }

  /** Records written so far. */
  get written(): number {
    return this.#written;
  }

  /** Records lost so far (a broken database, or records after `close`); 0 on a healthy ledger. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Records held for the next batch, and those waiting for room in it. */
  get pending(): number {
    return this.#queue.length + this.#waiting.length;
  }

  /** How writing goes now; read when asked, so the request path pays nothing for it. */
  get health(): LedgerHealth {
    const { state, error, since } = this.#state;
    return { state, error, since, pending: this.pending, written: this.#written, dropped: this.#dropped };
  }

  /**
   * Queues `record`; the promise resolves at once while there is room, else once there is. With
   * `waitForRoom: false` it always resolves at once: a full queue is written first, and the record is
   * dropped if it cannot be (a spell of failed tries under way, or this one failing).
   */
  record(record: LedgerRecord, { waitForRoom = true }: RecordOptions = {}): Promise<void> {
    if (this.#closed) {
      this.#drop(1, "the ledger is closed");
      return Promise.resolve();
    }
    // A queue that is full only until its timer fires (at the next turn) is no reason to drop anything.
    if (!waitForRoom && this.#full() && this.#spell === undefined) this.flush();
    if (!this.#full()) {
      this.#queue.push(record);
      this.#schedule(this.#full() ? 0 : this.#options.flushIntervalMs);
      return Promise.resolve();
    }
    if (!waitForRoom) {
      this.#dropUnwaited();
      return Promise.resolve();
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiting.push({ record, queued: resolve });
    this.#schedule(0);
    return promise;
  }

  #full(): boolean {
    return this.#queue.length >= this.#options.queueSize;
  }

  /** Writes every record held now, then those that were waiting for room, each batch in one transaction. */
  flush(): void {
    this.#cancelTimer();
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        this.#options.write(batch, this.#closed);
        this.#written += batch.length;
        this.#enter("ok");
        const dropped = this.#droppedUnwaited;
        this.#droppedUnwaited = 0;
        if (this.#spell !== undefined) {
          this.#spell = undefined;
          this.#options.logger.info("ledger written again", {
            records: batch.length,
            dropped: dropped > 0 ? dropped : undefined,
          });
        }
        this.#options.logger.debug("ledger batch written", {
          records: batch.length,
          written_total: this.#written,
        });
      } catch (error) {
        this.#enter(error instanceof LedgerBusyError ? "locked" : "failing", errorMessage(error));
        // A locked ledger (another relay writing) is waited out, whoever waits for room: nothing is
        // wrong with the batch or the file, and records are dropped only for a broken one.
        if (error instanceof LedgerBusyError && !this.#closed) {
          // Which lock: the file's, or its folder's, which a process other than a relay may hold (flock).
          return this.#retryLater(batch, "ledger locked by another writer; batches wait", {
            error: errorMessage(error),
          });
        }
        if (this.#waiting.length === 0 && !this.#closed) {
          return this.#retryLater(batch, "ledger write failed; retrying", {
            records: batch.length,
            error: errorMessage(error),
          });
        }
        this.#drop(batch.length, errorMessage(error));
      }
      this.#admitWaiting();
    }
  }

  /** Writes everything still held and takes no more records; later ones are counted as dropped. */
  close(): Promise<void> {
    this.#closed = true;
    this.flush();
    return Promise.resolve();
  }

  /**
   * Keeps `batch` for the next flush. A spell of failed tries (a full disk, a lock) is warned about once,
   * at its first, and its end said: a warning a second would bury the log.
   */
  #retryLater(batch: LedgerRecord[], warning: string, fields: LogFields): void {
    this.#queue = batch;
    if (this.#spell === warning) this.#options.logger.debug(warning, fields);
    else this.#options.logger.warn(warning, fields);
    this.#spell = warning;
    this.#schedule(Math.max(MIN_RETRY_MS, this.#options.flushIntervalMs));
  }

  /** Keeps `error` as the latest reason; `since` moves only when the state changes. */
  #enter(state: LedgerState, error?: string): void {
    const since = this.#state.state === state ? this.#state.since : this.#now();
    this.#state = { state, error, since };
  }

  #admitWaiting(): void {
    const room = this.#options.queueSize - this.#queue.length;
    for (const { record, queued } of this.#waiting.splice(0, room)) {
      this.#queue.push(record);
      queued();
    }
  }

  /** Arms the flush timer to go off within `ms`, keeping an earlier one. */
  #schedule(ms: number): void {
    // While a spell of failed tries lasts, its retry is the next try: a record arriving does not bring it
    // nearer (MIN_RETRY_MS would not hold, and a lock would be tried at every record).
    if (this.#timer && (this.#timer.ms <= ms || this.#spell !== undefined)) return;
    this.#cancelTimer();
    const handle = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, ms);
    this.#timer = { handle, ms };
  }

  #cancelTimer(): void {
    if (!this.#timer) return;
    this.#timers.clearTimeout(this.#timer.handle);
    this.#timer = undefined;
  }

  #drop(count: number, reason: string, level: "warn" | "debug" = "warn"): void {
    this.#dropped += count;
    this.#options.logger[level]("ledger dropped records", {
      records: count,
      dropped_total: this.#dropped,
      reason,
    });
  }

  /**
   * Drops a record no one waits for, the queue being full and unwritable. Warned about at the first
   * of a spell only (the end of the spell says how many went): a flood of refusals while another
   * writer holds the lock would be a warning each.
   */
  #dropUnwaited(): void {
    this.#droppedUnwaited++;
    this.#drop(
      1,
      "the queue is full and cannot be written, and relay's own answers (refusals, errors) do not wait for it",
      this.#droppedUnwaited === 1 ? "warn" : "debug",
    );
  }
}
