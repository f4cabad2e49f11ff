/**
 * What went wrong, in words: an `Error`'s message, or whatever else was thrown, as a string. A
 * `TypeError` with a cause is `fetch`'s, which says only "fetch failed" when the network fails it (in
 * Deno as in Node): why (refused, DNS, TLS, out of file descriptors) is in the cause, and is added
 * without the URL Deno names there, whose query is the client's (the caller names what was fetched).
 *
 * @example
 * ```ts
 * errorMessage(new Error("connection refused")); // "connection refused"
 * errorMessage("aborted"); // "aborted"
 * await fetch("http://127.0.0.1:18998/v1/messages").catch(errorMessage);
 * // "fetch failed: client error (Connect): tcp connect error: Connection refused (os error 111)"
 * ```
 */
export function errorMessage(thrown: unknown): string {
  if (!(thrown instanceof Error)) return String(thrown);
  if (!(thrown instanceof TypeError) || thrown.cause === undefined) return thrown.message;
  return `${thrown.message}: ${errorMessage(thrown.cause).replace(_REQUEST_URL, "")}`;
}

/**
 * How Deno's fetch opens the reason in its cause: `for url (<url>): ` when it could not connect, `from
 * <local address> for <url> (<remote address>): ` once it had (the connection closed, the answer not
 * HTTP). Neither address nor URL holds a space, so `\S` ends each.
 */
const _REQUEST_URL = /^error sending request (?:for url \(\S*\)|from \S+ for \S+ \(\S+\)): /;

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

/**
 * Whether `thrown` says relay is out of file descriptors (EMFILE, or ENFILE for the whole system): a
 * state of relay, which passes, rather than of what it was opening, connecting to or accepting. Told by
 * the OS error number, which Deno's message keeps however the error is wrapped (the server's `Http`
 * error, fetch's cause).
 *
 * @example
 * ```ts
 * outOfFileDescriptors(new Error("Too many open files (os error 24): readfile 'relay.yaml'")); // true
 * outOfFileDescriptors(new Deno.errors.PermissionDenied("Permission denied (os error 13)")); // false
 * ```
 */
export function outOfFileDescriptors(thrown: unknown): boolean {
  return /\(os error 2[34]\)/.test(errorMessage(thrown));
}

/**
 * Why relay cannot open a path Deno refuses outright, as the reason after `cannot read/write <path>: `:
 * files under `/dev` (but `/dev/null` and a few others), `/proc` and `/sys` are opened only for programs
 * run with `--allow-all`, which relay never is. Deno's own words tell a person to pass that flag, which
 * a bundle or a compiled relay gives no way to do. `undefined` for any other error, a permission relay
 * was denied (`--deny-write`) included: Deno throws the same class for both, and only its words differ.
 *
 * @example
 * ```ts
 * denoRefusal(new Deno.errors.NotCapable('Requires all access to "/dev/shm/x", run again with the --allow-all flag'));
 * // "Deno, which runs relay, opens files under /dev, /proc and /sys only with --allow-all, ..."
 * ```
 */
export function denoRefusal(error: unknown): string | undefined {
  if (!(error instanceof Deno.errors.NotCapable) || !error.message.startsWith("Requires all access")) {
    return undefined;
  }
  return "Deno, which runs relay, opens files under /dev, /proc and /sys only with --allow-all, which " +
    "relay does not take: put the file elsewhere";
}

/**
 * Why a file could not be read or written, as the reason after `cannot read/write <path>: `: Deno's
 * refusal of `/dev`, `/proc` and `/sys` in relay's words ({@linkcode denoRefusal}), else the error's.
 *
 * @example
 * ```ts
 * fileErrorMessage(new Deno.errors.NotFound("No such file or directory (os error 2)"));
 * // "No such file or directory (os error 2)"
 * ```
 */
export function fileErrorMessage(thrown: unknown): string {
  return denoRefusal(thrown) ?? errorMessage(thrown);
}
