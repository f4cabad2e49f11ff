/**
 * AWS Bedrock as an upstream for Anthropic-format clients (protocols.md §3): the Messages body moves
 * into InvokeModel's shape, is signed with SigV4 or sent with a Bedrock API key, and the answer comes
 * back in Anthropic's shape: event-stream frames as SSE, restJson1 errors as Anthropic error envelopes.
 */
import { AwsV4Signer } from "aws4fetch";
import { errorEnvelope, readAnswerBody, type RelayError, unreadableAnswerError } from "../server/errors.ts";
import { eventStreamToSse, type SsePart } from "../stream/eventstream_to_sse.ts";
import { MAX_ERROR_BODY_BYTES, translateWhole } from "../stream/translate_whole.ts";
import { copyHeaders } from "../util/headers.ts";
import { asJsonObject, parseJsonObject } from "../util/json.ts";
import { realTimers, type Timers } from "../util/timers.ts";
import { withoutTrailing } from "../util/without_trailing.ts";
import {
  type BetaField,
  betaList,
  carriedFields,
  fieldsOf,
  keptBetas,
  refusesField,
  withoutFields,
} from "./anthropic_betas.ts";
import type { AwsCredentials, AwsCredentialSource } from "./aws_credentials.ts";
import {
  type BedrockError,
  type BedrockErrorAnswer,
  bedrockErrorAnswer,
  refusesBetas,
  refusesCounting,
} from "./bedrock_errors.ts";
import { FEATURE_BETAS, NEEDED_BETAS } from "./bedrock_betas.ts";
import { BoundedMap } from "./bounded_map.ts";
import { idleDeadline, type PeekDeadline, type PeekedRefusal, peekRefusal } from "./error_peek.ts";
import { credentialFor } from "./token_cache.ts";
import { editTopLevelJson } from "./json_edit.ts";
import { withoutUnsignedThinking } from "./unsigned_thinking.ts";
import { type Provider, type ProviderKey, type ProviderRequest, UnservableError } from "./types.ts";

/** How to reach one Bedrock upstream; {@link createBedrockProvider} takes it. */
export interface BedrockProviderOptions {
  /** The provider's name in relay's config and logs. */
  name: string;
  /** e.g. `us-east-1`; the endpoint is `https://bedrock-runtime.{region}.amazonaws.com` and it is signed into SigV4. */
  region: string;
  /** Overrides the endpoint (a VPC endpoint, a test server); the path goes after it. */
  baseUrl?: string;
  /**
   * SigV4 with these keys, or with those a source hands out as each request is sent (an SSO profile's,
   * which expire and are replaced), or `"api_key"`: the provider key is a Bedrock API key, sent as a
   * bearer token.
   */
  credentials: AwsCredentials | AwsCredentialSource | "api_key";
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
  /** The SigV4 clock; injected so tests can pin the signature. */
  now?: () => Date;
  /**
   * Told of a model that refused a beta flag, the first time for a set of betas (and again when it later
   * needs the body's beta fields dropped too), with those it then went without (`bedrock_betas.ts`): its
   * requests with that set go without them from then on, until the provider is built anew.
   */
  onBetasRefused?: (model: string, betas: string[]) => void;
  /** The timer bounding a look into an error answer by the request's `idleMs`; injected for tests. */
  timers?: Timers;
}

/** Bedrock's name for the Messages API version; it goes in the body, not a header. */
const _ANTHROPIC_VERSION = "bedrock-2023-05-31";

/** Upstream headers that describe Bedrock's body or protocol, not the one relay sends on. */
const _BEDROCK_ONLY_HEADERS: ReadonlySet<string> = new Set([
  "content-length",
  "x-amzn-errortype",
  "x-amzn-bedrock-content-type",
]);

