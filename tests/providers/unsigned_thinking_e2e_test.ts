/**
 * A conversation moved from an OpenAI-compatible reasoning model to Claude mid-session (Claude Code's
 * `/model`), end to end over real HTTP: the thinking block relay made of DeepSeek's `reasoning_content`
 * has no signature, and Anthropic's API would refuse the request that carried it back.
 */
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { createAnthropicProvider } from "../../src/providers/anthropic.ts";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import type { Route } from "../../src/routing/router.ts";
import { maskSecret } from "../../src/util/mask.ts";
import {
  chunk,
  FAKE_OPENAI_KEY,
  FAKE_USAGE,
  openaiStream,
  startFakeOpenAI,
  usageChunk,
} from "../_helpers/fake_openai.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { PROVIDER_KEY, startTestRelay, TEST_TIMEOUTS } from "../_helpers/relay.ts";

function route(provider: Route["provider"], key: string, model: string): Route {
  return {
    provider,
    keys: [{ secret: key, label: maskSecret(key) }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap({ [model]: model }),
  };
}

Deno.test("a DeepSeek turn's unsigned thinking block does not reach Anthropic when the conversation moves to Claude", async () => {
  const deepseek = startFakeOpenAI(() =>
    openaiStream([
      chunk({ role: "assistant", content: null, reasoning_content: "They say hi." }),
      chunk({ content: "Hello!" }),
      chunk({}, "stop"),
      usageChunk(FAKE_USAGE),
      "[DONE]",
    ])
  );
  const anthropic = startFakeUpstream();
  await using relay = startTestRelay({
    routes: [
      route(
        createOpenAIProvider({ name: "deepseek", baseUrl: `${deepseek.url}/v1` }),
        FAKE_OPENAI_KEY,
        "deepseek-chat",
      ),
      route(
        createAnthropicProvider({
          name: "anthropic",
          type: "anthropic",
          baseUrl: anthropic.url,
          authHeader: "x-api-key",
        }),
        PROVIDER_KEY,
        "claude-sonnet-4-5",
      ),
    ],
  });
  const client = new Anthropic({ baseURL: relay.url, apiKey: "unused", maxRetries: 0 });
  const thinking = { type: "enabled" as const, budget_tokens: 1024 };
  const asked: Anthropic.MessageParam = { role: "user", content: "hi" };
  const answer = await client.messages.stream({
    model: "deepseek-chat",
    max_tokens: 2048,
    thinking,
    messages: [asked],
  }).finalMessage();
  assert.deepEqual(answer.content.map((block) => block.type), ["thinking", "text"]);
  assert.equal((answer.content[0] as Anthropic.ThinkingBlock).signature, "", "relay mints no signature");

  const next = await client.messages.create({
    model: "claude-sonnet-4-5",
    max_tokens: 2048,
    thinking,
    messages: [asked, { role: "assistant", content: answer.content }, { role: "user", content: "and now?" }],
  });
  await anthropic.close();
  await deepseek.close();
  assert.equal(next.role, "assistant");
  const sent = JSON.parse(new TextDecoder().decode(anthropic.requests[0].body));
  assert.deepEqual(sent.messages, [
    { role: "user", content: "hi" },
    { role: "assistant", content: [{ type: "text", text: "Hello!" }] },
    { role: "user", content: "and now?" },
  ]);
  assert.deepEqual(sent.thinking, thinking);
});
