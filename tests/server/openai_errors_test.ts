/** `src/server/openai_errors.ts`: errors between OpenAI's shape and Anthropic's, both ways. */
import { anthropicErrorOf } from "../../src/server/errors.ts";
import assert from "node:assert/strict";
import { maskSecret } from "../../src/util/mask.ts";
import {
  anthropicErrorFromOpenAI,
  anthropicErrorIn,
  anthropicFailureFor,
  openaiErrorResponse,
  UpstreamErrorFields,
} from "../../src/server/openai_errors.ts";
import { largeBody } from "../_helpers/large_body.ts";
import { CLAUDE_CODE_CONTEXT_LIMIT, CLAUDE_CODE_OUTPUT_CAP } from "../_helpers/claude_code_wording.ts";

Deno.test("the error shapes compatibles use are all read, keeping their text", () => {
  const cases: [unknown, number | undefined, unknown][] = [
    // OpenAI
    [
      { error: { message: "Incorrect API key", type: "invalid_request_error", code: "invalid_api_key" } },
      401,
      {
        status: 401,
        type: "authentication_error",
        message: "Incorrect API key",
      },
    ],
    // vLLM: the fields at the top level
    [{ object: "error", message: "bad", type: "BadRequestError", code: 400 }, 400, {
      status: 400,
      type: "invalid_request_error",
      message: "bad",
    }],
    // OpenRouter inside a stream: the HTTP status as a numeric code
    [{ error: { message: "Provider returned error", code: 502 } }, undefined, {
      status: 502,
      type: "api_error",
      message: "Provider returned error",
    }],
    // a bare string, and FastAPI's detail
    [{ error: "model not found" }, 404, { status: 404, type: "not_found_error", message: "model not found" }],
    [{ detail: "Not Found" }, 404, { status: 404, type: "not_found_error", message: "Not Found" }],
    // only a type to go by, inside a stream
    [{ error: { message: "slow down", type: "rate_limit_exceeded" } }, undefined, {
      status: 429,
      type: "rate_limit_error",
      message: "slow down",
    }],
    [{ error: { message: "busy", type: "overloaded" } }, undefined, {
      status: 529,
      type: "overloaded_error",
      message: "busy",
    }],
    [{ error: { code: 500 } }, 500, undefined],
    ["<html>", 502, undefined],
  ];
  for (const [body, status, expected] of cases) {
    assert.deepEqual(anthropicFailureFor(body, status), expected, JSON.stringify(body));
  }
});

Deno.test("a context overflow, however worded, reads 'prompt is too long' with the original text kept", () => {
  const overflows = [
    {
      error: {
        message: "This model's maximum context length is 128000 tokens.",
        code: "context_length_exceeded",
      },
    },
    {
      error: {
        message: "the request exceeds the available context size, try increasing it",
        type: "exceed_context_size_error",
      },
    },
    {
      message: "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens",
      code: 400,
    },
  ];
  for (const body of overflows) {
    const failure = anthropicFailureFor(body, 400)!;
    assert.match(failure.message, /^prompt is too long: /, JSON.stringify(body));
    assert.equal(failure.type, "invalid_request_error");
  }
});

/** Refusals of a `max_tokens` of 32000 over a model's output cap, as each server words them, and the cap. */
const OUTPUT_CAPS: [string, unknown, number][] = [
  [
    "OpenAI, Azure, Groq",
    {
      error: {
        message:
          "max_tokens is too large: 32000. This model supports at most 16384 completion tokens, whereas you provided 32000.",
        type: "invalid_request_error",
        param: "max_tokens",
        code: null,
      },
    },
    16384,
  ],
  [
    "OpenAI, max_completion_tokens, with a line break",
    {
      error: {
        message:
          "max_completion_tokens is too large: 32000. This model supports at most 8192 completion tokens, whereas you provided 32000.\nSee the docs.",
        type: "invalid_request_error",
      },
    },
    8192,
  ],
  [
    "DeepSeek, which names only its range",
    {
      error: {
        message: "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]",
        type: "invalid_request_error",
        param: null,
        code: "invalid_request_error",
      },
    },
    8192,
  ],
  [
    "Groq, Z.AI, which name only the cap",
    {
      error: {
        message:
          "`max_tokens` must be less than or equal to `8192`, the maximum value for `max_tokens` is less than the `context_window` for this model",
        type: "invalid_request_error",
      },
    },
    8192,
  ],
];

