import { isPermanentCredentialError } from "../providers/types.ts";
import { errorMessage, outOfFileDescriptors } from "../util/error_message.ts";
import { isJsonObject, parseJsonObject } from "../util/json.ts";
import { maskKeyShapedTokens } from "../util/mask.ts";
import { statusForErrorType } from "./error_status.ts";
import { type RateLimitSnapshot, readRateLimitHeaders } from "./rate_limit_headers.ts";

/** How an attempt upstream failed, as far as anything reached relay before the first byte went out. */
export type UpstreamOutcome =
  /**
   * The connection failed or broke before the response started, or what came is no answer relay can
   * pass on; `misrouted` when the upstream redirected, which says its `base_url` is wrong.
   */
  | { kind: "network"; error: unknown; misrouted?: true }
  /**
   * The adapter could not get the credential it sends with (`CredentialError`): a token endpoint that
   * refused it or is down, an SSO login that ended. Nothing was sent upstream.
   */
  | { kind: "credentials"; error: unknown }
  /**
   * No response, or no first body byte, within the deadline; `why` is the message that names which
   * (`… (timeouts.connect)`).
   */
  | { kind: "timeout"; why?: string }
  /**
   * The upstream answered with this status. `text`: the start of its body, where relay read it (the
   * statuses of {@linkcode WORDS_READ}), masked of relay's credentials.
   */
  | { kind: "http"; status: number; headers: Headers; text?: string }
  /** A 2xx stream whose first event was `error` (`error.type` here), before `message_start`. */
  | { kind: "stream_error"; errorType: string; headers: Headers }
  /** The adapter had nothing to send the request as (`UnservableError`): the upstream never saw it. */
  | { kind: "unservable"; reason: string };

/**
 * What to do next:
 * - `retry_next_key`: this key is limited (a 429), the provider is fine: the same provider's next key.
 * - `disable_key`: this key is refused (401, 402): take it out of rotation, say so in the log, then as
 *   `retry_next_key` (`refusedWith`: how relay's own answers tell of it while it is out). A provider
 *   without keys has none to take out: the request's plan does not send its refused credential again
 *   and goes on to the next provider.
 * - `refuse_model`: this key, or a provider's own credential when it has no keys, is refused the
 *   model it was asked for (403: Bedrock grants access model by model, Anthropic workspaces and
 *   Vertex restrict models one by one): it takes no request for that upstream model id until
 *   `refuseModelUntil`, while it goes on serving the others; then as `disable_key`.
 * - `retry_next_provider`: the provider looks unhealthy (network, timeout, 408, 5xx, 529), or its
 *   answer says `x-should-retry: true`: it counts against the key's breaker, and the provider's unless
 *   it opened the key's while another key of the provider works (the key's own trouble, then); after
 *   backoff the plan tries the next provider; the provider's other keys come after every other
 *   provider, since a key's own trouble can look the same. An open breaker skips the provider.
 * - `return`: the request itself is at fault (other 4xx: a 400 but for one saying a quota is spent), or
 *   the answer says `x-should-retry: false`; retrying would get the same, so the answer goes to the
 *   client as it is, unless its provider stood in for another ({@linkcode asStandInRefusal}).
 * - `skip_provider`: the provider cannot serve this request (nothing was sent): the next provider,
 *   without a backoff of its own, counting nothing against this one or the request's `max_attempts`.
 *   Also a stand-in's refusal of the request as invalid ({@linkcode asStandInRefusal}, `sent`).
 */
export type FailureAction =
  | "retry_next_key"
  | "disable_key"
  | "refuse_model"
  | "retry_next_provider"
  | "return"
  | "skip_provider";

/** The decision for one failed attempt; a `refuse_model` says until when, and no other action does. */
export type FailureDecision =
  | _Decision & {
    /** See {@linkcode FailureAction}. */
    action: Exclude<FailureAction, "refuse_model">;
    refuseModelUntil?: never;
  }
  | _Decision & {
    /** See {@linkcode FailureAction}. */
    action: "refuse_model";
    /** The key (or keyless provider) is not asked for the model until then, on `now`'s clock. */
    refuseModelUntil: number;
  };

