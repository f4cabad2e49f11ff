import { BOM_BYTES, concatBytes, startsWithBom } from "../util/bytes.ts";
import { isJsonWhitespace } from "../util/json.ts";

/**
 * Edits the top-level members of a JSON object without re-serialising it: every byte outside the
 * members touched stays as the client sent it, so thinking signatures, key order, spacing and fields
 * relay does not know survive a model rename or a Bedrock/Vertex body rewrite.
 */

export interface JsonEdit {
  /** Members to drop, e.g. `model` and `stream` for Bedrock. */
  remove?: readonly string[];
  /** Members to set: an existing one gets its value replaced in place, a new one goes first. */
  set?: Readonly<Record<string, unknown>>;
  /**
   * Members worked out from what the body holds (`undefined` when it has none): a returned value is set
   * as `set` would, `undefined` removes the member. `read` gives another member's value as the body
   * holds it, which is left as it is (a member read to work one out is not written back).
   */
  update?: Readonly<Record<string, (current: unknown, read: (name: string) => unknown) => unknown>>;
  /**
   * Members to drop inside an object member, e.g. `effort` from `output_config`, the rest of it byte for
   * byte; the member goes whole when nothing is left in it. A member that is no object is left as it is.
   */
  removeWithin?: Readonly<Record<string, readonly string[]>>;
}

/**
 * @example
 * ```ts
 * const body = new TextEncoder().encode('{"model":"claude-x", "stream":true,"messages":[]}');
 * editTopLevelJson(body, { remove: ["stream"], set: { model: "glm-4.7" } });
 * // {"model":"glm-4.7", "messages":[]}
 * ```
 */
export function editTopLevelJson(bytes: Uint8Array, edit: JsonEdit): Uint8Array<ArrayBuffer> {
  const body = _withoutBom(bytes);
  const { open, list } = _topLevelMembers(body);
  const remove = new Set(edit.remove ?? []);
  const set = new Map(Object.entries(edit.set ?? {}));
  const read = (name: string): unknown => {
    const member = list.find((existing) => existing.name === name);
    return member && JSON.parse(_decoder.decode(body.subarray(member.valueStart, member.end)));
  };
  for (const [name, update] of Object.entries(edit.update ?? {})) {
    const value = update(read(name), read);
    if (value === undefined) remove.add(name);
    else set.set(name, value);
  }
  const within = _editedWithin(body, list, edit.removeWithin, remove);
  const member = (name: string, value: unknown) =>
    _encoder.encode(`${JSON.stringify(name)}:${JSON.stringify(value)}`);

  const pieces: Uint8Array[] = [body.subarray(0, open + 1)];
  const inserted = [...set.keys()].filter((name) => !list.some((existing) => existing.name === name));
  const kept = list.filter((existing) => !remove.has(existing.name));
  inserted.forEach((name, i) => {
    pieces.push(member(name, set.get(name)));
    if (i < inserted.length - 1 || kept.length > 0) pieces.push(_COMMA);
  });
  const firstStart = list[0]?.start ?? _closeOf(body, open);
  pieces.push(body.subarray(open + 1, firstStart));
  // Each kept member after the first brings the separator (comma and spacing) that preceded it.
  kept.forEach((existing, i) => {
    if (i > 0) pieces.push(body.subarray(list[list.indexOf(existing) - 1].end, existing.start));
    if (set.has(existing.name)) {
      pieces.push(
        body.subarray(existing.start, existing.valueStart),
        _encoder.encode(JSON.stringify(set.get(existing.name))),
      );
    } else if (within.has(existing)) {
      pieces.push(body.subarray(existing.start, existing.valueStart), within.get(existing)!);
    } else {
      pieces.push(body.subarray(existing.start, existing.end));
    }
  });
  pieces.push(body.subarray(list.at(-1)?.end ?? firstStart));
  return concatBytes(pieces);
}

/**
 * The object members `removeWithin` names, each with its value less the members named in it; one left with
 * nothing is added to `remove` instead. Members to be removed anyway are not looked at.
 */
function _editedWithin(
  body: Uint8Array,
  list: readonly _Member[],
  removeWithin: JsonEdit["removeWithin"],
  remove: Set<string>,
): Map<_Member, Uint8Array> {
  const edited = new Map<_Member, Uint8Array>();
  if (!removeWithin) return edited;
  for (const existing of list) {
    const dropped = Object.hasOwn(removeWithin, existing.name) ? removeWithin[existing.name] : undefined;
    if (!dropped || remove.has(existing.name) || body[existing.valueStart] !== _OPEN_OBJECT) continue;
    const value = body.subarray(existing.valueStart, existing.end);
    const inner = _topLevelMembers(value).list;
    const left = inner.filter(({ name }) => !dropped.includes(name)).length;
    if (left === 0) remove.add(existing.name);
    else if (left < inner.length) edited.set(existing, editTopLevelJson(value, { remove: dropped }));
  }
  return edited;
}

