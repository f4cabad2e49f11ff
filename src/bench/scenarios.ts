/**
 * The requests `relay bench` sends: one per kind of answer whose fidelity matters to Claude Code. Each
 * body is fixed, so a deterministic upstream (the mock) answers it the same way every time, directly
 * or through relay.
 */
import type { BenchRequest } from "./load.ts";

/** Asks the bench's own upstream for its scripted answer with two parallel tool calls. */
export const SCENARIO_HEADER = "x-relay-bench-scenario";

/** Every scenario, the timed workload (`text`) first. */
export const SCENARIO_NAMES = ["text", "tool_use", "parallel_tools", "thinking"] as const;

export type ScenarioName = typeof SCENARIO_NAMES[number];

/** What every scenario's request shares. */
export interface ScenarioOptions {
  model: string;
  maxTokens: number;
  /** Text deltas a mock upstream should stream (sent as `x-relay-mock: events=N`); none for real ones. */
  mockEvents?: number;
  /** Headers every request carries besides its own: Claude Code's on loopback; none for real upstreams. */
  clientHeaders?: Readonly<Record<string, string>>;
}

const _WEATHER = {
  name: "get_weather",
  description: "The current weather in a city.",
  input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
};

const _TIME = {
  name: "get_time",
  description: "The current time in a time zone.",
  input_schema: { type: "object", properties: { timezone: { type: "string" } }, required: ["timezone"] },
};

const _encoder = new TextEncoder();

/**
 * The request of one scenario: `text` a plain question, `tool_use` with a tool offered (the mock calls
 * it), `parallel_tools` with two (the bench upstream answers with both; the mock with one), `thinking`
 * with extended thinking on (the mock sends a signed thinking block first).
 *
 * @example
 * ```ts
 * const request = scenarioRequest("thinking", { model: "mock-1", maxTokens: 2048, mockEvents: 8 });
 * ```
 */
export function scenarioRequest(name: ScenarioName, options: ScenarioOptions): BenchRequest {
  const headers: Record<string, string> = {
    ...options.clientHeaders,
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
  };
  if (options.mockEvents !== undefined) headers["x-relay-mock"] = `events=${options.mockEvents}`;
  const body: Record<string, unknown> = {
    model: options.model,
    max_tokens: options.maxTokens,
    stream: true,
    messages: [{ role: "user", content: _QUESTIONS[name] }],
  };
  if (name === "tool_use") body.tools = [_WEATHER];
  if (name === "parallel_tools") {
    body.tools = [_WEATHER, _TIME];
    headers[SCENARIO_HEADER] = name;
  }
  if (name === "thinking") body.thinking = { type: "enabled", budget_tokens: 1024 };
  return { body: _encoder.encode(JSON.stringify(body)), headers };
}

const _QUESTIONS: Record<ScenarioName, string> = {
  text: "Say hello.",
  tool_use: "What is the weather in Tokyo?",
  parallel_tools: "What is the weather in Tokyo, and the time in Paris?",
  thinking: "Think it over, then say hello.",
};