/**
 * CountTokens checks an InvokeModel body as InvokeModel does, where `max_tokens` is required ("For
 * InvokeModel inputs, CountTokens API requires max_tokens", langchain-aws PR #661, by AWS), and
 * Anthropic's count_tokens has none. This many, as LiteLLM sends (PR #30102), when the client gave none;
 * it is within every Claude model's output limit and changes no count, which is of the input only.
 */
const _COUNT_MAX_TOKENS = 1024;

/** How many models one provider remembers Bedrock cannot count tokens for; the oldest is forgotten past it. */
const _MAX_UNCOUNTABLE_MODELS = 256;

/** How many sets of betas, each for one model, one provider remembers refused; the oldest is forgotten past it. */
const _MAX_REFUSED_BETA_SETS = 256;

/**
 * A Bedrock upstream. `POST /v1/messages` becomes InvokeModel or InvokeModelWithResponseStream and
 * `POST /v1/messages/count_tokens` becomes CountTokens, on the model `upstreamModel` names; the
 * client's query string and headers stay behind. The core answers `/v1/models` itself.
 *
 * Some models have no CountTokens on `bedrock-runtime` (AWS's token-counting guide: some Claude models,
 * those launched with cross-Region inference only among them), and ids of inference profiles have been
 * refused where the base model's were taken (alchemy.run's CountTokens page, pydantic-ai PR #3367, a
 * live probe in Boise-State-Development/agentcore-public-stack PR #430) or taken since (LiteLLM PR
 * #39865): the model id goes as configured. A count Bedrock refuses for the model ("The provided model
 * doesn't support counting tokens.") is unservable here, as on a provider without the route: the next
 * provider that has it counts, and when none does, the client gets the 404 that makes Claude Code count
 * through `/v1/messages`. The model is remembered, so its later counts are not sent. CountTokens' `The
 * provided model identifier is invalid.`, its answer for inference-profile ids InvokeModel takes, counts
 * as such a refusal.
 *
 * Betas go as `keptBetas` leaves them, but Bedrock refuses a whole request for one the model has not
 * taken up, and says `invalid beta flag` without naming it: such a 400 is answered by sending the request
 * once more with only the betas it needs (`NEEDED_BETAS`, and those of the `BETA_FIELDS` its body
 * carries, `context_management` and `output_config.effort`, which Bedrock would refuse by name without
 * them) and those of features Bedrock offers (`FEATURE_BETAS`: interleaved thinking). When that is
 * refused too, for a beta flag or for one of those fields by name, it goes a last
 * time with `NEEDED_BETAS` alone and without those fields (protocols.md §3.2). A model that then gets
 * past it is remembered with that set of betas and the step that did, so its later requests with the
 * same set go that way at once.
 *
 * @example
 * ```ts
 * const provider = createBedrockProvider({
 *   name: "bedrock", region: "us-east-1",
 *   credentials: { accessKeyId: "AKIA…", secretAccessKey: "…" },
 * });
 * ```
 */
