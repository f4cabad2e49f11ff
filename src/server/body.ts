import { realTimers, type Timers } from "../util/timers.ts";
import { concatBytes } from "../util/bytes.ts";
import type { BodyHold } from "./body_budget.ts";
import type { UsageDetail } from "../stream/usage_tap.ts";
import { RelayError } from "./errors.ts";
import { graceOverError } from "./in_flight.ts";
import { setDeadline } from "../util/deadline.ts";
import { topLevelNames } from "../providers/json_edit.ts";
import { jsonSyntaxReason } from "../util/json.ts";

/** How long {@linkcode readBody} may take, and what else may end it. */
export interface ReadBodyOptions {
  /** `server.body_timeout` in ms; 0 or unset: no deadline. */
  timeoutMs?: number;
  timers?: Timers;
  /** Monotonic ms, which `timers` run on; `performance.now` unless given. */
  now?: () => number;
  /**
   * A shutdown's cut (`InFlight.cut`): it ends the read at once with relay's 503 (`server.shutdown_grace
   * is over`), which the client gets instead of a dropped connection.
   */
  cut?: AbortSignal;
  /**
   * The request's share of relay's body budget (`server.max_body_memory`): the bytes are taken from it
   * as they arrive, and a body it cannot cover is refused with its 503. The caller gives them back once it
   * no longer keeps the bytes.
   */
  hold?: BodyHold;
}

/**
 * Reads a request body up to `maxBytes`, refusing early on a `content-length` that is already too large
 * and otherwise as soon as the count passes the limit, so a huge upload never sits in memory whole.
 * A body with a `content-encoding` (other than `identity`) is a 415 before any of it is read: Anthropic's
 * API takes none, so relay could neither read it nor pass it on. A body not complete within `timeoutMs`
 * (`server.body_timeout`; 0: no deadline) is a 408: what was read is dropped, so stalled uploads cannot
 * pin memory. An upstream's answer that relay must read whole is read the same way, as relay passes it
 * on: without the `content-encoding` Deno's fetch leaves on the bytes it decoded.
 *
 * @example
 * ```ts
 * const bytes = await readBody(request, 32 * 1024 * 1024, { timeoutMs: 120_000 });
 * ```
 */
export async function readBody(
  request: Pick<Request | Response, "headers" | "body">,
  maxBytes: number,
  { timeoutMs = 0, timers = realTimers, now = () => performance.now(), cut, hold }: ReadBodyOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const encoding = request.headers.get("content-encoding");
  if (encoding !== null && !_isIdentity(encoding)) throw _encoded(encoding);
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw _tooLarge(declared, maxBytes);
  if (!request.body) return new Uint8Array(0);
  if (cut?.aborted) throw graceOverError();
  // Read through a reader even with a declared length: a pending `request.bytes()` cannot be cancelled,
  // and Deno keeps filling its buffer until the client finishes or leaves.
  const reader = request.body.getReader();
  const giveUp = () => reader.cancel().catch(() => {});
  let late = false;
  // A relay that stood still meanwhile (SIGSTOP, a paused VM) gives the bytes that came a grace first.
  const cancelDeadline = timeoutMs > 0
    ? setDeadline(
      () => {
        late = true;
        giveUp();
      },
      timeoutMs,
      { now, timers },
    )
    : undefined;
  cut?.addEventListener("abort", giveUp);
  try {
    // Bytes are taken as they arrive, never a declared length ahead of them: connections that only
    // announce big bodies would otherwise fill the budget holding nothing, and refuse everyone else.
    const bytes = await _readUpTo(reader, maxBytes, (chunk) => hold?.take(chunk)).catch((error) =>
      error as Error
    );
    // A cancelled read ends as if the body had: only the flags tell the two apart.
    if (late) throw _tooSlow(timeoutMs);
    if (cut?.aborted) throw graceOverError();
    if (bytes instanceof Uint8Array) return bytes;
    if (bytes instanceof RelayError) throw bytes;
    throw new RelayError(
      400,
      "request body ended before it was complete: fewer bytes than its content-length, or a chunked body cut off",
    );
  } finally {
    cancelDeadline?.();
    cut?.removeEventListener("abort", giveUp);
  }
}

