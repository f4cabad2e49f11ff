/**
 * relay with a Bedrock upstream, end to end over real HTTP: an Anthropic-format client, relay
 * in-process, and a fake Bedrock that verifies SigV4 and the body rules and answers with real
 * event-stream frames.
 */
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import type { AwsCredentials } from "../../src/providers/aws_credentials.ts";
import { createBedrockProvider } from "../../src/providers/bedrock.ts";
import type { UpstreamTimeouts } from "../../src/routing/router.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import {
  type BedrockCall,
  bedrockError,
  eventStreamResponse,
  exceptionFrame,
  type FakeBedrock,
  type FakeBedrockOptions,
  goldenFrames,
  sseEvents,
  startFakeBedrock,
} from "../_helpers/fake_bedrock.ts";
import { controlledStream, MESSAGE_ANSWER } from "../_helpers/fake_upstream.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { assertHeldToConnect, startTestRelay, type TestRelay } from "../_helpers/relay.ts";
import { assembleAnthropicStream } from "../_helpers/anthropic_grammar.ts";
import { loadGolden } from "../_helpers/golden.ts";

const REGION = "eu-west-1";
const CREDENTIALS: AwsCredentials = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  sessionToken: "IQoJb3JpZ2luX2VjEPT//////////session",
};
const API_KEY = "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl";
const MODELS = {
  "claude-sonnet-4-5": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
  "claude-profile": "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/p1a2b3",
};

interface Setup {
  bedrock: FakeBedrock;
  relay: TestRelay;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A fake Bedrock and relay in front of it; the provider signs with `signWith` or uses the API key, and
 * relay waits on it as `timeouts` say (the test defaults otherwise). `refusing` sets what the fake refuses.
 */
function setup(
  answer?: (call: BedrockCall) => Response | Promise<Response>,
  signWith: AwsCredentials | "api_key" = CREDENTIALS,
  timeouts?: Partial<UpstreamTimeouts>,
  refusing: Pick<FakeBedrockOptions, "acceptedBetas" | "countsOnlyBaseModels"> = {},
): Setup {
  const bedrock = startFakeBedrock({
    region: REGION,
    credentials: CREDENTIALS,
    apiKey: API_KEY,
    answer,
    ...refusing,
  });
  const provider = createBedrockProvider({
    name: "bedrock",
    region: REGION,
    baseUrl: bedrock.url,
    credentials: signWith,
  });
  const relay = startTestRelay({ provider, models: MODELS, keys: [API_KEY], timeouts });
  return {
    bedrock,
    relay,
    async [Symbol.asyncDispose]() {
      await relay[Symbol.asyncDispose]();
      await bedrock.close();
    },
  };
}

function post(
  relay: TestRelay,
  path: string,
  body: Record<string, unknown>,
  betas = "claude-code-20250219,oauth-2025-04-20",
) {
  return fetch(`${relay.url}${path}?beta=true`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "anthropic-beta": betas,
    },
    body: JSON.stringify(body),
  });
}

const ASK = { model: "claude-sonnet-4-5", max_tokens: 256, messages: [{ role: "user", content: "hi" }] };
const _decoder = new TextDecoder();

// deno-lint-ignore no-explicit-any
type _Json = any;

/** The `data` of the first event in a golden stream matching `predicate`, parsed. */
async function goldenEvent(
  name: "tool_use" | "thinking",
  predicate: (data: _Json) => boolean,
): Promise<_Json> {
  return sseEvents(await loadGolden(name)).map(({ data }) => JSON.parse(data)).find(predicate);
}

Deno.test("a streamed request reaches Bedrock signed and rewritten, and comes back as the golden SSE", async () => {
  await using env = setup();
  const response = await post(env.relay, "/v1/messages", { ...ASK, stream: true });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  assert.equal(response.headers.get("request-id"), "fake-bedrock-1");
  assert.equal(await response.text(), _decoder.decode(await loadGolden("text")));

  const [call] = env.bedrock.calls;
  assert.equal(call.operation, "invoke-with-response-stream");
  assert.equal(call.modelId, MODELS["claude-sonnet-4-5"]);
  assert.equal(
    call.recorded.path,
    "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream",
  );
  assert.deepEqual(JSON.parse(_decoder.decode(call.invokeBody)), {
    anthropic_version: "bedrock-2023-05-31",
    anthropic_beta: ["claude-code-20250219"],
    max_tokens: 256,
    messages: ASK.messages,
  });
  assert.equal(call.recorded.headers.get("anthropic-version"), null);
  assert.equal(call.recorded.headers.get("anthropic-beta"), null);
});

