import { createParser, type EventSourceParser } from "eventsource-parser";

/** One dispatched SSE event. */
export interface SseEvent {
  /** The `event:` field, or `"message"` when the event had none (WHATWG's default type). */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
}

/** Past this many buffered characters an event is surely not Anthropic's, and observing it is not worth the memory. */
const _MAX_BUFFERED_CHARS = 32 * 1024 * 1024;

/**
 * An incremental SSE parser, fed bytes cut anywhere: inside a UTF-8 sequence, inside a line, between the
 * CR and LF of a CRLF. It follows WHATWG's "parsing an event stream": one leading BOM skipped, CRLF, CR
 * and LF line ends in any mix, comments and unknown fields ignored, and an event dispatched only by a
 * blank line, so one the stream cuts short is never reported.
 *
 * @example
 * ```ts
 * const decoder = new SseDecoder();
 * for await (const chunk of response.body!) {
 *   for (const { event, data } of decoder.feed(chunk)) console.log(event, JSON.parse(data));
 * }
 * ```
 */
export class SseDecoder {
  // `ignoreBOM` keeps a BOM in the text so the parser strips exactly one, as the spec says, not two.
  readonly #text = new TextDecoder("utf-8", { ignoreBOM: true });
  readonly #parser: EventSourceParser;
  #events: SseEvent[] = [];

  /** `maxBufferedChars` bounds the memory one unfinished line or event may hold (32 Mi characters). */
  constructor(options: { maxBufferedChars?: number } = {}) {
    this.#parser = createParser({
      maxBufferSize: options.maxBufferedChars ?? _MAX_BUFFERED_CHARS,
      onEvent: ({ event, data }) => this.#events.push({ event: event ?? "message", data }),
      onError: (error) => {
        if (error.type === "max-buffer-size-exceeded") throw error;
      },
    });
  }

  /**
   * Parses the next bytes and returns the events they complete, in stream order.
   * Throws once more than `maxBufferedChars` (32 Mi by default) wait for a line or event to end.
   */
  feed(chunk: Uint8Array): SseEvent[] {
    this.#parser.feed(this.#text.decode(chunk, { stream: true }));
    const events = this.#events;
    this.#events = [];
    return events;
  }
}
