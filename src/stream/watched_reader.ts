import { realTimers, type Timers } from "../util/timers.ts";
import { StreamTimeoutError, type TimeoutKind } from "./timeouts.ts";
import { earnsGrace, STALL_GRACE_MS } from "../util/deadline.ts";
import { type ChunkReader, compactReader } from "./compact_reader.ts";

/** The deadlines of a {@link WatchedReader} and who hears about a missed one. */
export interface WatchedReaderOptions {
  /** Longest wait for the first chunk, in milliseconds; no limit when left out. */
  firstByteMs?: number;
  /** Longest wait for each later chunk, in milliseconds; no limit when left out. */
  idleMs?: number;
  /** Called once, when a deadline passes, before the read fails with a {@link StreamTimeoutError}. */
  onTimeout?: (kind: TimeoutKind) => void;
  /** Monotonic milliseconds; `performance.now` unless given. */
  now?: () => number;
  /** The global `setTimeout`/`clearTimeout` unless given. */
  timers?: Timers;
  /**
   * Ends the reader when aborted: the outstanding read, and every later one, fails with its reason,
   * whether or not the source itself heeds the same signal (relay's upstream exchange, cut short by a
   * shutdown: a fetch body normally fails by itself then, but the stream must end even if it does not).
   */
  signal?: AbortSignal;
}

/**
 * A reader of a body that watches how long each read waits: past `firstByteMs` before the first chunk,
 * or `idleMs` before a later one, `onTimeout` is told, the read fails with a {@link StreamTimeoutError}
 * and the source is cancelled, which aborts its fetch. {@linkcode WatchedReader.onQuiet} adds a
 * keep-alive on the same clock.
 *
 * The clock only runs while a read is outstanding, and the reader only reads when asked: nothing is
 * read ahead, so a slow consumer never counts as the source's silence. An empty chunk from the source
 * counts as activity for the deadlines and is not handed on.
 *
 * All of it runs on one timer that is re-armed lazily: a chunk costs a clock read, not a
 * `setTimeout`/`clearTimeout` pair. The timer fires at the earliest moment something may be due, and
 * then works out from the clock what is (relay bench showed a timer per chunk as a cost per request).
 * A deadline that passed while relay itself stood still gets the grace `setDeadline` gives
 * ({@linkcode earnsGrace}, src/util/deadline.ts).
 *
 * @example
 * ```ts
 * const reader = new WatchedReader(upstream.body!, {
 *   firstByteMs: 60_000,
 *   idleMs: 300_000,
 *   onTimeout: (kind) => log.warn("upstream went silent", { kind }),
 * });
 * const { value, done } = await reader.read();
 * ```
 */
export class WatchedReader {
  readonly #reader: ChunkReader;
  readonly #options: WatchedReaderOptions;
  readonly #now: () => number;
  readonly #timers: Timers;
  /** When the outstanding read started; `undefined` while nobody waits on the source. */
  #readSince: number | undefined;
  #gotFirst = false;
  /** Why every read fails from now on: a deadline passed or the signal aborted. */
  #failure: { error: unknown } | undefined;
  #closed = false;
  #timer: unknown;
  #timerDue = Infinity;
  #quietMs = Infinity;
  #onQuiet: (() => void) | undefined;
  /** The start of the silence the next keep-alive is counted from: the read's start or the last one. */
  #quietSince = 0;
  /** The graces the outstanding read's deadline had for relay standing still. */
  #graces = 0;

  /** A body given as a stream is read with {@linkcode compactReader}; a reader is read as it is. */
  constructor(source: ReadableStream<Uint8Array> | ChunkReader, options: WatchedReaderOptions = {}) {
    this.#reader = source instanceof ReadableStream ? compactReader(source) : source;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#timers = options.timers ?? realTimers;
    options.signal?.addEventListener("abort", this.#aborted, { once: true });
  }

  /**
   * Calls `callback` each time a read has waited `intervalMs` since it started or since the last call:
   * the moment for a keep-alive.
   */
  onQuiet(intervalMs: number, callback: () => void): void {
    this.#quietMs = intervalMs > 0 ? intervalMs : Infinity;
    this.#onQuiet = callback;
  }

  /** The next chunk; rejects with a {@link StreamTimeoutError} once a deadline has passed. */
  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    const now = this.#now();
    this.#quietSince = now;
    this.#startWait(now);
    return this.#reader.read().then(this.#settled, this.#failed);
  }