/** Refusals of input + `max_tokens` over the model's window, and the input, output and window Claude Code must read. */
const CONTEXT_LIMITS: [string, unknown, [number, number, number]][] = [
  [
    "vLLM",
    {
      object: "error",
      message:
        "'max_tokens' or 'max_completion_tokens' is too large: 32000. This model's maximum context length is 32768 tokens and your request has 12396 input tokens (32000 > 32768 - 12396). None",
      type: "BadRequestError",
      param: null,
      code: 400,
    },
    [12396, 32000, 32768],
  ],
  [
    "later vLLM",
    {
      error: {
        message:
          "This model's maximum context length is 262144 tokens. However, you requested 128000 output tokens and your prompt contains at least 134145 input tokens, for a total of at least 262145 tokens. Please reduce the length of the input prompt or the number of requested output tokens. (parameter=input_tokens, value=134145)",
        type: "BadRequestError",
        param: "input_tokens",
        code: 400,
      },
    },
    [134145, 128000, 262144],
  ],
  [
    "OpenAI classic, older vLLM",
    {
      error: {
        message:
          "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (1000 in the messages, 8000 in the completion). Please reduce the length of the messages or completion.",
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded",
      },
    },
    [1000, 8000, 8192],
  ],
  [
    "OpenRouter, tool input counted apart",
    {
      error: {
        message:
          'This endpoint\'s maximum context length is 131072 tokens. However, you requested about 140000 tokens (6000 of text input, 2000 of tool input, 132000 in the output). Please reduce the length of either one, or use the "middle-out" transform to compress your prompt automatically.',
        code: 400,
      },
    },
    [8000, 132000, 131072],
  ],
  [
    "TGI (Hugging Face, Together)",
    {
      error:
        "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 32769. Given: 12000 `inputs` tokens and 32000 `max_new_tokens`",
      error_type: "validation",
    },
    [12000, 32000, 32769],
  ],
];

/** The upstream's message in a body of {@linkcode OUTPUT_CAPS} or {@linkcode CONTEXT_LIMITS}. */
function upstreamSaid(body: unknown): string {
  const { error, message } = body as { error?: string | { message: string }; message?: string };
  const said = typeof error === "string" ? error : error?.message ?? message!;
  return said.replace("\n", " ");
}

Deno.test("an output cap, however worded, reads as Anthropic's, which Claude Code lowers max_tokens on", () => {
  for (const [server, body, cap] of OUTPUT_CAPS) {
    const failure = anthropicFailureFor(body, 400, { maxTokens: 32000 })!;
    assert.equal(failure.status, 400, server);
    assert.equal(failure.type, "invalid_request_error", server);
    assert.equal(
      CLAUDE_CODE_OUTPUT_CAP.exec(failure.message)?.[1],
      String(cap),
      `${server}: ${failure.message}`,
    );
    assert.match(failure.message, /^max_tokens: 32000 > /, server);
    assert.ok(failure.message.includes(upstreamSaid(body)), `${server}: ${failure.message}`);
  }
});

Deno.test("input and max_tokens over the window read as Anthropic's, which Claude Code lowers max_tokens on", () => {
  for (const [server, body, numbers] of CONTEXT_LIMITS) {
    const failure = anthropicFailureFor(body, 400)!;
    assert.equal(failure.type, "invalid_request_error", server);
    const read = CLAUDE_CODE_CONTEXT_LIMIT.exec(failure.message);
    assert.deepEqual(read?.slice(1).map(Number), numbers, `${server}: ${failure.message}`);
    assert.doesNotMatch(failure.message, /prompt is too long/, server);
    assert.ok(failure.message.includes(upstreamSaid(body)), `${server}: ${failure.message}`);
  }
});

Deno.test("a cap named without the value refused is reworded only when relay says what it asked", () => {
  const deepseek = OUTPUT_CAPS[2][1];
  const said = "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]";
  assert.equal(anthropicFailureFor(deepseek, 400)!.message, said);
  assert.equal(anthropicFailureFor(deepseek, 400, { maxTokens: 4096 })!.message, said);
  assert.match(anthropicFailureFor(deepseek, 400, { maxTokens: 9000 })!.message, CLAUDE_CODE_OUTPUT_CAP);
});

