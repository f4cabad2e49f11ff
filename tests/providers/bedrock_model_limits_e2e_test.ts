/**
 * relay with a Bedrock upstream on a Bedrock API key, end to end: Bedrock's quotas and model readiness
 * are per model, so one model's 429 keeps the key from that model only, and the others are still served.
 */
import assert from "node:assert/strict";
import { createBedrockProvider } from "../../src/providers/bedrock.ts";
import {
  bedrockError,
  eventStreamResponse,
  exceptionFrame,
  goldenFrames,
  startFakeBedrock,
} from "../_helpers/fake_bedrock.ts";
import { GUESSED_MODEL_COOLING_MS } from "../../src/routing/router.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { postStream, startTestRelay } from "../_helpers/relay.ts";

const REGION = "us-east-1";
const API_KEY = "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl";
const MODELS = {
  "claude-busy": "us.anthropic.claude-busy-v1:0",
  "claude-fine": "us.anthropic.claude-fine-v1:0",
};

const LIMITED = {
  "a 429 ModelNotReadyException": () => bedrockError(429, "ModelNotReadyException", "Model is not ready."),
  "a ThrottlingException as the first frame": () =>
    eventStreamResponse([exceptionFrame("throttlingException", "Too many requests, please wait.")]),
};

for (const [how, limited] of Object.entries(LIMITED)) {
  Deno.test(`one model's rate limit (${how}) leaves the Bedrock API key serving the others`, async () => {
    const clock = new FakeClock(1_000_000);
    let busy = true;
    const bedrock = startFakeBedrock({
      region: REGION,
      apiKey: API_KEY,
      answer: async (call) =>
        busy && call.modelId === MODELS["claude-busy"]
          ? limited()
          : eventStreamResponse(await goldenFrames("text")),
    });
    const provider = createBedrockProvider({
      name: "bedrock",
      region: REGION,
      baseUrl: bedrock.url,
      credentials: "api_key",
    });
    await using relay = startTestRelay({ provider, models: MODELS, keys: [API_KEY], clock });
    try {
      const first = await postStream(relay, "claude-busy");
      assert.equal(first.status, 429);
      assert.equal((await first.json()).error.type, "rate_limit_error");

      const other = await postStream(relay, "claude-fine");
      assert.equal(other.status, 200, "another model is still served on the same key");
      await other.body?.cancel();

      // Bedrock's 429 names no time: the model rests a moment (GUESSED_MODEL_COOLING_MS), not a minute.
      clock.advance(GUESSED_MODEL_COOLING_MS - 500);
      const again = await postStream(relay, "claude-busy");
      assert.equal(again.status, 429);
      assert.equal(again.headers.get("retry-after"), "1", "the rest of its moment");
      const { error } = await again.json();
      assert.equal(error.type, "rate_limit_error");
      assert.match(error.message, /claude-busy.* at its rate limit/);
      assert.deepEqual(
        bedrock.calls.map((call) => call.modelId),
        [MODELS["claude-busy"], MODELS["claude-fine"]],
        "the cooling model is not asked again meanwhile",
      );

      busy = false;
      clock.advance(500);
      const later = await postStream(relay, "claude-busy");
      assert.equal(later.status, 200, "asked again once the moment is over");
      await later.body?.cancel();
    } finally {
      await bedrock.close();
    }
  });
}