Deno.test("an application inference profile ARN travels with %2F and still verifies", async () => {
  await using env = setup();
  const response = await post(env.relay, "/v1/messages", { ...ASK, model: "claude-profile", stream: true });
  assert.equal(response.status, 200, await response.clone().text());
  await response.body?.cancel();
  assert.equal(
    env.bedrock.calls[0].recorded.path,
    "/model/arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile%2Fp1a2b3/invoke-with-response-stream",
  );
  assert.equal(env.bedrock.calls[0].modelId, MODELS["claude-profile"]);
});

Deno.test("tool use and thinking keep their ids and signatures through the stream", async () => {
  for (const name of ["tool_use", "thinking"] as const) {
    const frames = await goldenFrames(name);
    await using env = setup(() => eventStreamResponse(frames));
    const response = await post(env.relay, "/v1/messages", { ...ASK, stream: true });
    const { message } = assembleAnthropicStream(
      new SseDecoder().feed(new Uint8Array(await response.arrayBuffer())),
    );
    if (name === "tool_use") {
      const sent = await goldenEvent(name, (data) => data.content_block?.type === "tool_use");
      const tool = message.content.find((block: { type: string }) => block.type === "tool_use");
      assert.equal(tool.id, sent.content_block.id);
      assert.match(tool.id, /^toolu_/);
    } else {
      const sent = await goldenEvent(name, (data) => data.delta?.type === "signature_delta");
      assert.equal(message.content[0].signature, sent.delta.signature);
    }
  }
});

Deno.test("an unstreamed request returns Bedrock's Message as is", async () => {
  await using env = setup();
  const response = await post(env.relay, "/v1/messages", ASK);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.deepEqual(await response.json(), MESSAGE_ANSWER);
  assert.equal(env.bedrock.calls[0].operation, "invoke");
});

Deno.test("count_tokens goes through CountTokens and answers input_tokens", async () => {
  await using env = setup();
  const { max_tokens: _, ...counted } = ASK;
  const response = await post(env.relay, "/v1/messages/count_tokens", counted);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { input_tokens: 42 });
  const [call] = env.bedrock.calls;
  assert.equal(call.operation, "count-tokens");
  assert.deepEqual(JSON.parse(_decoder.decode(call.invokeBody)), {
    anthropic_version: "bedrock-2023-05-31",
    anthropic_beta: ["claude-code-20250219"],
    max_tokens: 1024,
    messages: ASK.messages,
  });
});

/** Counts `ASK`'s tokens twice through `relay`, each a 404 `not_found_error` whose message matches. */
async function assertCountRefusedTwice(relay: Parameters<typeof post>[0], message: RegExp): Promise<void> {
  const { max_tokens: _, ...counted } = ASK;
  for (let i = 0; i < 2; i++) {
    const response = await post(relay, "/v1/messages/count_tokens", counted);
    assert.equal(response.status, 404);
    const { error } = await response.json();
    assert.equal(error.type, "not_found_error");
    assert.match(error.message, message);
  }
}

Deno.test("count_tokens of a model Bedrock cannot count is a 404 not_found_error, so Claude Code counts otherwise", async () => {
  const refusal = "The provided model doesn't support counting tokens.";
  await using env = setup((call) =>
    call.operation === "count-tokens"
      ? bedrockError(400, "ValidationException", refusal)
      : Response.json(MESSAGE_ANSWER)
  );
  await assertCountRefusedTwice(
    env.relay,
    /cannot count tokens for model "eu\.anthropic\.claude-sonnet-4-5-20250929-v1:0"/,
  );
  assert.equal(env.bedrock.calls.length, 1, "the refusal is remembered");
  const response = await post(env.relay, "/v1/messages", ASK);
  assert.equal(response.status, 200, "the model still answers");
  await response.body?.cancel();
});

