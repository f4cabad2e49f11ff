/**
 * OpenAI's reasoning effort (`reasoning.effort` on the Responses API, `reasoning_effort` on Chat
 * Completions) as Anthropic's extended thinking, for relay's OpenAI-format front doors. Codex sends an
 * effort whenever its config names one, and means the model should think; an OpenAI-compatible upstream
 * behind relay gets the same effort back from the budget (`anthropic_to_openai_request.ts` maps budgets
 * to efforts with the same thresholds).
 *
 * Anthropic asks for thinking in two forms, and each model takes one: a `budget` (`{type: "enabled",
 * budget_tokens}`), all Claude models to 4.5, and deprecated from 4.6; or `adaptive` (`{type:
 * "adaptive"}` with `output_config.effort`), Claude 4.6 and later, and the only form of Claude Opus 4.7
 * and the Claude 5 models. The form is guessed from the model's name ({@linkcode thinkingFormFor}), and
 * a refusal names the other ({@linkcode thinkingFormRefused}).
 */
import { isJsonObject, type JsonObject } from "../util/json.ts";

/**
 * The thinking budget of each effort: `low` and `medium` at the top of the budgets that map back to
 * them, `high` (and Codex's `xhigh`) as much as {@linkcode MOST_THINKING_MAX_TOKENS} leaves. `none` and
 * `minimal` do not think.
 */
const _BUDGETS: Readonly<Record<string, number>> = {
  low: 4_096,
  medium: 16_384,
  high: 32_000,
  xhigh: 32_000,
};

/** How a request asks Anthropic for thinking: with a budget, or adaptive with an effort. */
export type ThinkingForm = "budget" | "adaptive";

/** Anthropic's least thinking budget. */
const _LEAST_BUDGET = 1_024;

/**
 * The most `max_tokens` relay asks for on its own to make room for thinking: Claude Code's, which every
 * Claude model that thinks takes (Claude Opus 4 and 4.1 take no more).
 */
export const MOST_THINKING_MAX_TOKENS = 32_000;

/**
 * `body` (an Anthropic Messages request) with thinking on at the budget `effort` stands for, when
 * Anthropic would take it so; else `body` itself. `answerRoom` is the `max_tokens` relay chose when the
 * client gave none: thinking then gets room of its own on top, up to
 * {@linkcode MOST_THINKING_MAX_TOKENS}. A `max_tokens` the client gave holds the thinking too, as
 * OpenAI's does its reasoning, with at least 1,024 tokens left for the answer. Thinking stays off where
 * Anthropic refuses it: a tool choice that forces a tool, a budget under 1,024, or a conversation whose
 * last assistant turn (answered with tool results, or left last to continue) does not begin with the
 * thinking it had (a client that dropped it, a turn made without thinking). `temperature`, and a
 * `top_p` under 0.95, which Anthropic refuses beside thinking, are dropped. `form` says how to ask: the
 * `adaptive` form takes the same `max_tokens`, and `effort` as `output_config.effort`.
 *
 * @example
 * ```ts
 * withThinkingFor({ model: "claude-sonnet-4-5", max_tokens: 8192, messages }, "medium", 8192);
 * // { …, max_tokens: 24576, thinking: { type: "enabled", budget_tokens: 16384 } }
 * ```
 */
export function withThinkingFor(
  body: JsonObject,
  effort: unknown,
  answerRoom?: number,
  form: ThinkingForm = "budget",
): JsonObject {
  const wanted = typeof effort === "string" ? _BUDGETS[effort] : undefined;
  if (wanted === undefined || _forcesTool(body.tool_choice) || !_turnsTakeThinking(body.messages)) {
    return body;
  }
  const maxTokens = Number(body.max_tokens);
  const fitted = answerRoom === undefined
    ? { maxTokens, budget: Math.min(wanted, maxTokens - _LEAST_BUDGET) }
    : _withRoom(answerRoom, wanted);
  // The adaptive form has no budget, and takes a max_tokens that would leave none.
  if (form === "budget" && !(fitted.budget >= _LEAST_BUDGET)) return body;
  const { temperature: _temperature, top_p: topP, ...rest } = body;
  const asked = form === "adaptive"
    ? {
      // Claude Opus 4.7 and later leave thinking's text out unless asked, and a client shows nothing.
      thinking: { type: "adaptive", display: "summarized" },
      output_config: {
        ...(isJsonObject(body.output_config) ? body.output_config : {}),
        effort: effort === "xhigh" && _version(String(body.model)) === 4.6 ? "high" : effort,
      },
    }
    : { thinking: { type: "enabled", budget_tokens: fitted.budget } };
  return {
    ...rest,
    ...(typeof topP === "number" && topP >= 0.95 ? { top_p: topP } : {}),
    max_tokens: fitted.maxTokens,
    ...asked,
  };
}

