import { AnswerCutError, BodyCutError } from "./body_cut.ts";
import { type AnthropicErrorType, errorEnvelope } from "../server/errors.ts";
import { EventBoundary, LF } from "./event_boundary.ts";
import { encodeSseEvent } from "./sse_encode.ts";
import { realTimers, type Timers } from "../util/timers.ts";
import { earnsGrace, STALL_GRACE_MS } from "../util/deadline.ts";
import type { SecretMask } from "./secret_mask.ts";
import type { WatchedReader } from "./watched_reader.ts";

/** How a relayed body ended, for the access log. */
export type ForwardOutcome =
  | { kind: "complete"; bytes: number }
  /** `message` says why when relay gave up on a client that stopped reading; none when it left. */
  | { kind: "client_closed"; bytes: number; message?: string }
  | { kind: "upstream_failed"; bytes: number; errorType: AnthropicErrorType; message: string }
  /** A stage of relay's own reading the body (the front door's translation) gave up on it, saying why. */
  | { kind: "relay_error"; bytes: number; error: string };

/**
 * A keep-alive's bytes, or what makes them each time: an event that carries a sequence number (the
 * Responses API's) is made when it is sent.
 */
export type Ping = Uint8Array | (() => Uint8Array);

export interface ForwardOptions {
  /** Bytes already read from the source (relay reads until the upstream commits), sent first. */
  first?: Uint8Array;
  /** Whether the body is an SSE stream, where relay may add events of its own between the source's. */
  sse: boolean;
  /**
   * Sees every chunk read from the source after `first` as it goes out (a usage tap; the caller has seen
   * `first`), as the source sent it, before any `mask`; it must not keep or change it.
   */
  observe?: (chunk: Uint8Array) => void;
  /**
   * Masks the key the answer was asked with wherever it quotes it; what it holds back of a chunk goes
   * out with the next, or once the body ends, however it ends.
   */
  mask?: SecretMask;
  /**
   * Names a mid-body failure (a timeout, a reset connection), which then ends the body cleanly, told
   * in-band when it can be. Without it the body fails with the source's error.
   */
  describeFailure?: (error: unknown) => { errorType: AnthropicErrorType; message: string };
  /**
   * Asked when the source ends: why the body is unfinished all the same (an Anthropic stream without
   * its `message_stop`, a JSON answer that is no whole object), or `undefined` when it is whole. An
   * unfinished body ends as a mid-body failure does, `describeFailure` naming the reason.
   */
  unfinished?: () => Error | undefined;
  /**
   * Asked after each chunk (`first` too): whether the source has sent the event that ends its answer
   * (`message_stop`, or an `error`), or the whole object of a JSON answer. The body then ends there,
   * complete; what the source still sends is read and dropped for up to a second (its connection can
   * then carry another request), then it is cancelled: an upstream that keeps the connection open after
   * its answer's end would otherwise hold the client until `timeouts.idle` and end its whole answer as a
   * failure.
   */
  ended?: () => boolean;
  /** Called once, when the body ends for any reason. */
  onDone?: (outcome: ForwardOutcome) => void;
  /**
   * Called once, when the client's side asks for more after `first` (or leaves first): for work each
   * answer needs but its first byte need not wait for. Until JavaScript yields, the server cannot
   * write the head; it asks for more only once it has written it, so this costs no extra turn (a timer
   * per answer costs more than the work it would defer: relay bench), and it never waits for the
   * source's next chunk, which may be minutes away.
   */
  afterHead?: () => void;
  /**
   * For an SSE body: `ping` goes out whenever the source has been silent for `intervalMs` while the
   * client waits for more (0: never). Claude Code aborts a stream after 300 s without a byte, proxies
   * and OpenAI clients sooner (protocols.md §2.3, §8.3), while a local model may take minutes over a
   * long prompt and Bedrock sends no pings of its own.
   */
  keepAlive?: { intervalMs: number; ping: Ping };
  /**
   * The route's `timeouts.idle`, as the longest the client may take to ask for more each time it has
   * been handed something (the head, a chunk); no limit when left out. A client that stops reading
   * holds its request's slot and its upstream exchange, which no deadline on the source ever ends:
   * past this, the source is cancelled and the client's transfer broken off.
   */
  clientIdleMs?: number;
  /** Monotonic milliseconds, for `clientIdleMs`; `performance.now` unless given. */
  now?: () => number;
  /** The global `setTimeout`/`clearTimeout` unless given, for `clientIdleMs` and the read-on after the end. */
  timers?: Timers;
}

