/**
 * A fake Bedrock runtime for end-to-end tests: a real HTTP server on a loopback port that checks
 * requests the way Bedrock would (SigV4 recomputed from the secret, or a Bedrock API key; the
 * InvokeModel body rules) and answers with real `application/vnd.amazon.eventstream` frames. The SigV4
 * here is written from AWS's description, independently of aws4fetch, so it can catch the adapter's
 * signing mistakes instead of repeating them.
 */
import { EventStreamCodec, type MessageHeaders } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import type { AwsCredentials } from "../../src/providers/aws_credentials.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { type GoldenName, loadGolden } from "./golden.ts";
import {
  type FakeUpstream,
  MESSAGE_ANSWER,
  type RecordedRequest,
  sseChunks,
  startFakeUpstream,
} from "./fake_upstream.ts";

// ---------------------------------------------------------------------------------------------------
// SigV4, independently

/** Everything one SigV4 signature covers. */
export interface SigV4Input {
  method: string;
  /** The path exactly as sent, still percent-encoded (`…application-inference-profile%2Fabc/invoke`). */
  path: string;
  /** Must hold every header named in `signedHeaders`, `host` included. */
  headers: Headers;
  signedHeaders: readonly string[];
  body: Uint8Array;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
  /** `YYYYMMDDThhmmssZ`. */
  amzDate: string;
}

/**
 * The `Authorization` header SigV4 gives for `input`, for requests without a query string: canonical
 * request (path segments URI-encoded once more, as every service but S3 wants), string to sign, key
 * derived through date, region, service and `aws4_request`.
 *
 * @example
 * ```ts
 * assert.equal(request.headers.get("authorization"), await sigV4Authorization({ ... }));
 * ```
 */
export async function sigV4Authorization(input: SigV4Input): Promise<string> {
  const signed = [...input.signedHeaders].sort();
  const canonicalRequest = [
    input.method,
    input.path.split("/").map(_uriEncode).join("/"),
    "",
    signed.map((name) => `${name}:${(input.headers.get(name) ?? "").trim().replace(/\s+/g, " ")}\n`).join(""),
    signed.join(";"),
    _hex(await crypto.subtle.digest("SHA-256", new Uint8Array(input.body))),
  ].join("\n");
  const day = input.amzDate.slice(0, 8);
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    input.amzDate,
    scope,
    _hex(await crypto.subtle.digest("SHA-256", _utf8(canonicalRequest))),
  ].join("\n");
  let key: ArrayBuffer = _utf8(`AWS4${input.secretAccessKey}`).buffer;
  for (const part of [day, input.region, input.service, "aws4_request"]) key = await _hmac(key, part);
  const signature = _hex(await _hmac(key, stringToSign));
  return `AWS4-HMAC-SHA256 Credential=${input.accessKeyId}/${scope}, SignedHeaders=${
    signed.join(";")
  }, Signature=${signature}`;
}

/** AWS's URI encoding: every byte but `A-Za-z0-9-._~` as `%XX`, upper-case hex. */
function _uriEncode(segment: string): string {
  return [..._utf8(segment)].map((byte) => {
    const char = String.fromCharCode(byte);
    return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }).join("");
}

async function _hmac(key: ArrayBuffer, data: string): Promise<ArrayBuffer> {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return crypto.subtle.sign("HMAC", imported, _utf8(data));
}

function _hex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function _utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text);
}

/**
 * Checks a request's SigV4 the way AWS does: the signed header list comes from the request, the
 * signature is recomputed with the known secret. Returns what is wrong, or `undefined`.
 *
 * @example
 * ```ts
 * assert.equal(await sigV4Problem(recorded, credentials, "us-east-1"), undefined);
 * ```
 */
