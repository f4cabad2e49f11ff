/** Gives a slot back; calling it again does nothing. */
export type Release = () => void;

/**
 * A {@linkcode ConcurrencyLimiter} with every slot taken and its queue full: relay answers 503
 * `overloaded_error` with a `retry-after`.
 */
export class OverloadedError extends Error {
  /** With the limiter's counts when it refused. */
  constructor(readonly inFlight: number, readonly queued: number) {
    super(`at capacity: ${inFlight} requests in flight and ${queued} waiting`);
    this.name = "OverloadedError";
  }
}

/** The size of a {@linkcode ConcurrencyLimiter}. */
export interface ConcurrencyLimiterOptions {
  /** Requests served at once. */
  max: number;
  /** Requests that may wait for a slot beyond those; 0 refuses at once when full. */
  maxQueue: number;
}

/** Hands a waiting request its slot. */
type _Grant = (release: Release) => void;

/**
 * At most `max` requests at a time, with up to `maxQueue` more waiting their turn in arrival order;
 * one beyond that is refused at once with an {@linkcode OverloadedError}. A freed slot passes straight
 * to the longest waiter, so a newcomer can never overtake the queue. How long a waiter may wait is its
 * signal's business (`AbortSignal.timeout`, the client leaving): aborted, it leaves the queue.
 *
 * One limiter guards the whole server (`server.max_concurrent`); one per provider with `maxQueue: 0`
 * caps its in-flight requests, `tryAcquire` telling the caller to move on to the next provider.
 *
 * @example
 * ```ts
 * const limiter = new ConcurrencyLimiter({ max: 64, maxQueue: 256 });
 * const release = await limiter.acquire(AbortSignal.any([request.signal, AbortSignal.timeout(30_000)]));
 * try {
 *   return await relayRequest();
 * } finally {
 *   release();
 * }
 * ```
 */
export class ConcurrencyLimiter {
  #max: number;
  readonly #maxQueue: number;
  readonly #queue: _Grant[] = [];
  #inFlight = 0;

  /** A limiter with every slot free. */
  constructor(options: ConcurrencyLimiterOptions) {
    if (!(options.max >= 1)) throw new RangeError("max must be at least 1");
    if (!(options.maxQueue >= 0)) throw new RangeError("maxQueue must not be negative");
    this.#max = options.max;
    this.#maxQueue = options.maxQueue;
  }

  /** Requests holding a slot. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests waiting for one. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Has `max` slots from now on (a reload's new cap): slots taken past it stay taken until released, and
   * none is given while they are; slots a rise frees go to those waiting.
   */
  resize(max: number): void {
    if (!(max >= 1)) throw new RangeError("max must be at least 1");
    this.#max = max;
    this.#grantWaiting();
  }

  /** A slot now, or `undefined` when none is free (or others are already waiting for one). */
  tryAcquire(): Release | undefined {
    if (this.#inFlight >= this.#max || this.#queue.length > 0) return undefined;
    this.#inFlight++;
    return this.#release();
  }

  /**
   * A slot, now or once one frees up. Rejects at once with an {@linkcode OverloadedError} when the
   * queue is full, and with `signal.reason` when the signal aborts before a slot came. Once it has
   * resolved, the slot is the caller's to release, whatever the signal does later.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const release = this.tryAcquire();
    if (release) return Promise.resolve(release);
    if (this.#queue.length >= this.#maxQueue) {
      return Promise.reject(new OverloadedError(this.#inFlight, this.#queue.length));
    }
    return new Promise((resolve, reject) => {
      const grant: _Grant = (release) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(release);
      };
      const onAbort = () => {
        this.#queue.splice(this.#queue.indexOf(grant), 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(grant);
    });
  }

  #release(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight--;
      this.#grantWaiting();
    };
  }

  #grantWaiting(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.#max) {
      this.#inFlight++;
      this.#queue.shift()!(this.#release());
    }
  }
}
