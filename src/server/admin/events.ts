import { DEFAULT_KEEPALIVE_MS, OPENAI_PING, withKeepAlive } from "../../stream/keep_alive.ts";
import { encodeSseEvent } from "../../stream/sse_encode.ts";
import type { RelayEvent } from "../events.ts";
import type { Runtime } from "../runtime.ts";

/**
 * `GET /admin/events`: relay's events as they happen, in SSE: `ready` once subscribed (with the
 * config version), then `request` (each ended request, as its access log line says it), `breaker`,
 * `reload` and `switch`, and `end` when relay drops the stream (`too_slow`: the reader fell a buffer
 * behind) or shuts down (`closed`). A reader that does not keep up is dropped, never waited for.
 * Silences get `: ping` comments at `server.keepalive`.
 *
 * @example
 * ```ts
 * app.get("/admin/events", eventsRoute(runtime));
 * ```
 */
export function eventsRoute(runtime: Runtime): () => Response {
  return () => {
    const subscription = runtime.events.subscribe();
    const version = runtime.current.version;
    const body = subscription.events.pipeThrough(
      new TransformStream<RelayEvent, Uint8Array>({
        start: (controller) => controller.enqueue(encodeSseEvent("ready", { config_version: version })),
        transform: (event, controller) => controller.enqueue(encodeSseEvent(event.type, _data(event))),
        flush: (controller) =>
          controller.enqueue(encodeSseEvent("end", { reason: subscription.ended ?? "closed" })),
      }),
    );
    const intervalMs = runtime.current.settings.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    return new Response(withKeepAlive(body, { intervalMs, ping: OPENAI_PING }), {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  };
}

function _data(event: RelayEvent): unknown {
  if (event.type !== "request") return event.data;
  const { line, configVersion, usage } = event.data;
  return {
    ...line,
    config_version: configVersion,
    cache_read_tokens: usage?.cacheRead,
    cache_write_tokens: usage?.cacheWrite,
  };
}