Deno.test("count_tokens of an inference profile CountTokens calls an invalid identifier is a 404, so Claude Code counts otherwise", async () => {
  await using env = setup(undefined, CREDENTIALS, undefined, { countsOnlyBaseModels: true });
  await assertCountRefusedTwice(env.relay, /model identifier is invalid/);
  assert.equal(env.bedrock.requests.length, 1, "the refusal is remembered");
  const response = await post(env.relay, "/v1/messages", ASK);
  assert.equal(response.status, 200, "InvokeModel takes the profile");
  await response.body?.cancel();
});

Deno.test("a beta flag Bedrock refuses costs one more round trip, once per model and set of betas; a [1m] model keeps its context beta", async () => {
  await using env = setup(undefined, CREDENTIALS, undefined, { acceptedBetas: ["context-1m-2025-08-07"] });
  const betas = (call: BedrockCall) => JSON.parse(_decoder.decode(call.invokeBody)).anthropic_beta;
  const streamed = await post(env.relay, "/v1/messages", { ...ASK, stream: true });
  assert.equal(streamed.status, 200);
  assert.equal(streamed.headers.get("content-type"), "text/event-stream");
  assert.deepEqual(new Uint8Array(await streamed.arrayBuffer()), await loadGolden("text"));
  assert.equal(env.bedrock.requests.length, 2, "refused once, then sent without the betas");
  assert.equal(betas(env.bedrock.calls[0]), undefined);

  const response = await post(env.relay, "/v1/messages", ASK);
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(env.bedrock.requests.length, 3, "the model is known to go without them");

  const wide = await post(env.relay, "/v1/messages", { ...ASK, model: "claude-sonnet-4-5[1m]" });
  assert.equal(wide.status, 200);
  await wide.body?.cancel();
  assert.equal(env.bedrock.requests.length, 4);
  assert.deepEqual(betas(env.bedrock.calls[2]), ["context-1m-2025-08-07"], "the window it asked for");
});

Deno.test("a stream's resend after a refused beta flag is still under connect: one that hangs times out in it", async () => {
  const clock = new FakeClock();
  const resent = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const bedrock = startFakeBedrock({
    region: REGION,
    credentials: CREDENTIALS,
    acceptedBetas: [],
    answer: async () => {
      resent.resolve();
      await release.promise;
      return bedrockError(500, "InternalServerException", "released");
    },
  });
  const provider = createBedrockProvider({
    name: "bedrock",
    region: REGION,
    baseUrl: bedrock.url,
    credentials: CREDENTIALS,
  });
  const timeouts = { connect: 10_000, firstByte: 600_000, idle: 60_000 };
  await using relay = startTestRelay({ provider, models: MODELS, keys: [], timeouts, clock });
  try {
    const answer = post(relay, "/v1/messages", { ...ASK, stream: true });
    await resent.promise;
    await assertHeldToConnect(clock, answer);
    assert.equal(bedrock.requests.length, 2);
  } finally {
    release.resolve();
    await bedrock.close();
  }
});

Deno.test("throttling before the stream starts is a 429 rate_limit_error, as HTTP or as a first frame", async () => {
  const answers = [
    () => bedrockError(429, "ThrottlingException", "Too many requests, please wait.", { "retry-after": "2" }),
    () => eventStreamResponse([exceptionFrame("throttlingException", "Too many requests, please wait.")]),
  ];
  for (const answer of answers) {
    await using env = setup(answer);
    const response = await post(env.relay, "/v1/messages", { ...ASK, stream: true });
    assert.equal(response.status, 429);
    const body = await response.json();
    assert.deepEqual(body.error, { type: "rate_limit_error", message: "Too many requests, please wait." });
    assert.equal(body.request_id, response.headers.get("request-id"));
  }
});

