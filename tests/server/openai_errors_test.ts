/** `src/server/openai_errors.ts`: errors between OpenAI's shape and Anthropic's, both ways. */
import { anthropicErrorOf } from "../../src/server/errors.ts";
import assert from "node:assert/strict";
import {
  anthropicErrorFromOpenAI,
  anthropicFailureFor,
  openaiErrorFromAnthropic,
} from "../../src/server/openai_errors.ts";
import { largeBody } from "../_helpers/large_body.ts";

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
