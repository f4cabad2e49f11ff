/**
 * A scriptable upstream for end-to-end tests: a real HTTP server on a loopback port that records every
 * request byte for byte and answers with whatever the test scripts, by default the built-in mock.
 * Tests synchronise on promises it resolves (a request arrived, a stream was cancelled), never on time.
 */
import { mockHandler } from "../../src/providers/mock.ts";
import { mockOptionsSchema } from "../../src/providers/mock_options.ts";
import { encodeSseEvent } from "../../src/stream/sse_encode.ts";

/** One request as the fake upstream received it. */
export interface RecordedRequest {
  method: string;
  /** The full URL the server saw. */
  url: string;
  /** Pathname plus query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  headers: Headers;
  /** The body exactly as received; empty when there was none. */
  body: Uint8Array;
  /**
   * Resolves when the client went away before the whole response reached it: it aborted while the
   * handler was still working, or cancelled the response body mid-way.
   */
  disconnected: Promise<void>;
}

/**
 * Answers one request. `request` is a fresh copy (its body readable again, its signal the client's);
 * `recorded` is what the fake upstream stored.
 */
export type FakeHandler = (request: Request, recorded: RecordedRequest) => Response | Promise<Response>;

/** A running fake upstream; see {@link startFakeUpstream}. */
export interface FakeUpstream {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** Every request so far, in arrival order. */
  requests: RecordedRequest[];
  /** The next request not yet returned by an earlier call, in arrival order; waits if none is left. */
  nextRequest(): Promise<RecordedRequest>;
  /** Stops the server; waits for open responses, so end or fail controlled streams first. */
  close(): Promise<void>;
}

/**
 * Starts a fake upstream on 127.0.0.1 and a free port.
 *
 * @example
 * ```ts
 * const stream = controlledStream();
 * const upstream = startFakeUpstream(() => stream.response());
 * const answer = fetch(`${upstream.url}/v1/messages`, { method: "POST", body: "{}" });
 * const request = await upstream.nextRequest();
 * stream.push("event: ping\ndata: {}\n\n");
 * stream.end();
 * await upstream.close();
 * ```
 */
export function startFakeUpstream(handler: FakeHandler = _mockAnswer): FakeUpstream {
  const requests: RecordedRequest[] = [];
  const waiting: ((request: RecordedRequest) => void)[] = [];
  let taken = 0;

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = new Uint8Array(await request.arrayBuffer());
    const url = new URL(request.url);
    const disconnected = Promise.withResolvers<void>();
    const recorded: RecordedRequest = {
      method: request.method,
      url: request.url,
      path: url.pathname + url.search,
      headers: new Headers(request.headers),
      body,
      disconnected: disconnected.promise,
    };
    requests.push(recorded);
    if (waiting.length > 0) {
      taken++;
      waiting.shift()!(recorded);
    }
    let answered = false;
    // Deno also aborts this signal once a response has been delivered; only an abort before then counts.
    request.signal.addEventListener("abort", () => answered || disconnected.resolve(), { once: true });
    const copy = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body: body.byteLength > 0 ? body : null,
      signal: request.signal,
    });
    const response = await handler(copy, recorded);
    answered = true;
    if (!response.body) return response;
    return new Response(_onCancel(response.body, disconnected.resolve), response);
  });

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    nextRequest() {
      if (taken < requests.length) return Promise.resolve(requests[taken++]);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close: () => server.shutdown(),
  };
}

/** A response body the test feeds chunk by chunk. */
export interface ControlledStream {
  readonly body: ReadableStream<Uint8Array>;
  /** Queues one chunk; ignored once the consumer has cancelled. */
  push(chunk: Uint8Array | string): void;
  /** Ends the body cleanly. */
  end(): void;
  /** Errors the body, like a connection lost mid-response. */
  fail(error?: unknown): void;
  /** Resolves with the reason when the consumer cancels, e.g. because the HTTP client went away. */
  readonly cancelled: Promise<unknown>;
  /** Resolves once the consumer waits on the body for a chunk not pushed yet (at once if it does now). */
  whenRead(): Promise<void>;
  /** A `text/event-stream` response around {@link body}; `init` may override status and headers. */
  response(init?: ResponseInit): Response;
}

