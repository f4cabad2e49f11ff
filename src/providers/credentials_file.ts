/**
 * A credentials file's text, read at once: a provider's credentials are checked as it is built, on a
 * reload too. Only a regular file is opened, as `stat` (which opens nothing) tells: opening a named pipe
 * or a device waits for a writer, and relay's one thread with it, which then serves nothing, `/health`
 * included, and heeds no signal. Throws what `Deno` throws, or an `Error` saying it is not a regular
 * file, for the caller to name the file.
 *
 * @example
 * ```ts
 * const text = readCredentialsFile("/etc/relay/vertex-sa.json");
 * ```
 */
export function readCredentialsFile(path: string): string {
  if (!Deno.statSync(path).isFile) throw new Error("not a regular file");
  return Deno.readTextFileSync(path);
}
