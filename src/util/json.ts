/**
 * Whether `byte` is JSON's whitespace (RFC 8259 §2): space, tab, line feed or carriage return.
 *
 * @example
 * ```ts
 * isJsonWhitespace(0x0a); // true: a line feed
 * isJsonWhitespace(0xa0); // false: no-break space is none
 * ```
 */
export function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** A JSON object, as opposed to an array, `null` or a scalar. */
export type JsonObject = Record<string, unknown>;

/**
 * Whether `value` is a JSON object.
 *
 * @example
 * ```ts
 * isJsonObject(JSON.parse('{"a":1}')); // true
 * isJsonObject(JSON.parse("[1]")); // false
 * ```
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `value` when it is a JSON object, else `undefined`: for reading optional nested objects.
 *
 * @example
 * ```ts
 * asJsonObject(body.source)?.type;
 * ```
 */
export function asJsonObject(value: unknown): JsonObject | undefined {
  return isJsonObject(value) ? value : undefined;
}

/**
 * `text` parsed, when it is a JSON object; `undefined` when it is not JSON or not an object.
 *
 * @example
 * ```ts
 * parseJsonObject('{"error":"invalid_grant"}'); // { error: "invalid_grant" }
 * parseJsonObject("<html>"); // undefined
 * ```
 */
export function parseJsonObject(text: string): JsonObject | undefined {
  try {
    return asJsonObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/**
 * What is wrong with a text `JSON.parse` refused, without the excerpt of it V8 quotes (up to a short
 * text whole): the reason reaches the client and the log, and bodies never reach the log.
 *
 * @example
 * ```ts
 * try {
 *   JSON.parse("hunter2");
 * } catch (error) {
 *   jsonSyntaxReason(error as SyntaxError); // "Unexpected token 'h'"
 * }
 * ```
 */
export function jsonSyntaxReason(error: SyntaxError): string {
  return error.message.replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, "");
}
