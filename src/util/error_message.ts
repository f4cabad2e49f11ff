/**
 * What went wrong, in words: an `Error`'s message, or whatever else was thrown, as a string.
 *
 * @example
 * ```ts
 * errorMessage(new Error("connection refused")); // "connection refused"
 * errorMessage("aborted"); // "aborted"
 * ```
 */
export function errorMessage(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}