/**
 * A body whose chunks the test releases one at a time, to prove what happens between two chunks.
 *
 * @example
 * ```ts
 * const stream = controlledStream();
 * stream.push("event: ping\n");
 * await stream.cancelled; // the client disconnected
 * ```
 */
export function controlledStream(): ControlledStream {
  const cancelled = Promise.withResolvers<unknown>();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let gone = false;
  let waited = false;
  const wakers: (() => void)[] = [];
  // With no high-water mark, `pull` runs exactly when a read waits on an empty queue.
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      waited = true;
      wakers.splice(0).forEach((wake) => wake());
    },
    cancel(reason) {
      gone = true;
      cancelled.resolve(reason);
    },
  }, { highWaterMark: 0 });
  return {
    body,
    push(chunk) {
      waited = false;
      if (!gone) controller.enqueue(_bytes(chunk));
    },
    whenRead: () => waited ? Promise.resolve() : new Promise<void>((wake) => wakers.push(wake)),
    end: () => controller.close(),
    fail: (error = new Error("controlled stream failed")) => controller.error(error),
    cancelled: cancelled.promise,
    response: (init) => _sseResponse(body, init),
  };
}

/**
 * A response that sends exactly `chunks`, each as its own write (one chunk per read of the body).
 *
 * @example
 * ```ts
 * const upstream = startFakeUpstream(() => sseChunks(["event: ping\nda", 'ta: {"type":"ping"}\n\n']));
 * ```
 */
export function sseChunks(chunks: (Uint8Array | string)[], init?: ResponseInit): Response {
  const queue = chunks.map(_bytes);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = queue.shift();
      if (chunk) controller.enqueue(chunk);
      else controller.close();
    },
  }, { highWaterMark: 0 });
  return _sseResponse(body, init);
}

/** One SSE event as an Anthropic upstream writes it. */
export function sseEvent(name: string, data: unknown): string {
  return new TextDecoder().decode(encodeSseEvent(name, data));
}

/** An Anthropic stream's `message_start` for a Sonnet 4.5 answer `id`, its usage as counted so far. */
export function messageStartEvent(id: string, usage: Record<string, unknown>): string {
  return sseEvent("message_start", {
    type: "message_start",
    message: {
      id,
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    },
  });
}

/**
 * A whole streamed Anthropic answer of one text block, `text` in one delta, its usage as `message_start`
 * (`startUsage`) and the last `message_delta` (`endUsage`) give it.
 *
 * @example
 * ```ts
 * const answer = textAnswerStream({ id: "msg_1", text: "hi", startUsage: { input_tokens: 10, output_tokens: 1 }, endUsage: { output_tokens: 3 } });
 * ```
 */
export function textAnswerStream(answer: {
  id: string;
  text: string;
  stopReason?: string;
  startUsage: Record<string, unknown>;
  endUsage: Record<string, unknown>;
}): string {
  return [
    messageStartEvent(answer.id, answer.startUsage),
    sseEvent("content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    }),
    sseEvent("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: answer.text },
    }),
    sseEvent("content_block_stop", { type: "content_block_stop", index: 0 }),
    sseEvent("message_delta", {
      type: "message_delta",
      delta: { stop_reason: answer.stopReason ?? "end_turn", stop_sequence: null },
      usage: answer.endUsage,
    }),
    sseEvent("message_stop", { type: "message_stop" }),
  ].join("");
}

/** A whole Messages answer, as an upstream sends it unstreamed: the least an SDK accepts. */
export const MESSAGE_ANSWER = {
  id: "msg_fake_1",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-5",
  content: [{ type: "text", text: "ok" }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 1, output_tokens: 1 },
};

const _mockAnswer = mockHandler(mockOptionsSchema.parse({}));

function _bytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
}

function _sseResponse(body: ReadableStream<Uint8Array>, init: ResponseInit = {}): Response {
  const headers = new Headers({ "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const [name, value] of new Headers(init.headers)) headers.set(name, value);
  return new Response(body, { ...init, headers });
}

/** The same chunks, read one at a time, with a hook on the consumer's cancel. */
function _onCancel(body: ReadableStream<Uint8Array>, onCancel: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      onCancel();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
