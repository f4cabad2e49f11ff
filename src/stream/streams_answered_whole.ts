/**
 * Which upstream models answer a streamed request whole: a server that ignores `"stream": true` sends
 * its headers only once its whole answer is written, and relay waits for a stream's headers only
 * `timeouts.connect` (10 s), which such an answer would outlast.
 */
import { BoundedMap } from "../providers/bounded_map.ts";
import type { ProviderRequest } from "../providers/types.ts";

/** How many models one provider remembers; past it, the one learnt first is learnt again. */
const _MAX_MODELS = 256;

/**
 * A provider's memory of the models whose streamed requests it saw answered whole. Once one was, its
 * next streamed requests tell relay their headers are in as soon as they are sent, so relay waits for
 * the answer under `timeouts.first_byte`, as for an unstreamed request, not `connect`. Its first such
 * answer still has to come within `connect`: nothing is known of the server before it.
 *
 * @example
 * ```ts
 * const answeredWhole = new StreamsAnsweredWhole();
 * const answering = fetch(url, init);
 * answeredWhole.sent(request);
 * const response = await answering;
 * // …once the answer turns out to be a whole Message:
 * answeredWhole.learn(request);
 * ```
 */
export class StreamsAnsweredWhole {
  readonly #models: BoundedMap<string, true>;

  constructor(max = _MAX_MODELS) {
    this.#models = new BoundedMap(max);
  }

  /** To be called once `request` is sent: a stream to a model known to answer whole waits as a whole answer. */
  sent(request: ProviderRequest): void {
    const model = request.upstreamModel;
    if (request.stream && model !== undefined && this.#models.has(model)) request.onHeaders?.();
  }

  /** To be called when a streamed `request` was answered whole. */
  learn(request: ProviderRequest): void {
    if (request.upstreamModel !== undefined) this.#models.set(request.upstreamModel, true);
  }
}
