/**
 * What relay's OpenAI front doors (`/v1/chat/completions`, `/v1/responses`) answer when an
 * OpenAI-compatible upstream refuses: the error a client connected to the upstream would have had, though
 * it crossed relay's own `/v1/messages` in Anthropic's envelope, which an Anthropic client still gets.
 */
import OpenAI from "openai";
import assert from "node:assert/strict";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { maskSecret } from "../../src/util/mask.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../_helpers/fake_openai.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { startOpenAIRelay } from "../_helpers/openai_relay.ts";
import { anthropicRoute, startTestRelay, TEST_TIMEOUTS, type TestRelay } from "../_helpers/relay.ts";

const MODEL = "claude-sonnet-4-5";

/** OpenAI's own refusals, with the Anthropic error type relay's Anthropic door gives each. */
const REFUSALS: { status: number; error: Record<string, string | null>; anthropicType: string }[] = [
  {
    status: 400,
    error: {
      message: "Invalid value for 'temperature': expected a decimal at most 2, but got 3 instead.",
      type: "invalid_request_error",
      param: "temperature",
      code: "invalid_value",
    },
    anthropicType: "invalid_request_error",
  },
  {
    status: 404,
    error: {
      message: "The model `gpt-nope` does not exist or you do not have access to it.",
      type: "invalid_request_error",
      param: null,
      code: "model_not_found",
    },
    anthropicType: "not_found_error",
  },
  {
    status: 429,
    error: {
      message:
        "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000.",
      type: "tokens",
      param: null,
      code: "rate_limit_exceeded",
    },
    anthropicType: "rate_limit_error",
  },
  {
    status: 429,
    error: {
      message: "You exceeded your current quota, please check your plan and billing details.",
      type: "insufficient_quota",
      param: null,
      code: "insufficient_quota",
    },
    anthropicType: "rate_limit_error",
  },
  {
    status: 500,
    error: {
      message: "The server had an error while processing your request. Sorry about that!",
      type: "server_error",
      param: null,
      code: null,
    },
    anthropicType: "api_error",
  },
];

/** Each door's smallest request, for `model`. */
const REQUESTS: Record<string, (stream: boolean) => object> = {
  "/v1/chat/completions": (stream) => ({ model: MODEL, messages: [{ role: "user", content: "hi" }], stream }),
  "/v1/responses": (stream) => ({ model: MODEL, input: "hi", stream }),
  "/v1/messages": (stream) => ({
    model: MODEL,
    max_tokens: 64,
    messages: [{ role: "user", content: "hi" }],
    stream,
  }),
};

