/**
 * Bedrock's `application/vnd.amazon.eventstream` response (protocols.md §3.4) turned back into the
 * Anthropic SSE stream it wraps. Each chunk frame carries one Anthropic event as base64 JSON; it is
 * re-emitted as the exact JSON text Bedrock encoded, so signatures, ids and numbers keep their bytes.
 * Exception and error frames, and a stream that is corrupt or cut short, end it with `event: error`.
 */
import { EventStreamCodec, type Message } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { type BedrockError, mapBedrockError } from "../providers/bedrock_errors.ts";
import { errorEnvelope } from "../server/errors.ts";
import { encodeSseEvent } from "./sse_encode.ts";
import { parseJsonObject } from "../util/json.ts";

/** One Anthropic SSE event decoded from Bedrock's stream. */
export interface SsePart {
  /** `event: …\ndata: …\n\n`, ready to send. */
  readonly bytes: Uint8Array;
  /**
   * Set on the `event: error` that ends the stream, so a caller that has not answered its client yet
   * can send it as an HTTP error instead.
   */
  readonly error?: BedrockError;
  /**
   * Set with `error` when the stream itself is corrupt (not Bedrock's own exception or error frame): no
   * error of Bedrock's, but an answer relay cannot read.
   */
  readonly unreadable?: true;
}

/**
 * Decodes Bedrock's event stream into Anthropic SSE events. Frames are reassembled across any chunk
 * boundaries and both CRCs are checked; Bedrock's `p` padding is dropped. The stream ends after the
 * first error part, which cancels the upstream body.
 *
 * @example
 * ```ts
 * const events = response.body!.pipeThrough(eventStreamToSse());
 * for await (const part of events) console.log(new TextDecoder().decode(part.bytes));
 * ```
 */
export function eventStreamToSse(): TransformStream<Uint8Array, SsePart> {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const pending = new _Pending();
  /** Sends a part on; an error part is the last one and stops reading Bedrock. */
  const emit = (controller: TransformStreamDefaultController<SsePart>, part: SsePart | undefined) => {
    if (part) controller.enqueue(part);
    if (part?.error) controller.terminate();
    return part?.error !== undefined;
  };
  return new TransformStream<Uint8Array, SsePart>({
    transform(chunk, controller) {
      pending.add(chunk);
      while (pending.byteLength >= _LENGTH_BYTES) {
        const total = pending.totalLength();
        if (total < _MIN_FRAME_BYTES || total > _MAX_FRAME_BYTES) {
          emit(controller, _broken(`a frame declares ${total} bytes, outside 16 B to 16 MiB`));
          return;
        }
        if (pending.byteLength < total) return;
        if (emit(controller, _decoded(codec, pending.take(total)))) return;
      }
    },
    flush(controller) {
      if (pending.byteLength > 0) {
        emit(controller, _broken(`it ended ${pending.byteLength} bytes into a frame`));
      }
    },
  });
}

/** `total_length`, the prelude's first field: how much of a frame must arrive before it says its size. */
const _LENGTH_BYTES = 4;
/** Prelude, its CRC and the message CRC, with no headers and no payload. */
const _MIN_FRAME_BYTES = 16;
/**
 * The event-stream format's own message limit. A larger `total_length` is a corrupt prelude, caught
 * here at once rather than after buffering up to 4 GiB for a prelude CRC check.
 */
const _MAX_FRAME_BYTES = 16 * 1024 * 1024;

const _decoder = new TextDecoder("utf-8", { fatal: true });
const _encoder = new TextEncoder();

function _decoded(codec: EventStreamCodec, frame: Uint8Array): SsePart | undefined {
  let message: Message;
  try {
    message = codec.decode(frame);
  } catch (error) {
    // The codec checks both CRCs and names the one that failed.
    return _broken((error as Error).message);
  }
  const header = (name: string) => {
    const value = message.headers[name];
    return value?.type === "string" ? value.value : undefined;
  };
  switch (header(":message-type")) {
    case "event":
      return header(":event-type") === "chunk" ? _chunk(message.body) : undefined;
    case "exception": {
      const name = header(":exception-type");
      // Its JSON body: `{"message"}`, and for a model's stream error its `originalStatusCode`.
      const body = parseJsonObject(_decoder.decode(message.body));
      // The model's own failure mid-stream says what it was (a 429, a 529): that decides the retry.
      const original = /^modelstreamerrorexception$/i.test(name ?? "") ? _originalStatus(body) : undefined;
      if (original !== undefined) {
        const text = _text(body?.originalMessage) ?? _text(body?.message) ?? name!;
        return _failure(mapBedrockError(undefined, text, original));
      }
      return _failure(mapBedrockError(name, _text(body?.message) ?? name ?? "exception", 500));
    }
    case "error": {
      const code = header(":error-code");
      return _failure(mapBedrockError(code, header(":error-message") ?? code ?? "error", 500));
    }
  }
  return undefined;
}

