/**
 * The floor relay is measured against: the least a Deno server can do to pass a request through, with
 * no routing, header filtering, body checks, timeouts or logging. `bench/loopback.ts` runs it as a child
 * process, like relay, so neither shares an event loop with the load generator.
 *
 * Usage: `deno run -P=relay bench/_bare_passthrough.ts <upstream-url>`; it listens on 127.0.0.1, on a
 * port of the system's choosing, which the harness reads from /proc.
 */
const upstream = Deno.args[0]?.replace(/\/+$/, "");
if (!upstream) throw new Error("usage: _bare_passthrough.ts <upstream-url>");

Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
  const { pathname, search } = new URL(request.url);
  const { method, headers, body } = request;
  const response = await fetch(upstream + pathname + search, { method, headers, body });
  return new Response(response.body, response);
});