function post(relay: TestRelay, path: string, body: object): Promise<Response> {
  return fetch(`${relay.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
  });
}

/** A relay whose only upstream answers every request with `refusal`; a fresh one, since a 429 takes its key out. */
function refusingRelay({ status, error }: (typeof REFUSALS)[number]) {
  return startOpenAIRelay(() => Response.json({ error }, { status }), "gpt-fake-1");
}

Deno.test("an OpenAI-compatible upstream's refusal reaches an OpenAI client as the upstream gave it, streamed or not", async () => {
  for (const refusal of REFUSALS) {
    for (const path of ["/v1/chat/completions", "/v1/responses"]) {
      for (const stream of [false, true]) {
        await using setup = refusingRelay(refusal);
        const response = await post(setup.relay, path, REQUESTS[path](stream));
        const what = `${path}, stream: ${stream}, ${refusal.error.code ?? refusal.error.type}`;
        assert.equal(response.status, refusal.status, what);
        assert.deepEqual(await response.json(), { error: refusal.error }, what);
      }
    }
  }
});

Deno.test("the OpenAI SDK reads the upstream's code and param off relay's answer", async () => {
  const [invalidValue] = REFUSALS;
  await using setup = refusingRelay(invalidValue);
  const openai = new OpenAI({ baseURL: `${setup.relay.url}/v1`, apiKey: "any", maxRetries: 0 });
  const refused = await openai.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "hi" }],
    temperature: 3,
  }).catch((error) => error);
  assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
  assert.deepEqual(
    [refused.status, refused.type, refused.param, refused.code],
    [400, "invalid_request_error", "temperature", "invalid_value"],
  );
});

Deno.test("a context overflow keeps the upstream's param and code, its message worded as relay words it", async () => {
  const message =
    "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.";
  const overflow = {
    status: 400,
    error: { message, type: "invalid_request_error", param: "messages", code: "context_length_exceeded" },
    anthropicType: "invalid_request_error",
  };
  await using setup = refusingRelay(overflow);
  const response = await post(setup.relay, "/v1/chat/completions", REQUESTS["/v1/chat/completions"](false));
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), {
    error: { ...overflow.error, message: `prompt is too long: ${message}` },
  });
});

Deno.test("the Anthropic door gets the same refusals in Anthropic's envelope, the upstream's words and nothing more", async () => {
  for (const refusal of REFUSALS) {
    for (const stream of [false, true]) {
      await using setup = refusingRelay(refusal);
      const response = await post(setup.relay, "/v1/messages", REQUESTS["/v1/messages"](stream));
      assert.equal(response.status, refusal.status);
      assert.deepEqual(await response.json(), {
        type: "error",
        error: { type: refusal.anthropicType, message: refusal.error.message },
      });
    }
  }
});

Deno.test("relay's own error after an upstream's refusal is relay's, without the upstream's fields", async () => {
  const quota = REFUSALS.find(({ error }) => error.code === "insufficient_quota")!;
  await using setup = refusingRelay(quota);
  const request = REQUESTS["/v1/chat/completions"](false);
  assert.deepEqual(
    (await (await post(setup.relay, "/v1/chat/completions", request)).json()).error,
    quota.error,
  );
  // The key is out now: relay answers for itself.
  const response = await post(setup.relay, "/v1/chat/completions", request);
  assert.equal(response.status, 402);
  const { error } = await response.json();
  assert.deepEqual([error.type, error.param, error.code], ["billing_error", null, null]);
  assert.match(error.message, /^no upstream can take the request: /);
});

Deno.test("an error from the provider failed over to has none of the fields of the upstream failed over from", async () => {
  const rateLimit = REFUSALS.find(({ error }) => error.code === "rate_limit_exceeded")!;
  const limited = startFakeOpenAI(() => Response.json({ error: rateLimit.error }, { status: 429 }));
  const overloaded = startFakeUpstream(() =>
    Response.json({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, {
      status: 529,
    })
  );
  const limitedRoute = {
    provider: createOpenAIProvider({ name: "limited", baseUrl: `${limited.url}/v1` }),
    keys: [{ secret: FAKE_OPENAI_KEY, label: "sk-proj-...x9q1" }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap({ "claude-*": "gpt-fake-1" }),
  };
  await using relay = startTestRelay({
    routes: [limitedRoute, anthropicRoute("overloaded", overloaded.url)],
    retry: { maxAttempts: 2 },
  });
  const response = await post(relay, "/v1/chat/completions", REQUESTS["/v1/chat/completions"](false));
  assert.equal(limited.requests.length, 1, "the OpenAI-compatible upstream refused first");
  assert.equal(response.status, 529);
  assert.deepEqual(await response.json(), {
    error: { message: "Overloaded", type: "overloaded_error", param: null, code: null },
  });
  await limited.close();
  await overloaded.close();
});

Deno.test("relay's key, whatever its shape, is masked in the fields as in the message", async () => {
  const key = "vllm-local-token-12345";
  const upstream = startFakeOpenAI(() =>
    Response.json({
      error: { message: `no access for ${key}`, type: "invalid_request_error", param: key, code: key },
    }, { status: 404 })
  );
  await using relay = startTestRelay({
    routes: [{
      provider: createOpenAIProvider({ name: "local", baseUrl: `${upstream.url}/v1` }),
      keys: [{ secret: key, label: maskSecret(key) }],
      timeouts: TEST_TIMEOUTS,
      models: new ModelMap({ "claude-*": "gpt-fake-1" }),
    }],
  });
  const response = await post(relay, "/v1/chat/completions", REQUESTS["/v1/chat/completions"](false));
  assert.deepEqual(await response.json(), {
    error: {
      message: `no access for ${maskSecret(key)}`,
      type: "invalid_request_error",
      param: maskSecret(key),
      code: maskSecret(key),
    },
  });
  await upstream.close();
});