export async function sigV4Problem(
  request: RecordedRequest,
  credentials: AwsCredentials,
  region: string,
): Promise<{ errorType: string; message: string } | undefined> {
  const authorization = request.headers.get("authorization") ?? "";
  const parsed =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/
      .exec(authorization);
  if (!parsed) {
    return { errorType: "MissingAuthenticationTokenException", message: "Missing Authentication Token" };
  }
  const [, accessKeyId, , signedRegion, service, signedHeaders] = parsed;
  if (accessKeyId !== credentials.accessKeyId) {
    return {
      errorType: "UnrecognizedClientException",
      message: "The security token included in the request is invalid.",
    };
  }
  const signed = signedHeaders.split(";");
  const required = ["host", "x-amz-date", ...(credentials.sessionToken ? ["x-amz-security-token"] : [])];
  const token = request.headers.get("x-amz-security-token") ?? undefined;
  if (
    signedRegion !== region || service !== "bedrock" || required.some((name) => !signed.includes(name)) ||
    token !== credentials.sessionToken
  ) {
    return {
      errorType: "InvalidSignatureException",
      message: `Credential should be scoped to a valid region and service 'bedrock', ` +
        `sign ${required.join(";")} and carry the session token; got ${authorization}`,
    };
  }
  const url = new URL(request.url);
  const expected = await sigV4Authorization({
    method: request.method,
    path: url.pathname,
    headers: request.headers,
    signedHeaders: signed,
    body: request.body,
    accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    region,
    service: "bedrock",
    amzDate: request.headers.get("x-amz-date") ?? "",
  });
  if (expected === authorization) return undefined;
  return {
    errorType: "InvalidSignatureException",
    message: "The request signature we calculated does not match the signature you provided. " +
      "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
  };
}

// ---------------------------------------------------------------------------------------------------
// Event-stream frames

const _codec = new EventStreamCodec(toUtf8, fromUtf8);
const _PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/**
 * One event-stream message with string headers, valid CRCs and `payload` as its body.
 *
 * @example
 * ```ts
 * const frame = eventStreamFrame({ ":message-type": "event", ":event-type": "initial-response" }, "{}");
 * ```
 */
export function eventStreamFrame(headers: Record<string, string>, payload: string): Uint8Array {
  const encoded: MessageHeaders = {};
  for (const [name, value] of Object.entries(headers)) encoded[name] = { type: "string", value };
  return _codec.encode({ headers: encoded, body: _utf8(payload) });
}

/**
 * A chunk frame wrapping one Anthropic event's JSON text, with Bedrock's `p` padding of the given
 * length.
 *
 * @example
 * ```ts
 * const frame = chunkFrame('{"type":"message_stop"}', 4);
 * ```
 */
export function chunkFrame(eventJson: string, padding = 0): Uint8Array {
  const payload = JSON.stringify({ bytes: _utf8(eventJson).toBase64(), p: _PADDING.slice(0, padding) });
  return eventStreamFrame(
    { ":event-type": "chunk", ":content-type": "application/json", ":message-type": "event" },
    payload,
  );
}

/**
 * An exception frame, e.g. `exceptionFrame("throttlingException", "Too many requests")`.
 *
 * @example
 * ```ts
 * const frame = exceptionFrame("serviceUnavailableException", "Bedrock is unable to process your request.");
 * ```
 */
export function exceptionFrame(exceptionType: string, message: string): Uint8Array {
  return eventStreamFrame(
    { ":exception-type": exceptionType, ":content-type": "application/json", ":message-type": "exception" },
    JSON.stringify({ message }),
  );
}

/**
 * An unmodelled error frame: `:message-type error` with `:error-code` and `:error-message` headers.
 *
 * @example
 * ```ts
 * const frame = errorFrame("InternalFailure", "We encountered an internal error.");
 * ```
 */
export function errorFrame(code: string, message: string): Uint8Array {
  return eventStreamFrame({ ":message-type": "error", ":error-code": code, ":error-message": message }, "");
}

/**
 * The Anthropic events of an SSE stream, as `event` name plus the exact `data` text.
 *
 * @example
 * ```ts
 * const events = sseEvents(await loadGolden("text"));
 * ```
 */