/** What every {@linkcode FailureDecision} says, whatever its action. */
interface _Decision {
  /**
   * A 429's key rests until then, on the clock `now` was read off (`KeyPool.cool`); where its upstream
   * limits each model apart (`Provider.rateLimitsPerModel`), the router rests it for that model only.
   */
  coolKeyUntil?: number;
  /**
   * `coolKeyUntil` is a guess: the 429 said neither `retry-after` nor a reset ahead (Bedrock's and
   * Vertex's never do), so its `defaultCoolMs` stands for no stated time.
   */
  coolGuessed?: true;
  /** Whether it counts toward the key's and the provider's circuit breakers (`onFailure`). */
  countsForBreaker: boolean;
  /**
   * A `skip_provider` of a request the upstream got and refused ({@linkcode asStandInRefusal}): its key
   * keeps the request, as one that failed does, where an unsent one gets it back.
   */
  sent?: true;
  /**
   * The upstream answered a failure the breakers count (a 5xx status, an error event): a retry of the
   * same request that it answers so again, moments later, meets the same trouble (a burst of 529s), where
   * one that finds no upstream at all (a timeout, a refused connection) says so anew each time.
   */
  answered?: true;
  /** The upstream's `retry-after`, for the backoff when the retry goes back to it. */
  retryAfterMs?: number;
  /** For the log line, e.g. `429 from upstream`. */
  reason: string;
  /**
   * The upstream's own words (its error's message, masked, one line), where the key is out for long: taken
   * out (`disable_key`: a 401, a 402, a quota or balance spent), refused the model (`refuse_model`: a 403),
   * or a 429 that cools it {@linkcode LONG_COOLING_MS} or more. relay's own answers while the key is out
   * quote them: they say why, where relay's summary cannot.
   */
  said?: string;
  /**
   * A key taken out (`disable_key`): the status relay answers with while no key is left in rotation, as
   * its upstream would: 401 for a credential refused (a 401, an `authentication_error` event), 402 for an
   * account that cannot pay (a 402, a `billing_error` event, a quota or balance spent). Clients retry
   * neither, where a 503 would be retried for nothing.
   */
  refusedWith?: 401 | 402;
  /**
   * Sending again soon cannot help (a quota spent, a limit that resets in hours): the answer, should the
   * client get it, says `x-should-retry: false`, as Anthropic's own for a spend cap does.
   */
  notRetried?: true;
  /**
   * relay's own credential for the provider was refused for good (a revoked service-account key, an
   * ended SSO login): it fails the same way until a person mends it ({@linkcode askedNoMore} too).
   */
  credentialRefused?: true;
  /**
   * Asking the provider again within this request cannot help: its credential refused for good, or a
   * redirect (a wrong `base_url`). The plan offers it no more, neither again nor as a last resort.
   */
  askedNoMore?: true;
}

/**
 * The statuses whose answers' words {@linkcode classifyFailure} reads (`UpstreamOutcome`'s `text`): a 429's
 * tell a spent quota from a throttle, a refused key's (401, 402) are why relay took it out, and a refused
 * model's (403) why relay answers for the upstream while it does not ask again. A 400's
 * may say a quota is spent too: Anthropic's API answers an account out of credit, or past the spend
 * limit its owner set, with a 400 `invalid_request_error` ("Your credit balance is too low…", "You have
 * reached your specified API usage limits. You will regain access on…").
 */
export const WORDS_READ: ReadonlySet<number> = new Set([400, 401, 402, 403, 429]);

/** How {@linkcode classifyFailure} cools a key whose 429 gave no reset, or refuses a model. */
export interface ClassifyOptions {
  /** ms; one minute, the window of RPM and TPM limits. */
  defaultCoolMs?: number;
  /** ms a 403 without `retry-after` keeps the model from its key; {@linkcode MODEL_REFUSAL_MS}. */
  modelRefusalMs?: number;
  /** ms a plan's period limit rests its key when no reset can be read; {@linkcode PERIOD_LIMIT_GUESS_MS}. */
  periodLimitGuessMs?: number;
}

/**
 * How long a 429 that says a plan's period limit is spent (Z.AI's 1308, 1310: `Weekly/Monthly Limit
 * Exhausted`) rests its key when neither its headers nor its words give a reset relay can read: an hour.
 * Such a limit lasts hours or days; an hour costs one attempt an hour that gets the same answer, where
 * the minute of a throttle's guess would cost one a minute and hide why.
 */
export const PERIOD_LIMIT_GUESS_MS = 60 * 60_000;

