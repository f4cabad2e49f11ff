import { SseDecoder, type SseEvent } from "./sse_decode.ts";

/**
 * A side observer on an SSE body: every chunk goes through unchanged and at once (the very same
 * `Uint8Array`, enqueued before any observer code runs), while a parse of it reports whole events to
 * `onEvent`. Observation can never hurt the stream: a throw from `onEvent` is handed to `onError` and the
 * next events are still reported; if the parser itself gives up (an event past 32 Mi characters), the
 * tap reports that once and stops observing.
 *
 * @example
 * ```ts
 * const body = upstream.body!.pipeThrough(tapSse(({ event, data }) => {
 *   if (event === "message_delta") usage.update(JSON.parse(data).usage);
 * }, (error) => log.warn("usage tap failed", { error: String(error) })));
 * ```
 */
export function tapSse(
  onEvent: (event: SseEvent) => void,
  onError: (error: unknown) => void = () => {},
): TransformStream<Uint8Array, Uint8Array> {
  let decoder: SseDecoder | undefined = new SseDecoder();
  return new TransformStream({
    transform(chunk, controller) {
      controller.enqueue(chunk);
      if (!decoder) return;
      let events: SseEvent[];
      try {
        events = decoder.feed(chunk);
      } catch (error) {
        decoder = undefined;
        onError(error);
        return;
      }
      for (const event of events) {
        try {
          onEvent(event);
        } catch (error) {
          onError(error);
        }
      }
    },
  });
}
