/**
 * A body that must be read whole before it can be translated (a JSON answer, an error answer), read
 * inside the answer relay reads, as it reads a stream, rather than by the adapter before it answers.
 */
import { concatBytes } from "../util/bytes.ts";

/**
 * `body` read to its end only once the output's reader asks, then translated whole. An adapter's `send`
 * resolves once the upstream's headers are in, and relay waits for it under `timeouts.connect` or
 * `first_byte`; read there, a body that stalls would meet that deadline as if no answer had come. Read
 * here, it runs under the deadlines of a body (`first_byte`, then `idle`), each chunk of `body` answered
 * with an empty chunk, a sign of life, as the SSE translations do. A failure of `body` fails the output;
 * cancelling the output cancels `body`.
 *
 * @example
 * ```ts
 * const body = translateWhole(upstream.body!, (text) => [new TextEncoder().encode(text.toUpperCase())]);
 * ```
 */
export function translateWhole(
  body: ReadableStream<Uint8Array>,
  translate: (text: string) => Uint8Array[],
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (!done) {
        chunks.push(value);
        controller.enqueue(new Uint8Array());
        return;
      }
      for (const bytes of translate(new TextDecoder().decode(concatBytes(chunks)))) controller.enqueue(bytes);
      controller.close();
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
