/**
 * An Anthropic SSE event as a translator reads it. Anthropic names each event twice, in its `event:` line
 * and in its data's `type`; a server that sends data alone (`event` left as SSE's default, `message`)
 * is named by its `type`.
 */
import type { SseEvent } from "./sse_decode.ts";
import { isJsonObject } from "../util/json.ts";

/**
 * The event's name and its data parsed (`undefined` when the data is not JSON).
 *
 * @example
 * ```ts
 * anthropicEvent({ event: "message", data: '{"type":"ping"}' }); // { name: "ping", payload: { type: "ping" } }
 * ```
 */
export function anthropicEvent({ event, data }: SseEvent): { name: unknown; payload: unknown } {
  let payload: unknown;
  try {
    payload = JSON.parse(data);
  } catch {
    payload = undefined;
  }
  return { name: event === "message" && isJsonObject(payload) ? payload.type : event, payload };
}