/**
 * A 429 that rests its key this long or more (five minutes, past any throttle's window) is a limit a
 * user should hear of: its words go with the key's cooling ({@linkcode FailureDecision}'s `said`), and
 * the client is told not to send again soon (`notRetried`).
 */
export const LONG_COOLING_MS = 5 * 60_000;

/**
 * How long a 403 keeps a model from the key (or keyless provider) it was refused to: five minutes.
 * Access to a model is granted in a console, and no answer says when: long enough that a model nobody
 * may use costs one refused attempt per key every five minutes, not one a request; short enough that
 * once access is granted it is used without a reload (enabling the key, or its provider, through the
 * admin API takes it back at once).
 */
export const MODEL_REFUSAL_MS = 5 * 60_000;

/**
 * Decides what a failed attempt means for the request, the key and the provider. Pure: the caller
 * acts on the decision (cools or disables the key, tells the breakers, backs off, tries the next).
 *
 * | outcome                                    | action              | breaker  | key                    |
 * | ------------------------------------------ | ------------------- | -------- | ---------------------- |
 * | network error, timeout before first byte   | retry_next_provider | counts   |                        |
 * | no credential to send (CredentialError)    | retry_next_provider | counts   |                        |
 * | relay out of file descriptors (EMFILE)     | retry_next_provider | no       |                        |
 * | 408, 5xx, 529                              | retry_next_provider | counts   |                        |
 * | 429                                        | retry_next_key      | no       | cooled to reset (**)   |
 * | 429 saying a quota or balance is spent     | disable_key         | no       | out of rotation (***)  |
 * | 429 saying a period limit is spent         | retry_next_key      | no       | cooled to reset (***)  |
 * | 401, 402                                   | disable_key         | no       | out of rotation        |
 * | 403                                        | refuse_model        | no       | refused that model (*) |
 * | other 4xx (400, 404, 413, ...)             | return              | no       |                        |
 * | 408, 429, 5xx with `x-should-retry: false` | return              | as above | as above               |
 * | other 4xx with `x-should-retry: true`      | retry_next_provider | no       |                        |
 *
 * A credential relay could not get fails the provider as a network error would, whether or not asking
 * again can help: another provider may be set up right, and the breaker keeps a provider whose key was
 * refused from costing every request a token request, a backoff and an attempt, while its half-open
 * probes find the key mended without a reload. Its log reason says `credentials:`; whether the client
 * may send again is relay's to tell (`CredentialError.permanent`), as no status carries it.
 *
 * An `error` event before `message_start` counts as the status its `error.type` comes with over HTTP
 * (`overloaded_error` as 529, `rate_limit_error` as 429, an unknown type as 500).
 *
 * An HTTP answer's `x-should-retry` (Anthropic's, which its SDKs obey) overrides the status on whether
 * to try again: `false` returns a 408, 429 or 5xx as it is (a spend cap's 429, a failure the upstream
 * knows will repeat), `true` retries another 4xx (a 409 conflict). The key and the breakers are still
 * told what the status says. 401, 402 and 403 disable the key (or refuse it the model) whatever the
 * header says: it tells a client holding that one key whether to send again, while relay goes on with
 * another key, and a refused key must leave the rotation. An `error` event is not overridden: its
 * headers came with a 2xx.
 *
 * (*) A 401 says the key itself is bad, a 402 that its account cannot pay: no model will do. A 403
 * refuses what was asked: Bedrock's `AccessDeniedException` ("You don't have access to the model with
 * the specified model ID"), an Anthropic workspace or a Vertex project without that model. Taking the
 * key out for every model would make one try of a model it may not use (Claude Code's `/model opus`)
 * fail every other model with it until a reload. So the key is refused only that model, until
 * `retry-after`, else for `modelRefusalMs`: access granted later is found without a reload.
 *
 * A 429's key cools until `retry-after`, else the unified quota's reset when it says `rejected`, else
 * the latest reset of the windows it reports empty, else `defaultCoolMs` from now. A reset or a
 * `retry-after` date already past counts as none.
 *
 * (**) The decision is the same whatever the provider: where its upstream limits each model apart
 * (Bedrock's quotas and model readiness, Vertex's quotas, per model and region), the router cools the
 * key, or the provider's own credential when it has no keys, for that model only: as long as the whole
 * key would have been when the 429 named a time, else for `GUESSED_MODEL_COOLING_MS` (`coolGuessed`;
 * `Attempt.failed`).
 *
 * @param now monotonic ms, which the decision's instants are on.
 * @param wallNow the wall clock at that moment, which upstream dates are read against
 *   (`readRateLimitHeaders`). Required: both clocks are read where the answer arrives, so none is
 *   mistaken for the other.
 *
 * @example
 * ```ts
 * const outcome = { kind: "http", status: response.status, headers: response.headers } as const;
 * const decision = classifyFailure(outcome, performance.now(), Date.now());
 * if (decision.coolKeyUntil !== undefined) pool.cool(key, decision.coolKeyUntil);
 * if (decision.action === "disable_key") pool.disable(key, decision.reason);
 * if (decision.action === "refuse_model") refusals.refuse(key, upstreamModel, decision.refuseModelUntil);
 * if (decision.countsForBreaker) breaker.onFailure(permit);
 * ```
 */
