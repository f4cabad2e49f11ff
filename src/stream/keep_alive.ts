/**
 * Keep-alives for SSE bodies whose source goes quiet: Claude Code aborts a stream after 300 s without
 * a byte, proxies and OpenAI clients sooner (protocols.md §2.3, §8.3), while a local model may take
 * minutes over a long prompt and Bedrock sends no pings of its own.
 */
import { encodeSseEvent } from "./sse_encode.ts";
import { realTimers, type Timers } from "./timeouts.ts";

/** The keep-alive interval when the config does not set one (`server.keepalive`). */
export const DEFAULT_KEEPALIVE_MS = 15_000;

/** Anthropic's own keep-alive event, which its SDKs skip. */
export const ANTHROPIC_PING: Uint8Array = encodeSseEvent("ping", { type: "ping" });

/** An SSE comment: OpenAI's SDK fails on an `event: ping` with JSON, but every parser ignores comments. */
export const OPENAI_PING: Uint8Array = new TextEncoder().encode(": ping\n\n");

export interface KeepAliveOptions {
  /** Longest silence before a keep-alive is sent, in milliseconds; 0 turns keep-alives off. */
  intervalMs: number;
  /** The keep-alive's bytes: {@linkcode ANTHROPIC_PING} or {@linkcode OPENAI_PING}. */
  ping: Uint8Array;
  /** The global `setTimeout`/`clearTimeout` unless given. */
  timers?: Timers;
}

/**
 * The same SSE body, with `ping` sent whenever the source has been silent for `intervalMs` while the
 * client waits for more. A keep-alive goes out only between two events: inserted into a half-sent
 * event it would corrupt it, so during a silence inside an event the client gets nothing until the
 * source continues.
 *
 * Like `withIdleTimeout`, this reads nothing ahead (the source is read only when the client asks for
 * more), so the clock runs on the source's silence, never on a slow client's.
 *
 * @example
 * ```ts
 * const body = withKeepAlive(events, { intervalMs: 15_000, ping: ANTHROPIC_PING });
 * ```
 */
export function withKeepAlive(
  body: ReadableStream<Uint8Array>,
  options: KeepAliveOptions,
): ReadableStream<Uint8Array> {
  if (options.intervalMs <= 0) return body;
  const timers = options.timers ?? realTimers;
  const reader = body.getReader();
  const boundary = new _EventBoundary();
  let stopped = false;

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: unknown;
      const arm = () => {
        timer = timers.setTimeout(() => {
          if (stopped) return;
          if (boundary.atBoundary) controller.enqueue(options.ping);
          arm();
        }, options.intervalMs);
      };
      arm();
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        if (!stopped) controller.error(error);
        return;
      } finally {
        timers.clearTimeout(timer);
      }
      if (stopped) return;
      if (result.done) {
        controller.close();
      } else {
        boundary.see(result.value);
        controller.enqueue(result.value);
      }
    },
    cancel(reason) {
      stopped = true;
      // Deno 2.9.6 rejects a cancel that reaches a TransformStream terminated with output still queued
      // (Bedrock's decoder after its error event); the client is gone either way.
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

const _LF = 0x0a;
const _CR = 0x0d;

/**
 * Whether the bytes so far end an SSE event: they end in a blank line, i.e. two line ends in a row
 * (LF, CR or CRLF, a CRLF possibly split across chunks). Only the trailing run of CR/LF bytes is looked
 * at, so this costs next to nothing per chunk. The start of a stream counts as a boundary.
 */
class _EventBoundary {
  #lineEnds = 2;
  #afterCr = false;

  get atBoundary(): boolean {
    return this.#lineEnds >= 2;
  }

  see(chunk: Uint8Array) {
    let start = chunk.byteLength;
    while (start > 0 && (chunk[start - 1] === _LF || chunk[start - 1] === _CR)) start--;
    if (start > 0) {
      this.#lineEnds = 0;
      this.#afterCr = false;
    }
    for (let i = start; i < chunk.byteLength; i++) {
      const crlf = chunk[i] === _LF && this.#afterCr;
      this.#afterCr = chunk[i] === _CR;
      if (!crlf) this.#lineEnds++;
    }
  }
}