/** Reads to the end, telling `take` each chunk's size as it arrives; it may refuse the chunk by throwing. */
async function _readUpTo(
  reader: ReadableStreamDefaultReader<Uint8Array<ArrayBuffer>>,
  maxBytes: number,
  take: (bytes: number) => void,
) {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    try {
      if (size > maxBytes) throw _tooLarge(size, maxBytes);
      take(read.value.byteLength);
    } catch (refusal) {
      reader.cancel().catch(() => {});
      throw refusal;
    }
    chunks.push(read.value);
  }
  return chunks.length === 1 ? chunks[0] : concatBytes(chunks);
}

/**
 * Whether a `content-encoding` leaves the body as it is: no coding, or only `identity`. No regex: the
 * header is the client's, and `^\s*(?:identity)?\s*$` backtracks quadratically over a run of spaces
 * (`, ` and 60,000 of them held every client up for seconds).
 */
function _isIdentity(encoding: string): boolean {
  return encoding.split(",").every((coding) => {
    const trimmed = coding.trim();
    return trimmed === "" || trimmed.toLowerCase() === "identity";
  });
}

/** RFC 9110 §15.5.16: `accept-encoding` says which codings relay would take. */
function _encoded(encoding: string): RelayError {
  return new RelayError(
    415,
    `request body has content-encoding ${encoding}; relay takes uncompressed bodies only`,
    { "accept-encoding": "identity" },
  );
}

function _tooLarge(size: number, maxBytes: number): RelayError {
  return new RelayError(
    413,
    `request body is over ${_size(maxBytes)} (server.max_body_size); got ${_size(size)}`,
  );
}

/** `connection: close` asks the client to drop the connection: Deno keeps it open, draining the rest. */
function _tooSlow(timeoutMs: number): RelayError {
  return new RelayError(
    408,
    `request body did not arrive within ${timeoutMs} ms (server.body_timeout)`,
    { connection: "close" },
  );
}

