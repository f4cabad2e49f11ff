/**
 * Which upstream models answer a streamed request whole: a server that ignores `"stream": true` sends
 * its headers only once its whole answer is written, and relay waits for a stream's headers only
 * `timeouts.connect` (10 s), which such an answer would outlast.
 */
import { BoundedMap } from "./bounded_map.ts";
import type { ProviderRequest } from "./types.ts";

/** How many models one provider remembers; past it, the one learnt first is learnt again. */
const _MAX_MODELS = 256;

/**
 * A provider's memory of the models whose streamed requests it saw answered whole. Once one was, its
 * next streamed requests tell relay their headers are in as soon as they are sent, so relay waits for
 * the answer under `timeouts.first_byte`, as for an unstreamed request, not `connect`. Its first such
 * answer still has to come within `connect`: nothing is known of the server before it. A stream the
 * model answers as a stream again (a proxy that answered whole once) puts it back under `connect`, so a
 * server that stops answering is not waited for `first_byte` on every stream.
 *
 * @example
 * ```ts
 * const answeredWhole = new StreamsAnsweredWhole();
 * const answering = fetch(url, init);
 * answeredWhole.onSent(request);
 * const response = await answering;
 * // …once the answer turns out to be a whole Message, or a stream:
 * answeredWhole.learn(request); // or answeredWhole.forget(request);
 * ```
 */
export class StreamsAnsweredWhole {
  readonly #models: BoundedMap<string, true>;

  constructor(max = _MAX_MODELS) {
    this.#models = new BoundedMap(max);
  }

  /** To be called once `request` is sent: a stream to a model known to answer whole waits as a whole answer. */
  onSent(request: ProviderRequest): void {
    const model = request.upstreamModel;
    if (request.stream && model !== undefined && this.#models.has(model)) request.onHeaders?.();
  }

  /** To be called when a streamed `request` was answered whole. */
  learn(request: ProviderRequest): void {
    if (request.upstreamModel !== undefined) this.#models.set(request.upstreamModel, true);
  }

  /** To be called when a streamed `request` was answered as a stream. */
  forget(request: ProviderRequest): void {
    if (request.upstreamModel !== undefined) this.#models.delete(request.upstreamModel);
  }
}
