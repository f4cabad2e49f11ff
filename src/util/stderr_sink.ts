/**
 * Log lines for stderr that never hold relay up. `writeSync` on a pipe nobody reads (a terminal paused
 * with Ctrl-S, a stuck log shipper) blocks once the pipe's 64 KiB are full, and with it the whole
 * event loop: every stream stops (seen with `relay serve 2>fifo` and a reader that stopped). Here lines
 * wait in a bounded queue that one asynchronous write at a time drains, many lines a write when they
 * come faster than it goes; past the bound they are dropped and counted, and the count is told once
 * the writes catch up. A line is dropped only behind others: alone, however long, it is written.
 */
import { concatBytes } from "./bytes.ts";
import { realTimers, type Timers } from "./timers.ts";

export interface StderrSinkOptions {
  /**
   * Most bytes waiting to be written (1 MiB, a few thousand lines); a line past it is dropped, unless
   * nothing waits before it.
   */
  maxQueuedBytes?: number;
  /** Told how many lines were dropped, once the writes have caught up; to log that they were. */
  onDropped?: (count: number) => void;
  /** Where the bytes go, resolving with how many it took: stderr by default. */
  write?: (bytes: Uint8Array) => Promise<number>;
  /**
   * How long after a write the next waits, gathering the lines that come meanwhile into one (0: none).
   * A busy relay logs a line per request: gathered, they cost a write every `gapMs`, not one each. A
   * line after a quiet spell goes at once.
   */
  gapMs?: number;
  /** Monotonic ms, which `gapMs` is counted on: `performance.now` unless given. */
  now?: () => number;
  /** What a write that was not taken waits on before it is tried again, and `flush`'s deadline runs on. */
  timers?: Timers;
}

/** How long a write that stderr was not ready for waits before it is tried again. */
const _RETRY_MS = 50;

const _encoder = new TextEncoder();

/**
 * Writes log lines to stderr in the background, dropping (and counting) what a reader too slow for
 * them leaves no room for.
 *
 * @example
 * ```ts
 * const sink = new StderrSink({ onDropped: (count) => logger.warn("log lines dropped", { count }) });
 * const logger = createLogger({ write: sink.writeLine });
 * // ... before the process exits:
 * await sink.flush(1_000);
 * ```
 */
export class StderrSink {
  readonly #write: (bytes: Uint8Array) => Promise<number>;
  readonly #maxQueuedBytes: number;
  readonly #onDropped: ((count: number) => void) | undefined;
  readonly #timers: Timers;
  readonly #gapMs: number;
  readonly #now: () => number;
  #lastWrite = -Infinity;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #dropped = 0;
  /** Set while a drain runs; a write that fails (stderr closed) leaves nothing to write to. */
  #draining: Promise<void> | undefined;
  #broken = false;

  constructor(options: StderrSinkOptions = {}) {
    this.#write = options.write ?? ((bytes) => Deno.stderr.write(bytes));
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 1024 * 1024;
    this.#onDropped = options.onDropped;
    this.#timers = options.timers ?? realTimers;
    this.#gapMs = options.gapMs ?? 0;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Queues `line` and a line end, and returns at once; bound, so it can be handed on as a function. */
  readonly writeLine = (line: string): void => {
    if (this.#broken) return;
    const bytes = _encoder.encode(line + "\n");
    // Alone, a line over the bound waits all the same: dropping it would say the reader is slow when the
    // line is only long, and would lose it however fast stderr is read.
    if (this.#queue.length > 0 && this.#queuedBytes + bytes.byteLength > this.#maxQueuedBytes) {
      this.#dropped++;
    } else {
      this.#queue.push(bytes);
      this.#queuedBytes += bytes.byteLength;
    }
    this.#draining ??= this.#drain();
  };

  /**
   * Resolves with `true` once every line queued so far is written, or with `false` when `withinMs`
   * passes first (a reader that never comes back must not keep relay from exiting).
   */
  async flush(withinMs = Infinity): Promise<boolean> {
    let timer: unknown;
    const late = new Promise<false>((resolve) => {
      if (Number.isFinite(withinMs)) timer = this.#timers.setTimeout(() => resolve(false), withinMs);
    });
    try {
      while (this.#draining) {
        if (await Promise.race([this.#draining.then(() => true), late]) === false) return false;
      }
      return true;
    } finally {
      this.#timers.clearTimeout(timer);
    }
  }

  async #drain(): Promise<void> {
    // Nothing before the first wait, so `#draining` is set before this can end.
    await undefined;
    try {
      while (this.#queue.length > 0 || this.#dropped > 0) {
        const early = this.#lastWrite + this.#gapMs - this.#now();
        if (early > 0) await this.#wait(early);
        const batch = concatBytes(this.#queue);
        this.#queue = [];
        this.#queuedBytes = 0;
        // Told with every batch, into the room it leaves, so a reader that stays slow still learns
        // that lines went missing; a notice that cannot fit even then waits for the next line.
        if (this.#dropped > 0) this.#tellDropped();
        if (batch.byteLength === 0 && this.#queue.length === 0) break;
        await this.#writeAll(batch);
        this.#lastWrite = this.#now();
      }
    } catch {
      // stderr is gone (closed pipe): nothing can be written again, and nobody to tell.
      this.#broken = true;
      this.#queue = [];
      this.#queuedBytes = 0;
    } finally {
      this.#draining = undefined;
    }
  }

  #tellDropped(): void {
    const count = this.#dropped;
    this.#dropped = 0;
    try {
      this.#onDropped?.(count);
    } catch {
      // The notice is a log line too: one that cannot be made is not worth stopping the writes for.
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.byteLength;) {
      try {
        const written = await this.#write(bytes.subarray(at));
        if (!(written > 0)) throw new Deno.errors.BrokenPipe("stderr took no bytes");
        at += written;
      } catch (error) {
        if (error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.BadResource) throw error;
        // Not gone, only not ready (a full pipe its parent made non-blocking): try again shortly.
        await this.#wait(_RETRY_MS);
      }
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.#timers.setTimeout(resolve, ms));
  }
}
