import type { Context } from "hono";
import {
  AnthropicToResponses,
  encodeResponsesEvent,
  responseEcho,
  responseFor,
} from "../stream/anthropic_to_responses.ts";
import { withCacheBreakpoints } from "../stream/cache_breakpoints.ts";
import { anthropicRequestFor } from "../stream/openai_to_anthropic_request.ts";
import {
  chatRequestForResponses,
  RESPONSES_DEFAULT_MAX_TOKENS,
  responsesParamFor,
} from "../stream/responses_to_chat_request.ts";
import type { ThinkingForm } from "../stream/thinking_for_effort.ts";
import type { JsonObject } from "../util/json.ts";
import {
  answerStream,
  type FrontDoorOptions,
  type FrontDoorRequest,
  openaiFrontDoor,
  refusedTranslation,
} from "./openai_front_door.ts";
import { openaiErrorCode } from "./openai_errors.ts";
import type { RelayEnv } from "./request_id.ts";

/**
 * `POST /v1/responses`, OpenAI's Responses API, for the clients that speak nothing else (OpenAI's Codex
 * CLI; `@ai-sdk/openai` by default): the request becomes the Chat Completions request it stands for,
 * which the chat front door's translation takes to Anthropic's Messages format and through relay's own
 * `/v1/messages`, and the answer comes back as a Responses stream (`event:` lines, `: ping` comments)
 * or a whole `response` object. Errors before the answer take OpenAI's shape, as the chat door's do.
 *
 * @example
 * ```ts
 * app.post("/v1/responses", responses({ dispatch, maxBodyBytes: () => 32 * 1024 * 1024 }));
 * ```
 */
export function responses(options: FrontDoorOptions): (c: Context<RelayEnv>) => Promise<Response> {
  return openaiFrontDoor(options, _responsesDoor);
}

function _responsesDoor(
  body: JsonObject & { model: string },
  thinkingForm?: ThinkingForm,
): FrontDoorRequest | Response {
  let translated: ReturnType<typeof chatRequestForResponses>;
  try {
    translated = chatRequestForResponses(body);
  } catch (error) {
    return refusedTranslation(error);
  }
  const { chat, tools, sources } = translated;
  let messages: JsonObject;
  try {
    messages = anthropicRequestFor(chat, { defaultMaxTokens: RESPONSES_DEFAULT_MAX_TOKENS, thinkingForm });
  } catch (error) {
    return refusedTranslation(error, (param) => responsesParamFor(param, sources));
  }
  // A cache key asks for the prompt to be cached, as OpenAI does by itself; Anthropic, where marked.
  if (body.prompt_cache_key !== undefined && body.prompt_cache_key !== null) {
    messages = withCacheBreakpoints(messages);
  }
  const echo = responseEcho(body);
  return {
    messages,
    stream: chat.stream === true,
    streamAnswer: (createdAt) =>
      answerStream(
        new AnthropicToResponses({ createdAt, echo, tools, model: body.model }),
        encodeResponsesEvent,
      ),
    wholeAnswer: (message, createdAt) => responseFor(message, { createdAt, echo, tools, model: body.model }),
    // Codex compacts the conversation on a `response.failed` saying `context_length_exceeded`; a 400
    // ends its session.
    failsInStream: ({ type, message }) =>
      (type === "invalid_request_error" || type === "request_too_large") &&
      openaiErrorCode(message) === "context_length_exceeded",
  };
}