export function classifyFailure(
  outcome: UpstreamOutcome,
  now: number,
  wallNow: number,
  options: ClassifyOptions = {},
): FailureDecision {
  switch (outcome.kind) {
    case "network":
    case "credentials": {
      const what = outcome.kind === "network" ? "network error" : "credentials";
      // relay could not open a socket (for the upstream, or for a token request): its own trouble, which
      // says nothing of the provider or the key, and would open the breakers of every provider it tried.
      const countsForBreaker = !outOfFileDescriptors(outcome.error);
      return {
        action: "retry_next_provider",
        countsForBreaker,
        reason: `${what}: ${errorMessage(outcome.error)}`,
        ...(outcome.kind === "credentials" && isPermanentCredentialError(outcome.error) &&
          { credentialRefused: true, askedNoMore: true }),
        ...(outcome.kind === "network" && outcome.misrouted && { askedNoMore: true }),
      };
    }
    case "timeout":
      return {
        action: "retry_next_provider",
        countsForBreaker: true,
        reason: outcome.why ? `timeout: ${outcome.why}` : "no first byte in time",
      };
    case "http": {
      const snapshot = readRateLimitHeaders(outcome.headers, now, wallNow);
      const reason = `${outcome.status} from upstream`;
      const shouldRetry = _shouldRetry(outcome.headers);
      const body = outcome.text !== undefined && WORDS_READ.has(outcome.status)
        ? _bodyOf(outcome.text)
        : undefined;
      const quota = outcome.status === 429 && body
        ? _quotaOf(body, now, wallNow)
        : outcome.status === 400 && body
        ? _spentOf400(body.said, now, wallNow)
        : undefined;
      if (quota) return _classifyQuota(quota, snapshot, now, options, reason);
      const decision = _answered(
        _classifyStatus(outcome.status, snapshot, now, options, reason, shouldRetry),
      );
      // A key taken out, or refused a model, is told of in its upstream's words, which relay's answers
      // quote while it is out.
      if (decision.action === "disable_key" || decision.action === "refuse_model") {
        return body?.said ? { ...decision, said: body.said } : decision;
      }
      // A limit that lasts is told of in the upstream's words: a throttle's minute is not.
      const lasts = decision.coolKeyUntil !== undefined && decision.coolKeyUntil - now >= LONG_COOLING_MS;
      const words = lasts ? body?.said : undefined;
      return words ? { ...decision, said: words, notRetried: true } : decision;
    }
    case "unservable":
      return { action: "skip_provider", countsForBreaker: false, reason: outcome.reason };
    case "stream_error":
      return _answered(_classifyStatus(
        statusForErrorType(outcome.errorType),
        readRateLimitHeaders(outcome.headers, now, wallNow),
        now,
        options,
        `${outcome.errorType} event before message_start`,
        undefined, // its headers came with a 2xx, whose x-should-retry says nothing of this error
      ));
  }
}

