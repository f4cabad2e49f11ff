import assert from "node:assert/strict";
import {
  answerUsage,
  anthropicUsageFor,
  finishFailure,
  finishReasonFor,
  openaiUsageFor,
  stopReasonFor,
} from "../../src/stream/openai_stop_usage.ts";
import type { ChatUsage } from "../../src/stream/openai_types.ts";

Deno.test("finish_reason -> stop_reason, tool calls winning over a plain stop", () => {
  const cases: [string | null | undefined, boolean, string][] = [
    ["stop", false, "end_turn"],
    ["stop", true, "tool_use"],
    [null, true, "tool_use"],
    [undefined, false, "end_turn"],
    ["length", true, "max_tokens"],
    ["tool_calls", true, "tool_use"],
    ["function_call", true, "tool_use"],
    // No tool_use block to run: a client told tool_use would wait for one.
    ["tool_calls", false, "end_turn"],
    ["function_call", false, "end_turn"],
    ["content_filter", false, "refusal"],
    ["eos", false, "end_turn"],
  ];
  for (const [finish, sawTool, expected] of cases) {
    assert.equal(stopReasonFor(finish, sawTool), expected, `${finish} (tools: ${sawTool})`);
  }
});

Deno.test("finish_reason error is a failure, told by the choice's error when it has one; no other finish is", () => {
  assert.deepEqual(finishFailure({ finish_reason: "error" }), {
    status: 502,
    type: "api_error",
    message: 'upstream ended the answer with finish_reason "error", without saying what went wrong',
  });
  assert.deepEqual(
    finishFailure({ finish_reason: "error", error: { message: "Rate limited upstream", code: 429 } }),
    { status: 429, type: "rate_limit_error", message: "Rate limited upstream" },
  );
  for (const finish of ["stop", "length", "tool_calls", "content_filter", null, undefined]) {
    assert.equal(
      finishFailure({ finish_reason: finish, error: { message: "x" } }),
      undefined,
      String(finish),
    );
  }
});

Deno.test("stop_reason -> finish_reason", () => {
  const cases: [string | null | undefined, string][] = [
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["pause_turn", "stop"],
    ["max_tokens", "length"],
    ["model_context_window_exceeded", "length"],
    ["tool_use", "tool_calls"],
    ["refusal", "content_filter"],
    [null, "stop"],
  ];
  for (const [stop, expected] of cases) assert.equal(finishReasonFor(stop), expected, String(stop));
});

Deno.test("usage: OpenAI's prompt count includes cache reads and writes, Anthropic's input_tokens does not", () => {
  const openai = {
    prompt_tokens: 1000,
    completion_tokens: 50,
    prompt_tokens_details: { cached_tokens: 700, cache_write_tokens: 200 },
  };
  const anthropic = anthropicUsageFor(openai);
  assert.deepEqual(anthropic, {
    input_tokens: 100,
    output_tokens: 50,
    cache_read_input_tokens: 700,
    cache_creation_input_tokens: 200,
  });
  assert.deepEqual(openaiUsageFor(anthropic), {
    prompt_tokens: 1000,
    completion_tokens: 50,
    total_tokens: 1050,
    prompt_tokens_details: { cached_tokens: 700 },
  });
  assert.deepEqual(anthropicUsageFor(undefined), {
    input_tokens: 0,
    output_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
  });
  assert.equal(anthropicUsageFor({ prompt_tokens: 5, prompt_tokens_details: null }).input_tokens, 5);
});

Deno.test("usage: DeepSeek's and Kimi's own counts of cached prompt tokens are cache reads too", () => {
  const read = (usage: Record<string, unknown>) => {
    const { input_tokens, cache_read_input_tokens } = anthropicUsageFor({ prompt_tokens: 1000, ...usage });
    return [input_tokens, cache_read_input_tokens];
  };
  assert.deepEqual(read({ prompt_cache_hit_tokens: 600, prompt_cache_miss_tokens: 400 }), [400, 600]);
  assert.deepEqual(read({ cached_tokens: 300 }), [700, 300]);
  assert.deepEqual(
    read({ prompt_tokens_details: { cached_tokens: 600 }, prompt_cache_hit_tokens: 600 }),
    [400, 600],
    "counted once where both are",
  );
});

Deno.test("answerUsage estimates what the upstream did not count, and says so", () => {
  let said = 0;
  const fallback = { inputTokens: 120, estimated: () => said++ };
  const written = () => 6.2;
  const estimate = {
    input_tokens: 120,
    output_tokens: 7,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
  };
  for (const usage of [undefined, null, {}, { prompt_tokens: null, completion_tokens: "7" }]) {
    assert.deepEqual(answerUsage(usage as ChatUsage, fallback, written), estimate, JSON.stringify(usage));
  }
  assert.deepEqual(answerUsage({ prompt_tokens: 50 }, fallback, written), { ...estimate, input_tokens: 50 });
  assert.deepEqual(answerUsage({ completion_tokens: 0 }, fallback, written), {
    ...estimate,
    output_tokens: 0,
  });
  assert.equal(said, 6);
  const counted = { prompt_tokens: 50, completion_tokens: 3 };
  assert.deepEqual(answerUsage(counted, fallback, written), anthropicUsageFor(counted));
  assert.deepEqual(
    answerUsage(undefined, undefined, written),
    anthropicUsageFor(undefined),
    "zeros without a fallback",
  );
  assert.equal(said, 6, "the upstream's own counts are no estimate");
});

Deno.test("only whole, non-negative, safe counts are the upstream's: others are estimated, or zero", () => {
  const absurd = {
    prompt_tokens: 1e300,
    completion_tokens: -1_000,
    prompt_tokens_details: { cached_tokens: 2.5 },
  };
  assert.deepEqual(anthropicUsageFor(absurd), anthropicUsageFor(undefined));
  let said = 0;
  assert.deepEqual(
    answerUsage({ prompt_tokens: 50, completion_tokens: -1_000 }, {
      inputTokens: 120,
      estimated: () => said++,
    }, () => 6.2),
    { input_tokens: 50, output_tokens: 7, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
  );
  assert.equal(said, 1);
});
