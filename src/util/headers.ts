/**
 * Copying headers without Deno's slow path. Deno 2.9's `Headers` iterator sorts the whole header list
 * again at every step, so iterating Claude Code's 21 request headers costs about 37 µs where
 * `forEach` costs 2; `new Headers(headers)` and `fetch(url, { headers })` given a `Headers` both go
 * through that iterator (about 47 µs), while given name/value pairs they take 4 to 7 µs
 * (`bench/headers_bench.ts`). A request crosses several such copies on its way through relay.
 */

/**
 * The name/value pairs of `headers` (names lower-case, repeated ones joined as the iterator would
 * join them), leaving out the names in `without`.
 *
 * @example
 * ```ts
 * await fetch(url, { headers: headerPairs(request.headers, new Set(["host"])) });
 * ```
 */
export function headerPairs(headers: Headers, without?: ReadonlySet<string>): [string, string][] {
  const pairs: [string, string][] = [];
  headers.forEach((value, name) => {
    if (!without?.has(name)) pairs.push([name, value]);
  });
  return pairs;
}

/**
 * A copy of `headers` that can be changed without touching the original, made from its pairs.
 *
 * @example
 * ```ts
 * const headers = copyHeaders(request.headers);
 * headers.set("content-type", "application/json");
 * ```
 */
export function copyHeaders(headers: Headers, without?: ReadonlySet<string>): Headers {
  return new Headers(headerPairs(headers, without));
}
