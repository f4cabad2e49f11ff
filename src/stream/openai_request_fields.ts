/**
 * Reading the fields of an OpenAI-format request (Chat Completions, Responses) for its translation to
 * Anthropic's: each read names its field and the type it must have, so a field of the wrong type is the
 * client's 400 naming it rather than a setting dropped without a word.
 */
import { isJsonObject, type JsonObject } from "../util/json.ts";

/** A request that cannot be translated; the client gets it as a 400 naming `param`. */
export class ChatToAnthropicError extends Error {
  /** What is wrong with `param`, without its name. */
  readonly reason: string;

  constructor(readonly param: string, reason: string) {
    super(`${param}: ${reason}`);
    this.name = "ChatToAnthropicError";
    this.reason = reason;
  }
}

/** A type a field must have, named for the client when it has another. */
export interface FieldType<T> {
  name: string;
  is: (value: unknown) => value is T;
}

export const STRING: FieldType<string> = { name: "a string", is: (value) => typeof value === "string" };
export const NUMBER: FieldType<number> = { name: "a number", is: (value) => typeof value === "number" };
export const BOOLEAN: FieldType<boolean> = { name: "a boolean", is: (value) => typeof value === "boolean" };
export const OBJECT: FieldType<JsonObject> = { name: "an object", is: isJsonObject };
export const ARRAY: FieldType<unknown[]> = { name: "an array", is: Array.isArray };

/**
 * `value`, which must be of `type`.
 *
 * @example
 * ```ts
 * requiredField(body.model, "model", STRING); // throws ChatToAnthropicError("model", "expected a string, got 7")
 * ```
 */
export function requiredField<T>(value: unknown, param: string, type: FieldType<T>): T {
  if (type.is(value)) return value;
  throw new ChatToAnthropicError(param, `expected ${type.name}, got ${kindOf(value)}`);
}

/** `value`, which must be of `type` unless absent; OpenAI's API takes `null` for absent too. */
export function optionalField<T>(value: unknown, param: string, type: FieldType<T>): T | undefined {
  return value === undefined || value === null ? undefined : requiredField(value, param, type);
}

/** What a value is, for an error message; numbers and booleans as themselves, nothing of a string. */
export function kindOf(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
