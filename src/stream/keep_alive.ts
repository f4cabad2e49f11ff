/**
 * Keep-alives for SSE bodies whose source goes quiet (see {@linkcode ForwardOptions.keepAlive} for why
 * each client needs them).
 */
import { forwardBody, type ForwardOptions, type Ping } from "./forward.ts";
import { encodeSseEvent } from "./sse_encode.ts";
import type { Timers } from "../util/timers.ts";
import { WatchedReader } from "./watched_reader.ts";

/** The keep-alive interval when the config does not set one (`server.keepalive`). */
export const DEFAULT_KEEPALIVE_MS = 15_000;

/** Anthropic's own keep-alive event, which its SDKs skip. */
export const ANTHROPIC_PING: Uint8Array = encodeSseEvent("ping", { type: "ping" });

/** An SSE comment: OpenAI's SDK fails on an `event: ping` with JSON, but every parser ignores comments. */
export const OPENAI_PING: Uint8Array = new TextEncoder().encode(": ping\n\n");

export interface KeepAliveOptions {
  /** Longest silence before a keep-alive is sent, in milliseconds; 0 turns keep-alives off. */
  intervalMs: number;
  /** The keep-alive's bytes ({@linkcode ANTHROPIC_PING}, {@linkcode OPENAI_PING}), or their maker. */
  ping: Ping;
  /**
   * Longest a client may take to ask for more once handed something, as {@linkcode ForwardOptions}
   * has it: past this, it is given up on and the body broken off. No limit when left out.
   */
  clientIdleMs?: number;
  /** Monotonic milliseconds; `performance.now` unless given. */
  now?: () => number;
  /** The global `setTimeout`/`clearTimeout` unless given. */
  timers?: Timers;
}

/**
 * The same SSE body, with `ping` sent whenever the source has been silent for `intervalMs` while the
 * client waits for more, only ever between two events; a source's error passes through as it is. A
 * client that stops reading is given up on after `clientIdleMs`, so it cannot hold the body open. For
 * bodies relay makes itself (the admin event stream); relayed bodies get theirs from
 * {@linkcode forwardBody} directly, in the same stream layer as their deadlines.
 *
 * @example
 * ```ts
 * const body = withKeepAlive(events, { intervalMs: 15_000, ping: OPENAI_PING });
 * ```
 */
export function withKeepAlive(
  body: ReadableStream<Uint8Array>,
  options: KeepAliveOptions,
): ReadableStream<Uint8Array> {
  const { intervalMs, ping, clientIdleMs, ...clock } = options;
  if (intervalMs <= 0 && clientIdleMs === undefined) return body;
  const keepAlive: ForwardOptions["keepAlive"] = intervalMs > 0 ? { intervalMs, ping } : undefined;
  return forwardBody(new WatchedReader(body.getReader(), clock), {
    sse: true,
    keepAlive,
    clientIdleMs,
    ...clock,
  });
}
