import type { Context } from "hono";
import { AnthropicToOpenAI, encodeOpenAISse } from "../stream/anthropic_to_openai.ts";
import { chatCompletionFor } from "../stream/anthropic_to_openai_completion.ts";
import { anthropicRequestFor } from "../stream/openai_to_anthropic_request.ts";
import type { ThinkingForm } from "../stream/thinking_for_effort.ts";
import { isJsonObject, type JsonObject } from "../util/json.ts";
import {
  answerStream,
  type FrontDoorOptions,
  type FrontDoorRequest,
  openaiFrontDoor,
  refusedTranslation,
} from "./openai_front_door.ts";
import { openaiErrorResponse } from "./openai_errors.ts";
import type { RelayEnv } from "./request_id.ts";

/**
 * `POST /v1/chat/completions` for OpenAI-style clients, served by whichever provider serves the model:
 * the request is translated to Anthropic's Messages format, sent through relay's own `/v1/messages`,
 * and the answer translated back, streams event by event in OpenAI's format (`data:` chunks, `: ping`
 * comments, `data: [DONE]`). Errors, relay's and upstreams', take OpenAI's shape with their status.
 *
 * @example
 * ```ts
 * const parsed = new WeakMap<Request, Record<string, unknown>>(); // read by relay({ parsedBody })
 * const dispatch = async (request: Request, messages: Record<string, unknown>) => {
 *   parsed.set(request, messages);
 *   return await app.fetch(request);
 * };
 * app.post("/v1/chat/completions", chatCompletions({ dispatch, maxBodyBytes: () => 32 * 1024 * 1024 }));
 * ```
 */
export function chatCompletions(
  options: FrontDoorOptions,
): (c: Context<RelayEnv>) => Promise<Response> {
  return openaiFrontDoor(options, _chatDoor);
}

/** The chat front door: a Chat Completions body, answered as chunks or a `chat.completion`. */
function _chatDoor(
  chat: JsonObject & { model: string },
  thinkingForm?: ThinkingForm,
): FrontDoorRequest | Response {
  if (!Array.isArray(chat.messages)) {
    return openaiErrorResponse(400, "messages: field required (an array)", { param: "messages" });
  }
  let messages: JsonObject;
  try {
    messages = anthropicRequestFor({ ...chat, messages: chat.messages }, { thinkingForm });
  } catch (error) {
    return refusedTranslation(error);
  }
  const includeUsage = isJsonObject(chat.stream_options) && chat.stream_options.include_usage === true;
  return {
    messages,
    stream: chat.stream === true,
    streamAnswer: (created) =>
      answerStream(new AnthropicToOpenAI({ created, includeUsage }), encodeOpenAISse),
    wholeAnswer: chatCompletionFor,
  };
}
