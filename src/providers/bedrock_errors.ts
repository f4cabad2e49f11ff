/**
 * Bedrock's errors in Anthropic's terms (protocols.md §3.6), for both places they arrive: a non-2xx
 * restJson1 answer (`x-amzn-ErrorType` header, `{"message":…}` body) and an exception frame inside an
 * event stream (`:exception-type`, same body). Clients decide whether to retry from the status and
 * `error.type`, and Claude Code reads the message text, so both are chosen for them.
 */
import { type AnthropicErrorType, errorTypeForStatus } from "../server/errors.ts";

/** A Bedrock error as relay answers it: the HTTP status before a stream, `error.type` and text always. */
export interface BedrockError {
  readonly status: number;
  readonly type: AnthropicErrorType;
  readonly message: string;
}

/**
 * Keyed by the exception name lowercased: Bedrock spells it `ThrottlingException` in headers and
 * `throttlingException` in stream frames. Quota and not-ready become rate limits so clients retry
 * them (a judgment call in §3.6); a model timeout keeps Bedrock's 408, which the SDKs retry.
 */
const _BY_EXCEPTION: Readonly<Record<string, { status: number; type: AnthropicErrorType }>> = {
  validationexception: { status: 400, type: "invalid_request_error" },
  accessdeniedexception: { status: 403, type: "permission_error" },
  // AWS answers a credential it cannot take with a 403 too: it is no model's refusal but the key's.
  unrecognizedclientexception: { status: 401, type: "authentication_error" },
  invalidsignatureexception: { status: 401, type: "authentication_error" },
  incompletesignatureexception: { status: 401, type: "authentication_error" },
  expiredtokenexception: { status: 401, type: "authentication_error" },
  missingauthenticationtokenexception: { status: 401, type: "authentication_error" },
  resourcenotfoundexception: { status: 404, type: "not_found_error" },
  throttlingexception: { status: 429, type: "rate_limit_error" },
  servicequotaexceededexception: { status: 429, type: "rate_limit_error" },
  modelnotreadyexception: { status: 429, type: "rate_limit_error" },
  modeltimeoutexception: { status: 408, type: "api_error" },
  internalserverexception: { status: 500, type: "api_error" },
  modelstreamerrorexception: { status: 500, type: "api_error" },
  modelerrorexception: { status: 500, type: "api_error" },
  serviceunavailableexception: { status: 529, type: "overloaded_error" },
};

/**
 * Maps one Bedrock error. `name` may carry restJson1 decorations (`ThrottlingException:http://…`,
 * `aws#ThrottlingException`); an unknown or missing name falls back to `status`, Bedrock's HTTP status
 * (500 for stream frames, which have none).
 *
 * @example
 * ```ts
 * mapBedrockError("ValidationException", "Input is too long for requested model.", 400);
 * // { status: 400, type: "invalid_request_error", message: "prompt is too long: Input is too long for requested model." }
 * ```
 */
export function mapBedrockError(name: string | undefined, message: string, status: number): BedrockError {
  return { ..._classified(name, status), message: _reworded(message) };
}

/** A Bedrock error answer's status and type, which its headers give, and how to read its body's message. */
export interface BedrockErrorAnswer extends Omit<BedrockError, "message"> {
  /** The message in the answer's body, given the body's text. */
  messageIn(body: string): string;
}

/**
 * Reads a Bedrock error answer (4xx, 5xx) as far as its headers go: the status and type depend only on
 * `x-amzn-ErrorType` and the HTTP status, so the answer can go on before its body has come. The body
 * should be `{"message":…}`, but proxies in front of Bedrock answer HTML or nothing, so the text falls
 * back to the body itself and then to the status.
 *
 * @example
 * ```ts
 * const { status, type, messageIn } = bedrockErrorAnswer(response);
 * // 429, "rate_limit_error"
 * messageIn('{"message":"Too many requests, please wait before trying again."}');
 * // "Too many requests, please wait before trying again."
 * ```
 */
export function bedrockErrorAnswer(response: Response): BedrockErrorAnswer {
  return {
    ..._classified(response.headers.get("x-amzn-errortype") ?? undefined, response.status),
    messageIn: (body) => _reworded(_bodyMessage(body, response.status)),
  };
}

/**
 * Whether a CountTokens error says the model has no token counting at all, rather than that the request
 * is wrong: `The provided model doesn't support counting tokens.` (a ValidationException; quoted in
 * pydantic-ai#4001 and Boise-State-Development/agentcore-public-stack PR #430), or `The provided model
 * identifier is invalid.`, CountTokens' answer for inference-profile ids (`us.anthropic.…`) that
 * InvokeModel takes (Portkey-AI/gateway#1436, #1437). Only a count's error means that: InvokeModel says
 * the latter of a wrong id.
 *
 * @example
 * ```ts
 * refusesCounting("The provided model doesn't support counting tokens."); // true
 * refusesCounting("The provided model identifier is invalid."); // true
 * ```
 */
export function refusesCounting(message: string): boolean {
  return /(?:doesn['’]t|does not) support counting tokens|model identifier is invalid/i.test(message);
}

/**
 * Whether an error says a beta flag is refused: `invalid beta flag` (a ValidationException; quoted in
 * CLIProxyAPI#4750, claude-code#30926, #56595), `unsupported beta flag`, or a beta flag or header said,
 * within the same sentence (a beta's name can be long), to be invalid or not supported. Only those words:
 * a field, tool or model id that merely contains `beta` (`anthropic_beta.0: invalid type`, a tool
 * `get_beta_release`, a model `…-beta-…` said to be invalid), a field refused by name
 * (`context_management: Extra inputs are not permitted`) or a proxy's page is not.
 *
 * @example
 * ```ts
 * refusesBetas("invalid beta flag"); // true
 * refusesBetas("anthropic_beta.0: invalid type, expected string"); // false
 * ```
 */
export function refusesBetas(message: string): boolean {
  return /\binvalid beta flags?\b|\bunsupported beta (?:flag|header)s?\b/i.test(message) ||
    /\bbeta (?:flag|header)s?\b[^.]{0,120}\b(?:not supported|unsupported|invalid)\b/i.test(message);
}

/** The status and type `name` stands for; those of `status` when it stands for none. */
function _classified(name: string | undefined, status: number): Omit<BedrockError, "message"> {
  const bare = name?.split(":")[0].split("#").at(-1)?.trim().toLowerCase() ?? "";
  return (Object.hasOwn(_BY_EXCEPTION, bare) ? _BY_EXCEPTION[bare] : undefined) ??
    { status, type: errorTypeForStatus(status) };
}

function _bodyMessage(body: string, status: number): string {
  const text = body.trim();
  let message: unknown;
  try {
    const parsed = JSON.parse(text);
    // Some AWS front ends (signature checks among them) spell it `Message`.
    message = parsed?.message ?? parsed?.Message;
  } catch {
    message = undefined;
  }
  if (typeof message === "string") return message;
  return text.slice(0, 500) || `Bedrock answered HTTP ${status} without a message`;
}

/**
 * Claude Code only auto-compacts when an overflow reads `prompt is too long` (protocols.md §2.4), and
 * Bedrock words it differently; the original text is kept after it.
 */
function _reworded(message: string): string {
  if (/input is too long for requested model/i.test(message) && !message.includes("prompt is too long")) {
    return `prompt is too long: ${message}`;
  }
  return message;
}
