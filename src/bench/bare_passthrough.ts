/**
 * The floor relay is measured against: the least a Deno server can do to pass a request through, with
 * no routing, header filtering, body checks, timeouts or logging.
 */
import { withoutTrailing } from "../util/without_trailing.ts";

/**
 * A handler that sends every request on to `upstream` as it came and returns the answer as it came:
 * `fetch` and `new Response(body, response)`, nothing else.
 *
 * @example
 * ```ts
 * Deno.serve({ hostname: "127.0.0.1", port: 0 }, bareHandler("http://127.0.0.1:9000"));
 * ```
 */
export function bareHandler(upstream: string): (request: Request) => Promise<Response> {
  const base = withoutTrailing(upstream, /\//);
  return async (request) => {
    const { pathname, search } = new URL(request.url);
    const { method, headers, body } = request;
    const response = await fetch(base + pathname + search, { method, headers, body });
    return new Response(response.body, response);
  };
}

/**
 * {@linkcode bareHandler} served on 127.0.0.1 at a port of the system's choosing.
 *
 * @example
 * ```ts
 * const server = serveBare("http://127.0.0.1:9000");
 * console.log(server.addr.port);
 * ```
 */
export function serveBare(upstream: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, bareHandler(upstream));
}
