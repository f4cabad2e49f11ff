/**
 * Whether a stream came through relay as the upstream sent it: the events a client acts on, compared
 * one by one with the same answer fetched directly.
 */
import type { SseEvent } from "../stream/sse_decode.ts";
import { stableJson } from "../util/stable_json.ts";

/** What of one event is compared, most specific first. */
export type FidelityField = "event" | "index" | "tool_use id" | "signature" | "usage" | "data";

/** One way a relayed stream differs from the direct one. */
export interface FidelityDifference {
  /** Position of the event in the stream, from 0. */
  at: number;
  field: FidelityField;
  /** The direct stream's value; `null` when it has no event at `at`, or the event has no such field. */
  direct: string | null;
  /** The relayed stream's value, likewise. */
  relay: string | null;
}

/** The fields named in a difference, in the order they are checked; `data` only when these agree. */
const _NAMED: readonly Exclude<FidelityField, "data">[] = [
  "event",
  "index",
  "tool_use id",
  "signature",
  "usage",
];

/**
 * A stream's events but its pings: a ping carries nothing, and relay adds its own while an upstream is
 * silent (`server.keepalive`), so pings are no difference and no event in a count.
 */
export function withoutPings(events: readonly SseEvent[]): SseEvent[] {
  return events.filter((event) => event.event !== "ping");
}

/**
 * The differences between a stream received directly and the same one received through relay,
 * position by position, pings aside ({@linkcode withoutPings}): event names (so order), block indexes,
 * tool_use ids, signatures, usage, and, when those agree, the rest of the event's data as JSON (key
 * order and spacing aside). An event one stream has and the other lacks is an `event` difference with
 * `null` on the short side; since events are matched by position, everything after a missing or extra
 * event differs too, and the first difference is the one to read.
 *
 * @example
 * ```ts
 * const differences = compareEventStreams(directEvents, relayedEvents);
 * if (differences.length === 0) console.log("identical");
 * ```
 */
export function compareEventStreams(
  directEvents: readonly SseEvent[],
  relayEvents: readonly SseEvent[],
): FidelityDifference[] {
  const [direct, relay] = [withoutPings(directEvents), withoutPings(relayEvents)];
  const differences: FidelityDifference[] = [];
  for (let at = 0; at < Math.max(direct.length, relay.length); at++) {
    if (at >= direct.length || at >= relay.length) {
      differences.push({
        at,
        field: "event",
        direct: direct[at]?.event ?? null,
        relay: relay[at]?.event ?? null,
      });
      continue;
    }
    const expected = _facts(direct[at]);
    const received = _facts(relay[at]);
    const named = _NAMED.filter((field) => expected[field] !== received[field]);
    for (const field of named) {
      differences.push({ at, field, direct: expected[field] ?? null, relay: received[field] ?? null });
    }
    if (named.length === 0 && expected.data !== received.data) {
      differences.push({ at, field: "data", direct: expected.data, relay: received.data });
    }
  }
  return differences;
}

type _Facts = Partial<Record<FidelityField, string>> & { data: string };

function _facts({ event, data }: SseEvent): _Facts {
  // deno-lint-ignore no-explicit-any
  let payload: any;
  try {
    payload = JSON.parse(data);
  } catch {
    // Not JSON: only the name and the raw text can be compared.
    return { event, data };
  }
  const block = payload?.content_block;
  const usage = payload?.message?.usage ?? payload?.usage;
  const signature = payload?.delta?.signature ?? block?.signature;
  return {
    event,
    index: payload?.index === undefined ? undefined : String(payload.index),
    "tool_use id": typeof block?.type === "string" && block.type.endsWith("tool_use")
      ? String(block.id)
      : undefined,
    signature: signature === undefined ? undefined : String(signature),
    usage: usage === undefined ? undefined : stableJson(usage),
    data: stableJson(payload),
  };
}

/** Where two streams' bytes first part, and a little of each from there, as text. */
export interface ByteDifference {
  /** Offset of the first byte that differs (or where the shorter stream ends). */
  at: number;
  direct: string;
  relay: string;
}

/** How much of each stream a {@linkcode ByteDifference} shows. */
const _SHOWN_BYTES = 40;

/**
 * The first place the relayed stream's bytes part from the direct one's, or `undefined` when they are
 * the same: what the event comparison cannot see (spacing in the JSON, comments, `id:` lines, line
 * breaks), which a byte-faithful relay keeps too.
 *
 * @example
 * ```ts
 * firstByteDifference(encode("data: {}\n\n"), encode("data: { }\n\n"));
 * // { at: 7, direct: "}\n\n", relay: " }\n\n" }
 * ```
 */
export function firstByteDifference(direct: Uint8Array, relay: Uint8Array): ByteDifference | undefined {
  const shorter = Math.min(direct.length, relay.length);
  let at = 0;
  while (at < shorter && direct[at] === relay[at]) at++;
  if (at === direct.length && at === relay.length) return undefined;
  const shown = (bytes: Uint8Array) => new TextDecoder().decode(bytes.subarray(at, at + _SHOWN_BYTES));
  return { at, direct: shown(direct), relay: shown(relay) };
}
