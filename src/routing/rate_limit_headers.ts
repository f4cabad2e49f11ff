/**
 * What an upstream's response headers say about its rate limits, in one normalised shape: Anthropic's
 * `anthropic-ratelimit-*` (read by prefix, so new windows of the subscription's unified family arrive
 * without a code change), `retry-after`/`retry-after-ms`, and the `x-ratelimit-*` family OpenAI-style
 * upstreams send. Every instant comes out on relay's monotonic clock, which its deadlines run on: an
 * upstream's date is turned into it once, as the answer arrives, so a step of the wall clock after that
 * (NTP, a suspended VM) moves no reset.
 */

/** The windows relay counts per key: requests, all tokens, input tokens and output tokens. */
export type RateLimitWindowName = "requests" | "tokens" | "input_tokens" | "output_tokens";

/** One window as the upstream reports it; a field is set only when its header held a usable value. */
export interface RateLimitWindow {
  /** The most the window allows. */
  limit?: number;
  /** What is left of it now. */
  remaining?: number;
  /** When the window is fully replenished, on the monotonic clock. */
  resetAt?: number;
}

/** One window of a subscription's unified quota (`5h`, `7d`, `7d_opus`, `overage`, ...). */
export interface UnifiedWindow {
  /** `allowed`, `allowed_warning` or `rejected`. */
  status?: string;
  /** Share of the window used, 0 to 1. */
  utilization?: number;
  /** On the monotonic clock. */
  resetAt?: number;
}

/**
 * The `anthropic-ratelimit-unified-*` headers of subscription (OAuth) traffic. Its own `status` and
 * `resetAt` are the binding window's; `rejected` there is a plan limit, not a transient throttle.
 */
export interface UnifiedRateLimit extends UnifiedWindow {
  /** Which window binds now: `five_hour`, `seven_day`, ... */
  representativeClaim?: string;
  /** By the name the headers use between `unified-` and the field: `5h`, `7d`, `7d_opus`, `overage`. */
  windows: Record<string, UnifiedWindow>;
}

/** Everything a response said about rate limits; empty `windows` and nothing else when it said nothing. */
export interface RateLimitSnapshot {
  /** The windows the response described. */
  windows: Partial<Record<RateLimitWindowName, RateLimitWindow>>;
  /**
   * How long the upstream asks to be left alone, from `retry-after-ms` or else `retry-after`; a
   * `retry-after` date already past (the upstream's clock behind relay's) says nothing and is left out.
   */
  retryAfterMs?: number;
  /** Set when any `anthropic-ratelimit-unified-*` header was usable. */
  unified?: UnifiedRateLimit;
}

const _ANTHROPIC =
  /^anthropic-ratelimit-(requests|tokens|input-tokens|output-tokens)-(limit|remaining|reset)$/;
const _OPENAI = /^x-ratelimit-(limit|remaining|reset)-(requests|tokens|input-tokens|output-tokens)$/;
// The name may itself hold dashes (`7d-sonnet`, `overage`); the field is always the last word.
const _UNIFIED = /^anthropic-ratelimit-unified-(?:(.+)-)?(status|reset|utilization)$/;
const _UNIFIED_CLAIM = "anthropic-ratelimit-unified-representative-claim";

const _NUMBER = /^\d+(?:\.\d+)?$/;
const _WORD = /^[a-z][a-z0-9_]*$/i;
const _RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
// Go's time.Duration format, which OpenAI uses for resets: `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
const _DURATION = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/;
const _DURATION_PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;
const _DURATION_UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  µs: 1e-3,
  ns: 1e-6,
};
// The three forms RFC 9110 makes recipients accept; V8's Date.parse alone reads almost anything as a date.
const _HTTP_DATES = [
  /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Z][a-z]+day, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/,
];
// A bare number this large is an instant, not a delay: epoch seconds from 2001, epoch ms from 2001.
const _EPOCH_SECONDS = 1e9;
const _EPOCH_MS = 1e12;
/**
 * The furthest ahead a reset or `retry-after` is taken to be, a month, beyond the longest window an
 * upstream reports (Anthropic's weekly one): a key cooled for ever by a bad header would be lost
 * until a restart, and instants past what a `Date` holds break whatever prints them.
 */
const _MAX_AHEAD_MS = 31 * 24 * 3_600_000;

/**
 * Reads the rate-limit headers of one upstream response. Values that do not parse are left out, so a
 * garbled header never throws and never poisons a window.
 *
 * Resets are read as RFC 3339 (`2025-08-21T12:40:59Z`), a Go duration (`6m0s`), or a bare number: epoch
 * seconds or milliseconds when it is that large, otherwise seconds from `now`. Where both families
 * describe a window, `anthropic-ratelimit-*` wins field by field.
 *
 * @param now monotonic ms when the response arrived: every instant comes out on this clock.
 * @param wallNow the wall clock (ms since the epoch) at that moment, which upstream dates are read
 *   against. Required: both clocks are read where the answer arrives, so none is mistaken for the
 *   other (an epoch date read against the monotonic clock cools a key for a month).
 *
 * @example
 * ```ts
 * const snapshot = readRateLimitHeaders(response.headers, performance.now(), Date.now());
 * snapshot.windows.requests; // { limit: 1000, remaining: 999, resetAt: 18250.5 }, the reset 12 s away
 * snapshot.retryAfterMs; // 30000 on a 429 with `retry-after: 30`
 * ```
 */
