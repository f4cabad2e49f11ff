/**
 * A look at the start of an upstream's error answer before deciding what it means (a refusal of one beta,
 * of token counting for one model), without losing the answer when it means nothing of the kind.
 */

import { concatBytes } from "../util/bytes.ts";
import type { Timers } from "../util/timers.ts";
import type { ProviderRequest } from "./types.ts";

/** Enough of an error body for any message relay looks for: a JSON error is a few hundred bytes. */
const _PEEK_BYTES = 16 * 1024;

/** An answer's first bytes as text, and the answer itself, whole, to pass on instead of the one read. */
export interface PeekedAnswer {
  /** At most the body's first 16 KiB, as UTF-8 (a sequence cut at the end is replaced). */
  text: string;
  /** The same status, status text, headers and body bytes: those read, then the rest as it comes. */
  answer: Response;
}

/**
 * How long a peek may wait for the body. Relay reads an answer's body under its `idle`
 * (`ProviderRequest.idleMs`), but a peek in `send` is still under the wait for an answer, which is
 * longer (`first_byte`) for an unstreamed request, so it is bounded by `idle` too. A stream's peek
 * comes before the adapter tells relay its headers are in: relay's `connect`, the shorter, ends it first.
 */
export interface PeekDeadline {
  ms: number;
  timers: Timers;
}

/**
 * The bound for a peek in an adapter's `send`: the request's `idleMs`, on `timers`; none when relay gave
 * the request no idle (a peek is then ended by the request's signal only).
 *
 * @example
 * ```ts
 * const { text, answer } = await peekAnswer(response, idleDeadline(request, timers));
 * ```
 */
export function idleDeadline(
  request: Pick<ProviderRequest, "idleMs">,
  timers: Timers,
): PeekDeadline | undefined {
  return request.idleMs === undefined ? undefined : { ms: request.idleMs, timers };
}

/**
 * Reads up to 16 KiB of `response`'s body. The read happens in the adapter's `send`, under relay's wait
 * for an answer rather than its deadlines for a body, so it is kept to error answers and a few KiB of
 * them. The request's signal still ends it, and so does `within`, when given: the text is then what came
 * by then, and the answer goes on with the rest, for relay to read under its own deadlines.
 *
 * @example
 * ```ts
 * const { text, answer } = await peekAnswer(response);
 * if (!text.includes("invalid beta flag")) return answer;
 * ```
 */
export async function peekAnswer(response: Response, within?: PeekDeadline): Promise<PeekedAnswer> {
  if (!response.body) return { text: "", answer: response };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  // A read the deadline overtook: its chunk is the answer's next one.
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  const late = within && Promise.withResolvers<undefined>();
  const timer = within && within.timers.setTimeout(() => late!.resolve(undefined), within.ms);
  try {
    while (size < _PEEK_BYTES) {
      pending = reader.read();
      const next = late ? await Promise.race([pending, late.promise]) : await pending;
      if (next === undefined) {
        // Whoever reads the answer hears of its failure; until then it is no unhandled rejection.
        pending.catch(() => {});
        break;
      }
      pending = undefined;
      if (next.done) {
        ended = true;
        break;
      }
      chunks.push(next.value);
      size += next.value.byteLength;
    }
  } finally {
    if (within) within.timers.clearTimeout(timer);
  }
  const text = new TextDecoder().decode(concatBytes(chunks).subarray(0, _PEEK_BYTES));
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      if (ended) controller.close();
    },
    async pull(controller) {
      const next = await (pending ?? reader.read());
      pending = undefined;
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  const { status, statusText, headers } = response;
  return { text, answer: new Response(body, { status, statusText, headers }) };
}

/** What {@linkcode peekRefusal} found: the answer itself, whole, or what it refused, the answer cancelled. */
export type PeekedRefusal<T> =
  | { answer: Response; refused?: undefined }
  | { answer?: undefined; refused: T };

/**
 * Peeks at an error answer ({@linkcode peekAnswer}: its first 16 KiB, for no longer than `within`) and
 * asks `refusal` what its start refuses that the request can go without (a beta, counting for a model),
 * `undefined` for nothing. When it refuses something, the answer is cancelled, so no connection is left
 * on a body nobody reads, and the caller acts on what `refusal` said: sends the request once more, or
 * passes the model over. Otherwise the answer goes on whole, the bytes read included, for relay to read
 * under its own deadlines. Each adapter's look into a 400 goes through here, so it is bounded alike and
 * made once.
 *
 * @example
 * ```ts
 * const seen = await peekRefusal(response, idleDeadline(request, timers), (text) =>
 *   text.includes("invalid beta flag") ? "betas" : undefined);
 * return seen.answer ?? await resendWithoutBetas();
 * ```
 */
export async function peekRefusal<T>(
  response: Response,
  within: PeekDeadline | undefined,
  refusal: (text: string) => T | undefined,
): Promise<PeekedRefusal<T>> {
  const { text, answer } = await peekAnswer(response, within);
  const refused = refusal(text);
  if (refused === undefined) return { answer };
  await answer.body?.cancel().catch(() => {});
  return { refused };
}
