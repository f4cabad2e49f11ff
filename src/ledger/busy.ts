/**
 * A batch found the ledger locked by another process: SQLite's write lock on the file (another relay
 * sharing it), or the `flock` on its folder, which any process may hold (another relay opening the file,
 * `flock(1)`, a backup tool). Nothing was written, and it can be tried again once the lock is let go. Its
 * own module, so the writer knows it without the store.
 *
 * @example
 * ```ts
 * throw new LedgerBusyError("/var/lib/relay/ledger.db");
 * // "/var/lib/relay/ledger.db is locked: another process holds its lock (another relay sharing the
 * // ledger? lslocks lists the holders)"
 * ```
 */
export class LedgerBusyError extends Error {
  constructor(path: string, options?: ErrorOptions) {
    // Which process is not known: relay only finds the lock taken.
    super(
      `${path} is locked: another process holds its lock (another relay sharing the ledger? ` +
        "lslocks lists the holders)",
      options,
    );
    this.name = "LedgerBusyError";
  }
}