/**
 * `decision` for an attempt on a provider that stands in for one that cannot take the request now
 * (`Attempt.standIn`): its refusal of the request as invalid or unknown (a 400, 404, 413 or 422 that
 * would go to the client as it is) passes the provider over instead (`skip_provider`, `sent`). Providers
 * differ in what they take: a failover in the middle of a tool loop leaves a turn without the signed
 * thinking Anthropic's API asks for when thinking is on, a window may be smaller, a beta or the model
 * itself missing (a backup that has no model of that name yet). The client
 * then hears why the provider it was sent to could not take it (a 429, a 529, an open breaker), which
 * passes, and sends again; a request at fault in itself is refused there in turn.
 *
 * @example
 * ```ts
 * const outcome = { kind: "http", status: 400, headers: new Headers() } as const;
 * asStandInRefusal(classifyFailure(outcome, now, Date.now()), outcome).action; // "skip_provider"
 * ```
 */
export function asStandInRefusal(decision: FailureDecision, outcome: UpstreamOutcome): FailureDecision {
  if (decision.action !== "return" || outcome.kind !== "http" || !_REFUSED_AS_INVALID.has(outcome.status)) {
    return decision;
  }
  const reason = `${decision.reason}, standing in for a provider that cannot take the request now`;
  return { action: "skip_provider", countsForBreaker: false, sent: true, reason };
}

/** The statuses a request is refused as invalid with (Anthropic's 400 and 413, and 422), or its model as unknown (404). */
const _REFUSED_AS_INVALID: ReadonlySet<number> = new Set([400, 404, 413, 422]);

/** An upstream's answer's decision, marked `answered` where the breakers count it. */
function _answered(decision: FailureDecision): FailureDecision {
  return decision.countsForBreaker ? { ...decision, answered: true } : decision;
}

/** `x-should-retry` as Anthropic's SDKs read it: exactly `true` or `false`, anything else is no verdict. */
function _shouldRetry(headers: Headers): boolean | undefined {
  const value = headers.get("x-should-retry");
  return value === "true" ? true : value === "false" ? false : undefined;
}

function _classifyStatus(
  status: number,
  snapshot: RateLimitSnapshot,
  now: number,
  options: ClassifyOptions,
  reason: string,
  shouldRetry: boolean | undefined,
): FailureDecision {
  if (status === 401 || status === 402) {
    return { action: "disable_key", refusedWith: status, countsForBreaker: false, reason };
  }
  if (status === 403) {
    const refuseModelUntil = now + (snapshot.retryAfterMs ?? options.modelRefusalMs ?? MODEL_REFUSAL_MS);
    return { action: "refuse_model", refuseModelUntil, countsForBreaker: false, reason };
  }
  const limited = status === 429;
  const unhealthy = status === 408 || status >= 500;
  const stated = limited ? _coolUntil(snapshot, now) : undefined;
  const keyCooling = !limited
    ? {}
    : stated === undefined
    ? { coolKeyUntil: now + (options.defaultCoolMs ?? 60_000), coolGuessed: true as const }
    : { coolKeyUntil: stated };
  const retriedByStatus = limited || unhealthy;
  const retry = shouldRetry ?? retriedByStatus;
  // The log line names the header when it, not the status, decided.
  const logged = retry === retriedByStatus ? reason : `${reason}, x-should-retry: ${retry}`;
  if (!retry) return { action: "return", ...keyCooling, countsForBreaker: unhealthy, reason: logged };
  const retryAfter = snapshot.retryAfterMs === undefined ? {} : { retryAfterMs: snapshot.retryAfterMs };
  const action = limited ? "retry_next_key" : "retry_next_provider";
  return { action, ...keyCooling, countsForBreaker: unhealthy, ...retryAfter, reason: logged };
}

/** What an answer's words say is spent: `kind` as in {@linkcode _QUOTA_SIGNS}, `resetAt` monotonic. */
interface _Quota {
  kind: _QuotaKind;
  words: string;
  resetAt?: number;
}

/**
 * What a 429 can say is spent, beyond a throttle's window:
 * - `balance`: the account's balance, credits or quota: nothing but a payment, or a person raising the
 *   quota, brings the key back (Z.AI's 1113, OpenAI's `insufficient_quota`).
 * - `period`: a plan's limit for a period (Z.AI's 5-hour 1308, weekly or monthly 1310): the key is back
 *   at the reset.
 */
type _QuotaKind = "balance" | "period";

/**
 * How a 429's words are told apart from a throttle's, the first match deciding. `code` is matched, whole,
 * against the error's `code` or `type` (Z.AI puts its business code in `type`, OpenAI its `code`), `words`
 * against its message. Z.AI's throttles (1302 concurrency, 1303 frequency, 1305 overloaded) say nothing
 * of these and stay throttles.
 */
