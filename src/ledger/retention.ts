import { realTimers, type Timers } from "../util/timers.ts";
import type { Logger } from "../util/logger.ts";
import { monthStart } from "./clients.ts";
import type { LedgerStore } from "./store.ts";

const _DAY = 86_400_000;
/**
 * Rows deleted per statement, so no one statement holds the database's write lock for long; a prune
 * runs its statements back to back, on relay's thread.
 */
const _CHUNK = 10_000;

export interface RetentionOptions {
  store: Pick<LedgerStore, "deleteBefore">;
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
 * Deletes ledger records older than `retentionDays`: once at {@linkcode start}, then every
 * `intervalMs`, until {@linkcode stop}. Records of the current calendar month (UTC) stay whatever
 * their age: monthly budgets are read back from them when relay starts.
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

  constructor(options: RetentionOptions) {
    if (!(options.retentionDays > 0)) {
      throw new RangeError(`retentionDays must be above 0, not ${options.retentionDays}`);
    }
    this.#options = options;
    this.#timers = options.timers ?? realTimers;
    this.#now = options.now ?? Date.now;
  }

  /** Prunes now and keeps pruning on schedule. */
  start(): void {
    this.stop();
    const round = () => {
      this.prune();
      this.#timer = this.#timers.setTimeout(round, this.#options.intervalMs ?? 3_600_000);
    };
    round();
  }

  stop(): void {
    if (this.#timer === undefined) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Deletes every record older than the retention period, and not of this month; returns how many went. */
  prune(): number {
    const now = this.#now();
    const before = Math.min(now - this.#options.retentionDays * _DAY, monthStart(now));
    let deleted = 0;
    try {
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
}
