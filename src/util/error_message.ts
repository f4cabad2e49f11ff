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

/**
 * A system error's message without Deno's ` (os error N)` and what follows it (the call and path, which
 * whoever reports the error names in words of its own).
 *
 * @example
 * ```ts
 * withoutOsError("File name too long (os error 36): stat '/a/b'"); // "File name too long"
 * withoutOsError("No space left on device (os error 28)"); // "No space left on device"
 * ```
 */
export function withoutOsError(message: string): string {
  return message.replace(/ \(os error \d+\)[^]*$/, "");
}
