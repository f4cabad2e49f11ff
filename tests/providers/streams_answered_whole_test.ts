import assert from "node:assert/strict";
import { StreamsAnsweredWhole } from "../../src/providers/streams_answered_whole.ts";
import { providerRequest } from "../_helpers/provider_request.ts";

const ASK = (model: string) => JSON.stringify({ model, max_tokens: 8, stream: true, messages: [] });

/** How often `onSent` told each request's headers in. */
function toldFor(answeredWhole: StreamsAnsweredWhole, ...models: string[]): number[] {
  return models.map((model) => {
    let told = 0;
    answeredWhole.onSent(providerRequest(ASK(model), { onHeaders: () => told++ }));
    return told;
  });
}

Deno.test("StreamsAnsweredWhole tells a stream's headers in as it is sent only for a model it learnt", () => {
  const answeredWhole = new StreamsAnsweredWhole();
  assert.deepEqual(toldFor(answeredWhole, "glm-4.6"), [0], "nothing known yet: connect's wait");
  answeredWhole.learn(providerRequest(ASK("glm-4.6")));
  assert.deepEqual(toldFor(answeredWhole, "glm-4.6", "glm-4.5"), [1, 0]);
  let told = 0;
  answeredWhole.onSent(providerRequest(ASK("glm-4.6"), { stream: false, onHeaders: () => told++ }));
  answeredWhole.onSent(
    providerRequest(ASK("glm-4.6"), { upstreamModel: undefined, onHeaders: () => told++ }),
  );
  assert.equal(told, 0, "an unstreamed request, or one without a model, waits as it always did");
});

Deno.test("StreamsAnsweredWhole remembers at most its bound of models, forgetting the one learnt first", () => {
  const answeredWhole = new StreamsAnsweredWhole(2);
  for (const model of ["a", "b", "c"]) answeredWhole.learn(providerRequest(ASK(model)));
  assert.deepEqual(toldFor(answeredWhole, "a", "b", "c"), [0, 1, 1]);
});

Deno.test("StreamsAnsweredWhole forgets a model once told its stream was answered as a stream", () => {
  const answeredWhole = new StreamsAnsweredWhole();
  for (const model of ["glm-4.6", "glm-4.5"]) answeredWhole.learn(providerRequest(ASK(model)));
  answeredWhole.forget(providerRequest(ASK("glm-4.6")));
  assert.deepEqual(
    toldFor(answeredWhole, "glm-4.6", "glm-4.5"),
    [0, 1],
    "glm-4.6 is back under connect's wait",
  );
  answeredWhole.forget(providerRequest(ASK("glm-4.6"), { upstreamModel: undefined }));
  assert.deepEqual(toldFor(answeredWhole, "glm-4.5"), [1], "a request without a model forgets nothing");
});
