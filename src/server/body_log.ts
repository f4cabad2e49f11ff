import { concatBytes } from "../util/bytes.ts";
import { type Logger, UNCUT } from "../util/logger.ts";
import { maskKeyShapedTokens, maskKeysIn } from "../util/mask.ts";

/** The most of a body `log.bodies` writes; the rest is counted, not kept. */
export const MAX_LOGGED_BODY_BYTES = 64 * 1024;

/**
 * One request's bodies in the log, when `log.bodies` asks for them: the request's as it came, and the
 * answer's as it goes out, each at most its first 64 KiB, as UTF-8 text with key-shaped tokens masked,
 * with its whole size and whether it was cut.
 *
 * @example
 * ```ts
 * const bodies = new BodyLog(logger, requestId);
 * bodies.request(body);
 * // ... bodies.sent(chunk) for each chunk of the answer, then:
 * bodies.answered();
 * ```
 */
export class BodyLog {
  readonly #logger: Logger;
  readonly #requestId: string;
  readonly #sent: Uint8Array[] = [];
  #sentBytes = 0;

  constructor(logger: Logger, requestId: string) {
    this.#logger = logger;
    this.#requestId = requestId;
  }

  /** Writes the request's line. */
  request(body: Uint8Array): void {
    this.#write("request body", body.subarray(0, MAX_LOGGED_BODY_BYTES), body.byteLength);
  }

  /** Sees the next chunk of the answer; what it keeps it copies, since the chunk goes on to the client. */
  sent(chunk: Uint8Array): void {
    const room = MAX_LOGGED_BODY_BYTES - this.#sentBytes;
    if (room > 0) this.#sent.push(chunk.slice(0, room));
    this.#sentBytes += chunk.byteLength;
  }

  /**
   * Writes the answer's line, once it ended, with `keys` (the key the answer was asked with, an access
   * token its adapter fetched) masked wherever the answer quotes them, whatever they look like
   * ({@linkcode maskKeysIn}: from 6 characters on).
   */
  answered(...keys: string[]): void {
    this.#write("response body", concatBytes(this.#sent), this.#sentBytes, keys);
  }

  #write(msg: string, kept: Uint8Array, bytes: number, keys: readonly string[] = []): void {
    const text = new TextDecoder().decode(kept);
    const quoted = maskKeysIn(text, keys.map((secret) => ({ secret })));
    this.#logger.info(msg, {
      request_id: this.#requestId,
      bytes,
      truncated: bytes > kept.byteLength || undefined,
      body: maskKeyShapedTokens(quoted),
      [UNCUT]: ["body"], // cut to `MAX_LOGGED_BODY_BYTES` already, as the README promises
    });
  }
}
