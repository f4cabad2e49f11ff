import type { Context } from "hono";
import type { Admission, ClientRegistry } from "../ledger/clients.ts";
import type { LedgerEntry, LedgerSink, RecordOptions } from "../ledger/entry.ts";
import {
  CredentialError,
  type ProviderKey,
  type ProviderRequest,
  UnservableError,
  type UsageFallback,
} from "../providers/types.ts";
import { conversationKey } from "../routing/affinity.ts";
import { retryDelay } from "../routing/backoff.ts";
import { RetryAfters } from "../routing/retry_afters.ts";
import { type ConcurrencyLimiter, OverloadedError } from "../routing/concurrency.ts";
import {
  asStandInRefusal,
  classifyFailure,
  errorWords,
  type UpstreamOutcome,
  WORDS_READ,
} from "../routing/failure.ts";
import { contextBeta } from "../routing/model_map.ts";
import { readRateLimitHeaders } from "../routing/rate_limit_headers.ts";
import { StandInRefusals } from "../routing/stand_in_refusals.ts";
import { statusForErrorType } from "../routing/error_status.ts";
import {
  type Attempt,
  BUSY_RETRY_MS,
  busyStep,
  type PlanRequest,
  type Route,
  type Router,
  type Step,
} from "../routing/router.ts";
import { estimateTokens } from "../routing/token_estimate.ts";
import { endOfLastEvent } from "../stream/event_boundary.ts";
import { forwardBody, type ForwardOutcome } from "../stream/forward.ts";
import { ANTHROPIC_PING, DEFAULT_KEEPALIVE_MS } from "../stream/keep_alive.ts";
import type { AnthropicUsage } from "../stream/openai_types.ts";
import { maskedHeaders, SecretMask } from "../stream/secret_mask.ts";
import { StreamTimeoutError } from "../stream/timeouts.ts";
import { countedTokens, type UsageDetail, UsageTap } from "../stream/usage_tap.ts";
import { WatchedReader } from "../stream/watched_reader.ts";
import { peekAnswer } from "../providers/error_peek.ts";
import { setDeadline } from "../util/deadline.ts";
import { concatBytes } from "../util/bytes.ts";
import { keyId } from "../util/fingerprint.ts";
import { maskKeysAndSecretsIn, maskSecret } from "../util/mask.ts";
import type { LogFields, Logger } from "../util/logger.ts";
import { realTimers, type Timers } from "../util/timers.ts";
import { costlierAsks, inspectMessagesBody, messagesFields, readBody } from "./body.ts";
import { BodyBudget, type BodyHold } from "./body_budget.ts";
import { BodyLog } from "./body_log.ts";
import {
  AnswerTimeoutError,
  anthropicErrorOf,
  type AnthropicErrorType,
  BrokenAnswerError,
  errorResponse,
  NOT_RETRIED,
  RelayError,
  upstreamHeadersOf,
  withErrorRead,
} from "./errors.ts";
import { logRequest } from "./events.ts";
import { headersForUpstream, responseForClient, undecodedEncoding } from "./headers.ts";
import { graceOverError, type InFlight } from "./in_flight.ts";
import type { RelayEnv } from "./request_id.ts";
import { errorMessage } from "../util/error_message.ts";
import { copyHeaders, hasMediaType } from "../util/headers.ts";
import { type JsonObject, parseJsonObject } from "../util/json.ts";

/** How hard relay tries before it gives a client the upstream's failure. */
export interface RetryOptions {
  /** Upstream requests at most per client request (the first included). */
  maxAttempts: number;
  backoff: { baseMs: number; maxMs: number; maxRetryAfterMs: number };
  /** Longest a request waits for a rate-limited key to reset before it gets a 429. */
  maxWaitMs: number;
}

export interface RelayOptions {
  router: Router;
  logger: Logger;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Longest a request body may take to arrive (`server.body_timeout`); 0 or unset: no deadline. */
  bodyTimeoutMs?: number;
  /**
   * Most request-body bytes relay holds at once, every request's together (`server.max_body_memory`);
   * unset: no bound.
   */
  maxBodyMemory?: number;
  /**
   * Where those bytes are counted, from a body's first byte to its request's end; one per server, shared
   * with the front door. A budget of relay's own unless given.
   */
  bodyBudget?: BodyBudget;
  inFlight: InFlight;
  /** `server.max_concurrent` and its queue: requests beyond both get a 503. */
  limiter: ConcurrencyLimiter;
  /** Longest a request waits in the queue for a slot. */
  queueTimeoutMs: number;
  retry: RetryOptions;
  /** Longest silence in a client's stream before relay sends a `ping` (`server.keepalive`); 0: never. */
  keepaliveMs?: number;
  /** Monotonic milliseconds; injected so tests can pin durations. */
  now?: () => number;
  /** Wall-clock milliseconds, for rate-limit resets. */
  wallClock?: () => number;
  random?: () => number;
  /**
   * The timers every deadline of a request runs on, `now` being their clock: the body's, the queue's,
   * the upstream's, the backoff and keep-alives. The global ones unless given: tests pass a fake, to
   * fire a deadline without waiting for it.
   */
  timers?: Timers;
  /** Named clients' models, budgets and rates (`src/ledger/clients.ts`), checked before anything is sent. */
  clients?: ClientRegistry;
  /**
   * Where each ended request goes (`src/ledger/`). Its backpressure never holds a stream: after a
   * streamed answer's last byte it holds only the request's slot, so a full ledger queue slows new
   * requests, and at most `server.max_concurrent` records wait. An answer relay makes itself (its own
   * errors, which hold no slot) goes out at once, its record queued if the ledger has room, else
   * dropped and counted: waiting, nothing would bound how many answers (and their connections) a
   * locked ledger holds.
   */
  ledger?: LedgerSink;
  /**
   * Told of every request once it ended: its access log line's fields, and its usage when the answer
   * reported one. For metrics and the admin event stream; it must return at once.
   */
  onRequest?: (line: LogFields, usage: UsageDetail | undefined) => void;
  /**
   * The settings of the config relay serves now, when it can be reloaded: read once as each request
   * starts, they stand in for the ones above for that whole request, so a reload never changes a
   * request under way.
   */
  settings?: () => RequestSettings;
  /**
   * The body of a request relay made itself (the OpenAI front door's translation), already parsed, so
   * it is not parsed back from its bytes: that costs about 0.9 ms on a 400 KiB body. It must be what
   * the bytes parse to, since routing reads it and the upstream gets the bytes. Undefined for a
   * client's request, whose bytes are parsed.
   */
  parsedBody?: (request: Request) => Record<string, unknown> | undefined;
  /**
   * `log.bodies`: each request's body and its answer's go to the log (`request body`, `response body`),
   * each at most its first 64 KiB.
   */
  logBodies?: boolean;
}

/** What a reloaded config changes of the request path. */
export type RequestSettings = Pick<
  RelayOptions,
  | "router"
  | "logger"
  | "maxBodyBytes"
  | "bodyTimeoutMs"
  | "maxBodyMemory"
  | "queueTimeoutMs"
  | "retry"
  | "keepaliveMs"
  | "onRequest"
  | "logBodies"
>;

/** What the access log line says about one request; filled in as the request goes. */
interface _Trace {
  start: number;
  /** Wall-clock ms at arrival, for the ledger. */
  at: number;
  model?: string;
  upstreamModel?: string;
  provider?: string;
  key?: string;
  /** The key's fingerprint, for the ledger. */
  keyId?: string;
  status?: number;
  ttfb?: number;
  attempts: number;
  /** Attempts that moved to another provider than the one before. */
  failovers: number;
  upstreamRequestId?: string;
  /** The client's go-ahead, settled when the request ends. */
  admission?: Extract<Admission, { ok: true }>;
  /**
   * Whether the answer's usage is relay's estimate: its upstream reported none, or its stream ended
   * before its final usage.
   */
  usageEstimated?: true;
  /**
   * What a client that left while an upstream had its request is recorded to have used: the input relay
   * estimated, since the upstream may bill what it read.
   */
  abandonedUsage?: UsageDetail;
}

/** An ended request's times, in whole ms since it arrived, as the log line and the ledger both give them. */
interface _Timing {
  ttfbMs: number | undefined;
  durationMs: number;
}

/**
 * Writes the access log line and accounts for the ended request; resolves once the ledger took it, or
 * at once with `waitForRoom: false`.
 */
type _Log = (
  outcome: string,
  fields?: LogFields,
  usage?: UsageDetail,
  ledger?: RecordOptions,
) => Promise<void>;

/** The clocks a request runs on, and the backoff's jitter: resolved once, when relay is set up. */
interface _Clock {
  /** Monotonic ms, which `timers` run on. */
  now: () => number;
  /** Wall-clock ms, for rate-limit resets and the ledger. */
  wallClock: () => number;
  random: () => number;
  timers: Timers;
}