/**
 * The form of thinking a model's name says it takes: `adaptive` from Claude 4.6 on, a `budget` before
 * and for a name without a version (an alias), which a refusal then corrects.
 *
 * @example
 * ```ts
 * thinkingFormFor("claude-opus-4-7"); // "adaptive"
 * thinkingFormFor("claude-sonnet-4-5-20250929"); // "budget"
 * thinkingFormFor("claude-3-7-sonnet-20250219"); // "budget"
 * thinkingFormFor("us.anthropic.claude-sonnet-4-6"); // "adaptive"
 * ```
 */
export function thinkingFormFor(model: string): ThinkingForm {
  const version = _version(model);
  return version !== undefined && version >= 4.6 ? "adaptive" : "budget";
}

/**
 * The Claude version a model's name says (4.6 for `claude-sonnet-4-6`), or `undefined`. Claude 4.6 takes
 * the adaptive form but not the `xhigh` effort, which came with Opus 4.7.
 */
function _version(model: string): number | undefined {
  // `claude-<family>-<major>[-<minor>]`, or before Claude 4 `claude-<major>-<minor>-<family>`; a date is
  // eight digits, no version.
  const version = /(?:^|[./:])claude-(?:[a-z]+-)?(\d)(?:[-.](\d)(?!\d))?(?:\D|$)/i.exec(model);
  return version ? Number(version[1]) + Number(version[2] ?? 0) / 10 : undefined;
}

/**
 * The form of thinking an upstream's refusal (`message`) asks for instead of the one sent: Claude 4.7
 * and 5 answer a budget with `"thinking.type.enabled" is not supported for this model. Use
 * "thinking.type.adaptive" and "output_config.effort" …`; a model before 4.6, or a server that knows only
 * budgets, refuses `adaptive` (`Input tag 'adaptive' found using 'type' does not match any of the
 * expected tags`). `undefined` for any other refusal.
 *
 * @example
 * ```ts
 * thinkingFormRefused('"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" …'); // "adaptive"
 * ```
 */
export function thinkingFormRefused(message: string): ThinkingForm | undefined {
  const words = message.slice(0, 1_000);
  if (/thinking\.type\.enabled"? is not supported|use "?thinking\.type\.adaptive/i.test(words)) {
    return "adaptive";
  }
  if (/\badaptive\b.{0,80}(?:not supported|does not match|unknown variant|invalid)/i.test(words)) {
    return "budget";
  }
  return undefined;
}

/** `max_tokens` and budget when relay chose the answer's room: thinking's on top, within the most. */
function _withRoom(answerRoom: number, wanted: number): { maxTokens: number; budget: number } {
  const maxTokens = Math.max(answerRoom, Math.min(answerRoom + wanted, MOST_THINKING_MAX_TOKENS));
  return { maxTokens, budget: maxTokens - answerRoom };
}

function _forcesTool(choice: unknown): boolean {
  return isJsonObject(choice) && (choice.type === "any" || choice.type === "tool");
}

/**
 * Whether Anthropic takes thinking for these messages: with thinking on, the assistant turn a request
 * continues must begin with its thinking. A tool loop is one assistant turn, however many messages it
 * spans, so the message to look at is the first after the user's last own message (one without tool
 * results); its later messages may hold no thinking (without interleaved thinking they never do).
 */
function _turnsTakeThinking(messages: unknown): boolean {
  if (!Array.isArray(messages)) return false;
  const answered = (message: JsonObject) =>
    Array.isArray(message?.content) &&
    message.content.some((block: JsonObject) => block?.type === "tool_result");
  const asked = messages.findLastIndex((message) => message?.role === "user" && !answered(message));
  const opened = messages[asked + 1];
  if (opened === undefined) return true;
  const first = Array.isArray(opened?.content) ? opened.content[0] : undefined;
  return first?.type === "thinking" || first?.type === "redacted_thinking";
}
