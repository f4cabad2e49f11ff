/**
 * The official Anthropic SDK as relay's client: it parses strictly, so a stream relay alters in any way
 * the SDK cares about (a lost `event:` line, a missing blank line, a broken event) fails here.
 */
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { startTestRelay } from "../_helpers/relay.ts";

const TOKEN = "rly_sdk_client_token_01";

function client(url: string, headers: Record<string, string> = {}) {
  return new Anthropic({ baseURL: url, apiKey: TOKEN, maxRetries: 0, defaultHeaders: headers });
}

const WEATHER_TOOL = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
};

Deno.test("the Anthropic SDK streams text, tool use and thinking through relay", async (t) => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const anthropic = client(relay.url);

  await t.step("text", async () => {
    const message = await anthropic.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 256,
      messages: [{ role: "user", content: "hello" }],
    }).finalMessage();
    assert.equal(message.stop_reason, "end_turn");
    assert.equal(message.content[0].type, "text");
    assert.ok(message.usage.output_tokens > 0);
  });

  await t.step("tool use keeps its id and parsed input", async () => {
    const message = await anthropic.beta.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 256,
      tools: [WEATHER_TOOL],
      messages: [{ role: "user", content: "weather in Paris?" }],
    }).finalMessage();
    assert.equal(message.stop_reason, "tool_use");
    const tool = message.content.find((block) => block.type === "tool_use");
    assert.ok(tool && tool.type === "tool_use");
    assert.match(tool.id, /^toolu_/);
    assert.deepEqual(Object.keys(tool.input as object), ["city"]);
  });

  await t.step("thinking arrives with its signature", async () => {
    const message = await anthropic.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 2048,
      thinking: { type: "enabled", budget_tokens: 1024 },
      messages: [{ role: "user", content: "think" }],
    }).finalMessage();
    const thinking = message.content[0];
    assert.equal(thinking.type, "thinking");
    assert.ok(thinking.type === "thinking" && thinking.signature.length > 0);
  });

  await t.step("unstreamed create, count_tokens and models", async () => {
    const message = await anthropic.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 64,
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(message.type, "message");
    const counted = await anthropic.messages.countTokens({
      model: "claude-sonnet-4-5",
      messages: [{ role: "user", content: "hi" }],
    });
    assert.ok(counted.input_tokens > 0);
    const models = await anthropic.models.list();
    assert.ok(models.data.length > 0);
  });
  await upstream.close();
});

Deno.test("the Anthropic SDK sees upstream and mid-stream errors with their real type and status", async (t) => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, tokens: [TOKEN] });
  const params = {
    model: "claude-sonnet-4-5",
    max_tokens: 64,
    messages: [{ role: "user" as const, content: "hi" }],
  };

  await t.step("529 overloaded before the stream", async () => {
    const anthropic = client(relay.url, { "x-relay-mock": "fault=overloaded" });
    await assert.rejects(
      () => anthropic.messages.stream(params).finalMessage(),
      (error: unknown) =>
        error instanceof Anthropic.APIError && error.status === 529 && /Overloaded/.test(error.message),
    );
  });

  await t.step("error event mid-stream", async () => {
    const anthropic = client(relay.url, { "x-relay-mock": "fault=mid_stream_error, fault_after=3" });
    await assert.rejects(
      () => anthropic.messages.stream(params).finalMessage(),
      (error: unknown) => error instanceof Anthropic.APIError && /overloaded_error/.test(error.message),
    );
  });

  await t.step("relay's own 401 for a wrong token, with relay's request id", async () => {
    const anthropic = new Anthropic({ baseURL: relay.url, apiKey: "rly_wrong_token_0000", maxRetries: 0 });
    await assert.rejects(
      () => anthropic.messages.create(params),
      (error: unknown) =>
        error instanceof Anthropic.AuthenticationError && /^relay_[0-9a-f]{32}$/.test(error.requestID ?? ""),
    );
  });

  await t.step("the upstream's request id is the one the SDK sees for its errors", async () => {
    const anthropic = client(relay.url, { "x-relay-mock": "fault=overloaded" });
    await assert.rejects(
      () => anthropic.messages.create(params),
      (error: unknown) => error instanceof Anthropic.APIError && /^req_mock_/.test(error.requestID ?? ""),
    );
  });
  await upstream.close();
});