/**
 * How a request that ended in relay's own answer (or with its client gone) hands the ledger its
 * record: it holds no slot by then, so waiting for room in a full queue would hold its answer, and its
 * connection, for as long as the ledger stays locked, however many arrive meanwhile.
 */
const _ANSWER_NOW: RecordOptions = { waitForRoom: false };

/** Thrown when the client left before relay could answer; there is nobody to answer. */
class _ClientGone extends Error {
  /** @param sent Whether an upstream had the request, to bill it or not, when the client left. */
  constructor(readonly sent = false) {
    super();
  }
}

/** How one attempt ended before anything reached the client. */
type _Tried = _Committed | _Failed;

/** An attempt whose answer goes to the client: committed (its first event is in), or a GET's with no body. */
type _Committed =
  | {
    kind: "committed";
    response: Response;
    reader: WatchedReader;
    /** What was read until the upstream committed. */
    head: Uint8Array;
    /** Has seen the head; sees the rest as it goes out. */
    usage: UsageTap;
    /** Whether the answer is an SSE stream. */
    sse: boolean;
    /**
     * Whether the answer is a message or token count in JSON, which the client reads whole: one that
     * ends as no whole JSON object was cut short, as a stream without its `message_stop`.
     */
    json: boolean;
    /** What the answer may quote, which relay masks in it: see {@linkcode _try}. */
    credentials: readonly ProviderKey[];
  }
  | { kind: "empty"; response: Response; credentials: readonly ProviderKey[] };

/** An attempt that failed before anything reached the client. */
interface _Failed {
  kind: "failed";
  outcome: UpstreamOutcome;
  /** The answer the client gets if nobody else does better: an upstream's error, as it came. */
  response?: Response;
  /** The upstream's answer headers, when it answered: their rate limits count either way. */
  headers?: Headers;
  error: RelayError;
  /** What its answer may quote, which relay masks in it, its headers and its log: see {@linkcode _try}. */
  credentials: readonly ProviderKey[];
}

/** A failed attempt kept while relay tries others: the answer to pass on if none does better. */
interface _Kept extends _Failed {
  attempt: Attempt;
  /** Its exchange, tracked until its answer is dropped or has been passed on. */
  exchange: _Exchange;
  /** What the access line and the ledger say of it, should its answer be the client's. */
  traced: _Traced;
  /** Its answer tells the client not to send again soon (`FailureDecision.notRetried`). */
  notRetried?: true;
}

/** What a request's trace says of the attempt whose answer the client gets. */
type _Traced = Pick<_Trace, "provider" | "key" | "keyId" | "upstreamModel" | "status" | "upstreamRequestId">;

function _traced({ provider, key, keyId, upstreamModel, status, upstreamRequestId }: _Trace): _Traced {
  return { provider, key, keyId, upstreamModel, status, upstreamRequestId };
}

/**
 * An SSE stream whose first event runs past this many bytes is committed before that event is whole;
 * pings before it are not held past this many either.
 */
const _MAX_PEEK_BYTES = 64 * 1024;

/**
 * The handler behind every relayed route, one request's lifecycle: read and check the body, wait for
 * a slot, then try upstreams in the router's order, one at a time, holding the client's answer until
 * an upstream commits (its first event is in). Until then a failure moves on to the next key or
 * provider, with backoff; once bytes reached the client nothing is retried, and a later failure ends
 * the stream cleanly.
 *
 * @example
 * ```ts
 * app.post("/v1/messages", relay({ router, logger, maxBodyBytes, inFlight, limiter, queueTimeoutMs, retry }));
 * ```
 */
export function relay(base: RelayOptions): (c: Context<RelayEnv>) => Promise<Response> {
  const clock: _Clock = {
    now: base.now ?? (() => performance.now()),
    wallClock: base.wallClock ?? Date.now,
    random: base.random ?? Math.random,
    timers: base.timers ?? realTimers,
  };
  const bodyBudget = base.bodyBudget ?? new BodyBudget();
  const refusals = new StandInRefusals({ now: clock.now });
  // A config's settings are one object per config version: merged again only when it changes.
  let merged: { settings: RequestSettings; options: RelayOptions } | undefined;
  const current = (): RelayOptions => {
    if (!base.settings) return base;
    const settings = base.settings();
    if (merged?.settings !== settings) merged = { settings, options: { ...base, ...settings } };
    return merged.options;
  };
  return async (c) => {
    c.set("handlerLogs", true);
    const options = current();
    const trace: _Trace = { start: clock.now(), at: clock.wallClock(), attempts: 0, failovers: 0 };
    const hold = bodyBudget.open(options.maxBodyMemory);
    // The body goes back to the budget as its request ends: with its log line, however it ended, or
    // where relay failed on its own and wrote none (below).
    const log: _Log = (outcome, fields = {}, usage, ledger) => {
      hold.release();
      // A stream a shutdown cut when its grace ran out failed by relay's doing, not the upstream's; nor
      // did its client close it if it had stopped reading: relay closed its connection.
      const { cut } = options.inFlight;
      if ((outcome === "upstream_failed" || outcome === "client_closed") && cut.aborted) {
        outcome = "relay_error";
        // The bytes and tokens stand; the cut replaces the failure's own account of itself.
        const { errorType: _errorType, message: _message, ...kept } = fields;
        fields = { ...kept, error: _cutReason(cut) };
      }
      const timing: _Timing = {
        ttfbMs: trace.ttfb === undefined ? undefined : Math.round(trace.ttfb - trace.start),
        durationMs: Math.round(clock.now() - trace.start),
      };
      const line: LogFields = {
        request_id: c.get("requestId"),
        client: c.get("client"),
        method: c.req.method,
        path: c.req.path,
        model: trace.model,
        provider: trace.provider,
        key: trace.key,
        status: trace.status,
        outcome,
        attempts: trace.attempts,
        failovers: trace.failovers,
        ttfb_ms: timing.ttfbMs,
        duration_ms: timing.durationMs,
        upstream_request_id: trace.upstreamRequestId,
        usage_estimated: trace.usageEstimated,
        ...fields,
      };
      logRequest(options.logger, options.onRequest, line, usage);
      return _account(c, options, trace, outcome, timing, usage, ledger);
    };
    try {
      return await _relay(c, options, trace, clock, log, hold, refusals);
    } catch (thrown) {
      const gone = thrown instanceof _ClientGone || c.req.raw.signal.aborted;
      // Once a shutdown's grace ran out, relay closes the connections left: that is no client leaving.
      const error = gone && options.inFlight.cut.aborted ? graceOverError() : thrown;
      // A client that left mid-upload makes its body unreadable: that is its leaving, not bad input.
      if (gone && error === thrown) {
        trace.status = 499;
        const usage = trace.abandonedUsage;
        const fields = usage ? { input_tokens: usage.input, output_tokens: 0 } : {};
        await log("client_closed", fields, usage, _ANSWER_NOW);
        return new Response(null, { status: 499 });
      }
      if (!(error instanceof RelayError)) {
        // Not logged here: the app's access line covers the answer its error handler gives.
        c.set("handlerLogs", false);
        hold.release();
        // Nor accounted: its limits keep the estimate, but its hold on a budget must not outlive it.
        trace.admission?.settle(undefined);
        throw error;
      }
      trace.status = error.status;
      await log("relay_error", { error: error.message }, undefined, _ANSWER_NOW);
      return error.toResponse();
    }
  };
}