export function sseEvents(sse: Uint8Array): { event: string; data: string }[] {
  return new SseDecoder().feed(sse);
}

/**
 * Chunk frames for every event of a golden stream, each with a different amount of padding.
 *
 * @example
 * ```ts
 * const frames = await goldenFrames("tool_use");
 * ```
 */
export async function goldenFrames(name: GoldenName): Promise<Uint8Array[]> {
  return sseEvents(await loadGolden(name)).map(({ data }, index) => chunkFrame(data, (index * 13) % 61));
}

/**
 * A 200 event-stream response sending each frame as its own write.
 *
 * @example
 * ```ts
 * const response = eventStreamResponse([chunkFrame('{"type":"message_stop"}')]);
 * ```
 */
export function eventStreamResponse(frames: Uint8Array[], headers: HeadersInit = {}): Response {
  return sseChunks(frames, {
    headers: {
      "content-type": "application/vnd.amazon.eventstream",
      "x-amzn-bedrock-content-type": "application/json",
      ...Object.fromEntries(new Headers(headers)),
    },
  });
}

/**
 * A restJson1 error as Bedrock sends it.
 *
 * @example
 * ```ts
 * return bedrockError(429, "ThrottlingException", "Too many requests, please wait before trying again.");
 * ```
 */
export function bedrockError(
  status: number,
  errorType: string,
  message: string,
  headers: HeadersInit = {},
): Response {
  return Response.json({ message }, {
    status,
    headers: {
      "x-amzn-errortype": `${errorType}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      ...Object.fromEntries(new Headers(headers)),
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// The server

/** One request that passed the fake's auth and body checks. */
export interface BedrockCall {
  operation: "invoke" | "invoke-with-response-stream" | "count-tokens";
  /** Decoded from the path. */
  modelId: string;
  /** The InvokeModel body bytes (for CountTokens, the ones inside the base64). */
  invokeBody: Uint8Array;
  recorded: RecordedRequest;
}

export interface FakeBedrockOptions {
  region: string;
  /** SigV4 is checked against these. */
  credentials?: AwsCredentials;
  /** A Bedrock API key accepted as `Authorization: Bearer`. */
  apiKey?: string;
  /** The answer to a call that passed the checks; by default a golden text stream, a Message, 42 tokens. */
  answer?: (call: BedrockCall) => Response | Promise<Response>;
  /**
   * The betas the models take, when not all: a body with any other in `anthropic_beta` is refused as
   * Bedrock refuses it, `400 ValidationException` "invalid beta flag", naming none (CLIProxyAPI#4750).
   */
  acceptedBetas?: readonly string[];
  /**
   * Whether CountTokens refuses inference-profile ids (`us.anthropic.…`), with "The provided model
   * identifier is invalid." (Portkey-AI/gateway#1436), while InvokeModel takes them.
   */
  countsOnlyBaseModels?: boolean;
}

export interface FakeBedrock extends FakeUpstream {
  /** Every call that passed the checks, in arrival order. */
  calls: BedrockCall[];
}

/**
 * Starts a fake Bedrock on 127.0.0.1 and a free port. Every response carries `x-amzn-requestid`
 * (`fake-bedrock-<n>`) unless the answer set one.
 *
 * @example
 * ```ts
 * const bedrock = startFakeBedrock({ region: "us-east-1", credentials });
 * const provider = createBedrockProvider({ name: "b", region: "us-east-1", baseUrl: bedrock.url, credentials });
 * ```
 */
export function startFakeBedrock(options: FakeBedrockOptions): FakeBedrock {
  const calls: BedrockCall[] = [];
  let served = 0;
  const upstream = startFakeUpstream(async (_request, recorded) => {
    const response = await _handle(options, recorded, calls);
    if (!response.headers.has("x-amzn-requestid")) {
      response.headers.set("x-amzn-requestid", `fake-bedrock-${++served}`);
    }
    return response;
  });
  return { ...upstream, calls };
}

async function _handle(options: FakeBedrockOptions, recorded: RecordedRequest, calls: BedrockCall[]) {
  const route = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|count-tokens)$/.exec(recorded.path);
  if (recorded.method !== "POST" || !route) {
    return bedrockError(404, "UnknownOperationException", `no ${recorded.method} ${recorded.path}`);
  }
  const denied = await _authProblem(options, recorded);
  if (denied) return bedrockError(403, denied.errorType, denied.message);
  const operation = route[2] as BedrockCall["operation"];
  let invokeBody = recorded.body;
  if (operation === "count-tokens") {
    const wrapper = JSON.parse(new TextDecoder().decode(recorded.body));
    invokeBody = Uint8Array.fromBase64(wrapper?.input?.invokeModel?.body ?? "");
  }
  const bodyProblem = _invokeBodyProblem(invokeBody) ?? _betaProblem(options, invokeBody);
  if (bodyProblem) return bedrockError(400, "ValidationException", bodyProblem);
  const call = { operation, modelId: decodeURIComponent(route[1]), invokeBody, recorded };
  const profile = /^[a-z-]+\.anthropic\./.test(call.modelId);
  if (options.countsOnlyBaseModels && operation === "count-tokens" && profile) {
    return bedrockError(400, "ValidationException", "The provided model identifier is invalid.");
  }
  calls.push(call);
  return options.answer ? await options.answer(call) : await _defaultAnswer(call);
}

async function _authProblem(options: FakeBedrockOptions, recorded: RecordedRequest) {
  const authorization = recorded.headers.get("authorization") ?? "";
  if (options.apiKey !== undefined && authorization.startsWith("Bearer ")) {
    if (authorization === `Bearer ${options.apiKey}` && !recorded.headers.has("x-amz-date")) return undefined;
    return {
      errorType: "AccessDeniedException",
      message: "Invalid API Key format: Must start with pre-defined prefix",
    };
  }
  if (!options.credentials) return { errorType: "AccessDeniedException", message: "no SigV4 accepted here" };
  return await sigV4Problem(recorded, options.credentials, options.region);
}

/** Bedrock's own rules for an Anthropic InvokeModel body (protocols.md §3.2), whether invoked or counted. */
function _invokeBodyProblem(bytes: Uint8Array): string | undefined {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return "Malformed input request: the body is not JSON";
  }
  if (Object.keys(body)[0] !== "anthropic_version" || body.anthropic_version !== "bedrock-2023-05-31") {
    return `Malformed input request: anthropic_version must be bedrock-2023-05-31, first`;
  }
  for (const field of ["model", "stream"]) {
    if (field in body) return `Malformed input request: extraneous key [${field}] is not permitted`;
  }
  // The Messages schema requires it, and CountTokens checks its InvokeModel body against that schema
  // ("For InvokeModel inputs, CountTokens API requires max_tokens", langchain-aws PR #661, by AWS).
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1) {
    return "Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again.";
  }
  const betas = body.anthropic_beta;
  if (betas !== undefined && !(Array.isArray(betas) && betas.every((beta) => typeof beta === "string"))) {
    return "Malformed input request: anthropic_beta must be an array of strings";
  }
  return undefined;
}

function _betaProblem(options: FakeBedrockOptions, bytes: Uint8Array): string | undefined {
  if (!options.acceptedBetas) return undefined;
  const betas: unknown[] = JSON.parse(new TextDecoder().decode(bytes)).anthropic_beta ?? [];
  return betas.every((beta) => options.acceptedBetas!.includes(beta as string))
    ? undefined
    : "invalid beta flag";
}

async function _defaultAnswer(call: BedrockCall): Promise<Response> {
  if (call.operation === "count-tokens") return Response.json({ inputTokens: 42 });
  if (call.operation === "invoke") return Response.json(MESSAGE_ANSWER);
  return eventStreamResponse(await goldenFrames("text"));
}