export function createBedrockProvider(options: BedrockProviderOptions): Provider {
  const base = options.baseUrl === undefined
    ? `https://bedrock-runtime.${options.region}.amazonaws.com`
    : withoutTrailing(options.baseUrl, /\//);
  const doFetch = options.fetch ?? fetch;
  // Each model Bedrock cannot count tokens for, with what it said.
  const uncountable = new BoundedMap<string, string>(_MAX_UNCOUNTABLE_MODELS);
  // Each model and set of betas (`_refusedKey`) refused for a beta flag, with the step that got past
  // it: such a request starts there. Bedrock names no flag, so a set refused says nothing of another.
  const refusedSets = new BoundedMap<string, Exclude<_Step, "all">>(_MAX_REFUSED_BETA_SETS);
  const timers = options.timers ?? realTimers;

  return {
    name: options.name,
    type: "bedrock",
    rateLimitsPerModel: true, // quotas and model readiness are per model and region
    serves: (method, path) => _operation({ method, path, stream: false }) !== undefined,
    async send(request: ProviderRequest, key: ProviderKey | undefined): Promise<Response> {
      const operation = _operation(request);
      if (!operation) {
        throw new UnservableError(
          404,
          `Bedrock provider ${options.name} does not serve ${request.method} ${request.path}`,
        );
      }
      if (!request.body || !request.upstreamModel || /^\.{1,2}$/.test(request.upstreamModel)) {
        // `.` and `..` would not stay one segment: URL parsing resolves them, signed with relay's keys.
        const message = `model: Bedrock has no model ${JSON.stringify(request.upstreamModel ?? null)}`;
        return _errorResponse({ status: 400, type: "invalid_request_error", message });
      }
      const model = request.upstreamModel;
      const counting = operation === "count-tokens";
      const refused = counting ? uncountable.get(model) : undefined;
      if (refused !== undefined) throw _uncountable(options.name, model, refused);
      // Bedrock checks thinking signatures as Anthropic's API does.
      const clientBody = request.body && withoutUnsignedThinking(request.body, request.json);
      const clientHeaders = request.headers;
      // Each step's body, built only when it is to go.
      const bodyAt = (step: (extras: string[]) => _Step) => {
        const invoke = _invokeBody(clientBody, clientHeaders.get("anthropic-beta"), counting, step);
        return counting ? { ...invoke, bytes: _countTokensBody(invoke.bytes) } : invoke;
      };
      const url = `${base}/model/${_modelSegment(model)}/${operation}`;
      const post = async (body: Uint8Array<ArrayBuffer>) =>
        await doFetch(url, {
          method: "POST",
          headers: await _requestHeaders(options, url, body, key, request),
          body,
          signal: request.signal,
          redirect: "manual",
        });
      // The request's betas but those it needs (`_refusedKey`), when it has any: a set known refused
      // starts at the step that got past it.
      const first = bodyAt((extras) =>
        extras.length > 0 && refusedSets.size > 0
          ? refusedSets.get(_refusedKey(model, extras)) ?? "all"
          : "all"
      );
      let sent = first;
      let upstream = await post(sent.bytes);
      // A 400 is read once for all it may refuse, for no longer than relay would wait for its body: at
      // once when the request has a step left to take (a resend still belongs to the wait for an
      // answer); else, a count's, only once the headers are told, below.
      const within = idleDeadline(request, timers);
      let seen: PeekedRefusal<_Refused> | undefined;
      for (
        let next = _nextStep(sent);
        upstream.status === 400 && next !== undefined;
        next = _nextStep(sent)
      ) {
        // A resend's 400 is a refusal too when it names a field whose beta it still carried.
        const fields = sent.step === "all" ? [] : sent.kept;
        seen = await _refusal(upstream, { betas: true, fields, counting }, within);
        if (seen.refused?.of !== "betas") break;
        // Sent once more under the same signal, its bytes built only now; its own 400 not read yet.
        const step = next;
        sent = bodyAt(() => step);
        upstream = await post(sent.bytes);
        seen = undefined;
      }
      if (seen?.answer) upstream = seen.answer;
      // Only an answer that succeeds proves the betas refused (a 429 or a 5xx says nothing of them):
      // remembered, and the betas it went without that the request's first send had, told once.
      if (upstream.ok && sent.step !== "all" && sent.step !== first.step) {
        const refusedKey = _refusedKey(model, first.extras);
        const known = refusedSets.get(refusedKey);
        if (known === undefined || _STEPS.indexOf(known) < _STEPS.indexOf(sent.step)) {
          refusedSets.set(refusedKey, sent.step);
          options.onBetasRefused?.(model, first.betas.filter((beta) => !sent.betas.includes(beta)));
        }
      }
      // A stream's answer waits for its first frame (`_sseResponse`): first_byte's time, not connect's.
      // A resend is a second connection, so it is still connect's (a small 400's peek fits within it).
      request.onHeaders?.();
      // Relay refuses a redirect itself, saying where it pointed: it is not Bedrock's error to reword.
      if (upstream.status >= 300 && upstream.status <= 399) return upstream;
      if (upstream.status < 200 || upstream.status > 299) {
        seen ??= counting
          ? await _refusal(upstream, { betas: false, fields: [], counting: true }, within)
          : undefined;
        if (seen?.answer) upstream = seen.answer;
        const refusal = seen?.refused;
        if (refusal?.of !== "counting") return _errorAnswer(upstream, bedrockErrorAnswer(upstream));
        uncountable.set(model, refusal.message);
        throw _uncountable(options.name, model, refusal.message);
      }
      // A 200 relay cannot read is relay's own 502, as a broken connection is, not an error of Bedrock's;
      // its headers still go to relay (rate limits, the request-id it logs), as they do when the body
      // read before answering (a count, a stream's first frame) stalls or breaks.
      const answered = _headers(upstream.headers, "application/json");
      const read: _AnswerRead = {
        unreadable: (problem) => _unreadable(options.name, problem, key, answered),
        body: (reading) => readAnswerBody(answered, request.signal, reading),
        headers: answered,
      };
      if (counting) return await _countTokensResponse(upstream, read);
      const type = upstream.headers.get("content-type");
      if (type?.includes("application/vnd.amazon.eventstream")) return await _sseResponse(upstream, read);
      if (operation === "invoke-with-response-stream" && !type?.includes("text/event-stream")) {
        // A client that asked for a stream cannot read a whole Message (a proxy before Bedrock's, say);
        // SSE, from a proxy that speaks it, it can.
        await upstream.body?.cancel();
        throw read.unreadable(
          `its answer to a stream is not an event stream (content-type ${type ?? "none"})`,
        );
      }
      return new Response(upstream.body, { status: upstream.status, headers: answered });
    },
  };
}

/**
 * The model id as one path segment, as Anthropic's Bedrock SDK writes it (§3.1): `:` (in `…-v1:0` and
 * ARNs) and `@` are path characters and stay literal; `/` (in ARNs) becomes `%2F`.
 */
function _modelSegment(modelId: string): string {
  return encodeURIComponent(modelId).replace(/%3A/g, ":").replace(/%40/g, "@");
}

/**
 * How much of a request's betas go: `all`; those it `needed` (`NEEDED_BETAS`, those of the `BETA_FIELDS`
 * it carries, which would be refused by name without them, and `FEATURE_BETAS`); or, `bare`,
 * `NEEDED_BETAS` alone, its beta fields going with their betas (protocols.md §3.2).
 */
type _Step = "all" | "needed" | "bare";
const _STEPS: readonly _Step[] = ["all", "needed", "bare"];

/** One step's InvokeModel body and what it carries. */
interface _Invoke {
  bytes: Uint8Array<ArrayBuffer>;
  step: _Step;
  /** The betas it carries. */
  betas: string[];
  /** Those of the request's betas that are not {@linkcode NEEDED_BETAS}. */
  extras: string[];
  /** The beta fields it carries with their betas: the next step, `bare`, goes without. */
  kept: BetaField[];
  /** Whether it carries a `FEATURE_BETAS` beta, which the next step, `bare`, goes without. */
  featured: boolean;
}

/**
 * The client's bytes with `model` and `stream` removed (the URL says both), `anthropic_version` inserted
 * first and `anthropic_beta` holding, of the betas of both the `anthropic-beta` header and the body's own
 * `anthropic_beta` (a client written for Bedrock sends them there), those the `step` that `stepFor`
 * picks by the betas a resend could go without keeps; every other byte is the client's, so thinking
 * signatures survive, but the beta fields a `bare` step drops. A body to count gets a `max_tokens` when
 * it has none (see {@linkcode _countMaxTokens}).
 */
function _invokeBody(
  body: Uint8Array,
  betaHeader: string | null,
  counting: boolean,
  stepFor: (extras: string[]) => _Step,
): _Invoke {
  let invoke!: Omit<_Invoke, "bytes">;
  let carried: BetaField[] = [];
  const bytes = editTopLevelJson(body, {
    remove: ["model", "stream"],
    set: { anthropic_version: _ANTHROPIC_VERSION },
    update: {
      anthropic_beta: (inBody, read) => {
        const listed = keptBetas([...betaList(inBody), ...betaList(betaHeader)]);
        const extras = listed.filter((beta) => !NEEDED_BETAS.includes(beta));
        const asked = extras.length > 0 ? fieldsOf(extras) : [];
        carried = asked.length > 0 ? carriedFields(asked, read) : [];
        const step = stepFor(extras);
        const betas = step === "all" ? listed : listed.filter((beta) =>
          NEEDED_BETAS.includes(beta) ||
          (step === "needed" &&
            (FEATURE_BETAS.includes(beta) || carried.some((field) => field.beta === beta)))
        );
        const featured = betas.some((beta) => FEATURE_BETAS.includes(beta));
        invoke = { step, betas, extras, kept: step === "bare" ? [] : carried, featured };
        return betas.length > 0 ? betas : undefined;
      },
      ...(counting && {
        max_tokens: (given: unknown, read: (name: string) => unknown) =>
          given ?? _countMaxTokens(read("thinking")),
      }),
    },
  });
  // Only a `bare` step of a body with beta fields edits it twice.
  const dropped = invoke.step === "bare" ? carried : [];
  return { ...invoke, bytes: dropped.length > 0 ? editTopLevelJson(bytes, withoutFields(dropped)) : bytes };
}

/**
 * The step after `sent`'s whose body differs from it, if one does: a step that would send the same
 * bytes is passed over.
 */
function _nextStep(sent: _Invoke): _Step | undefined {
  if (sent.step === "all" && sent.extras.length > 0) {
    const needed = sent.extras.some((beta) =>
      !FEATURE_BETAS.includes(beta) && !sent.kept.some((field) => field.beta === beta)
    );
    return needed ? "needed" : "bare";
  }
  return sent.step === "needed" && (sent.kept.length > 0 || sent.featured) ? "bare" : undefined;
}

/** One model's set of droppable betas, in any order, as one key. */
function _refusedKey(model: string, droppable: string[]): string {
  return `${model}\n${droppable.toSorted().join(",")}`;
}

/**
 * {@linkcode _COUNT_MAX_TOKENS}, or one more than a thinking budget at least as large: `max_tokens` must
 * exceed it, and a count can carry a `thinking` (Claude Code's do, per claude-code-hub#1363).
 */
function _countMaxTokens(thinking: unknown): number {
  const budget = asJsonObject(thinking)?.budget_tokens;
  return Number.isInteger(budget) && (budget as number) >= _COUNT_MAX_TOKENS
    ? (budget as number) + 1
    : _COUNT_MAX_TOKENS;
}

/** What a Bedrock 400 refused that a request can go without: a beta flag, or counting tokens for the model. */
type _Refused = { of: "betas" } | { of: "counting"; message: string };

/**
 * What a Bedrock error answer refuses: with `betas`, a beta flag (`refusesBetas`: the request then goes
 * once more with only the betas it needs); with `counting`, counting tokens for the model at all
 * (`refusesCounting`), in Bedrock's words. Only a 400 that is a request's error can say either: its body
 * is looked at then, and only then, once for both, for no longer than `within` (the request's idle, as
 * relay would wait for that body). Any other answer, or one that says neither, goes on whole.
 */
async function _refusal(
  upstream: Response,
  may: { betas: boolean; fields: readonly BetaField[]; counting: boolean },
  within: PeekDeadline | undefined,
): Promise<PeekedRefusal<_Refused>> {
  if (upstream.status !== 400) return { answer: upstream };
  const error = bedrockErrorAnswer(upstream);
  if (error.type !== "invalid_request_error") return { answer: upstream };
  return await peekRefusal(upstream, within, (text): _Refused | undefined => {
    const message = error.messageIn(text);
    if (may.betas && (refusesBetas(message) || refusesField(message, may.fields))) return { of: "betas" };
    if (may.counting && refusesCounting(message)) return { of: "counting", message };
    return undefined;
  });
}

/** Thrown for a count of a model Bedrock cannot count tokens for: the next provider counts. */
function _uncountable(provider: string, model: string, why: string): UnservableError {
  return new UnservableError(
    404,
    `Bedrock provider ${provider} cannot count tokens for model ${JSON.stringify(model)}: ${why}`,
  );
}

/**
 * What Bedrock gets besides the body: JSON both ways and a credential; nothing of the client's. A
 * session token goes in `x-amz-security-token`, where an upstream could quote it back: it is told to
 * the request's `onSecret`, so relay masks it.
 */
async function _requestHeaders(
  options: BedrockProviderOptions,
  url: string,
  body: Uint8Array<ArrayBuffer>,
  key: ProviderKey | undefined,
  request: ProviderRequest,
): Promise<Headers> {
  const headers = new Headers({ "content-type": "application/json", accept: "application/json" });
  if (options.credentials === "api_key") {
    if (!key) throw new Error(`Bedrock provider ${options.name} uses api_key credentials but has no key`);
    headers.set("authorization", `Bearer ${key.secret}`);
    return headers;
  }
  const source = options.credentials;
  // A source's wait is told to the request, and its failure, what to do included, is `Bedrock auth failed: ...`.
  const credentials = _isSource(source)
    ? await credentialFor("Bedrock auth", request, (signal) => source.credentials(signal))
    : source;
  if (credentials.sessionToken) request.onSecret?.(credentials.sessionToken);
  // The service must be explicit: aws4fetch would guess `bedrock-runtime` from the host (§3.3).
  const signer = new AwsV4Signer({
    ...credentials,
    method: "POST",
    url,
    headers,
    body,
    service: "bedrock",
    region: options.region,
    datetime: (options.now?.() ?? new Date()).toISOString().replace(/[:-]|\.\d{3}/g, ""),
  });
  return (await signer.sign()).headers;
}

function _isSource(credentials: AwsCredentials | AwsCredentialSource): credentials is AwsCredentialSource {
  return typeof (credentials as AwsCredentialSource).credentials === "function";
}

type _Operation = "invoke" | "invoke-with-response-stream" | "count-tokens";

function _operation(request: Pick<ProviderRequest, "method" | "path" | "stream">): _Operation | undefined {
  if (request.method !== "POST") return undefined;
  if (request.path === "/v1/messages") return request.stream ? "invoke-with-response-stream" : "invoke";
  if (request.path === "/v1/messages/count_tokens") return "count-tokens";
  return undefined;
}

function _countTokensBody(invokeBody: Uint8Array): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(
    JSON.stringify({ input: { invokeModel: { body: invokeBody.toBase64() } } }),
  );
}