async function _relay(
  c: Context<RelayEnv>,
  options: RelayOptions,
  trace: _Trace,
  clock: _Clock,
  log: _Log,
  hold: BodyHold,
  refusals: StandInRefusals,
): Promise<Response> {
  const { router, retry } = options;
  const request = c.req.raw;
  const parsed = options.parsedBody?.(request);
  // The front door's translation may be a few bytes over its client's body, which was held to the limit:
  // twice the limit still bounds what relay made itself.
  const maxBodyBytes = parsed ? 2 * options.maxBodyBytes : options.maxBodyBytes;
  const body = request.method === "POST"
    ? await readBody(request, maxBodyBytes, {
      timeoutMs: options.bodyTimeoutMs,
      timers: clock.timers,
      now: clock.now,
      cut: options.inFlight.cut,
      hold,
    })
    : null;
  const fields = parsed ? messagesFields(parsed) : body ? inspectMessagesBody(body) : undefined;
  trace.model = fields?.model;
  // Only a message counts against limits: Anthropic limits count_tokens and the model list apart, and a
  // token count has no usage to settle an estimate with, which would hold a tpm for the whole minute.
  const counted = request.method === "POST" && !c.req.path.endsWith("/count_tokens");
  const estimate = fields && counted ? estimateTokens(fields.json) : { input: 0, output: 0 };
  const admission = options.clients?.admit(c.get("client"), {
    model: fields?.model,
    estimate,
    routes: router,
    asks: fields && costlierAsks(fields.json),
  });
  if (admission && !admission.ok) {
    const retryAfter = admission.retryAfterS === undefined
      ? undefined
      : { "retry-after": `${admission.retryAfterS}` };
    throw new RelayError(admission.status, admission.message, retryAfter);
  }
  trace.admission = admission;
  const usageFallback: UsageFallback = {
    inputTokens: estimate.input,
    estimated: () => trace.usageEstimated = true,
  };

  const planned: PlanRequest = {
    model: fields?.model,
    estimate,
    conversation: fields ? conversationKey(request.headers, fields.json) : undefined,
    uncounted: !counted,
    route: { method: request.method, path: c.req.path },
  };
  const plan = router.plan(planned);
  if (!plan.served) {
    const served = router.servedModels();
    throw _notServed(router, planned, options.clients?.usableModels(c.get("client"), served) ?? served);
  }

  const releaseSlot = await _slot(options, request.signal, clock);
  // Admitted after a shutdown's cut: start nothing. Every later wait (`_sleep`) ends at the cut itself.
  if (options.inFlight.cut.aborted) {
    releaseSlot();
    throw graceOverError();
  }
  // Logged once the request is on its way upstream: a refusal's reason is on its access line.
  const bodies = options.logBodies ? new BodyLog(options.logger, c.get("requestId")) : undefined;
  if (body) bodies?.request(body);
  let handedOff = false;
  let last: _Kept | undefined;
  /** Whether every attempt failed on a credential relay cannot get until a person mends it. */
  let refusedForGood: boolean | undefined;
  /** The providers that refused relay's credential so. */
  const refusedProviders = new Set<string>();
  try {
    let waitedMs = 0;
    // A backoff slept before a provider then passed over: the next attempt's is due from the failure too.
    let backedOffSinceFailure = 0;
    // Made at the first failure: a request answered at once has none to remember.
    let retryAfters: RetryAfters | undefined;
    // Why a route was passed over for its model's missing price: the answer once no route is left.
    let unpriced: RelayError | undefined;
    // What a provider standing in for another said when it refused the request (`asStandInRefusal`), and
    // how many such refusals there were: each provider refuses once at most, and none counts toward
    // routing.max_attempts, which bounds the tries of the providers that could take the request.
    let standInRefused: string | undefined;
    let standInRefusals = 0;
    // Early probes of open breakers (`Attempt.lastResort`): routing.max_wait bounds them, their time
    // counted into `waitedMs`, not max_attempts.
    let lastResorts = 0;
    /** The attempts routing.max_attempts counts. */
    const attemptsCounted = () => trace.attempts - standInRefusals - lastResorts;
    let sentAgain: boolean | undefined;
    /** An error relay answers with, quoting a stand-in's refusal: the request may be at fault in itself. */
    const quoted = (error: RelayError): RelayError =>
      standInRefused === undefined
        ? error
        : new RelayError(error.status, `${error.message}; ${standInRefused}`, error.headers, error.type);
    /**
     * relay's own answer once no upstream can take the request: its access line names the attempt it
     * answers for, none when only providers passed over were asked (a stand-in is not to blame).
     */
    const ownAnswer = (error: RelayError): RelayError => {
      if (last) Object.assign(trace, last.outcome.kind === "unservable" ? _NO_ATTEMPT : last.traced);
      return quoted(error);
    };
    while (attemptsCounted() < retry.maxAttempts) {
      let step = plan.next(retry.maxWaitMs - waitedMs);
      // Past routing.max_wait, a wait that has an answer of its own ends there.
      if (step.kind === "wait" && step.otherwise && waitedMs + step.waitMs > retry.maxWaitMs) {
        step = step.otherwise;
      }
      if (step.kind === "wait") {
        if (waitedMs + step.waitMs > retry.maxWaitMs) {
          // A provider that is only full may free up any moment: the client hears what it would with
          // every provider full, not a rate limit's wait.
          if (step.busy) throw ownAnswer(_unavailable(busyStep(true)));
          // An upstream's own 429 (its rate-limit headers tell Claude Code a plan limit from a
          // throttle) says more than relay's summary of the wait; so does a failure met on the way that
          // the client would send again after, where the wait is a rest in its upstream's words.
          if (last?.response?.status === 429) break;
          if (step.said !== undefined && last && _sentAgainAfter(last)) break;
          const model = fields?.model ?? "this request";
          // Where upstreams limit each model apart (Bedrock, Vertex), the keys serve other models meanwhile.
          const limited = step.modelOnly
            ? `${model} is at its rate limit on every key and provider that could take it now (their upstreams ` +
              `limit each model apart; other models are served)`
            : `every key that serves ${model} is at its rate limit`;
          // A key out for long (a plan's limit spent) is told of in its upstream's words, and sending
          // again soon cannot help: the client shows them rather than retrying for minutes.
          const said = step.said === undefined ? "" : ` (upstream said: ${step.said})`;
          const retryAfter = { "retry-after": String(Math.max(1, Math.ceil(step.retryAfterMs / 1000))) };
          throw ownAnswer(
            new RelayError(
              429,
              `${limited}; the next frees up in ${_duration(step.retryAfterMs, said !== "")}${said} ` +
                `(routing.max_wait is ${retry.maxWaitMs} ms)`,
              step.said === undefined ? retryAfter : { ...retryAfter, ...NOT_RETRIED },
              "rate_limit_error",
            ),
          );
        }
        await _sleep(step.waitMs, request.signal, options.inFlight.cut, clock.timers);
        waitedMs += step.waitMs;
        continue;
      }
      if (step.kind === "exhausted") {
        // A provider failing or full may take it on the client's next try: a key out for hours that
        // answered before is no reason to tell the client to stop.
        const passing = (step.cause === "open" || step.cause === "busy") && last?.notRetried;
        // A provider that could not be asked says nothing while another that could is only down.
        if (last && !passing && (last.outcome.kind !== "unservable" || step.cause === "unservable")) break;
        // A busy or failing provider may still take it later; a model without a price never will.
        if (step.cause === "unservable" && unpriced) throw unpriced;
        throw ownAnswer(_unavailable(step));
      }
      const { attempt } = step;
      // A budgeted client's request goes only where the ledger can price it: elsewhere it would spend
      // none of the budget. Only a message is priced (a token count costs nothing, the model list has no
      // model). Passed over as a provider that cannot serve the request is, before any backoff.
      const refusal = counted
        ? admission?.unpriced(attempt.upstreamModel ?? trace.model, attempt.route.provider.name)
        : undefined;
      if (refusal !== undefined) {
        _passOver(c, options, attempt, refusal, clock);
        unpriced ??= new RelayError(403, refusal);
        continue;
      }
      if (trace.attempts > 0) {
        // Back off before every retry; honour a retry-after only when going to the upstream that asked
        // for it (a 429's is its key's, any other's its whole provider's), straight back or after others.
        // A key cooled by the failure's retry-after may already have been waited for (a `wait` step).
        const owed = retryAfters?.owedBy(attempt, clock.now());
        // A key's own 429 is a rate limit: going back to it waits no longer than routing.max_wait, as a
        // Messages request waits out the key's cooling (count_tokens, which does not cool it, waits here).
        const rateLimitedMs = owed?.rateLimitedMs;
        if (rateLimitedMs !== undefined && waitedMs + rateLimitedMs > retry.maxWaitMs) {
          attempt.cancelled();
          break;
        }
        // A last resort comes after the plan's look again a second on, unless the upstream asked for more
        // (up to routing.max_retry_after, as for any retry).
        const delay = Math.max(
          0,
          owed?.cappedMs ?? 0,
          attempt.lastResort
            ? 0
            : retryDelay(attemptsCounted() - 1, retry.backoff, clock.random) - backedOffSinceFailure,
        );
        if (attempt.lastResort && waitedMs + delay > retry.maxWaitMs) {
          attempt.cancelled();
          break;
        }
        // While it waits, the attempt is not in flight: its provider's max_in_flight serves others.
        const resume = delay > 0 ? attempt.paused() : undefined;
        await _sleep(delay, request.signal, options.inFlight.cut, clock.timers).catch((error) => {
          // Never sent: the key gets its request and tokens back.
          attempt.cancelled();
          throw error;
        });
        backedOffSinceFailure += delay;
        if (rateLimitedMs !== undefined || attempt.lastResort) waitedMs += delay;
        if (resume && !resume()) {
          // Others filled the provider meanwhile: the plan offers what is free now.
          attempt.cancelled();
          continue;
        }
      }
      const undoAim = _aimAt(trace, attempt);
      const exchange = _exchange(request.signal, options.inFlight);
      const sent = { fields, body, usageFallback };
      // A last resort's time, its wait for an answer as its wait before it, is spent of routing.max_wait;
      // no other attempt's is.
      const attemptFrom = attempt.lastResort ? clock.now() : 0;
      const tried = await _try(c, attempt, sent, clock, exchange.upstream).catch((error) => {
        // The client left before the upstream committed: this exchange is over too.
        exchange.end();
        if (error instanceof _ClientGone && error.sent && estimate.input > 0) {
          trace.abandonedUsage = {
            input: estimate.input,
            output: 0,
            cacheRead: 0,
            cacheWrite: 0,
            cacheWrite1h: 0,
          };
          trace.usageEstimated = true;
        }
        throw error;
      });
      // A failed answer's exchange lasts as long as its body, which may still be passed on.
      if (tried.kind === "failed" && !tried.response) exchange.end();
      if (tried.kind === "failed" && tried.outcome.kind === "unservable") {
        // Nothing was sent: no attempt, no failover, no status of its own; the last real failure still
        // decides the backoff, and says more to the client than a provider that could not be asked.
        _passOver(c, options, attempt, tried.outcome.reason, clock);
        undoAim();
        if (!last) last = { ...tried, attempt, exchange, traced: _traced(trace) };
        continue;
      }
      trace.status = tried.kind === "failed"
        ? tried.response?.status ?? tried.error.status
        : tried.response.status;
      // What the answer tells the key pool, the breakers and affinity. A committed answer tells it once
      // its head is on its way (`afterHead`), from inside its stream: a throw there is logged, or it
      // would end the stream without its accounting.
      const tellRouter = () => {
        try {
          const headers = tried.kind === "failed" ? tried.headers : tried.response.headers;
          trace.upstreamRequestId = headers?.get("request-id") ?? undefined;
          if (headers) attempt.observe(readRateLimitHeaders(headers, clock.now(), clock.wallClock()));
          if (tried.kind !== "failed") attempt.committed(trace.ttfb! - trace.start);
        } catch (error) {
          options.logger.error("routing bookkeeping failed", {
            request_id: c.get("requestId"),
            error: String(error),
          });
        }
      };

      if (tried.kind !== "failed") {
        trace.ttfb = clock.now();
        await _drop(last);
        handedOff = true;
        const release = () => {
          exchange.end();
          releaseSlot();
        };
        return _answer(
          tried,
          attempt,
          options,
          clock,
          tellRouter,
          release,
          log,
          bodies,
          request.signal,
        );
      }
      tellRouter();

      const classified = classifyFailure(tried.outcome, clock.now(), clock.wallClock());
      let decision = attempt.standIn ? asStandInRefusal(classified, tried.outcome) : classified;
      if (decision.sent && body) {
        // The client's same request, refused by a stand-in before: this time the refusal is its answer.
        // Asked once a request: a second stand-in's refusal of it is no resend.
        sentAgain ??= await refusals.refusedBefore(body);
        if (sentAgain) decision = classified;
      }
      if (decision.notRetried && tried.response) tried.response = _notToRetryAnswer(tried.response);
      const refusedUntil = attempt.failed(decision);
      // Neither counts toward routing.max_attempts: a stand-in's refusal, nor a last resort, whose time
      // (its backoff, its wait for an answer) is spent of routing.max_wait instead.
      if (attempt.lastResort) waitedMs += clock.now() - attemptFrom;
      if (decision.sent) standInRefusals++;
      else if (attempt.lastResort) lastResorts++;
      options.logger.warn("attempt failed", {
        request_id: c.get("requestId"),
        provider: attempt.route.provider.name,
        key: attempt.key?.label,
        attempt: trace.attempts,
        reason: decision.reason,
        // What the failure calls for, unless the attempts are spent: then nothing follows.
        next: attemptsCounted() >= retry.maxAttempts
          ? "none (routing.max_attempts)"
          : attempt.nextAction(decision),
      });
      if (decision.action === "disable_key" && attempt.key) {
        options.logger.warn("key disabled", {
          provider: attempt.route.provider.name,
          key: attempt.key.label,
          reason: decision.reason,
        });
      }
      if (refusedUntil !== undefined) {
        // Not "key disabled": the key (or the keyless provider) goes on serving every other model.
        options.logger.warn("model refused", {
          provider: attempt.route.provider.name,
          key: attempt.key?.label,
          model: attempt.upstreamModel,
          reason: decision.reason,
          said: decision.said,
          retry_in_ms: Math.max(0, Math.round(refusedUntil - clock.now())),
        });
      }
      const forGood = decision.credentialRefused === true;
      refusedForGood = (refusedForGood ?? true) && forGood;
      if (forGood) refusedProviders.add(attempt.route.provider.name);
      const kept: _Kept = {
        ...tried,
        attempt,
        exchange,
        traced: _traced(trace),
        ...(decision.notRetried && { notRetried: true }),
      };
      if (decision.sent) {
        // A stand-in's refusal is the client's only where nothing else is: as a provider that could not
        // be asked, it says less than why the provider it stood in for could not take the request.
        standInRefused ??= _standInRefusal(attempt, tried.outcome);
        if (last) await _drop(kept);
        else last = { ...kept, outcome: { kind: "unservable", reason: decision.reason } };
      } else if (decision.notRetried && last && _elsewhereFor(last, attempt)) {
        // A key (or provider) out for hours is relay's to route around: the client's next try goes
        // elsewhere, and an earlier failure it would send again after says more than 'do not send again'.
        await _drop(kept);
      } else if (
        tried.outcome.kind !== "credentials" || !last?.response || last.outcome.kind === "unservable"
      ) {
        // A credential relay could not get sent nothing: an upstream's own answer kept from before (a
        // 529, a 429 and its rate-limit headers) says more to the client.
        await _drop(last);
        last = kept;
      }
      if (decision.action === "return") break;
      // What a retry waits for is the failure's the stand-in stood in for: its refusal says nothing of time.
      if (decision.sent) continue;
      (retryAfters ??= new RetryAfters(retry.backoff.maxRetryAfterMs)).failed(attempt, decision, clock.now());
      backedOffSinceFailure = 0;
    }
    // The access line and the ledger tell of the attempt whose answer the client gets.
    if (last) Object.assign(trace, last.traced);
    // Out of attempts or told to stop: the client gets the last upstream answer as the upstream gave it.
    if (last?.response) {
      handedOff = true;
      const { exchange } = last;
      return _passOn(last, last.response, options.inFlight.cut, clock, log, () => {
        exchange.end();
        releaseSlot();
      }, bodies);
    }
    // Only when every provider switched on that serves the model refused relay's credential for good (a
    // revoked key, an ended SSO login) is the client told not to send again: that fails the same way
    // until a person mends it. One left unasked (busy, failing, cooling) may take the client's next try.
    const everyOneRefused = refusedForGood === true && fields !== undefined &&
      router.runsAs(fields.model).every(({ provider }) =>
        refusedProviders.has(provider) || router.isSwitchedOff(provider)
      );
    throw quoted(everyOneRefused ? _notToRetry(last!.error) : last!.error);
  } finally {
    if (!handedOff) {
      releaseSlot();
      // Ended by a throw (relay's own 429, the client gone, a shutdown's cut): the answer kept for
      // passing on goes unused, its exchange with it.
      await _drop(last);
    }
  }
}

