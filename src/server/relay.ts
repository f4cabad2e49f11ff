import type { Context } from "hono";
import type { ProviderRequest } from "../providers/types.ts";
import type { Route, Router } from "../routing/router.ts";
import { forwardBody, type ForwardOutcome } from "../stream/forward.ts";
import { StreamTimeoutError, withIdleTimeout } from "../stream/timeouts.ts";
import type { LogFields, Logger } from "../util/logger.ts";
import { inspectMessagesBody, readBody } from "./body.ts";
import { RelayError } from "./errors.ts";
import { headersForClient, headersForUpstream } from "./headers.ts";
import type { InFlight } from "./in_flight.ts";
import type { RelayEnv } from "./request_id.ts";

export interface RelayOptions {
  router: Router;
  logger: Logger;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  inFlight: InFlight;
  /** Monotonic milliseconds; injected so tests can pin durations. */
  now?: () => number;
}

/** What the access log line says about one request; filled in as the request goes. */
interface _Trace {
  start: number;
  model?: string;
  provider?: string;
  key?: string;
  status?: number;
  ttfb?: number;
  upstreamRequestId?: string;
}

/** Thrown when the client left before relay could answer; there is nobody to answer. */
class _ClientGone extends Error {}

/**
 * The handler behind every relayed route: read and check the body, choose an upstream, send the
 * client's own bytes, wait for the first byte of the answer (until then any failure is still a clean
 * error response), then stream the rest through as it arrives.
 *
 * @example
 * ```ts
 * app.post("/v1/messages", relay({ router, logger, maxBodyBytes: 32 * 1024 * 1024, inFlight: new InFlight() }));
 * ```
 */
export function relay(options: RelayOptions): (c: Context<RelayEnv>) => Promise<Response> {
  const now = options.now ?? (() => performance.now());
  return async (c) => {
    const trace: _Trace = { start: now() };
    const log = (outcome: string, fields: LogFields = {}) =>
      options.logger.info("request", {
        request_id: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        model: trace.model,
        provider: trace.provider,
        key: trace.key,
        status: trace.status,
        outcome,
        ttfb_ms: trace.ttfb === undefined ? undefined : Math.round(trace.ttfb - trace.start),
        duration_ms: Math.round(now() - trace.start),
        upstream_request_id: trace.upstreamRequestId,
        ...fields,
      });
    try {
      return await _relay(c, options, trace, now, log);
    } catch (error) {
      if (error instanceof _ClientGone) {
        trace.status = 499;
        log("client_closed");
        return new Response(null, { status: 499 });
      }
      if (!(error instanceof RelayError)) throw error;
      trace.status = error.status;
      log("relay_error", { error: error.message });
      return error.toResponse();
    }
  };
}

async function _relay(
  c: Context<RelayEnv>,
  { router, maxBodyBytes, inFlight }: RelayOptions,
  trace: _Trace,
  now: () => number,
  log: (outcome: string, fields?: LogFields) => void,
): Promise<Response> {
  const request = c.req.raw;
  const body = request.method === "POST" ? await readBody(request, maxBodyBytes) : null;
  const fields = body ? inspectMessagesBody(body) : undefined;
  trace.model = fields?.model;

  const choice = router.choose(fields?.model);
  if (!choice) {
    throw new RelayError(
      404,
      `model ${fields?.model} is not served by any provider; available: ${router.servedModels().join(", ")}`,
    );
  }
  const { route, key, upstreamModel } = choice;
  trace.provider = route.provider.name;
  trace.key = key?.label;

  // One controller for the whole exchange: the client leaving, a deadline, the body being cancelled
  // or a shutdown out of grace all abort the upstream fetch through it.
  const upstream = new AbortController();
  const abortUpstream = () => upstream.abort(new DOMException("client disconnected", "AbortError"));
  request.signal.addEventListener("abort", abortUpstream, { once: true });
  const untrack = inFlight.add(upstream);
  const release = () => {
    request.signal.removeEventListener("abort", abortUpstream);
    untrack();
  };
  const providerRequest: ProviderRequest = {
    path: c.req.path,
    search: new URL(request.url).search,
    method: request.method,
    headers: headersForUpstream(request.headers),
    body,
    model: fields?.model,
    upstreamModel,
    stream: fields?.stream ?? false,
    signal: upstream.signal,
  };

  const sentAt = now();
  let response: Response;
  let first: ReadableStreamReadResult<Uint8Array>;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    // A streamed answer sends its headers at once; an unstreamed one only when it is complete.
    const headersDeadline = providerRequest.stream && !route.provider.resolvesOnFirstEvent
      ? "connect"
      : "firstByte";
    response = await _within(route.provider.send(providerRequest, key), route, headersDeadline, upstream);
    trace.status = response.status;
    trace.upstreamRequestId = response.headers.get("request-id") ?? undefined;
    reader = response.body
      ? withIdleTimeout(response.body, {
        firstByteMs: Math.max(0, route.timeouts.firstByte - (now() - sentAt)),
        idleMs: route.timeouts.idle,
        onTimeout: () => {},
      }).getReader()
      : undefined;
    first = reader ? await reader.read() : { done: true, value: undefined };
  } catch (error) {
    release();
    if (request.signal.aborted) throw new _ClientGone();
    throw _upstreamFailure(error, route);
  }
  trace.ttfb = now();
  const headers = headersForClient(response.headers);
  headers.set("x-request-id", c.get("requestId"));
  if (first.done || !reader) {
    release();
    log("complete", { bytes: 0 });
    return new Response(null, { status: response.status, headers });
  }

  const stream = forwardBody(reader, {
    first: first.value,
    sse: (response.headers.get("content-type") ?? "").startsWith("text/event-stream"),
    describeFailure: (error) => {
      const failure = _upstreamFailure(error, route);
      return { errorType: failure.status === 504 ? "timeout_error" : "api_error", message: failure.message };
    },
    onDone: (outcome: ForwardOutcome) => {
      release();
      if (outcome.kind === "client_closed") abortUpstream();
      const { kind, ...rest } = outcome;
      log(kind, rest);
    },
  });
  return new Response(stream, { status: response.status, headers });
}

const _TIMEOUT_FIELDS = { connect: "timeouts.connect", firstByte: "timeouts.first_byte" } as const;

/** Resolves with `promise`, or aborts the upstream and rejects once the route's deadline passes. */
async function _within<T>(
  promise: Promise<T>,
  route: Route,
  deadline: keyof typeof _TIMEOUT_FIELDS,
  upstream: AbortController,
): Promise<T> {
  const ms = route.timeouts[deadline];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new RelayError(
        504,
        `upstream ${route.provider.name} did not answer within ${ms} ms (${_TIMEOUT_FIELDS[deadline]})`,
      );
      upstream.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Names an upstream failure the way the client and the log should see it. */
function _upstreamFailure(error: unknown, route: Route): RelayError {
  const name = route.provider.name;
  if (error instanceof RelayError) return error;
  if (error instanceof StreamTimeoutError) {
    const field = error.kind === "first_byte" ? "timeouts.first_byte" : "timeouts.idle";
    return new RelayError(504, `upstream ${name} sent nothing for ${error.ms} ms (${field})`);
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new RelayError(502, `upstream ${name} failed: ${reason}`);
}
