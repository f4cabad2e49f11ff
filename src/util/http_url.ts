/**
 * Whether `text` is an absolute http or https URL, something fetch can be sent to: `127.0.0.1:8787`
 * (no scheme) is not, nor `localhost:8787`, which parses as a URL of scheme `localhost:`.
 *
 * @example
 * ```ts
 * isHttpUrl("http://127.0.0.1:8787"); // true
 * isHttpUrl("127.0.0.1:8787"); // false
 * ```
 */
export function isHttpUrl(text: string): boolean {
  const protocol = URL.parse(text)?.protocol;
  return protocol === "http:" || protocol === "https:";
}
