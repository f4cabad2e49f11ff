/**
 * Copying headers without Deno's slow path. Deno 2.9's `Headers` iterator sorts the whole header list
 * again at every step, so iterating Claude Code's 21 request headers costs about 37 µs where
 * `forEach` costs 2; `new Headers(headers)` and `fetch(url, { headers })` given a `Headers` both go
 * through that iterator (about 47 µs), while given name/value pairs they take 4 to 7 µs
 * (`bench/headers_bench.ts`). A request crosses several such copies on its way through relay.
 */

/**
 * What is read of headers that are only passed on: `Headers` has it, and so has
 * {@linkcode HeaderList}, which skips `Headers`' checks of every pair.
 */
export interface HeaderReader {
  /** The value of `name` (any case), or `null`. */
  get(name: string): string | null;
  /** Each header once, its name lower-case. */
  forEach(callback: (value: string, name: string) => void): void;
}

/**
 * The name/value pairs of `headers` (names lower-case, repeated ones joined as the iterator would
 * join them), leaving out the names in `without`.
 *
 * @example
 * ```ts
 * await fetch(url, { headers: headerPairs(request.headers, new Set(["host"])) });
 * ```
 */
export function headerPairs(headers: HeaderReader, without?: ReadonlySet<string>): [string, string][] {
  const pairs: [string, string][] = [];
  headers.forEach((value, name) => {
    if (!without?.has(name)) pairs.push([name, value]);
  });
  return pairs;
}

/** For {@linkcode copyHeaders} of a body relay rewrites: the old length no longer holds. */
export const WITHOUT_LENGTH: ReadonlySet<string> = new Set(["content-length"]);

/**
 * A copy of `headers` that can be changed without touching the original, made from its pairs.
 *
 * @example
 * ```ts
 * const headers = copyHeaders(request.headers);
 * headers.set("content-type", "application/json");
 * ```
 */
export function copyHeaders(headers: HeaderReader, without?: ReadonlySet<string>): Headers {
  return new Headers(headerPairs(headers, without));
}

/**
 * Headers read from a `Headers` (so names are lower-case and each comes once) and only passed on:
 * building a `Headers` checks every name and value again, about 13 µs of a request's way to its first
 * byte for Claude Code's 18 headers (relay bench), for pairs that have been checked already.
 *
 * @example
 * ```ts
 * const list = new HeaderList(headerPairs(request.headers, new Set(["cookie"])));
 * list.get("Anthropic-Version"); // "2023-06-01"
 * ```
 */
export class HeaderList implements HeaderReader {
  readonly #pairs: readonly (readonly [string, string])[];

  constructor(pairs: readonly (readonly [string, string])[]) {
    this.#pairs = pairs;
  }

  get(name: string): string | null {
    const wanted = name.toLowerCase();
    return this.#pairs.find(([each]) => each === wanted)?.[1] ?? null;
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const [name, value] of this.#pairs) callback(value, name);
  }
}

/**
 * Whether `response` says its body is of `mediaType` (`application/json`, `text/event-stream`), its
 * parameters (`; charset=utf-8`) aside. Media types are case-insensitive (RFC 9110 §8.3.1).
 *
 * @example
 * ```ts
 * hasMediaType(new Response("{}", { headers: { "content-type": "Application/JSON" } }), "application/json"); // true
 * ```
 */
export function hasMediaType(response: Response, mediaType: string): boolean {
  return (response.headers.get("content-type") ?? "").toLowerCase().startsWith(mediaType);
}
