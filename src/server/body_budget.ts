import { RelayError } from "./errors.ts";

/** One request's share of a {@linkcode BodyBudget}. */
export interface BodyHold {
  /** Counts `bytes` more of the request's body, or throws relay's 503 when the budget cannot cover them. */
  take(bytes: number): void;
  /** Gives back all the request took; once its request ended. A second call gives back nothing. */
  release(): void;
}

/**
 * The request-body bytes relay holds at once, across every request (`server.max_body_memory`): each
 * upload is bounded by `server.max_body_size` and `server.body_timeout` alone, and many at once, or
 * queued for a slot, would otherwise hold as much as they like. One per server, shared by its routes.
 *
 * @example
 * ```ts
 * const budget = new BodyBudget();
 * const hold = budget.open(256 * 1024 * 1024);
 * hold.take(1024); // as the body's bytes arrive; a 503 RelayError once the budget is spent
 * hold.release(); // when the request ends, however it ends
 * ```
 */
export class BodyBudget {
  #held = 0;

  /** Bytes the requests under way hold now. */
  get held(): number {
    return this.#held;
  }

  /**
   * A new request's share, which may take bytes while every request together holds at most `limit`:
   * the limit of the config the request started under, so a reload applies to new requests.
   */
  open(limit = Infinity): BodyHold {
    let taken = 0;
    return {
      take: (bytes) => {
        if (this.#held + bytes > limit) throw _spent(this.#held);
        this.#held += bytes;
        taken += bytes;
      },
      release: () => {
        this.#held -= taken;
        taken = 0;
      },
    };
  }
}

/** Like a full queue: the client retries, by when other bodies have gone. */
function _spent(held: number): RelayError {
  const mib = Math.round(held / 104_857.6) / 10;
  return new RelayError(
    503,
    `relay holds ${mib} MiB of request bodies already (server.max_body_memory)`,
    { "retry-after": "1" },
    "overloaded_error",
  );
}
