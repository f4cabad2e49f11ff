/**
 * A pass-through built up one step at a time toward relay's shape, to measure what the shape alone costs
 * before any of relay's own work (`bench/scenarios.ts floor`). Each step keeps the ones before it:
 *
 * - `bare`: `relay bench`'s bare pass-through itself (`src/bench/bare_passthrough.ts`).
 * - `body`: the request body read whole before sending, as relay reads it to route the request.
 * - `stream`: the first chunk read before answering (relay's commit point), the body through a JS stream
 *   instead of Deno's native pipe (where relay's keep-alive, deadlines, usage and in-band errors live).
 * - `hono`: the routes behind Hono, with a middleware on every request and one on `/v1/*`, as relay's app.
 *
 * ```sh
 * deno run -P=relay bench/shape_server.ts <bare|body|stream|hono> <upstream URL>
 * ```
 *
 * It logs `{"msg":"listening","url":...}` on stderr, as relay does, so the bench can start it as a child.
 */
import { Hono } from "hono";
import { bareHandler } from "../src/bench/bare_passthrough.ts";

export const SHAPE_STEPS = ["bare", "body", "stream", "hono"] as const;
type ShapeStep = typeof SHAPE_STEPS[number];

/** The handler of `step`, relaying to `upstream`. */
function _shapeHandler(step: ShapeStep, upstream: string): (request: Request) => Promise<Response> {
  if (step === "bare") return bareHandler(upstream);
  const base = upstream.replace(/\/+$/, "");
  const relayed = async (request: Request): Promise<Response> => {
    const { pathname, search } = new URL(request.url);
    const response = await fetch(base + pathname + search, {
      method: request.method,
      headers: request.headers,
      body: await request.bytes(),
    });
    if (step === "body" || !response.body) return new Response(response.body, response);
    const reader = response.body.getReader();
    const first = await reader.read();
    return new Response(_jsStream(first, reader), response);
  };
  if (step !== "hono") return relayed;
  const app = new Hono();
  app.use(async (c, next) => {
    await next();
    c.res.headers.set("x-request-id", "shape");
  });
  app.use("/v1/*", async (_c, next) => await next());
  app.post("/v1/messages", (c) => relayed(c.req.raw));
  return async (request) => await app.fetch(request);
}

/** `first`, then the rest of `reader`, read only as the client reads. */
function _jsStream(
  first: ReadableStreamReadResult<Uint8Array>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.done) controller.close();
      else controller.enqueue(first.value);
    },
    pull: (controller) =>
      reader.read().then((next) => next.done ? controller.close() : controller.enqueue(next.value)),
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

if (import.meta.main) {
  const [step, upstream] = Deno.args as [ShapeStep, string];
  if (!SHAPE_STEPS.includes(step) || !upstream) {
    console.error(`usage: bench/shape_server.ts <${SHAPE_STEPS.join("|")}> <upstream URL>`);
    Deno.exit(2);
  }
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) =>
      console.error(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${port}` })),
  }, _shapeHandler(step, upstream));
}