/**
 * The body relay sends its client: the source's bytes, chunk for chunk as they arrive, never read
 * ahead (`highWaterMark: 0`), so a slow client slows the upstream instead of filling relay's memory,
 * and the reader's deadlines run on the source's silence, never on a slow client's.
 *
 * When the source fails mid-stream, or ends `unfinished`, and `describeFailure` names the failure, the
 * client gets an `event: error` if the bytes so far end on an event boundary (the SDKs then raise a
 * proper API error); otherwise (half an event, or any body that is not SSE) the client's transfer
 * fails, as the upstream's did: anything appended would corrupt it, and a clean end would pass a cut
 * body off as whole. A keep-alive goes out only between two events, for the same reason.
 *
 * A client that asks for nothing more for `clientIdleMs` is given up on as one that left, with its
 * transfer broken off: relay's keep-alives go out only while it waits on the source, so they never
 * count as the client reading.
 *
 * One stream layer does all of this: each layer costs promises per chunk, and relay bench counts them.
 *
 * @example
 * ```ts
 * const reader = new WatchedReader(upstream.body!, { firstByteMs: 60_000, idleMs: 300_000 });
 * const first = await reader.read();
 * return new Response(forwardBody(reader, {
 *   first: first.value, sse: true, describeFailure, onDone,
 *   keepAlive: { intervalMs: 15_000, ping: ANTHROPIC_PING },
 * }));
 * ```
 */
export function forwardBody(reader: WatchedReader, options: ForwardOptions): ReadableStream<Uint8Array> {
  let bytes = 0;
  const boundary = new EventBoundary();
  let finished = false;
  const finish = (outcome: ForwardOutcome) => {
    if (finished) return;
    finished = true;
    client?.stop();
    options.onDone?.(outcome);
  };
  const { observe, describeFailure, mask, ended } = options;
  let afterHead = options.afterHead;
  const headIsOut = () => {
    const run = afterHead;
    afterHead = undefined;
    run?.();
  };
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const leave = (reason: unknown, outcome: ForwardOutcome) => {
    if (afterHead) headIsOut();
    finish(outcome);
    // Deno 2.9.6 rejects a cancel that reaches a TransformStream terminated with output still queued
    // (Bedrock's decoder after its error event); the client is gone either way.
    return reader.cancel(reason).catch(() => {});
  };
  const { clientIdleMs } = options;
  const client = clientIdleMs === undefined ? undefined : new _ClientWait(clientIdleMs, () => {
    const message = `client read nothing for ${clientIdleMs} ms (timeouts.idle)`;
    const error = new BodyCutError(message);
    controller.error(error);
    leave(error, { kind: "client_closed", bytes, message });
  }, options);
  /** Whether anything went out: a mask may hold a whole chunk that could begin its key. */
  const send = (chunk: Uint8Array): boolean => {
    if (chunk.byteLength === 0) return false;
    bytes += chunk.byteLength;
    boundary.see(chunk);
    controller.enqueue(chunk);
    return true;
  };
  const emit = mask ? (chunk: Uint8Array) => send(mask.apply(chunk)) : send;
  const sendHeld = () => {
    const held = mask?.flush();
    if (held) send(held);
  };
  // After a cancel (`finished`), the read it settled has nowhere to go.
  const onChunk = (result: ReadableStreamReadResult<Uint8Array>): void | Promise<void> => {
    if (finished) return;
    if (result.done) {
      const cut = options.unfinished?.();
      if (cut) {
        onFailure(cut);
        return;
      }
      sendHeld();
      controller.close();
      finish({ kind: "complete", bytes });
      return;
    }
    let handed: boolean;
    try {
      handed = emit(result.value);
      observe?.(result.value);
    } catch (error) {
      onFailure(error);
      return;
    }
    if (ended?.()) return endAtLastEvent();
    if (handed) client?.handed();
    // A pull that enqueues nothing is never repeated: with nothing handed on, read on.
    else return reader.read().then(onChunk, onFailure);
  };
  /**
   * Ends the body after the source's last event. An event whose last CRLF came split after its CR (a
   * CR alone ends a line, so the event is whole) waits up to `_DRAIN_MS` for its LF, the source's last
   * byte, which a byte-faithful body must not lose.
   */
  const endAtLastEvent = (): void | Promise<void> => {
    if (!boundary.endsInCr) return closeAtLastEvent();
    const timers = options.timers ?? realTimers;
    return new Promise<void>((resolve) => {
      let waiting = true;
      const stopWaiting = () => {
        waiting = false;
        timers.clearTimeout(timer);
        resolve();
      };
      const timer = timers.setTimeout(stopWaiting, _DRAIN_MS);
      reader.read().then((read) => {
        if (waiting && !finished && !read.done && read.value[0] === LF) emit(read.value.subarray(0, 1));
      }, () => {}).finally(stopWaiting);
    }).then(closeAtLastEvent);
  };
  const closeAtLastEvent = () => {
    if (finished) return;
    sendHeld();
    controller.close();
    if (afterHead) headIsOut();
    finish({ kind: "complete", bytes });
    _drainThenCancel(reader, options.timers ?? realTimers);
  };
  const onFailure = (error: unknown) => {
    if (finished) return;
    sendHeld();
    if (!describeFailure) {
      controller.error(error);
      return;
    }
    const failure = describeFailure(error);
    if (options.sse && boundary.atBoundary) {
      controller.enqueue(encodeSseEvent("error", errorEnvelope(failure.errorType, failure.message)));
      controller.close();
    } else {
      // Half a JSON body or half an event cannot be told, or mended: the client's transfer breaks, as
      // the upstream's did, instead of ending as if it were whole.
      controller.error(new AnswerCutError(failure.message, failure.errorType, { cause: error }));
    }
    finish({ kind: "upstream_failed", bytes, ...failure });
  };

  return new ReadableStream<Uint8Array>({
    start(streamController) {
      controller = streamController;
      if (options.first) emit(options.first);
      if (ended?.()) return endAtLastEvent();
      const { keepAlive } = options;
      if (options.sse && keepAlive) {
        reader.onQuiet(keepAlive.intervalMs, () => {
          // Only into an empty queue: a client that stopped reading needs no second ping.
          if (!finished && boundary.atBoundary && (controller.desiredSize ?? -1) >= 0) {
            controller.enqueue(typeof keepAlive.ping === "function" ? keepAlive.ping() : keepAlive.ping);
          }
        });
      }
      client?.handed();
    },
    pull() {
      client?.asked();
      if (afterHead) headIsOut();
      return reader.read().then(onChunk, onFailure);
    },
    cancel(reason) {
      return leave(
        reason,
        reason instanceof BodyCutError
          ? { kind: "relay_error", bytes, error: reason.message }
          : { kind: "client_closed", bytes },
      );
    },
  }, { highWaterMark: 0 });
}