export function readRateLimitHeaders(headers: Headers, now: number, wallNow: number): RateLimitSnapshot {
  const at = { now, wallNow };
  const anthropic: Partial<Record<RateLimitWindowName, RateLimitWindow>> = {};
  const openai: Partial<Record<RateLimitWindowName, RateLimitWindow>> = {};
  const unified: UnifiedRateLimit = { windows: {} };
  // A Map, not an object: window names come from the upstream, and `__proto__` is a valid one.
  const unifiedWindows = new Map<string, UnifiedWindow>();
  let sawUnified = false;

  // Headers hands values over trimmed already. `forEach`, not `for...of`: Deno's Headers iterator sorts
  // the list again at every step (see src/util/headers.ts), and Anthropic answers carry 25 headers.
  headers.forEach((value, name) => {
    let match: RegExpExecArray | null;
    if ((match = _ANTHROPIC.exec(name))) {
      _setWindowField(anthropic, match[1], match[2], value, at);
    } else if ((match = _OPENAI.exec(name))) {
      _setWindowField(openai, match[2], match[1], value, at);
    } else if ((match = _UNIFIED.exec(name))) {
      let target: UnifiedWindow = unified;
      if (match[1] !== undefined) {
        target = unifiedWindows.get(match[1]) ?? {};
        unifiedWindows.set(match[1], target);
      }
      sawUnified = _setUnifiedField(target, match[2], value, at) || sawUnified;
    } else if (name === _UNIFIED_CLAIM && _WORD.test(value)) {
      unified.representativeClaim = value;
      sawUnified = true;
    }
  });

  const snapshot: RateLimitSnapshot = { windows: {} };
  for (
    const name of new Set([...Object.keys(openai), ...Object.keys(anthropic)]) as Set<RateLimitWindowName>
  ) {
    snapshot.windows[name] = { ...openai[name], ...anthropic[name] };
  }
  const retryAfterMs = _retryAfterMs(headers, wallNow);
  if (retryAfterMs !== undefined) snapshot.retryAfterMs = retryAfterMs;
  if (sawUnified) {
    unified.windows = Object.fromEntries(
      [...unifiedWindows].filter(([, window]) => Object.keys(window).length > 0),
    );
    snapshot.unified = unified;
  }
  return snapshot;
}

/** One moment on both of relay's clocks, as {@linkcode readRateLimitHeaders} takes it. */
interface _Moment {
  now: number;
  wallNow: number;
}

function _setWindowField(
  windows: Partial<Record<RateLimitWindowName, RateLimitWindow>>,
  window: string,
  field: string,
  value: string,
  at: _Moment,
): void {
  const parsed = field === "reset" ? _instant(value, at) : _number(value);
  if (parsed === undefined) return;
  const name = window.replace("-", "_") as RateLimitWindowName;
  const target = windows[name] ??= {};
  target[field === "reset" ? "resetAt" : field as "limit" | "remaining"] = parsed;
}

/** Whether the value was usable. */
function _setUnifiedField(
  target: UnifiedWindow,
  field: string,
  value: string,
  at: _Moment,
): boolean {
  if (field === "status") {
    if (!_WORD.test(value)) return false;
    target.status = value.toLowerCase();
    return true;
  }
  const parsed = field === "reset" ? _instant(value, at) : _number(value);
  if (parsed === undefined) return false;
  target[field === "reset" ? "resetAt" : "utilization"] = parsed;
  return true;
}

function _retryAfterMs(headers: Headers, wallNow: number): number | undefined {
  const ms = _number(headers.get("retry-after-ms") ?? "");
  if (ms !== undefined) return Math.min(ms, _MAX_AHEAD_MS);
  const value = headers.get("retry-after") ?? "";
  const seconds = _number(value);
  if (seconds !== undefined) return Math.min(seconds * 1000, _MAX_AHEAD_MS);
  const date = _httpDate(value);
  // A date already past says nothing of when the upstream takes requests again: read as 0, it would
  // send the next attempt straight back to a key that just said it is limited.
  return date === undefined || date <= wallNow ? undefined : Math.min(date - wallNow, _MAX_AHEAD_MS);
}

function _number(value: string): number | undefined {
  return _NUMBER.test(value) ? Number(value) : undefined;
}

function _instant(value: string, at: _Moment): number | undefined {
  const ahead = _msAhead(value, at.wallNow);
  return ahead === undefined ? undefined : at.now + Math.min(ahead, _MAX_AHEAD_MS);
}

/** How far the reset `value` names is from `wallNow`, in ms: below 0 when it is past. */
function _msAhead(value: string, wallNow: number): number | undefined {
  if (_RFC3339.test(value)) return _finite(Date.parse(value.replace(" ", "T")) - wallNow);
  if (_DURATION.test(value)) return _durationMs(value);
  const number = _number(value);
  if (number === undefined) return undefined;
  if (number >= _EPOCH_MS) return number - wallNow;
  if (number >= _EPOCH_SECONDS) return number * 1000 - wallNow;
  return number * 1000;
}

function _durationMs(value: string): number {
  let ms = 0;
  for (const [, amount, unit] of value.matchAll(_DURATION_PART)) {
    ms += Number(amount) * _DURATION_UNIT_MS[unit];
  }
  return ms;
}

function _httpDate(value: string): number | undefined {
  if (!_HTTP_DATES.some((form) => form.test(value))) return undefined;
  // asctime carries no zone, but HTTP dates are always GMT.
  return _finite(Date.parse(value.endsWith("GMT") ? value : `${value} GMT`));
}

function _finite(ms: number): number | undefined {
  return Number.isFinite(ms) ? ms : undefined;
}