const _QUOTA_SIGNS: readonly { kind: _QuotaKind; code?: RegExp; words?: RegExp }[] = [
  { kind: "balance", code: /^(?:1113|insufficient_quota|insufficient_balance|billing_hard_limit_reached)$/i },
  { kind: "period", code: /^(?:1308|1310)$/ },
  {
    kind: "balance",
    words: new RegExp(
      [
        "insufficient (?:account )?(?:balance|credits?|funds|quota)",
        "no resource package",
        "\\brecharge\\b",
        "exceeded your current quota",
        "check your plan and billing",
        "credit balance is too low",
        "(?:account|balance) (?:is )?in arrears",
        "out of credits",
      ].join("|"),
      "i",
    ),
  },
  {
    kind: "period",
    words: /limit exhausted|usage limit (?:reached|exceeded)|(?:weekly|monthly|daily) (?:usage )?limit/i,
  },
];

/**
 * A 400's only quota signs, at the start of its message: Anthropic's words for an account out of credit,
 * and for one past the spend limit its owner set. Nothing wider: a 400 may quote what the request sent
 * (an OpenAI-compatible server's validation error echoes the value it refused), which must not take a
 * key out.
 */
const _SPENT_400_SIGNS: readonly { kind: _QuotaKind; words: RegExp }[] = [
  { kind: "balance", words: /^your credit balance is too low/i },
  { kind: "period", words: /^you have reached your specified api usage limits/i },
];

/**
 * What only a throttle says, which no wording of a quota spent outweighs: Gemini opens its every 429,
 * the per-minute ones too, with OpenAI's words for a quota spent (`You exceeded your current quota,
 * please check your plan and billing details`), then says which metric and when to retry.
 */
const _THROTTLE_WORDS =
  /retry in \d|retrydelay|quota exceeded for (?:quota )?metric|quotametric|resource_exhausted|per ?minute|rate-limits/i;

/** How much of an error's message its words are kept of, for the log, the key's status and relay's answers. */
const _WORDS_CHARS = 300;

/** An error answer's text, parsed once: its quota signs and a long cooling's words both read it. */
interface _Body {
  text: string;
  /** Its error object ({@linkcode _errorOf}). */
  error: Record<string, unknown> | undefined;
  /** The upstream's words in it ({@linkcode _wordsOf}). */
  said: string;
}

function _bodyOf(text: string): _Body {
  const error = _errorOf(text);
  return { text, error, said: _wordsOf(text, error) };
}

/** A 429's body read against {@linkcode _QUOTA_SIGNS}; `undefined` for a throttle. */
function _quotaOf({ text, error, said }: _Body, now: number, wallNow: number): _Quota | undefined {
  const codes = [error?.code, error?.type].flatMap((value) =>
    typeof value === "string" || typeof value === "number" ? [String(value)] : []
  );
  const byCode = _QUOTA_SIGNS.find(({ code }) => code && codes.some((value) => code.test(value)));
  const words = said || (byCode ? codes.join(" ") : "");
  if (!words) return undefined;
  const sign = byCode ??
    (_THROTTLE_WORDS.test(text)
      ? undefined
      : _QUOTA_SIGNS.find(({ words: pattern }) => pattern?.test(words)));
  return sign && _spent(sign.kind, words, now, wallNow);
}

/** What a 400's words (`said`) say is spent ({@linkcode _SPENT_400_SIGNS}); `undefined`: a bad request. */
function _spentOf400(said: string, now: number, wallNow: number): _Quota | undefined {
  const sign = _SPENT_400_SIGNS.find(({ words }) => words.test(said));
  return sign && _spent(sign.kind, said, now, wallNow);
}

function _spent(kind: _QuotaKind, words: string, now: number, wallNow: number): _Quota {
  if (kind === "balance") return { kind, words };
  const resetAt = _resetIn(words, wallNow);
  return resetAt === undefined ? { kind, words } : { kind, words, resetAt: now + resetAt };
}

/** The error object of an error body: Anthropic's and OpenAI's `error`, or the body itself (vLLM's). */
function _errorOf(text: string): Record<string, unknown> | undefined {
  const body = parseJsonObject(text);
  if (!body) return undefined;
  return isJsonObject(body.error) ? body.error : body;
}