  /** Starts the outstanding read's deadline afresh, graces and all. */
  #startWait(now: number): void {
    this.#readSince = now;
    this.#graces = 0;
    this.#arm(now);
  }

  /** Cancels the source and stops the clock. */
  cancel(reason?: unknown): Promise<void> {
    this.#close();
    return this.#reader.cancel(reason);
  }

  readonly #settled = (
    result: ReadableStreamReadResult<Uint8Array>,
  ): ReadableStreamReadResult<Uint8Array> | Promise<ReadableStreamReadResult<Uint8Array>> => {
    this.#readSince = undefined;
    if (this.#failure) throw this.#failure.error;
    if (result.done) {
      this.#close();
      return result;
    }
    this.#gotFirst = true;
    if (result.value.byteLength > 0) return result;
    // An empty chunk is the source's sign of life with nothing to pass on (a translation that dropped
    // what its upstream sent): the deadline starts again, while the silence a keep-alive counts, which
    // is the reader's, goes on. Nobody downstream ever sees it.
    this.#startWait(this.#now());
    return this.#reader.read().then(this.#settled, this.#failed);
  };

  readonly #failed = (error: unknown): never => {
    this.#readSince = undefined;
    this.#close();
    throw this.#failure ? this.#failure.error : error;
  };

  readonly #aborted = () => {
    if (!this.#closed) this.#fail(this.#options.signal!.reason);
  };

  /** Fails every read from now on with `error`; the outstanding one settles as done, then fails. */
  #fail(error: unknown): void {
    this.#failure = { error };
    this.#close();
    this.#reader.cancel(error).catch(() => {});
  }

  #close(): void {
    this.#closed = true;
    this.#options.signal?.removeEventListener("abort", this.#aborted);
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = Infinity;
  }

  /** The deadline the outstanding read runs under; a number, not an object: it is asked per chunk. */
  #limitMs(): number {
    return (this.#gotFirst ? this.#options.idleMs : this.#options.firstByteMs) ?? Infinity;
  }

  /** Makes sure the timer fires by the time the outstanding read next has something due. */
  #arm(now: number): void {
    if (this.#closed || this.#readSince === undefined) return;
    const due = Math.min(this.#readSince + this.#limitMs(), this.#quietSince + this.#quietMs);
    // A timer due earlier fires, finds nothing due yet and re-arms: cheaper than moving it per chunk.
    if (due === Infinity || this.#timerDue <= due) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = this.#timers.setTimeout(this.#fire, Math.max(0, due - now));
  }

  readonly #fire = () => {
    const due = this.#timerDue;
    this.#timer = undefined;
    this.#timerDue = Infinity;
    // Nobody waits on the source: the next read arms the timer again.
    if (this.#closed || this.#readSince === undefined) return;
    const now = this.#now();
    const limitMs = this.#limitMs();
    if (now - this.#readSince >= limitMs) {
      if (!earnsGrace(due, now, this.#graces)) {
        const kind: TimeoutKind = this.#gotFirst ? "idle" : "first_byte";
        this.#options.onTimeout?.(kind);
        this.#fail(new StreamTimeoutError(kind, limitMs));
        return;
      }
      // Relay stood still, not (for all it can tell) the source: the read counts as started when its
      // deadline falls a grace from now.
      this.#graces++;
      this.#readSince = now + STALL_GRACE_MS - limitMs;
    }
    if (now - this.#quietSince >= this.#quietMs) {
      this.#quietSince = now;
      this.#onQuiet?.();
    }
    this.#arm(now);
  };
}
