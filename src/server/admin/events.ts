import { DEFAULT_KEEPALIVE_MS, OPENAI_PING, withKeepAlive } from "../../stream/keep_alive.ts";
import { encodeSseEvent } from "../../stream/sse_encode.ts";
import type { RelayEvent } from "../events.ts";
import type { Runtime } from "../runtime.ts";

/**
 * `GET /admin/events`: relay's events as they happen, in SSE: `ready` once subscribed (with the
 * config version), then `request` (each ended request, as its access log line says it), `breaker`,
 * `reload` and `switch`, and `end` when relay drops the stream (`too_slow`: the reader fell a buffer
 * behind; `token_changed`: a reload changed or removed the admin token it was opened with) or shuts
 * down (`closed`). A reader that does not keep up is dropped, never waited for. Silences get `: ping`
 * comments at `server.keepalive`.
 *
 * @example
 * ```ts
 * app.get("/admin/events", eventsRoute(runtime));
 * ```
 */
export function eventsRoute(runtime: Runtime): () => Response {
  return () => {
    const subscription = runtime.events.subscribe();
    const { version, config } = runtime.current;
    const token = config.server.admin.token;
    let stopListening = () => {};
    const body = subscription.events.pipeThrough(
      new TransformStream<RelayEvent, Uint8Array>({
        start: (controller) => {
          controller.enqueue(encodeSseEvent("ready", { config_version: version }));
          // Listeners hear a reload with the new config already serving, before any stream gets it:
          // nothing published after the token changed reaches its old holder.
          stopListening = runtime.events.listen((event) => {
            if (event.type !== "reload" || runtime.current.config.server.admin.token === token) return;
            stopListening();
            controller.enqueue(encodeSseEvent("end", { reason: "token_changed" }));
            controller.terminate();
          });
        },
        transform: (event, controller) => controller.enqueue(encodeSseEvent(event.type, _data(event))),
        flush: (controller) => {
          stopListening();
          controller.enqueue(encodeSseEvent("end", { reason: subscription.ended ?? "closed" }));
        },
        cancel: () => stopListening(),
      }),
    );
    const intervalMs = runtime.current.settings.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    // A reader that stops reading is dropped once it is behind (`too_slow`), and its connection after
    // `timeouts.idle`, as a relayed stream's client is.
    const clientIdleMs = runtime.current.config.timeouts.idle;
    return new Response(withKeepAlive(body, { intervalMs, ping: OPENAI_PING, clientIdleMs }), {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  };
}

function _data(event: RelayEvent): unknown {
  if (event.type !== "request") return event.data;
  // The line holds the cache tokens already, as the access log has them.
  const { line, configVersion } = event.data;
  return { ...line, config_version: configVersion };
}