/** Whether `last` is an upstream's failure the client would send again after. */
function _sentAgainAfter(last: _Kept): boolean {
  return last.outcome.kind !== "unservable" && !last.notRetried;
}

/**
 * Whether `last` is a failure the client would send again after, met on another key or provider than
 * `attempt`'s: one met on the same key says nothing of where the client's next try goes.
 */
function _elsewhereFor(last: _Kept, attempt: Attempt): boolean {
  return _sentAgainAfter(last) && (last.attempt.route !== attempt.route || last.attempt.key !== attempt.key);
}

/** The trace of an answer no attempt is to blame for. */
const _NO_ATTEMPT: _Traced = {
  provider: undefined,
  key: undefined,
  keyId: undefined,
  upstreamModel: undefined,
  status: undefined,
  upstreamRequestId: undefined,
};

/** How relay's own answer quotes a stand-in's refusal: its provider, status and words. */
function _standInRefusal(attempt: Attempt, outcome: UpstreamOutcome): string {
  const status = outcome.kind === "http" ? outcome.status : "refusal";
  const words = outcome.kind === "http" && outcome.text !== undefined ? errorWords(outcome.text) : "";
  return `${attempt.route.provider.name}, standing in, refused it (${status}${words ? `: ${words}` : ""})`;
}

