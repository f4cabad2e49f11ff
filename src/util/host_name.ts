/**
 * Host names as a URL, a request's Host and `server.allowed_hosts` write them, brought to one spelling
 * before they are compared.
 */

/**
 * `name` without the final dot of a fully qualified name: `relay.internal.` names the same host as
 * `relay.internal`, in `server.allowed_hosts` and in a request's Host alike (`src/server/host_guard.ts`).
 *
 * @example
 * ```ts
 * withoutFinalDot("relay.internal."); // "relay.internal"
 * ```
 */
export function withoutFinalDot(name: string): string {
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

/**
 * An IPv6 address without the brackets a URL or a Host puts around it; any other name as it is.
 *
 * @example
 * ```ts
 * withoutBrackets("[::1]"); // "::1"
 * ```
 */
export function withoutBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}