/** A size as exact as the limit it is compared with: `32 MiB`, `1000 bytes` (a `1kb` limit), never rounded. */
function _size(bytes: number): string {
  if (bytes >= 1_048_576 && bytes % 1_048_576 === 0) return `${bytes / 1_048_576} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** What routing reads from a Messages body; everything else stays in the original bytes. */
export interface MessagesFields {
  model: string;
  stream: boolean;
  /** The whole body, parsed, for estimates; never re-serialised: the original bytes travel. */
  json: Record<string, unknown>;
}

const _decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a `/v1/messages` or `count_tokens` body just enough to route it, with the errors Anthropic's
 * API would give, worded so the client learns which field is wrong.
 */
export function inspectMessagesBody(bytes: Uint8Array): MessagesFields {
  const { text, value } = _parsedJson(bytes);
  const fields = messagesFields(value);
  const repeated = repeatedField(bytes, text);
  if (repeated !== undefined) {
    throw new RelayError(400, `${repeated}: given more than once; a request body gives each field once`);
  }
  return fields;
}

/**
 * The fields relay reads to admit, route and price a request, which the upstream must read the same:
 * `JSON.parse` keeps a repeated name's last value, a parser elsewhere (or a gateway's scanner) may keep
 * the first, and the bytes travel as they came. `inference_geo` is priced too ({@linkcode costlierAsks}).
 */
const _READ_FIELDS = ["model", "stream", "max_tokens", "speed", "inference_geo"];
/**
 * Each of them named, at any depth, or a lowercase letter or `_` spelt as an escape (`\u006d`), which no
 * encoder writes but a parser reads as the letter, in a name too. One search for all: each apart costs
 * a pass over the text each.
 */
const _NAMED = new RegExp(`"(${_READ_FIELDS.join("|")})"|\\\\u00(?:[67][0-9a-fA-F]|5[fF])`, "g");

/**
 * The first of the fields relay reads ({@linkcode _READ_FIELDS}) that the top level of a request body
 * (`bytes`, valid JSON, decoded as `text`) gives more than once, or `undefined`. The members are read
 * only where the text names one twice at any depth (a tool's schema may), or spells a letter as an
 * escape: a Claude Code body names each once, and a search costs less than reading 400 KiB of members.
 *
 * @example
 * ```ts
 * const text = '{"model":"claude-opus-4-1","max_tokens":5,"model":"claude-haiku-4-5","messages":[]}';
 * repeatedField(new TextEncoder().encode(text), text); // "model"
 * ```
 */
export function repeatedField(bytes: Uint8Array, text: string): string | undefined {
  if (!_mayRepeat(text)) return undefined;
  const seen = new Set<string>();
  for (const name of topLevelNames(bytes)) {
    if (!_READ_FIELDS.includes(name)) continue;
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

function _mayRepeat(text: string): boolean {
  const named = new Set<string>();
  _NAMED.lastIndex = 0;
  for (let found = _NAMED.exec(text); found !== null; found = _NAMED.exec(text)) {
    const [, name] = found;
    if (name === undefined || named.has(name)) return true;
    named.add(name);
  }
  return false;
}

/**
 * A request body parsed as JSON, strictly UTF-8 (replacement characters would change the text the model
 * reads, unseen), or a 400 `RelayError` saying why not, never quoting the body.
 *
 * @example
 * ```ts
 * const body = parseJsonBody(await readBody(request, maxBodyBytes));
 * ```
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  return _parsedJson(bytes).value;
}

/** {@linkcode parseJsonBody}, with the text it parsed. */
function _parsedJson(bytes: Uint8Array): { text: string; value: unknown } {
  if (bytes.byteLength === 0) throw new RelayError(400, "request body is empty: expected a JSON object");
  try {
    const text = _decoder.decode(bytes);
    return { text, value: JSON.parse(text) };
  } catch (error) {
    const reason = error instanceof SyntaxError ? jsonSyntaxReason(error) : "it is not valid UTF-8";
    throw new RelayError(400, `request body is not valid JSON: ${reason}`);
  }
}

/**
 * The checks of {@linkcode inspectMessagesBody} on a body already parsed, for a request relay made
 * itself from an object it holds, whose bytes need no second parse.
 *
 * @example
 * ```ts
 * const { model, stream } = messagesFields({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [] });
 * ```
 */
export function messagesFields(body: unknown): MessagesFields {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RelayError(400, `request body must be a JSON object, got ${_kind(body)}`);
  }
  const { model, stream } = body as Record<string, unknown>;
  if (typeof model !== "string" || model === "") {
    throw new RelayError(400, `model: field required (a non-empty string), got ${_kind(model)}`);
  }
  const problem = modelProblem(model);
  if (problem) throw new RelayError(400, problem);
  if (stream !== undefined && typeof stream !== "boolean") {
    throw new RelayError(400, `stream: expected a boolean, got ${_kind(stream)}`);
  }
  return { model, stream: stream === true, json: body as Record<string, unknown> };
}

/**
 * What a Messages body asks to be served at that costs more (fast mode, US-only inference): a budget
 * holds the request at those prices.
 *
 * @example
 * ```ts
 * costlierAsks({ model: "claude-opus-5-5", speed: "fast" }); // { speed: "fast" }
 * ```
 */
export function costlierAsks(body: Record<string, unknown>): Pick<UsageDetail, "speed" | "inferenceGeo"> {
  return {
    ...(body.speed === "fast" && { speed: "fast" as const }),
    ...(body.inference_geo === "us" && { inferenceGeo: "us" as const }),
  };
}

/**
 * What is wrong with a model name no real model has, or `undefined`: the front door asks too, to name
 * the field in OpenAI's error shape.
 *
 * @example
 * ```ts
 * modelProblem("claude\u0000"); // "model: must not contain control characters"
 * ```
 */
export function modelProblem(model: string): string | undefined {
  // Real ids, Bedrock's ARNs included, are far shorter; a longer name would be kept whole by the ledger,
  // the log and relay's memory of unpriced models, each request a new one.
  if (model.length > _MAX_MODEL_LENGTH) {
    return `model: at most ${_MAX_MODEL_LENGTH} characters, got ${model.length}`;
  }
  // No model's name has one, and a NUL would cut the name short in the ledger.
  if (_CONTROL.test(model)) return "model: must not contain control characters";
  // A lone surrogate (`"\ud800"` in JSON) becomes U+FFFD in UTF-8: two such names would be one in the
  // metrics, the ledger and the upstream's eyes, while relay counted them apart.
  if (!model.isWellFormed()) return "model: must not contain a lone UTF-16 surrogate";
  return undefined;
}

const _CONTROL = /\p{Cc}/u;
const _MAX_MODEL_LENGTH = 256;

function _kind(value: unknown): string {
  if (value === null) return "null";
  if (value === "") return "an empty string";
  if (Array.isArray(value)) return "an array";
  return value === undefined ? "nothing" : `a ${typeof value}`;
}