/**
 * An error answer's own words, from the start of its body (`text`): its error's message, else the body's
 * start, on one line, at most 300 characters, masked of anything shaped like a key.
 *
 * @example
 * ```ts
 * errorWords('{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long"}}');
 * // "prompt is too long"
 * ```
 */
export function errorWords(text: string): string {
  return _wordsOf(text, _errorOf(text));
}

/**
 * The upstream's own words: its error's message, else the body's start, on one line, shortened, masked of
 * anything shaped like a key (relay's own answers go out unmasked).
 */
function _wordsOf(text: string, error: Record<string, unknown> | undefined): string {
  const message = [error?.message, error?.detail, error?.error].find((value) => typeof value === "string");
  const line = String(message ?? (error ? "" : text)).replace(/\s+/g, " ").trim();
  const short = line.length > _WORDS_CHARS ? `${line.slice(0, _WORDS_CHARS)}…` : line;
  return maskKeyShapedTokens(short);
}

const _RESET_AT = new RegExp(
  "(?:resets?|regain access)(?: at| on)? (\\d{4}-\\d{2}-\\d{2})(?:[ T]| at )(\\d{2}:\\d{2}(?::\\d{2})?)" +
    "(Z|[+-]\\d{2}:?\\d{2}| ?(?:UTC|GMT)\\b)?",
  "i",
);

/**
 * ms from `wallNow` to the reset `words` name (`will reset at 2026-12-01 08:00:00`, Anthropic's `will
 * regain access on 2026-12-01 at 00:00 UTC`), when ahead; a time without a zone is read as UTC+8, Zhipu's
 * (Z.AI's) own: read early, it costs one attempt that gets the same answer.
 */
function _resetIn(words: string, wallNow: number): number | undefined {
  const match = _RESET_AT.exec(words);
  if (!match) return undefined;
  const [, day, time, zone] = match;
  const offset = zone === undefined ? "+08:00" : /UTC|GMT/i.test(zone) ? "Z" : zone;
  const at = Date.parse(`${day}T${time}${offset}`);
  return Number.isFinite(at) && at > wallNow ? at - wallNow : undefined;
}

/**
 * A 429 or a 400 whose words say a quota is spent: out of rotation as a 402 (`balance`), or rested until
 * its reset (`period`); either is for a person to hear of, not for the client to send again soon.
 * `x-should-retry` says nothing here: a client holding the key learns what to do from the words, relay
 * goes on with another.
 */
function _classifyQuota(
  quota: _Quota,
  snapshot: RateLimitSnapshot,
  now: number,
  options: ClassifyOptions,
  reason: string,
): FailureDecision {
  const { words } = quota;
  const told = { countsForBreaker: false, said: words, notRetried: true } as const;
  if (quota.kind === "balance") {
    return {
      action: "disable_key",
      refusedWith: 402,
      ...told,
      reason: `${reason}, quota or balance spent: ${words}`,
    };
  }
  // Not `coolGuessed`: the words said the limit lasts, where the router would rest a model a moment only.
  const reset = snapshot.retryAfterMs !== undefined ? now + snapshot.retryAfterMs : quota.resetAt;
  const coolKeyUntil = reset === undefined || reset <= now
    ? now + (options.periodLimitGuessMs ?? PERIOD_LIMIT_GUESS_MS)
    : reset;
  return {
    action: "retry_next_key",
    coolKeyUntil,
    ...told,
    reason: `${reason}, period limit spent: ${words}`,
  };
}

/** When a 429's key frees up as the answer says it (`retry-after`, a reset ahead); `undefined` if it does not. */
function _coolUntil(snapshot: RateLimitSnapshot, now: number): number | undefined {
  if (snapshot.retryAfterMs !== undefined) return now + snapshot.retryAfterMs;
  // A reset already past (the upstream's clock behind relay's) says nothing of when the key frees up:
  // taken as it is, the key would not cool at all and the next attempt would hit it again at once.
  const ahead = (resetAt: number | undefined) => resetAt !== undefined && resetAt > now;
  const unified = snapshot.unified;
  if (unified?.status === "rejected" && ahead(unified.resetAt)) return unified.resetAt!;
  const emptied = Object.values(snapshot.windows)
    .flatMap((window) => window.remaining === 0 && ahead(window.resetAt) ? [window.resetAt!] : []);
  return emptied.length > 0 ? Math.max(...emptied) : undefined;
}