/** `ms` in seconds, or for a long rest (`long`) in what a person reads best: minutes, hours, days. */
function _duration(ms: number, long: boolean): string {
  const seconds = Math.ceil(ms / 1000);
  if (!long || seconds <= 120) return `${seconds} s`;
  if (seconds < 120 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds <= 48 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

/** Gives `attempt`, never sent, back to the plan, which offers its provider no more for this request. */
function _passOver(
  c: Context<RelayEnv>,
  options: RelayOptions,
  attempt: Attempt,
  reason: string,
  clock: _Clock,
): void {
  attempt.failed(classifyFailure({ kind: "unservable", reason }, clock.now(), clock.wallClock()));
  options.logger.debug("provider passed over", {
    request_id: c.get("requestId"),
    provider: attempt.route.provider.name,
    reason,
  });
}

/**
 * Points the request's trace at `attempt`: one more attempt, a failover when the provider changed, the
 * provider and key its access line names. Returns how to take that back, for a provider that could not
 * be asked after all.
 */
function _aimAt(trace: _Trace, attempt: Attempt): () => void {
  const { attempts, failovers, provider, key, keyId: id, upstreamModel } = trace;
  trace.attempts++;
  if (trace.provider !== undefined && trace.provider !== attempt.route.provider.name) trace.failovers++;
  trace.provider = attempt.route.provider.name;
  trace.key = attempt.key?.label;
  trace.keyId = attempt.key && keyId(attempt.key);
  trace.upstreamModel = attempt.upstreamModel;
  return () => Object.assign(trace, { attempts, failovers, provider, key, keyId: id, upstreamModel });
}

/**
 * Why no provider takes the request: none serves its model, or none of those has its route. The models
 * named instead (`usable`) are only those the client may ask for: a client limited to some must not
 * learn the others.
 */
function _notServed(router: Router, request: PlanRequest, usable: readonly string[]): RelayError {
  const { model, route } = request;
  if (route && router.plan({ ...request, route: undefined }).served) {
    return new RelayError(
      404,
      `${route.method} ${route.path} is not available from any provider that serves ${model ?? "it"} ` +
        "(OpenAI-compatible upstreams have /v1/messages only, Ollama no count_tokens; Bedrock and Vertex no " +
        "model list)",
    );
  }
  return new RelayError(
    404,
    `model ${model} is not served by any provider; available: ${usable.join(", ") || "none"}`,
  );
}

/** One upstream exchange: aborted when the client leaves or a shutdown runs out of grace. */
interface _Exchange {
  upstream: AbortController;
  /** Stops tracking it; more calls do nothing. */
  end(): void;
}

/** Starts tracking an {@linkcode _Exchange}. */
function _exchange(client: AbortSignal, inFlight: InFlight): _Exchange {
  const upstream = new AbortController();
  const abort = () => upstream.abort(new DOMException("client disconnected", "AbortError"));
  client.addEventListener("abort", abort, { once: true });
  const untrack = inFlight.add(upstream);
  return {
    upstream,
    end: () => {
      client.removeEventListener("abort", abort);
      untrack();
    },
  };
}

/** Waits for a `server.max_concurrent` slot, or answers 503 when the queue is full or too slow. */
async function _slot(options: RelayOptions, signal: AbortSignal, clock: _Clock): Promise<() => void> {
  const free = options.limiter.tryAcquire();
  if (free) return free;
  // Only a queued request gets a deadline, and it is cleared once admitted: a timer per request kept
  // for the whole queue_timeout showed up as memory growth under load (relay bench).
  const deadline = new AbortController();
  const cancelDeadline = setDeadline(() => deadline.abort(), options.queueTimeoutMs, clock);
  try {
    return await options.limiter.acquire(AbortSignal.any([signal, deadline.signal, options.inFlight.cut]));
  } catch (error) {
    if (signal.aborted) throw new _ClientGone();
    if (options.inFlight.cut.aborted) throw graceOverError();
    const detail = error instanceof OverloadedError
      ? `${error.inFlight} requests in flight and ${error.queued} queued (server.max_concurrent)`
      : `no slot freed within ${options.queueTimeoutMs} ms (server.queue_timeout)`;
    throw new RelayError(503, `relay is at capacity: ${detail}`, { "retry-after": "1" }, "overloaded_error");
  } finally {
    cancelDeadline();
  }
}

/**
 * One attempt: send, then read until the upstream commits (its first event) or fails. `upstream`
 * aborts the exchange: the client leaving, a deadline or a shutdown out of grace. A committed or failed
 * attempt comes with its `credentials`: its key, and every token the adapter fetched and sent with
 * (`onSecret`); an upstream may quote any, so the answer, its headers and what relay says of it are
 * masked for them all.
 */
async function _try(
  c: Context<RelayEnv>,
  attempt: Attempt,
  { fields, body, usageFallback }: {
    fields: ReturnType<typeof inspectMessagesBody> | undefined;
    body: Uint8Array<ArrayBuffer> | null;
    usageFallback: UsageFallback;
  },
  clock: _Clock,
  upstream: AbortController,
): Promise<_Tried> {
  const request = c.req.raw;
  const { route } = attempt;
  const headersIn = Promise.withResolvers<undefined>();
  // What this attempt's answer has used so far, when its adapter makes the answer itself: the tap falls
  // back on it for a stream that ends before its usage.
  let usageSoFar: (() => AnthropicUsage) | undefined;
  // Whether the adapter is still waiting for the access token it sends with, when a deadline passes.
  let awaitingCredential = false;
  const credentials: ProviderKey[] = attempt.key ? [attempt.key] : [];
  const providerRequest: ProviderRequest = {
    path: _upstreamPath(c),
    search: _search(request.url),
    // A HEAD goes upstream as the GET it stands for: the answer's length is then relay's to count.
    method: request.method === "HEAD" ? "GET" : request.method,
    // A model asked for with the 1M-context mark goes upstream without it: its beta says it instead.
    headers: headersForUpstream(request.headers, contextBeta(fields?.model, attempt.upstreamModel)),
    body,
    model: fields?.model,
    json: fields?.json,
    upstreamModel: attempt.upstreamModel,
    stream: fields?.stream ?? false,
    signal: upstream.signal,
    onHeaders: () => headersIn.resolve(undefined),
    onCredential: (waiting) => awaitingCredential = waiting,
    // A token is told each time it is sent (a retry after a 401, Vertex's resend without betas).
    onSecret: (secret) => {
      if (!credentials.some((known) => known.secret === secret)) {
        credentials.push({ secret, label: maskSecret(secret) });
      }
    },
    idleMs: route.timeouts.idle,
    usageFallback: { ...usageFallback, streaming: (soFar) => usageSoFar = soFar },
  };
  const sentAt = clock.now();
  let response: Response | undefined;
  try {
    // A streamed answer sends its headers at once; an unstreamed one only when it is complete, all of it
    // under first_byte. An adapter that resolves a stream only later (Bedrock, with the first event) says
    // when its headers came: from then on the wait is first_byte's.
    const sending = route.provider.send(providerRequest, attempt.key);
    const { timers } = clock;
    const within = <T>(promise: Promise<T>, deadline: keyof typeof _TIMEOUT_FIELDS) =>
      _within(promise, attempt, deadline, upstream, clock, () => awaitingCredential);
    response = providerRequest.stream
      ? await within(Promise.race([sending, headersIn.promise]), "connect") ??
        await within(sending, "firstByte")
      : await within(sending, "firstByte");
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => {});
      const error = _redirected(route, response, credentials);
      return _broken(error, response.headers, credentials, true);
    }
    // Deno's fetch takes any three digits, but a client can be answered only 200 to 599: a status beyond
    // says the upstream is no HTTP API relay can pass on, as a broken connection would.
    if (response.status > 599) {
      await response.body?.cancel().catch(() => {});
      const error = new RelayError(
        502,
        `upstream ${route.provider.name} answered status ${response.status}, which HTTP does not define`,
      );
      return _broken(error, response.headers, credentials);
    }
    const encoding = undecodedEncoding(response.headers);
    if (encoding !== undefined) {
      await response.body?.cancel().catch(() => {});
      if (response.ok) {
        const error = new RelayError(
          502,
          `upstream ${route.provider.name} answered in content-encoding ${encoding}, which relay cannot ` +
            "read (it asks for gzip or br)",
        );
        return _broken(error, response.headers, credentials);
      }
      // An error answer still says what it is by its status and headers: only its unreadable body goes.
      response = new Response(null, response);
    }
    if (response.status < 200 || response.status > 299) {
      const error = new RelayError(
        response.status,
        `upstream ${route.provider.name} answered ${response.status}`,
      );
      // A 429's words tell a spent quota from a throttle (a 400's from a bad request), a refused key's why
      // it is out (`classifyFailure`).
      const said = WORDS_READ.has(response.status)
        ? await _readWords(response, { clock, upstream, credentials })
        : { response };
      response = said.response;
      const text = said.text === undefined ? {} : { text: said.text };
      return {
        kind: "failed",
        outcome: { kind: "http", status: response.status, headers: response.headers, ...text },
        response,
        headers: response.headers,
        error,
        credentials,
      };
    }
    if (!response.body) return _nothingSaid(request, route, response, credentials);
    const reader = new WatchedReader(response.body, {
      firstByteMs: Math.max(0, route.timeouts.firstByte - (clock.now() - sentAt)),
      idleMs: route.timeouts.idle,
      signal: upstream.signal,
      now: clock.now,
      timers,
    });
    const sse = hasMediaType(response, "text/event-stream");
    const usage = new UsageTap(sse, () => usageSoFar?.(), usageFallback.estimated, usageFallback.inputTokens);
    // Pings keep a stream alive, but none is an answer: the first event is due within first_byte.
    const commit = { by: sentAt + route.timeouts.firstByte, clock, route, upstream };
    const head = await _untilCommitted(reader, usage, sse, commit);
    if (head.endedEarly) {
      // No event an SDK could read (at most pings): as good as a connection that broke.
      const error = new RelayError(
        502,
        `upstream ${route.provider.name} ended its stream before its first event`,
      );
      return _broken(error, response.headers, credentials);
    }
    if (head.errorData !== undefined) {
      await reader.cancel().catch(() => {});
      const event = parseJsonObject(head.errorData);
      const { errorType, message } = _errorOf(head.errorData, credentials, event);
      const error = new RelayError(502, `upstream ${route.provider.name} failed: ${message}`);
      return {
        kind: "failed",
        outcome: { kind: "stream_error", errorType, headers: response.headers },
        response: _asErrorAnswer(response, event, { type: errorType, message }),
        headers: response.headers,
        error,
        credentials,
      };
    }
    // A model list, or any other body a GET brings, goes on as it came.
    const json = !sse && request.method === "POST" && hasMediaType(response, "application/json");
    if (head.chunks.length === 0) {
      if (!json) return _nothingSaid(request, route, response, credentials);
      // Not a byte of the JSON: as a stream without its first event, as good as a connection that broke.
      const error = new RelayError(502, `upstream ${route.provider.name} ended its answer before its JSON`);
      return _broken(error, response.headers, credentials);
    }
    return {
      kind: "committed",
      response,
      reader,
      head: concatBytes(head.chunks),
      usage,
      sse,
      json,
      credentials,
    };
  } catch (thrown) {
    // A body the adapter read before it answered failed as any answer's body can: told of as such.
    const error = thrown instanceof BrokenAnswerError ? thrown.cause : thrown;
    if (error instanceof UnservableError) {
      const failure = new RelayError(error.status, error.message);
      const outcome: UpstreamOutcome = { kind: "unservable", reason: error.message };
      return { kind: "failed", outcome, error: failure, credentials };
    }
    if (request.signal.aborted) {
      attempt.abandoned();
      throw new _ClientGone(!awaitingCredential);
    }
    if (error instanceof CredentialError) {
      // Still a 502: a 401 would tell the client its own key is bad.
      const failure = new RelayError(502, `upstream ${route.provider.name} failed: ${error.message}`);
      return { kind: "failed", outcome: { kind: "credentials", error }, error: failure, credentials };
    }
    const failure = _upstreamFailure(error, route);
    const outcome: UpstreamOutcome = failure.status === 504
      ? { kind: "timeout", why: failure.message }
      : { kind: "network", error };
    // An answer that failed once relay had its headers (a 200 it could not read, a body that stalled or
    // broke) still told its rate limits and its request-id: the key pool and the access line keep them,
    // those of one the adapter read before answering too (`readAnswerBody`), whose failure carries them.
    const headers = response?.headers ?? upstreamHeadersOf(thrown);
    return { kind: "failed", outcome, error: failure, headers, credentials };
  }
}