Deno.test("an error answer goes on with its status at once, its body following as Bedrock sends it, streamed or not", async () => {
  for (const stream of [false, true]) {
    const body = controlledStream();
    const answer = () =>
      body.response({
        status: 400,
        headers: { "content-type": "application/json", "x-amzn-errortype": "ValidationException" },
      });
    // Were the body read before answering, relay would wait on it for first_byte, then answer 504. A
    // 400 to a request with betas Bedrock could go without is read so far, for a refusal of one: none here.
    await using env = setup(answer, CREDENTIALS, { firstByte: 5_000 });
    body.push('{"message":"Input is too long');
    const response = await post(env.relay, "/v1/messages", { ...ASK, stream }, "oauth-2025-04-20");
    assert.equal(response.status, 400, `stream: ${stream}`);
    body.push(' for requested model."}');
    body.end();
    assert.deepEqual((await response.json()).error, {
      type: "invalid_request_error",
      message: "prompt is too long: Input is too long for requested model.",
    });
  }
});

Deno.test("an exception mid-stream ends the stream with event: error", async () => {
  const frames = (await goldenFrames("text")).slice(0, 4);
  await using env = setup(() =>
    eventStreamResponse([...frames, exceptionFrame("modelStreamErrorException", "The model stream broke.")])
  );
  const response = await post(env.relay, "/v1/messages", { ...ASK, stream: true });
  assert.equal(response.status, 200);
  const events = new SseDecoder().feed(new Uint8Array(await response.arrayBuffer()));
  const { error } = assembleAnthropicStream(events);
  assert.deepEqual(error, { type: "api_error", message: "The model stream broke." });
  assert.equal(events.length, 5);
});

Deno.test("a wrong secret is refused by the fake's SigV4 check (a 403) and reaches the client as a 401", async () => {
  await using env = setup(undefined, { ...CREDENTIALS, secretAccessKey: "not-the-secret" });
  const response = await post(env.relay, "/v1/messages", { ...ASK, stream: true });
  assert.equal(response.status, 401);
  const { error } = await response.json();
  assert.equal(error.type, "authentication_error");
  assert.match(error.message, /^The request signature we calculated does not match/);
  assert.equal(env.bedrock.calls.length, 0);
});

Deno.test("api_key mode authenticates with the Bedrock API key and no signature", async () => {
  await using env = setup(undefined, "api_key");
  const response = await post(env.relay, "/v1/messages", { ...ASK, stream: true });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), _decoder.decode(await loadGolden("text")));
  const { headers } = env.bedrock.calls[0].recorded;
  assert.equal(headers.get("authorization"), `Bearer ${API_KEY}`);
  assert.equal(headers.get("x-amz-date"), null);
});

Deno.test("the Anthropic SDK gets tool ids and thinking signatures byte-equal to what Bedrock sent", async (t) => {
  const client = (relay: TestRelay) => new Anthropic({ baseURL: relay.url, apiKey: "unused", maxRetries: 0 });

  await t.step("streaming tool use", async () => {
    const frames = await goldenFrames("tool_use");
    await using env = setup(() => eventStreamResponse(frames));
    const message = await client(env.relay).beta.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 256,
      tools: [{ name: "get_weather", input_schema: { type: "object", properties: {} } }],
      messages: [{ role: "user", content: "weather?" }],
    }).finalMessage();
    const sent = await goldenEvent("tool_use", (data) => data.content_block?.type === "tool_use");
    const tool = message.content.find((block) => block.type === "tool_use");
    assert.ok(tool?.type === "tool_use");
    assert.equal(tool.id, sent.content_block.id);
  });

  await t.step("thinking", async () => {
    const frames = await goldenFrames("thinking");
    await using env = setup(() => eventStreamResponse(frames));
    const message = await client(env.relay).messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 2048,
      thinking: { type: "enabled", budget_tokens: 1024 },
      messages: [{ role: "user", content: "27 * 453?" }],
    }).finalMessage();
    const sent = await goldenEvent("thinking", (data) => data.delta?.type === "signature_delta");
    const [thinking] = message.content;
    assert.ok(thinking.type === "thinking");
    assert.equal(thinking.signature, sent.delta.signature);
  });

  await t.step("a throttled stream is a RateLimitError", async () => {
    await using env = setup(() => eventStreamResponse([exceptionFrame("throttlingException", "Slow down")]));
    await assert.rejects(
      client(env.relay).messages.stream({ ...ASK, messages: [{ role: "user", content: "hi" }] })
        .finalMessage(),
      (error: unknown) => error instanceof Anthropic.RateLimitError && error.status === 429,
    );
  });
});