/**
 * The names of a JSON object's top-level members in the order it gives them, a name given twice twice,
 * each as a parser reads it (`"mod\u0065l"` is `model`). Its members' values are skipped, not parsed.
 *
 * @example
 * ```ts
 * topLevelNames(new TextEncoder().encode('{"model":"a","messages":[{"model":"b"}],"model":"c"}'));
 * // ["model", "messages", "model"]
 * ```
 */
export function topLevelNames(bytes: Uint8Array): string[] {
  return _topLevelMembers(_withoutBom(bytes)).list.map(({ name }) => name);
}

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();
const _COMMA = new Uint8Array([0x2c]);
const [_QUOTE, _BACKSLASH, _COLON, _COMMA_BYTE, _OPEN_OBJECT, _CLOSE_OBJECT, _OPEN_ARRAY, _CLOSE_ARRAY] = [
  0x22,
  0x5c,
  0x3a,
  0x2c,
  0x7b,
  0x7d,
  0x5b,
  0x5d,
];

interface _Member {
  name: string;
  /** Where the key's opening quote is. */
  start: number;
  valueStart: number;
  /** Just past the value, before any comma. */
  end: number;
}

function _topLevelMembers(body: Uint8Array): { open: number; list: _Member[] } {
  const open = _skipSpace(body, 0);
  if (body[open] !== _OPEN_OBJECT) throw new SyntaxError("expected a JSON object");
  const list: _Member[] = [];
  let at = _skipSpace(body, open + 1);
  while (body[at] !== _CLOSE_OBJECT) {
    if (at >= body.byteLength) throw new SyntaxError("unterminated JSON object");
    const start = at;
    const keyEnd = _skipString(body, at);
    const name = JSON.parse(_decoder.decode(body.subarray(start, keyEnd)));
    at = _skipSpace(body, keyEnd);
    if (body[at] !== _COLON) throw new SyntaxError(`expected ':' after ${JSON.stringify(name)}`);
    const valueStart = _skipSpace(body, at + 1);
    const valueEnd = _skipValue(body, valueStart);
    list.push({ name, start, valueStart, end: valueEnd });
    at = _skipSpace(body, valueEnd);
    if (body[at] === _COMMA_BYTE) at = _skipSpace(body, at + 1);
  }
  return { open, list };
}

/**
 * The body without a leading UTF-8 byte order mark. RFC 8259 §8.1 lets a parser skip one, and relay's
 * does, so a client may send one; the edited body goes without it, as senders must not add one.
 */
function _withoutBom(body: Uint8Array): Uint8Array {
  return startsWithBom(body) ? body.subarray(BOM_BYTES.length) : body;
}

function _closeOf(body: Uint8Array, open: number): number {
  return _skipSpace(body, open + 1);
}

function _skipSpace(body: Uint8Array, at: number): number {
  while (at < body.byteLength && isJsonWhitespace(body[at])) at++;
  return at;
}

function _skipString(body: Uint8Array, at: number): number {
  if (body[at] !== _QUOTE) throw new SyntaxError("expected a string");
  for (at++; at < body.byteLength; at++) {
    if (body[at] === _BACKSLASH) at++;
    else if (body[at] === _QUOTE) return at + 1;
  }
  throw new SyntaxError("unterminated string");
}

function _skipValue(body: Uint8Array, at: number): number {
  if (body[at] === _QUOTE) return _skipString(body, at);
  if (body[at] !== _OPEN_OBJECT && body[at] !== _OPEN_ARRAY) {
    while (at < body.byteLength && ![_COMMA_BYTE, _CLOSE_OBJECT, _CLOSE_ARRAY].includes(body[at])) at++;
    return _trimEnd(body, at);
  }
  let depth = 0;
  for (; at < body.byteLength; at++) {
    const byte = body[at];
    if (byte === _QUOTE) at = _skipString(body, at) - 1;
    else if (byte === _OPEN_OBJECT || byte === _OPEN_ARRAY) depth++;
    else if ((byte === _CLOSE_OBJECT || byte === _CLOSE_ARRAY) && --depth === 0) return at + 1;
  }
  throw new SyntaxError("unterminated JSON value");
}

function _trimEnd(body: Uint8Array, end: number): number {
  while (end > 0 && isJsonWhitespace(body[end - 1])) end--;
  return end;
}