/**
 * How long an error's words (`WORDS_READ`) are waited for before it is classified without them: a 429
 * then fails over as a throttle, a 400 goes to the client as a bad request, a refused key is out for its
 * status alone. An answer's body slower than this is rare (a few hundred bytes) and says nothing to act on.
 */
const _WORDS_WAIT_MS = 2_500;

/**
 * The start of an error answer's body whose words count (`WORDS_READ`: {@linkcode peekAnswer}'s 16 KiB,
 * what came within {@linkcode _WORDS_WAIT_MS}), masked of `credentials`, and the answer with it put back,
 * the rest to come under the route's deadlines for a body, to be passed on whole. One whose body fails
 * meanwhile is passed on failing so, under its status and headers (a client is told its error body was
 * cut off). The exchange aborted (the client gone, a shutdown's cut) fails the attempt.
 */
async function _readWords(
  response: Response,
  { clock, upstream, credentials }: {
    clock: _Clock;
    upstream: AbortController;
    credentials: readonly ProviderKey[];
  },
): Promise<{ response: Response; text?: string }> {
  if (!response.body) return { response };
  try {
    const { text, answer } = await peekAnswer(response, { ms: _WORDS_WAIT_MS, timers: clock.timers });
    return text === ""
      ? { response: answer }
      : { response: answer, text: maskKeysAndSecretsIn(text, credentials) };
  } catch (error) {
    if (upstream.signal.aborted) throw error;
    const failing = new ReadableStream<Uint8Array>({ start: (controller) => controller.error(error) });
    return { response: new Response(failing, response) };
  }
}

/** `response` with `x-should-retry: false`: sending it again soon cannot help (`FailureDecision.notRetried`). */
function _notToRetryAnswer(response: Response): Response {
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: _withNotRetried(response.headers),
  });
}

/**
 * An error event before the answer, as the HTTP error it stands for (`overloaded_error` a 529), should it
 * be passed on: nothing of the stream has gone out, and a client retries by status (the SDKs, Claude
 * Code), where an `event: error` in a 200 is an error without one. The upstream's headers go with it.
 */
function _asErrorAnswer(
  response: Response,
  event: JsonObject | undefined,
  error: { type: AnthropicErrorType; message: string },
): Response {
  // A 2xx's x-should-retry says nothing of this error (as `classifyFailure` reads it).
  const headers = copyHeaders(response.headers, _NOT_OF_THE_ERROR);
  const status = statusForErrorType(error.type);
  // The event's own fields (Anthropic's `request_id`, Vertex's and Bedrock's only id) go with it; its
  // type and message as relay read them, masked.
  if (event?.type !== "error") return errorResponse(status, error.message, headers, error.type);
  return Response.json(withErrorRead(event, error), { status, headers });
}

const _NOT_OF_THE_ERROR: ReadonlySet<string> = new Set(["content-length", "content-type", "x-should-retry"]);

/** What the client gets of an upstream's answer: `body` under its headers, masked of relay's `secrets`. */
function _forClient(
  body: ReadableStream<Uint8Array> | null,
  response: Response,
  secrets: readonly (string | undefined)[],
): Response {
  return maskedHeaders(responseForClient(body, response), ...secrets);
}

/** `error` with `x-should-retry: false`, its other headers kept. */
function _notToRetry(error: RelayError): RelayError {
  return new RelayError(error.status, error.message, _withNotRetried(error.headers), error.type);
}

function _withNotRetried(given?: HeadersInit): Headers {
  const headers = new Headers(given);
  for (const [name, value] of Object.entries(NOT_RETRIED)) headers.set(name, value);
  return headers;
}

/** A failed attempt whose answer relay cannot pass on: as good as a connection that broke. */
/**
 * A success without a byte: a model list may pass it on, but every POST route answers a Message, a token
 * count or a completion, which an empty 200 or a 204 is not, so it fails over as a broken connection does.
 */
function _nothingSaid(
  request: Request,
  route: Route,
  response: Response,
  credentials: readonly ProviderKey[],
): _Tried {
  if (request.method !== "POST") return { kind: "empty", response, credentials };
  const error = new RelayError(
    502,
    `upstream ${route.provider.name} answered ${response.status} without a body`,
  );
  return _broken(error, response.headers, credentials);
}

function _broken(
  error: RelayError,
  headers: Headers,
  credentials: readonly ProviderKey[],
  misrouted?: true,
): _Failed {
  const outcome = { kind: "network" as const, error, ...(misrouted && { misrouted }) };
  return { kind: "failed", outcome, headers, error, credentials };
}

/**
 * Reads an answer until its first event that is not a `ping`: that event commits it, unless it is an
 * `error`, which is still a failure relay can retry, as is a stream that ends before any such event or
 * sends none within first_byte of being sent. A body that is not SSE commits on its first byte.
 */