/**
 * What an upstream still sends after its answer's last event (the end of its chunked body, as a rule in
 * the next read) is read and dropped, so its connection can carry the next request; one that sends more
 * for longer than `_DRAIN_MS` (an upstream keeping the answer open) is cancelled.
 */
function _drainThenCancel(reader: WatchedReader, timers: Timers): void {
  const timer = timers.setTimeout(() => reader.cancel().catch(() => {}), _DRAIN_MS);
  const drain = (): Promise<void> => reader.read().then((read) => read.done ? undefined : drain());
  drain().catch(() => {}).finally(() => timers.clearTimeout(timer));
}

const _DRAIN_MS = 1_000;

/**
 * How long a client has kept relay waiting since it was last handed something, and `onStalled` once
 * that reaches `ms`. Like {@linkcode WatchedReader}'s, its one timer is re-armed only when it fires, so
 * a chunk costs a clock read, not a timer, and a wait that ran out while relay itself stood still gets
 * the same grace ({@linkcode earnsGrace}): the server asks for more only once it writes again, and
 * after a pause the late timer may run first.
 */
class _ClientWait {
  readonly #ms: number;
  readonly #onStalled: () => void;
  readonly #now: () => number;
  readonly #timers: Timers;
  /** When the client was handed what it has not asked past; `undefined` while it waits for more. */
  #since: number | undefined;
  #timer: unknown;
  #timerDue = 0;
  /** The graces the wait since `#since` had for relay standing still. */
  #graces = 0;

  constructor(ms: number, onStalled: () => void, clock: { now?: () => number; timers?: Timers }) {
    this.#ms = ms;
    this.#onStalled = onStalled;
    this.#now = clock.now ?? (() => performance.now());
    this.#timers = clock.timers ?? realTimers;
  }

  handed(): void {
    const now = this.#now();
    this.#since = now;
    this.#graces = 0;
    if (this.#timer === undefined) this.#arm(now, this.#ms);
  }

  asked(): void {
    this.#since = undefined;
  }

  stop(): void {
    this.#since = undefined;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(now: number, ms: number): void {
    this.#timerDue = now + ms;
    this.#timer = this.#timers.setTimeout(this.#fire, ms);
  }

  readonly #fire = () => {
    this.#timer = undefined;
    // The client is waiting on the source: the next chunk handed to it arms the timer again.
    if (this.#since === undefined) return;
    const now = this.#now();
    if (now - this.#since >= this.#ms) {
      if (!earnsGrace(this.#timerDue, now, this.#graces)) return this.#onStalled();
      this.#graces++;
      this.#since = now + STALL_GRACE_MS - this.#ms;
    }
    this.#arm(now, this.#ms - (now - this.#since));
  };
}