Deno.test("a prompt that alone overflows the window still reads 'prompt is too long', whatever max_tokens", () => {
  const overflows = [
    "This model's maximum context length is 8192 tokens. However, you requested 12000 tokens (11000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.",
    "This model's maximum context length is 40960 tokens. However, you requested 0 output tokens and your prompt contains at least 40961 input tokens, for a total of at least 40961 tokens.",
    "This endpoint's maximum context length is 16384 tokens. However, you requested about 94307 tokens (94307 of text input). Please reduce the length of either one",
    "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8192. Given: 9000 `inputs` tokens and 100 `max_new_tokens`",
    "This model's maximum context length is 32768 tokens. However, your request has 40000 input tokens. Please reduce the length of the input messages.",
  ];
  for (const message of overflows) {
    const failure = anthropicFailureFor({ error: { message } }, 400, { maxTokens: 32000 })!;
    assert.equal(failure.message, `prompt is too long: ${message}`);
  }
});

Deno.test("an output limit inside a stream, known by its code alone, is reworded too", () => {
  const [, vllm, numbers] = CONTEXT_LIMITS[0];
  const failure = anthropicFailureFor({ error: vllm })!;
  assert.equal(failure.status, 400);
  assert.deepEqual(CLAUDE_CODE_CONTEXT_LIMIT.exec(failure.message)?.slice(1).map(Number), numbers);
});

Deno.test("an output cap from anthropicErrorFromOpenAI reads as Anthropic's, with the value relay asked", async () => {
  const deepseek = Response.json(OUTPUT_CAPS[2][1], { status: 400 });
  const answer = anthropicErrorFromOpenAI(deepseek, undefined, { maxTokens: 32000 });
  assert.equal(answer.status, 400);
  const { error } = await answer.json();
  assert.equal(error.type, "invalid_request_error");
  assert.equal(CLAUDE_CODE_OUTPUT_CAP.exec(error.message)?.[1], "8192", error.message);
});

Deno.test("anthropicErrorFromOpenAI falls back to the body text, then to the status", async () => {
  const exploded = anthropicErrorFromOpenAI(new Response("upstream exploded", { status: 500 }));
  assert.equal(exploded.status, 500);
  assert.deepEqual(await exploded.json(), {
    type: "error",
    error: { type: "api_error", message: "upstream exploded" },
  });
  const bare = anthropicErrorFromOpenAI(new Response(null, { status: 503 }));
  assert.equal(bare.status, 503);
  assert.deepEqual(await bare.json(), {
    type: "error",
    error: { type: "api_error", message: "upstream answered HTTP 503 without a message" },
  });
});

Deno.test("anthropicErrorFromOpenAI tells the upstream's other fields to the exchange it runs in, and only to it", async () => {
  const refusal = (body: object) => Response.json(body, { status: 400 });
  const openai = {
    message: "bad temperature",
    type: "invalid_request_error",
    param: "temperature",
    code: "x",
  };
  const upstreamErrors = new UpstreamErrorFields();
  const { error } = await upstreamErrors.during(() =>
    anthropicErrorFromOpenAI(refusal({ error: openai })).json()
  );
  assert.deepEqual(upstreamErrors.of(error.message), {
    type: "invalid_request_error",
    param: "temperature",
    code: "x",
  });
  // Another error's message (relay's own, another upstream's) has none.
  assert.equal(upstreamErrors.of("every key is at its rate limit"), undefined);

  // vLLM's fields at the top level; a numeric code is the HTTP status again, not OpenAI's kind of code.
  const vllm = { object: "error", message: "too long", type: "BadRequestError", param: null, code: 400 };
  await upstreamErrors.during(() => anthropicErrorFromOpenAI(refusal(vllm)).text());
  assert.deepEqual(upstreamErrors.of("too long"), { type: "BadRequestError" });

  // What relay's masks would have hidden in the body, hidden here too.
  const keyed = {
    error: { message: "bad key", type: "invalid_request_error", code: "sk-proj-abcdefghijklmnopqrstuvwx7f2" },
  };
  await upstreamErrors.during(() => anthropicErrorFromOpenAI(refusal(keyed)).text());
  assert.equal(upstreamErrors.of("bad key")?.code, "sk-proj-...x7f2");
  // The key relay sent, whatever its shape (a local server's token), as relay's masks hide it in a body.
  const token = "vllm-local-token-12345";
  const echoed = { error: { message: "no such token", type: "invalid_request_error", param: token } };
  await upstreamErrors.during(() =>
    anthropicErrorFromOpenAI(refusal(echoed), {}, {}, [{ secret: token }]).text()
  );
  assert.equal(upstreamErrors.of("no such token")?.param, maskSecret(token));

  // Outside an exchange (relay's Anthropic door), nothing is told.
  const elsewhere = await anthropicErrorFromOpenAI(refusal({ error: { ...openai, message: "elsewhere" } }))
    .json();
  assert.equal(upstreamErrors.of(elsewhere.error.message), undefined);
});