/**
 * How a 200's body is read before answering: `unreadable` makes the error for one relay cannot read,
 * `body` runs a read of it ({@linkcode readAnswerBody}).
 */
interface _AnswerRead {
  unreadable(problem: string): RelayError;
  body<T>(read: () => Promise<T>): Promise<T>;
  /** The answer's headers as relay gets them (`_headers`, JSON). */
  headers: Headers;
}

async function _countTokensResponse(upstream: Response, read: _AnswerRead): Promise<Response> {
  // A read that fails (a cut connection) is thrown as such, with the answer's headers; only a body read
  // whole that says no count is unreadable.
  const text = await read.body(() => upstream.text());
  const inputTokens = parseJsonObject(text)?.inputTokens;
  if (!Number.isInteger(inputTokens)) {
    throw read.unreadable("Bedrock's CountTokens answer has no inputTokens");
  }
  return new Response(JSON.stringify({ input_tokens: inputTokens }), { headers: read.headers });
}

/**
 * Waits for Bedrock's first frame before answering: a stream that opens with an exception (throttling,
 * an overloaded model) becomes a plain HTTP error that clients and retry logic understand, instead of
 * a 200 whose only event is an error. One that ends before any event, or opens with a corrupt frame, is
 * thrown as `read.unreadable` makes it.
 */
