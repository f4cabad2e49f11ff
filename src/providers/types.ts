/**
 * The contract between relay's core and one upstream adapter. The core parses only what routing needs,
 * strips client credentials and hop-by-hop headers, then hands the adapter a {@link ProviderRequest};
 * the adapter returns a `Response` whose status, headers and body are already in Anthropic's format
 * (Anthropic-format upstreams return the upstream response as is, so the bytes are never copied).
 */
import type { AnthropicUsage } from "../stream/openai_types.ts";
import type { HeaderReader } from "../util/headers.ts";

/** One credential of a provider, as the adapter needs it. */
export interface ProviderKey {
  /** The secret itself; never logged. */
  readonly secret: string;
  /** A masked form safe for logs (`sk-ant-...x7f2`), after the key's `name` when it has one. */
  readonly label: string;
  /**
   * Its `keyFingerprint`, for the ledger, worked out once when the key is configured
   * (`routesFromConfig`); a key built by hand without it is fingerprinted as it is used.
   */
  readonly id?: string;
}

/**
 * What an answer whose upstream reported no usage (an OpenAI-compatible server that ignores
 * `stream_options.include_usage`)
 * says in its place: relay's estimates rather than zeros, which would tell a client tracking its context
 * window that it is empty, and let the spend go unrecorded.
 */
export interface UsageFallback {
  /** The request's input tokens as relay estimated them (`estimateTokens`). */
  readonly inputTokens: number;
  /** Called when an answer's usage is the estimate, so the access log can say so. */
  estimated(): void;
  /**
   * Called by an adapter that streams such an answer as it begins, with the `usage` its `message_delta`
   * would carry were the answer to end now (estimates where the upstream has not counted yet, told to
   * `estimated` when read). Its `message_start` says zero tokens, so an answer that never reaches its
   * `message_delta` (the client left, the upstream broke off) is counted from this instead.
   */
  streaming?(usageSoFar: () => AnthropicUsage): void;
}

export interface ProviderRequest {
  /** Path the client asked for, e.g. `/v1/messages`; routing matches on it, never on the query. */
  readonly path: string;
  /** Query string with its leading `?`, or `""`; kept for Anthropic-format upstreams (`?beta=true`). */
  readonly search: string;
  readonly method: string;
  /** Client headers minus hop-by-hop headers, cookies, `Origin` and the client's own credentials. */
  readonly headers: HeaderReader;
  /** The body bytes exactly as the client sent them; `null` for bodiless requests. */
  readonly body: Uint8Array<ArrayBuffer> | null;
  /** `model` read from the body, when there is one. */
  readonly model: string | undefined;
  /**
   * The body as relay parsed it to route it, for an adapter that must read more of it; never
   * re-serialised but for an edit the upstream needs (`withoutUnsignedThinking`).
   */
  readonly json?: Record<string, unknown>;
  /**
   * The id this upstream knows `model` by, after the provider's `models:` mapping; equal to `model`
   * when unmapped. Anthropic-format adapters write it into the body, Bedrock and Vertex into the URL.
   */
  readonly upstreamModel: string | undefined;
  /** Whether the client asked for a stream (`"stream": true`). */
  readonly stream: boolean;
  /** Aborted when the client goes away or a relay timeout fires; adapters pass it to `fetch`. */
  readonly signal: AbortSignal;
  /**
   * For an adapter whose `send` resolves later than the upstream's response headers (Bedrock reads its
   * first frame to turn an exception into an HTTP error): called when those headers are in. Relay allows
   * a stream `timeouts.connect` until then, and `timeouts.first_byte` from then on.
   */
  readonly onHeaders?: () => void;
  /**
   * For an adapter that fetches the credential it sends with (an access token): told `true` when it
   * starts waiting for one and `false` when it has it, so a deadline that passes meanwhile is named as
   * the token endpoint's, not the upstream's.
   */
  readonly onCredential?: (waiting: boolean) => void;
  /**
   * For an adapter that sends a credential relay did not hand it (an access token it fetched): told
   * each one before it goes upstream, so relay masks it wherever it masks the key (the answer, its
   * headers, error messages, the log): an upstream may quote the token it was sent.
   */
  readonly onSecret?: (secret: string) => void;
  /**
   * The longest relay waits between two chunks of the answer's body (the route's `timeouts.idle`): an
   * adapter that holds the body back on a wait of its own (OpenAI's settle after the finish) waits less.
   */
  readonly idleMs?: number;
  /**
   * For an adapter that makes the answer's usage itself (OpenAI-compatible upstreams): what to report
   * when the upstream reports none, and how to tell relay it did.
   */
  readonly usageFallback?: UsageFallback;
}

/**
 * Thrown by an adapter for a request its upstream has no equivalent for (a route, a content block), before
 * anything is sent, or once the upstream has said so itself (Bedrock's CountTokens for a model that has
 * none): relay moves on to the next provider, as nothing was wrong with this one, and a request no provider
 * can serve gets `status` with this message.
 *
 * @example
 * ```ts
 * throw new UnservableError(404, `POST /v1/messages/count_tokens is not available from ${name}`);
 * ```
 */
export class UnservableError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "UnservableError";
  }
}

/**
 * Thrown by an adapter that could not get the credential it sends with (an access token, an AWS role's
 * keys), before anything was sent. `permanent` when only a person can mend it (a key or secret the token
 * endpoint refuses, an SSO login that has ended, a credentials file relay cannot read): relay still
 * fails over, since another provider may be set up right, but a client told of it is told not to send
 * again, which would fail the same way. A token endpoint that is down or slow is not permanent.
 *
 * @example
 * ```ts
 * throw new CredentialError(`Vertex auth failed: ${reason}`, true);
 * ```
 */
export class CredentialError extends Error {
  constructor(message: string, readonly permanent: boolean) {
    super(message);
    this.name = "CredentialError";
  }
}

/**
 * Whether `error` says asking again with the same credential cannot help: a permanent
 * {@linkcode CredentialError}. Anything else thrown may pass.
 *
 * @example
 * ```ts
 * isPermanentCredentialError(new CredentialError("Vertex auth failed: invalid_grant", true)); // true
 * isPermanentCredentialError(new Error("connection reset")); // false
 * ```
 */
export function isPermanentCredentialError(error: unknown): boolean {
  return error instanceof CredentialError && error.permanent;
}

/** An upstream as the core sees it. */
export interface Provider {
  readonly name: string;
  readonly type: string;
  /**
   * Sends one request upstream and resolves with the response headers; the body streams afterwards. An
   * adapter that resolves later calls the request's `onHeaders` once the upstream's headers are in.
   */
  send(request: ProviderRequest, key: ProviderKey | undefined): Promise<Response>;
  /**
   * Whether the upstream has an endpoint for `method` `path`; every one when left out. relay plans a
   * request only over providers that have its route, so one without (count_tokens on an OpenAI-compatible
   * upstream) costs no attempt, no wait and no breaker's say.
   */
  serves?(method: string, path: string): boolean;
  /**
   * Whether the upstream limits each model apart (Bedrock's quotas and model readiness, Vertex's
   * quotas: per model and region), so a 429 says nothing of the key's other models: it keeps the key,
   * or the provider's own credential when it has no keys, from that model only. Left out, a 429 cools
   * the whole key (Anthropic's and OpenAI's limits are the key's or its organisation's).
   */
  readonly rateLimitsPerModel?: boolean;
}