/** The front doors' answer to an Anthropic-format error: its type and message, in OpenAI's shape. */
async function openaiErrorFromAnthropic(response: Response, headers?: HeadersInit): Promise<Response> {
  const { type, message } = await anthropicErrorIn(response);
  return openaiErrorResponse(response.status, message, { type, headers });
}

Deno.test("an error body is read up to 1 MiB in either direction, its start the message", async () => {
  const toAnthropic = largeBody(40, { head: "<html>upstream exploded" });
  const anthropic = anthropicErrorFromOpenAI(new Response(toAnthropic.body, { status: 500 }));
  const { error } = await anthropic.json();
  assert.equal(error.message, `<html>upstream exploded${"w".repeat(477)}`);
  assert.ok(toAnthropic.cancelled && toAnthropic.unread >= 38, `${toAnthropic.unread} MiB left unread`);

  const toOpenAI = largeBody(40, { head: "<html>upstream exploded" });
  const openai = await openaiErrorFromAnthropic(new Response(toOpenAI.body, { status: 502 }));
  assert.equal((await openai.json()).error.message, `<html>upstream exploded${"w".repeat(477)}`);
  assert.ok(toOpenAI.cancelled && toOpenAI.unread >= 38, `${toOpenAI.unread} MiB left unread`);
});

Deno.test("an Anthropic error response is rewritten in OpenAI's shape with its status and the headers given", async () => {
  const anthropic = Response.json(
    { type: "error", error: { type: "overloaded_error", message: "Overloaded" }, request_id: "req_1" },
    { status: 529 },
  );
  const openai = await openaiErrorFromAnthropic(anthropic, { "retry-after": "2" });
  assert.equal(openai.status, 529);
  assert.equal(openai.headers.get("retry-after"), "2");
  assert.deepEqual(await openai.json(), {
    error: { message: "Overloaded", type: "overloaded_error", param: null, code: null },
  });
  const html = await openaiErrorFromAnthropic(new Response("<h1>Bad Gateway</h1>", { status: 502 }));
  assert.deepEqual(await html.json(), {
    error: { message: "<h1>Bad Gateway</h1>", type: "api_error", param: null, code: null },
  });
});

Deno.test("an Anthropic error object's type and text are read as given, api_error and upstream failed without", () => {
  const read = (error: unknown) => anthropicErrorOf({ type: "error", error });
  assert.deepEqual(read({ type: "rate_limit_error", message: "Slow down" }), {
    type: "rate_limit_error",
    message: "Slow down",
  });
  assert.deepEqual(read({ type: null, message: 42 }), { type: "api_error", message: "upstream failed" });
  assert.deepEqual(read(undefined), { type: "api_error", message: "upstream failed" });
});

Deno.test("a token limit is reworded only from the upstream's own words, on a status that refuses a request", () => {
  const quoting = "1 validation error for ChatRequest: messages.0.content: Input should be a valid string " +
    "[type=string_type, input_value='This model's maximum context length is 8192 tokens. However, you " +
    "requested 9000 tokens (1000 in the messages, 8000 in the completion).', input_type=int]";
  assert.equal(anthropicFailureFor({ error: { message: quoting } }, 400)!.message, quoting);
  const limited = "Rate limit reached: your context window usage is high, try again in 20s";
  assert.equal(anthropicFailureFor({ error: { message: limited } }, 429)!.message, limited);
});

Deno.test("a token-limit wording is looked for in time linear in the message, up to the 1 MiB an error body may be", () => {
  // A prefix the context-limit wording starts with, repeated without its closing parenthesis: 19 s once.
  const prefix = "maximum context length is 8 tokens. however you requested 9 tokens (";
  const message = prefix.repeat(Math.ceil(1_048_576 / prefix.length));
  const started = performance.now();
  const failure = anthropicFailureFor({ error: { message } }, 400)!;
  const elapsed = performance.now() - started;
  assert.match(failure.message, /^prompt is too long: /);
  assert.ok(elapsed < 1_000, `${elapsed} ms`);
});