async function _sseResponse(upstream: Response, read: _AnswerRead): Promise<Response> {
  const parts = upstream.body!.pipeThrough(eventStreamToSse()).getReader();
  const first = await read.body(() => parts.read());
  if (first.done || first.value.error) await parts.cancel();
  if (first.done) throw read.unreadable("Bedrock ended the stream before any event");
  if (first.value.unreadable) throw read.unreadable(first.value.error!.message);
  if (first.value.error) return _errorResponse(first.value.error, upstream.headers);
  const headers = new Headers(read.headers);
  headers.set("content-type", "text/event-stream");
  headers.set("cache-control", "no-cache");
  return new Response(_prepended(first.value, parts), { status: 200, headers });
}

/** The SSE body: the part already read, then the rest as the client pulls it. */
function _prepended(first: SsePart, parts: ReadableStreamDefaultReader<SsePart>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(first.bytes);
    },
    async pull(controller) {
      const { done, value } = await parts.read();
      if (done) controller.close();
      else controller.enqueue(value.bytes);
    },
    cancel: (reason) => parts.cancel(reason),
  }, { highWaterMark: 0 });
}

/**
 * Bedrock's error answer in Anthropic's terms, at once: its headers give the status, and its body, which
 * only holds the message, is read as relay reads the answer, under its deadlines for a body, rather
 * than under first_byte's wait for an answer that has in fact come (and not at all when relay retries),
 * up to {@linkcode MAX_ERROR_BODY_BYTES}.
 */
