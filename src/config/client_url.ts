/**
 * Where a client on this machine reaches relay: its host and port, with a wildcard bind (`0.0.0.0`,
 * `::`) replaced by the loopback address of the same family, and IPv6 in brackets.
 *
 * @example
 * ```ts
 * relayUrl({ host: "0.0.0.0", port: 8787 }); // "http://127.0.0.1:8787"
 * relayUrl({ host: "::1", port: 9000 }); // "http://[::1]:9000"
 * ```
 */
export function relayUrl(server: { host: string; port: number }): string {
  const host = server.host.replace(/^\[(.*)\]$/, "$1");
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${server.port}`;
}
