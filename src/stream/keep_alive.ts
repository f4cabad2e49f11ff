/**
 * Keep-alives for SSE bodies whose source goes quiet: Claude Code aborts a stream after 300 s without
 * a byte, proxies and OpenAI clients sooner (protocols.md §2.3, §8.3), while a local model may take
 * minutes over a long prompt and Bedrock sends no pings of its own.
 */
import { encodeSseEvent } from "./sse_encode.ts";
import { EventBoundary } from "./event_boundary.ts";
import { guardedPull } from "./guarded_pull.ts";
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
  const boundary = new EventBoundary();
  return guardedPull(body, {
    arm(controller) {
      let timer: unknown;
      let armed = true;
      const ping = () => {
        timer = timers.setTimeout(() => {
          if (!armed) return;
          if (boundary.atBoundary) controller.enqueue(options.ping);
          ping();
        }, options.intervalMs);
      };
      ping();
      return () => {
        armed = false;
        timers.clearTimeout(timer);
      };
    },
    see: (chunk) => boundary.see(chunk),
  });
}
