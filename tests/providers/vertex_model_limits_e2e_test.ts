/**
 * relay with a Vertex upstream on its service account (no keys), end to end: Vertex's quotas are per
 * model and region, so one model's 429 keeps the provider from that model only, and the others are
 * still served.
 */
import assert from "node:assert/strict";
import { sseChunks } from "../_helpers/fake_upstream.ts";
import { GUESSED_MODEL_COOLING_MS } from "../../src/routing/router.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { loadGolden } from "../_helpers/golden.ts";
import { postStream } from "../_helpers/relay.ts";
import { startVertexChain } from "../_helpers/vertex.ts";

const MODELS = { "claude-busy": "claude-busy@20250929", "claude-fine": "claude-fine@20250929" };

Deno.test("one model's 429 keeps a Vertex provider without keys from that model only, for a moment", async () => {
  const clock = new FakeClock(1_000_000);
  let busy = true;
  const asked: string[] = [];
  await using chain = await startVertexChain(async (recorded) => {
    const model = Object.values(MODELS).find((id) => recorded.path.includes(`/models/${id}:`))!;
    asked.push(model);
    if (busy && model === MODELS["claude-busy"]) {
      const error = {
        code: 429,
        message: "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model",
        status: "RESOURCE_EXHAUSTED",
      };
      return Response.json({ error }, { status: 429 });
    }
    return sseChunks([await loadGolden("text")]);
  }, { relay: { models: MODELS, keys: [], clock } });
  const { relay } = chain;

  const first = await postStream(relay, "claude-busy");
  assert.equal(first.status, 429);
  await first.body?.cancel();
  const other = await postStream(relay, "claude-fine");
  assert.equal(other.status, 200, "another model is still served");
  await other.body?.cancel();

  // Vertex's 429 names no time: the model rests a moment (GUESSED_MODEL_COOLING_MS), not a minute.
  clock.advance(GUESSED_MODEL_COOLING_MS - 1_000);
  const again = await postStream(relay, "claude-busy");
  assert.equal(again.status, 429);
  assert.equal(again.headers.get("retry-after"), "1");
  const { error } = await again.json();
  assert.equal(error.type, "rate_limit_error");
  assert.match(error.message, /claude-busy.* at its rate limit/);
  assert.deepEqual(asked, [MODELS["claude-busy"], MODELS["claude-fine"]], "not asked again meanwhile");

  busy = false;
  clock.advance(1_000);
  const later = await postStream(relay, "claude-busy");
  assert.equal(later.status, 200, "asked again once the moment is over");
  await later.body?.cancel();
});

Deno.test("a throttle that names no time costs the request a moment's wait, then it is served", async () => {
  const clock = new FakeClock(1_000_000);
  let throttled = 0;
  await using chain = await startVertexChain(async () => {
    if (throttled++ === 0) {
      return Response.json(
        { error: { code: 429, message: "Quota exceeded", status: "RESOURCE_EXHAUSTED" } },
        {
          status: 429,
        },
      );
    }
    return sseChunks([await loadGolden("text")]);
  }, { relay: { models: MODELS, keys: [], clock, retry: { maxAttempts: 3, maxWaitMs: 30_000 } } });

  const answer = postStream(chain.relay, "claude-busy");
  // Not the minute a key's 429 without a time would rest: Claude Code's request waits a moment, no more.
  await clock.whenArmed(GUESSED_MODEL_COOLING_MS);
  clock.advance(GUESSED_MODEL_COOLING_MS);
  const response = await answer;
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(throttled, 2);
  const failed = await chain.relay.logged("attempt failed");
  assert.equal(failed.next, "retry_next_provider", "a provider without keys has no next key");
  assert.equal(failed.reason, "429 from upstream");
});
