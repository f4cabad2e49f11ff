import { isJsonObject } from "./json.ts";

/**
 * JSON with object keys sorted at every level, so equal values give equal text whatever order their
 * keys were written in: config fingerprints, comparing events.
 *
 * @example
 * ```ts
 * stableJson({ b: 1, a: { d: 2, c: 3 } }); // '{"a":{"c":3,"d":2},"b":1}'
 * ```
 */
export function stableJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, inner) =>
      isJsonObject(inner)
        ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : inner,
  ) ?? "null";
}
