/**
 * A batch found the ledger locked by another connection (another relay sharing the file): nothing was
 * written, and it can be tried again once the lock is let go. Its own module, so the writer knows it
 * without the store.
 *
 * @example
 * ```ts
 * throw new LedgerBusyError("/var/lib/relay/ledger.db");
 * ```
 */
export class LedgerBusyError extends Error {
  constructor(path: string, options?: ErrorOptions) {
    super(`${path} is locked by another writer (another relay sharing it?)`, options);
    this.name = "LedgerBusyError";
  }
}