function _errorAnswer(upstream: Response, { status, type, messageIn }: BedrockErrorAnswer): Response {
  const headers = _headers(upstream.headers, "application/json");
  const body = translateWhole(upstream.body, MAX_ERROR_BODY_BYTES, ({ text }) => [
    _errorBody({ status, type, message: messageIn(text) }, headers),
  ]);
  return new Response(body, { status, headers });
}

/**
 * A 200 whose body relay cannot read, `problem` saying why, with the 200's `headers`
 * ({@linkcode unreadableAnswerError}).
 */
function _unreadable(
  name: string,
  problem: string,
  key: ProviderKey | undefined,
  headers: Headers,
): RelayError {
  return unreadableAnswerError(`upstream ${name} answered 200, but ${problem}`, key, headers);
}

function _errorResponse(error: BedrockError, upstream?: Headers): Response {
  const headers = _headers(upstream ?? new Headers(), "application/json");
  return new Response(_errorBody(error, headers), { status: error.status, headers });
}

/** Anthropic's envelope for `error`, with the answer's `request-id` in it as Anthropic's own carry it. */
function _errorBody(error: BedrockError, headers: Headers): Uint8Array<ArrayBuffer> {
  const requestId = headers.get("request-id");
  const body = {
    ...errorEnvelope(error.type, error.message),
    ...(requestId ? { request_id: requestId } : {}),
  };
  return new TextEncoder().encode(JSON.stringify(body));
}

/**
 * Bedrock's response headers minus those describing its own body, plus Anthropic's `request-id` from
 * `x-amzn-requestid`. `retry-after` and the `x-amzn-bedrock-*` token counts pass on.
 */
function _headers(upstream: Headers, contentType: string): Headers {
  const headers = copyHeaders(upstream, _BEDROCK_ONLY_HEADERS);
  headers.set("content-type", contentType);
  const requestId = upstream.get("x-amzn-requestid");
  if (requestId) headers.set("request-id", requestId);
  return headers;
}
