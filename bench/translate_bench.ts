import { chatRequestFor } from "../src/stream/anthropic_to_openai_request.ts";
import { AnthropicToOpenAI, encodeOpenAISse } from "../src/stream/anthropic_to_openai.ts";
import { anthropicTranslatedSse } from "../src/stream/anthropic_translated_sse.ts";
import { OpenAIToAnthropic, openaiToAnthropicSse } from "../src/stream/openai_to_anthropic.ts";
import { SseDecoder } from "../src/stream/sse_decode.ts";
import { claudeCodeBody, drain, mockStreamChunks, openaiStreamChunks, STREAM_EVENTS } from "./_fixtures.ts";

const anthropic = await mockStreamChunks();
const openai = openaiStreamChunks(STREAM_EVENTS);
const body = claudeCodeBody(400 * 1024);
const kib = Math.round(body.byteLength / 1024);

// Each translation parses its input first, so the baseline is that parse alone.
function _decodeAll(chunks: Uint8Array[]) {
  const decoder = new SseDecoder();
  for (const chunk of chunks) decoder.feed(chunk);
}

Deno.bench({
  name: `SseDecoder only, ${openai.length} OpenAI chunks`,
  group: "translate openai to anthropic",
  baseline: true,
  fn: () => _decodeAll(openai),
});

Deno.bench({
  name: `openaiToAnthropicSse, ${openai.length} OpenAI chunks`,
  group: "translate openai to anthropic",
  async fn() {
    const translator = new OpenAIToAnthropic({
      messageId: "msg_bench",
      model: "gpt-4.1",
      thinking: false,
      newToolId: () => "toolu_bench",
    });
    await drain(openaiToAnthropicSse(ReadableStream.from(openai), translator));
  },
});

Deno.bench({
  name: `SseDecoder only, ${STREAM_EVENTS} Anthropic events`,
  group: "translate anthropic to openai",
  baseline: true,
  fn: () => _decodeAll(anthropic),
});

Deno.bench({
  name: `anthropicTranslatedSse to OpenAI, ${STREAM_EVENTS} Anthropic events`,
  group: "translate anthropic to openai",
  async fn() {
    const translator = new AnthropicToOpenAI({ created: 1767225600, includeUsage: true });
    await drain(anthropicTranslatedSse(ReadableStream.from(anthropic), translator, encodeOpenAISse));
  },
});

Deno.bench({
  name: `TextDecoder + JSON.parse, ${kib} KiB`,
  group: "translate request to openai",
  baseline: true,
  fn: () => void JSON.parse(new TextDecoder().decode(body)),
});

Deno.bench({
  name: `+ chatRequestFor + JSON.stringify, ${kib} KiB`,
  group: "translate request to openai",
  fn() {
    const parsed = JSON.parse(new TextDecoder().decode(body));
    JSON.stringify(chatRequestFor(parsed, {
      model: "gpt-4.1",
      maxTokensField: "max_completion_tokens",
      reasoningContent: false,
    }));
  },
});