async function _untilCommitted(
  reader: WatchedReader,
  usage: UsageTap,
  sse: boolean,
  commit: { by: number; clock: _Clock; route: Route; upstream: AbortController },
): Promise<{ chunks: Uint8Array[]; errorData?: string; endedEarly?: boolean }> {
  let chunks: Uint8Array[] = [];
  let size = 0;
  let cancelDeadline: (() => void) | undefined;
  // Whether a whole ping came, or pings or comments were let go of: the deadline's words.
  let pinged = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return sse ? { chunks, endedEarly: true } : { chunks };
      chunks.push(value);
      size += value.byteLength;
      const events = usage.observe(value);
      if (!sse) return { chunks };
      const first = events.find((event) => event.event !== "ping");
      if (first) {
        return first.event === "error" ? { chunks, errorData: first.data } : { chunks };
      }
      if (events.length > 0) pinged = true;
      if (size > _MAX_PEEK_BYTES) {
        // Every whole event so far is a ping, which carries nothing: let go, so a flood of them holds
        // no more than the peek for as long as first_byte lasts. What is left is the event under way.
        const held = concatBytes(chunks);
        chunks = [held.slice(endOfLastEvent(held))];
        size = chunks[0].byteLength;
        pinged = true;
        if (size > _MAX_PEEK_BYTES) return { chunks };
      }
      // Once a byte is in, the reader waits on `idle`; the first event is still due within first_byte.
      cancelDeadline ??= setDeadline(
        () => {
          const { name } = commit.route.provider;
          const ms = commit.route.timeouts.firstByte;
          // Comments make no event: without a ping, what is held either ends where they did, or is the
          // first event, begun but not whole.
          commit.upstream.abort(
            new RelayError(
              504,
              pinged || _endsAnEvent(concatBytes(chunks))
                ? `upstream ${name} sent no event but pings or comments for ${ms} ms (timeouts.first_byte)`
                : `upstream ${name} had not sent its first event whole after ${ms} ms (timeouts.first_byte)`,
            ),
          );
        },
        Math.max(0, commit.by - commit.clock.now()),
        commit.clock,
      );
    }
  } finally {
    cancelDeadline?.();
  }
}

/**
 * Whether `bytes` end where an SSE event (or a comment's block) did. Empty chunks, the signs of life of
 * an answer read whole, end nothing.
 */
function _endsAnEvent(bytes: Uint8Array): boolean {
  return bytes.byteLength > 0 && endOfLastEvent(bytes) === bytes.byteLength;
}

/**
 * The type and message of an upstream's error event, for the log and relay's own answers. A gateway
 * may quote the key or token it was sent in its message (`Incorrect API key provided: …`), so those are
 * masked whatever they look like from 6 characters on, and anything else key-shaped too
 * ({@linkcode maskKeysAndSecretsIn}).
 */
function _errorOf(
  data: string,
  credentials: readonly ProviderKey[],
  event: JsonObject | undefined = parseJsonObject(data),
): { errorType: AnthropicErrorType; message: string } {
  // Not JSON, or fields missing or not strings: the data itself says it, never `[object Object]`.
  const untold = { type: "api_error", message: data };
  const read = event ? anthropicErrorOf(event, untold) : untold;
  return {
    errorType: read.type as AnthropicErrorType,
    message: maskKeysAndSecretsIn(read.message, credentials),
  };
}

/**
 * The secrets of `credentials`, as the masks of an answer take them; worked out once per answer, which
 * has them all by then: an adapter tells each token before it sends it.
 */
function _secrets(credentials: readonly ProviderKey[]): string[] {
  return credentials.map(({ secret }) => secret);
}

/** The committed answer, streamed to the client as it arrives. */
function _answer(
  tried: _Committed,
  attempt: Attempt,
  options: RelayOptions,
  clock: _Clock,
  tellRouter: () => void,
  releaseSlot: () => void,
  log: _Log,
  bodies: BodyLog | undefined,
  client: AbortSignal,
): Response {
  const { response } = tried;
  // `x-request-id` is set by the requestId middleware, on every answer.
  if (tried.kind === "empty") {
    tellRouter();
    attempt.finished(undefined);
    bodies?.answered();
    log("complete", { bytes: 0 }).finally(releaseSlot);
    // An upstream may echo the key it was sent in a successful answer's headers too.
    return _forClient(null, response, _secrets(tried.credentials));
  }
  const { usage, sse, json, credentials } = tried;
  const { name } = attempt.route.provider;
  bodies?.sent(tried.head);
  const secrets = _secrets(credentials);
  const stream = forwardBody(tried.reader, {
    first: tried.head,
    afterHead: tellRouter,
    sse,
    // A model list, or any other body a GET brings, goes on until the upstream ends it.
    ended: sse || json ? () => usage.ended() : undefined,
    mask: SecretMask.for(...secrets),
    // Chosen once per answer: without log.bodies, a chunk costs what it did before.
    observe: bodies
      ? (chunk) => {
        usage.observe(chunk);
        bodies.sent(chunk);
      }
      : (chunk) => usage.observe(chunk),
    keepAlive: { intervalMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS, ping: ANTHROPIC_PING },
    clientIdleMs: attempt.route.timeouts.idle,
    now: clock.now,
    timers: clock.timers,
    describeFailure: _describeFailure(attempt.route, options.inFlight.cut),
    unfinished: () =>
      (sse || json) && usage.unfinished()
        ? new RelayError(
          502,
          sse
            ? `upstream ${name} ended the stream before message_stop`
            : `upstream ${name} ended its answer before its JSON was whole`,
        )
        : undefined,
    onDone: (read: ForwardOutcome) => {
      // A client that left has its upstream broken off, which a reader of the whole answer (the front
      // door's unstreamed request) sees as the upstream failing: it was the client's leaving.
      const ended: ForwardOutcome = read.kind === "upstream_failed" && client.aborted
        ? { kind: "client_closed", bytes: read.bytes }
        : read;
      const detail = usage.detail();
      const tokens = detail && countedTokens(detail);
      // A stream that carried the upstream's own error event (overloaded mid-answer) failed as surely
      // as one relay had to cut, whether it then ended or the client, told, left first (the SDKs do):
      // the log, the ledger and the breakers count it so.
      const errorData = usage.errorData();
      const outcome: ForwardOutcome = ended.kind !== "upstream_failed" && errorData !== undefined
        ? { kind: "upstream_failed", bytes: ended.bytes, ..._errorOf(errorData, credentials) }
        : ended;
      // A shutdown's cut is relay's doing, not the upstream's.
      attempt.finished(tokens, outcome.kind === "upstream_failed" && !options.inFlight.cut.aborted);
      const { kind, ...rest } = outcome;
      bodies?.answered(...secrets);
      // The upstream's own figures, as the ledger keeps them; cache reads and writes go apart.
      log(kind, {
        ...rest,
        input_tokens: detail?.input,
        output_tokens: detail?.output,
        cache_read_tokens: detail?.cacheRead,
        cache_write_tokens: detail?.cacheWrite,
      }, detail).finally(releaseSlot);
    },
  });
  return _forClient(stream, response, secrets);
}

/** A failed attempt's answer that will not be passed on: its body is cancelled, its exchange over. */
async function _drop(kept: _Kept | undefined): Promise<void> {
  await kept?.response?.body?.cancel().catch(() => {});
  kept?.exchange.end();
}

/**
 * An upstream's error answer, passed on as it came since no other attempt did better. Its body goes
 * out as a committed answer's does: under the route's deadlines, holding the request's slot and
 * exchange until it ends, and logged then.
 */
function _passOn(
  kept: _Kept,
  response: Response,
  cut: AbortSignal,
  clock: _Clock,
  log: _Log,
  release: () => void,
  bodies: BodyLog | undefined,
): Response {
  const { route } = kept.attempt;
  // What went wrong as relay saw it: the status, or the message of an error event before the answer.
  const error = kept.error.message;
  const secrets = _secrets(kept.credentials);
  if (!response.body) {
    bodies?.answered();
    log("upstream_error", { error }).finally(release);
    return _forClient(null, response, secrets);
  }
  const reader = new WatchedReader(response.body, {
    firstByteMs: route.timeouts.firstByte,
    idleMs: route.timeouts.idle,
    signal: kept.exchange.upstream.signal,
    now: clock.now,
    timers: clock.timers,
  });
  const stream = forwardBody(reader, {
    sse: hasMediaType(response, "text/event-stream"),
    mask: SecretMask.for(...secrets),
    clientIdleMs: route.timeouts.idle,
    now: clock.now,
    timers: clock.timers,
    describeFailure: _describeFailure(route, cut),
    observe: bodies && ((chunk) => bodies.sent(chunk)),
    onDone: ({ kind, ...rest }) => {
      bodies?.answered(...secrets);
      const passed = kind === "complete";
      log(passed ? "upstream_error" : kind, passed ? { error, ...rest } : rest).finally(release);
    },
  });
  return _forClient(stream, response, secrets);
}

/**
 * How a failure in the middle of an answer from `route` is told to its client. After a shutdown's `cut`
 * it is relay's doing, and the client is told to come back, as before an answer.
 */
function _describeFailure(
  route: Route,
  cut: AbortSignal,
): (error: unknown) => { errorType: AnthropicErrorType; message: string } {
  return (error) => {
    if (cut.aborted) return { errorType: "overloaded_error", message: _cutReason(cut) };
    const failure = _upstreamFailure(error, route);
    return { errorType: failure.status === 504 ? "timeout_error" : "api_error", message: failure.message };
  };
}