/**
 * A chunk payload is `{"bytes":"<base64 event JSON>","p":"<padding>"}`. Events without a `type` are
 * dropped, as Anthropic's Bedrock SDK drops them; so is a type with a line break, which no SSE event
 * name can hold.
 */
function _chunk(payload: Uint8Array): SsePart | undefined {
  let text: string;
  let type: unknown;
  try {
    text = _decoder.decode(Uint8Array.fromBase64(JSON.parse(_decoder.decode(payload)).bytes));
    type = JSON.parse(text)?.type;
  } catch (error) {
    return _broken(`a chunk does not hold a base64 JSON event (${(error as Error).message})`);
  }
  if (typeof type !== "string" || /[\r\n]/.test(type)) return undefined;
  // SSE carries one-line data; pretty-printed JSON is the one case where the text has to be rewritten.
  const data = /[\r\n]/.test(text) ? JSON.stringify(JSON.parse(text)) : text;
  return { bytes: _encoder.encode(`event: ${type}\ndata: ${data}\n\n`) };
}

/** `originalStatusCode` when it is an HTTP error status; anything else says nothing. */
function _originalStatus(body: Record<string, unknown> | undefined): number | undefined {
  const status = body?.originalStatusCode;
  return Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599
    ? status as number
    : undefined;
}

function _text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function _broken(problem: string): SsePart {
  const part = _failure({
    status: 502,
    type: "api_error",
    message: `Bedrock's event stream is broken: ${problem}`,
  });
  return { ...part, unreadable: true };
}

function _failure(error: BedrockError): SsePart {
  return { bytes: encodeSseEvent("error", errorEnvelope(error.type, error.message)), error };
}

/**
 * The bytes read and not yet decoded. A chunk that begins a frame is read in place, frames and all; a
 * frame it leaves unfinished is copied, with the chunks that follow, into a buffer that doubles as it
 * fills, so what is copied stays within a few times what came. Joined anew with each chunk, a frame of
 * up to 16 MiB was copied whole for every chunk of it: 5.5 s for one in 16 KiB chunks, holding every
 * stream relay carries. Not kept as the chunks they came in: a fetch body's chunk, however few its
 * bytes, holds a 64 KiB buffer.
 */
class _Pending {
  /** Pending are `#bytes` from `#start` to `#end`: a chunk as it came, or a buffer of ours. */
  #bytes: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;
  /** Whether `#bytes` is our buffer, written past `#end` as chunks come, rather than a chunk. */
  #ours = false;

  get byteLength(): number {
    return this.#end - this.#start;
  }

  add(chunk: Uint8Array): void {
    if (this.byteLength === 0) {
      [this.#bytes, this.#start, this.#end, this.#ours] = [chunk, 0, chunk.byteLength, false];
      return;
    }
    if (!this.#ours || this.#end + chunk.byteLength > this.#bytes.byteLength) {
      const pending = this.#bytes.subarray(this.#start, this.#end);
      this.#bytes = new Uint8Array(2 * (pending.byteLength + chunk.byteLength));
      this.#bytes.set(pending);
      [this.#start, this.#end, this.#ours] = [0, pending.byteLength, true];
    }
    this.#bytes.set(chunk, this.#end);
    this.#end += chunk.byteLength;
  }

  /** The frame's `total_length`; at least {@linkcode _LENGTH_BYTES} must be pending. */
  totalLength(): number {
    return new DataView(this.#bytes.buffer, this.#bytes.byteOffset + this.#start).getUint32(0);
  }

  /**
   * The first `count` bytes, no longer pending; at least `count` must be. Nothing is written over them
   * later: only past `#end`.
   */
  take(count: number): Uint8Array {
    const taken = this.#bytes.subarray(this.#start, this.#start + count);
    this.#start += count;
    return taken;
  }
}
