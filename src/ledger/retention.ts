import { realTimers, type Timers } from "../util/timers.ts";
import type { Logger } from "../util/logger.ts";
import { monthStart } from "./clients.ts";
import { latestTime } from "./query.ts";
import type { LedgerStore } from "./store.ts";

const _DAY = 86_400_000;
/**
 * Rows deleted per statement, so no one statement holds the database's write lock for long; a prune
 * runs its statements back to back, on relay's thread.
 */
const _CHUNK = 10_000;
/**
 * How long after start the first prune waits: a machine just booted may not have set its clock yet (NTP
 * most often does within a minute or two of the network coming up), and a clock far ahead then would
 * take every record for old. Nothing is lost by waiting: pruning is hourly anyway.
 */
const _FIRST_PRUNE_DELAY_MS = 5 * 60_000;

export interface RetentionOptions {
  store: Pick<LedgerStore, "deleteBefore" | "database" | "isOpen">;
  /** Records older than this many days go (`ledger.retention_days`), this month's excepted. */
  retentionDays: number;
  /** How often to prune; hourly unless given. */
  intervalMs?: number;
  /** Wall-clock ms; record times are wall-clock. */
  now?: () => number;
  timers?: Timers;
  logger: Logger;
}

/**
 * Deletes ledger records older than `retentionDays`: five minutes after {@linkcode start}, then every
 * `intervalMs`, until {@linkcode stop}. Records of the current calendar month (UTC) stay whatever
 * their age: monthly budgets are read back from them when relay starts. While the ledger holds a record
 * newer than the clock, the clock is wrong (stepped back, or it was ahead when that record was
 * written): nothing is pruned until the clock has passed that record, and the first such round says so.
 *
 * @example
 * ```ts
 * const retention = new Retention({ store, retentionDays: 90, logger });
 * retention.start();
 * // ... on shutdown:
 * retention.stop();
 * ```
 */
export class Retention {
  readonly #options: RetentionOptions;
  readonly #timers: Timers;
  readonly #now: () => number;
  #timer: unknown;
  // Whether the last round found the clock behind the ledger: only the first of a run says so.
  #clockBehind = false;

  constructor(options: RetentionOptions) {
    if (!(options.retentionDays > 0)) {
      throw new RangeError(`retentionDays must be above 0, not ${options.retentionDays}`);
    }
    this.#options = options;
    this.#timers = options.timers ?? realTimers;
    this.#now = options.now ?? Date.now;
  }

  /** Prunes on schedule: first five minutes from now, then every `intervalMs`. */
  start(): void {
    this.stop();
    const round = () => {
      this.prune();
      this.#timer = this.#timers.setTimeout(round, this.#options.intervalMs ?? 3_600_000);
    };
    this.#timer = this.#timers.setTimeout(round, _FIRST_PRUNE_DELAY_MS);
  }

  stop(): void {
    if (this.#timer === undefined) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Deletes every record older than the retention period, and not of this month, unless the clock is
   * behind the newest record or the store has no open database; returns how many went.
   */
  prune(): number {
    // A file found removed or replaced that could not be opened again leaves the store without an open
    // database until a batch opens one: nothing to prune meanwhile, and the writer already says why.
    if (!this.#options.store.isOpen) {
      this.#options.logger.debug("ledger pruning waits for the file to be reopened");
      return 0;
    }
    const now = this.#now();
    const before = Math.min(now - this.#options.retentionDays * _DAY, monthStart(now));
    let deleted = 0;
    try {
      if (this.#behindLedger(now)) return 0;
      for (let chunk = _CHUNK; chunk === _CHUNK;) {
        chunk = this.#options.store.deleteBefore(before, _CHUNK);
        deleted += chunk;
      }
    } catch (error) {
      // The next round tries again; a failed prune must not stop relay.
      this.#options.logger.warn("ledger pruning failed", { error: String(error) });
    }
    if (deleted > 0) {
      this.#options.logger.info("ledger pruned", {
        records: deleted,
        older_than: new Date(before).toISOString(),
      });
    }
    return deleted;
  }

  /**
   * Whether the ledger holds a record newer than `now`, by more than relays sharing the file may differ
   * by (their clocks are never quite one); said in the log when a run of them starts.
   */
  #behindLedger(now: number): boolean {
    const newest = latestTime(this.#options.store.database);
    const behind = newest !== undefined && newest > now + _CLOCK_TOLERANCE_MS;
    if (behind && !this.#clockBehind) {
      this.#options.logger.warn("ledger pruning skipped", {
        newest_record: new Date(newest).toISOString(),
        now: new Date(now).toISOString(),
        hint: "the clock is behind records already written: nothing is pruned until it has passed them",
      });
    }
    this.#clockBehind = behind;
    return behind;
  }
}

const _CLOCK_TOLERANCE_MS = 5 * 60_000;