/**
 * Hands the request to the ledger and settles the client's token window with what the request used
 * (nothing, when no upstream answered). The ledger charges the client's month as it takes the record,
 * and only then does the request let go of what it held of the budget: no request is admitted in
 * between on a budget that counts neither.
 */
async function _account(
  c: Context<RelayEnv>,
  options: RelayOptions,
  trace: _Trace,
  outcome: string,
  timing: _Timing,
  usage: UsageDetail | undefined,
  ledger: RecordOptions | undefined,
): Promise<void> {
  const recorded = options.ledger && _record(options.ledger, options.logger, {
    time: trace.at,
    requestId: c.get("requestId"),
    client: c.get("client"),
    method: c.req.method,
    path: c.req.path,
    model: trace.model,
    upstreamModel: trace.upstreamModel,
    provider: trace.provider,
    keyId: trace.keyId,
    keyLabel: trace.key,
    status: trace.status,
    outcome,
    attempts: trace.attempts,
    ...timing,
    usage,
    usageEstimated: trace.usageEstimated,
  }, ledger);
  // Refused, or gone, before any upstream saw it: relay's own answer spends none of the client's limits;
  // one that left while an upstream had it spends the input it is recorded with.
  if (trace.attempts === 0) trace.admission?.cancel();
  else if (trace.ttfb === undefined) {
    trace.admission?.settle(usage ? countedTokens(usage) : { input: 0, output: 0 });
  } else trace.admission?.settle(usage && countedTokens(usage));
  await recorded;
}

/**
 * Hands `entry` to the ledger, which takes it (and charges its cost) before this first waits; the
 * promise is the ledger's backpressure. A ledger that fails is logged, never the request's failure.
 */
async function _record(
  ledger: LedgerSink,
  logger: Logger,
  entry: LedgerEntry,
  options: RecordOptions | undefined,
): Promise<void> {
  try {
    await ledger.record(entry, options);
  } catch (error) {
    logger.error("ledger failed", { request_id: entry.requestId, error: String(error) });
  }
}

/**
 * The path the upstream gets: the client's, with a model id (`/v1/models/{id}`) percent-encoded whole,
 * so no character of it can change the path however the client escaped it (`servedModels` refuses the
 * ids that could not stay one segment even so).
 */
function _upstreamPath(c: Context<RelayEnv>): string {
  const id = c.req.param("id");
  return id === undefined ? c.req.path : `/v1/models/${encodeURIComponent(id)}`;
}

/** A server request URL's query as the client sent it, `?` and all, or `""`, without parsing the URL. */
function _search(url: string): string {
  const at = url.indexOf("?");
  return at < 0 ? "" : url.slice(at);
}

const _TIMEOUT_FIELDS = { connect: "timeouts.connect", firstByte: "timeouts.first_byte" } as const;

/**
 * Resolves with `promise`, or aborts the upstream and rejects once the route's deadline passes, named
 * as the token endpoint's when the adapter was still `waitingForCredential` then.
 */
async function _within<T>(
  promise: Promise<T>,
  attempt: Attempt,
  deadline: keyof typeof _TIMEOUT_FIELDS,
  upstream: AbortController,
  clock: _Clock,
  waitingForCredential: () => boolean,
): Promise<T> {
  const ms = attempt.route.timeouts[deadline];
  let cancel = () => {};
  const expired = new Promise<never>((_, reject) => {
    cancel = setDeadline(
      () => {
        const name = attempt.route.provider.name;
        const field = _TIMEOUT_FIELDS[deadline];
        const error = new AnswerTimeoutError(
          waitingForCredential()
            ? `upstream ${name} had no access token within ${ms} ms (${field}): its token endpoint is slow or down`
            : `upstream ${name} did not answer within ${ms} ms (${field})`,
        );
        // An adapter reading the answer's body by then tells `error` the answer's headers as it aborts.
        upstream.abort(error);
        reject(error);
      },
      ms,
      clock,
    );
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    cancel();
  }
}

/** Waits `ms`, unless the client leaves or a shutdown cuts what is left first. */
function _sleep(ms: number, client: AbortSignal, cut: AbortSignal, timers: Timers): Promise<void> {
  const stopped = () => client.aborted ? new _ClientGone() : graceOverError();
  if (client.aborted || cut.aborted) return Promise.reject(stopped());
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timers.clearTimeout(timer);
      client.removeEventListener("abort", onAbort);
      cut.removeEventListener("abort", onAbort);
      reject(stopped());
    };
    const timer = timers.setTimeout(() => {
      client.removeEventListener("abort", onAbort);
      cut.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    client.addEventListener("abort", onAbort, { once: true });
    cut.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * relay's answer when no upstream can take a request. Busy or failing providers free up with time, so
 * the client is told when to come back; keys and providers out of rotation wait on a person (a fixed
 * key and a reload, or the admin API), so the client is told not to retry (`x-should-retry: false`,
 * which Anthropic's and OpenAI's SDKs obey: Claude Code otherwise retries a 503 for minutes). Keys their
 * upstream took out are answered as it refused them (`FailureDecision.refusedWith`: a 401 for a key, a
 * 402 for an account that cannot pay), which no client retries (Codex retries a 503 whatever the header
 * says), and a model every upstream refused lately (403) gets the 403 its first request got from the
 * upstream itself, as relay's `permission_error`: access to a model is granted by a person too.
 */
function _unavailable(step: Extract<Step, { kind: "exhausted" }>): RelayError {
  const message = `no upstream can take the request: ${step.reason}`;
  if (step.cause === "refused") {
    return new RelayError(403, message, NOT_RETRIED, "permission_error");
  }
  if (step.cause === "disabled") {
    return step.refusedWith === undefined
      ? new RelayError(503, message, NOT_RETRIED, "api_error")
      : new RelayError(step.refusedWith, message, NOT_RETRIED);
  }
  const seconds = Math.max(1, Math.ceil((step.retryAfterMs ?? BUSY_RETRY_MS) / 1000));
  return new RelayError(
    503,
    message,
    { "retry-after": String(Math.min(seconds, _MOST_UNAVAILABLE_RETRY_AFTER_S)) },
    "overloaded_error",
  );
}

/**
 * The longest `retry-after` of relay's own 503, in seconds. Claude Code gives up at once on a longer one
 * (2.1.328, measured: 27 is waited out, 61 and 70 end the session with the error), where a direct client
 * retries an upstream's failures with its own backoff; Anthropic's and OpenAI's SDKs fall back to their
 * own backoff for one of a minute or more (their `retryRequest`). Told 60 at most, a client comes back
 * and is refused again, or served.
 */
const _MOST_UNAVAILABLE_RETRY_AFTER_S = 60;

/**
 * An upstream that redirects has a wrong `base_url` (http for https, a moved path). Its answer is not
 * passed on: the client would follow it straight to the upstream, relay's own token in hand. Any 3xx
 * counts: `fetch` follows none, and none is an answer.
 */
function _redirected(
  route: Route,
  response: Response,
  credentials: readonly ProviderKey[],
): RelayError {
  const location = response.headers.get("location");
  const where = location ? ` to ${_whereTo(location, response.url, credentials)}` : "";
  return new RelayError(
    502,
    `upstream ${route.provider.name} redirected (${response.status})${where}; relay does not follow ` +
      `redirects: check the provider's base_url`,
  );
}

/**
 * Where a redirect points, for its operator to fix `base_url`: the origin and path a URL parser reads
 * there (the host it really names, escapes kept, `credentials` masked), without the query and fragment,
 * where a key would sit (`?api_key=…`) in whatever encoding.
 */
function _whereTo(location: string, from: string, credentials: readonly ProviderKey[]): string {
  let url: URL;
  try {
    url = new URL(location, from || undefined);
  } catch {
    return "an address relay cannot read";
  }
  const left = url.search || url.hash ? " (its query left out)" : "";
  return `${maskKeysAndSecretsIn(url.origin + url.pathname, credentials)}${left}`;
}

/** Why a shutdown cut the exchanges still open (`server.shutdown_grace` ran out). */
function _cutReason(cut: AbortSignal): string {
  return String(cut.reason?.message ?? cut.reason);
}

/** Names an upstream failure the way the client and the log should see it. */
function _upstreamFailure(error: unknown, route: Route): RelayError {
  const provider = route.provider.name;
  if (error instanceof RelayError) return error;
  if (error instanceof StreamTimeoutError) {
    // The configured deadline: the reader's own is what was left of it once the headers came.
    const [field, ms] = error.kind === "first_byte"
      ? ["timeouts.first_byte", route.timeouts.firstByte]
      : ["timeouts.idle", route.timeouts.idle];
    return new RelayError(504, `upstream ${provider} sent nothing for ${ms} ms (${field})`);
  }
  const reason = errorMessage(error);
  return new RelayError(502, `upstream ${provider} failed: ${reason}`);
}
