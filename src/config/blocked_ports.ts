/**
 * The ports fetch refuses to connect to: the Fetch standard's "bad ports"
 * (https://fetch.spec.whatwg.org/#port-blocking), kept from other protocols (mail, IRC, X11, ...) that a
 * request could be crafted to speak to. Deno's fetch throws `Requests to port N are blocked` for each
 * before connecting (all 65536 ports tried on Deno 2.9.6: exactly these), so an upstream on one could
 * never be reached; the config refuses it instead of every request failing at run time. The standard
 * adds ports now and then (4190 and 6679 in 2024): keep this in step with it.
 */
const _BLOCKED_PORTS: ReadonlySet<number> = new Set([
  0,
  1,
  7,
  9,
  11,
  13,
  15,
  17,
  19,
  20,
  21,
  22,
  23,
  25,
  37,
  42,
  43,
  53,
  69,
  77,
  79,
  87,
  95,
  101,
  102,
  103,
  104,
  109,
  110,
  111,
  113,
  115,
  117,
  119,
  123,
  135,
  137,
  139,
  143,
  161,
  179,
  389,
  427,
  465,
  512,
  513,
  514,
  515,
  526,
  530,
  531,
  532,
  540,
  548,
  554,
  556,
  563,
  587,
  601,
  636,
  989,
  990,
  993,
  995,
  1719,
  1720,
  1723,
  2049,
  3659,
  4045,
  4190,
  5060,
  5061,
  6000,
  6566,
  6665,
  6666,
  6667,
  6668,
  6669,
  6679,
  6697,
  10080,
]);

/**
 * Whether fetch refuses to connect to `url` for its port; a URL without one (the scheme's default, 80
 * or 443) never is.
 *
 * @example
 * ```ts
 * isFetchBlockedPort(new URL("http://127.0.0.1:6000")); // true
 * isFetchBlockedPort(new URL("http://127.0.0.1:6001")); // false
 * ```
 */
export function isFetchBlockedPort(url: URL): boolean {
  return url.port !== "" && isBlockedPort(Number(url.port));
}

/** Why relay does not listen on a port fetch refuses: Claude Code and the SDKs could not reach it. */
export const BLOCKED_PORT_PROBLEM =
  'is one fetch refuses to connect to (one of the Fetch standard\'s "bad ports"), ' +
  "so Claude Code and the SDKs could not reach relay there: use another port, e.g. 8787";

/** Whether fetch refuses to connect to `port` (0, "any free port", among them). */
export function isBlockedPort(port: number): boolean {
  return _BLOCKED_PORTS.has(port);
}
