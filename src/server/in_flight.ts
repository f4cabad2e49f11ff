import { RelayError } from "./errors.ts";

/**
 * The upstream exchanges under way, and how far a shutdown has gone: once it begins, relay refuses new
 * requests; once its grace period ran out, the exchanges still open are ended cleanly: aborting an
 * exchange ends its client's stream with an error event, which a dropped connection would not say.
 *
 * @example
 * ```ts
 * const inFlight = new InFlight();
 * const done = inFlight.add(controller);
 * // ... relay the exchange ...
 * done();
 * ```
 */
export class InFlight {
  readonly #controllers = new Set<AbortController>();
  readonly #cut = new AbortController();
  #shuttingDown = false;

  /** Whether a shutdown has begun ({@linkcode beginShutdown}): new requests are then refused. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Marks the start of a shutdown: from now on relay refuses new requests, and lets those under way go on. */
  beginShutdown(): void {
    this.#shuttingDown = true;
  }

  /**
   * Aborted by {@linkcode abortAll}, with its reason: requests still waiting then (for a slot, a key's
   * reset, a retry's backoff) stop instead of starting an exchange after the cut.
   */
  get cut(): AbortSignal {
    return this.#cut.signal;
  }

  /** Tracks one exchange; call the returned function when it ends. */
  add(controller: AbortController): () => void {
    this.#controllers.add(controller);
    return () => this.#controllers.delete(controller);
  }

  get size(): number {
    return this.#controllers.size;
  }

  /** Aborts every tracked exchange with `reason`, and ends the waits that watch {@linkcode cut}. */
  abortAll(reason: Error): void {
    this.#cut.abort(reason);
    for (const controller of this.#controllers) controller.abort(reason);
    this.#controllers.clear();
  }
}

/**
 * relay's answer to a new request once a shutdown has begun: go elsewhere, on a connection that closes.
 *
 * @example
 * ```ts
 * if (inFlight.shuttingDown) return shutDownError().toResponse();
 * ```
 */
export function shutDownError(): RelayError {
  return _shuttingDown("");
}

/**
 * relay's answer to a request still waiting, or still uploading, when a shutdown's grace ran out: not
 * started, told to go elsewhere, on a connection that closes.
 *
 * @example
 * ```ts
 * if (inFlight.cut.aborted) throw graceOverError();
 * ```
 */
export function graceOverError(): RelayError {
  return _shuttingDown(" (server.shutdown_grace is over)");
}

function _shuttingDown(why: string): RelayError {
  return new RelayError(
    503,
    `relay is shutting down${why}: send the request again`,
    { connection: "close", "retry-after": "1" },
    "overloaded_error",
  );
}
