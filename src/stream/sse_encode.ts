const _encoder = new TextEncoder();

/**
 * One SSE event as api.anthropic.com frames it: `event: <type>\ndata: <one-line JSON>\n\n`, LF only, no
 * BOM. `JSON.stringify` never emits a raw CR or LF, so the data always fits on one `data:` line, the
 * only shape Anthropic's SDK parsers are known to accept.
 *
 * @example
 * ```ts
 * controller.enqueue(encodeSseEvent("ping", { type: "ping" }));
 * // event: ping\ndata: {"type":"ping"}\n\n
 * ```
 */
export function encodeSseEvent(type: string, data: unknown): Uint8Array {
  // A line break in the name would end the `event:` line early and smuggle in a field of its own.
  if (/[\r\n]/.test(type)) {
    throw new TypeError(`an SSE event name cannot contain a line break: ${JSON.stringify(type)}`);
  }
  return _encoder.encode(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
}
