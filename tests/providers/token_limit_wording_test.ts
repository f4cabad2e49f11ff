/** `src/providers/token_limit_wording.ts`: token-limit errors in the words Claude Code acts on. */
import assert from "node:assert/strict";
import {
  claudeCodeWording,
  errorOwnWords,
  refusedTokenLimit,
  type TokenLimitAsked,
  withTokenLimitWording,
} from "../../src/providers/token_limit_wording.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";
import { largeBody } from "../_helpers/large_body.ts";
import { settledYet } from "../_helpers/settled_yet.ts";
import { CLAUDE_CODE_CONTEXT_LIMIT, CLAUDE_CODE_OUTPUT_CAP } from "../_helpers/claude_code_wording.ts";

/** DeepSeek's window refusal, as its /anthropic endpoint words it for Claude Code's 128000 max_tokens. */
const DEEPSEEK_WINDOW =
  "This model's maximum context length is 131072 tokens. However, you requested 140550 tokens (12550 in the messages, 128000 in the completion). Please reduce the length of the messages or completion.";
const DEEPSEEK_CAP = "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]";

/** Anthropic's own wordings, which Claude Code reads as they are. */
const ANTHROPIC_OWN = [
  "prompt is too long: 212000 tokens > 200000 maximum",
  "input length and `max_tokens` exceed context limit: 188000 + 21333 > 200000, decrease input length or `max_tokens` and try again",
  "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-opus-4-1-20250805",
];

const encoder = new TextEncoder();

/** An `asked` whose `maxTokens` counts its reads. */
function countedAsk(maxTokens: number): TokenLimitAsked & { reads: number } {
  return {
    reads: 0,
    get maxTokens() {
      this.reads++;
      return maxTokens;
    },
  };
}

function errorAnswer(body: BodyInit, status = 400): Response {
  return new Response(body, {
    status,
    statusText: "Bad Request",
    headers: { "content-type": "application/json", "content-length": "7", "x-request-id": "ds_1" },
  });
}

Deno.test("claudeCodeWording: DeepSeek's window refusal reads as Anthropic's, its numbers kept", () => {
  const worded = claudeCodeWording(DEEPSEEK_WINDOW, 400, "invalid_request_error", {});
  assert.deepEqual(CLAUDE_CODE_CONTEXT_LIMIT.exec(worded)?.slice(1).map(Number), [12550, 128000, 131072]);
  assert.ok(worded.endsWith(`(upstream said: ${DEEPSEEK_WINDOW})`), worded);
  for (const status of [413, 422]) {
    assert.match(claudeCodeWording(DEEPSEEK_WINDOW, status, "", {}), CLAUDE_CODE_CONTEXT_LIMIT);
  }
});

Deno.test("claudeCodeWording: only a refusal's status is reworded, and Anthropic's own words stay", () => {
  for (const status of [429, 500, 503, 529]) {
    assert.equal(claudeCodeWording(DEEPSEEK_WINDOW, status, "", { maxTokens: 128000 }), DEEPSEEK_WINDOW);
  }
  for (const message of ANTHROPIC_OWN) {
    assert.equal(claudeCodeWording(message, 400, "invalid_request_error", { maxTokens: 128000 }), message);
  }
});

Deno.test("claudeCodeWording: what was asked is read only for a wording that names only the cap", () => {
  const asked = countedAsk(32000);
  assert.match(claudeCodeWording(DEEPSEEK_WINDOW, 400, "", asked), CLAUDE_CODE_CONTEXT_LIMIT);
  assert.equal(claudeCodeWording("messages: field required", 400, "", asked), "messages: field required");
  assert.equal(asked.reads, 0);
  const worded = claudeCodeWording(DEEPSEEK_CAP, 400, "", asked);
  assert.equal(CLAUDE_CODE_OUTPUT_CAP.exec(worded)?.[1], "8192", worded);
  assert.match(worded, /^max_tokens: 32000 > 8192, /);
  assert.equal(asked.reads, 1);
});

Deno.test("errorOwnWords: what an error quotes of the request is not its own", () => {
  const quotedJson = {
    detail: "bad",
    input: "max_tokens is too large: 32000. This model supports at most 16384",
  };
  assert.equal(errorOwnWords(JSON.stringify(quotedJson)), "bad");
  assert.equal(
    errorOwnWords("refused [type=x, input_value='maximum context length is 8']"),
    "refused [type=x, ",
  );
});

Deno.test("withTokenLimitWording: DeepSeek's error in OpenAI's nesting gets Claude Code's words, every other member kept", async () => {
  const upstream = {
    error: {
      message: DEEPSEEK_WINDOW,
      type: "invalid_request_error",
      param: null,
      code: "invalid_request_error",
    },
  };
  const answer = withTokenLimitWording(errorAnswer(JSON.stringify(upstream)), {});
  assert.equal(answer.status, 400);
  assert.equal(answer.statusText, "Bad Request");
  assert.equal(answer.headers.get("x-request-id"), "ds_1");
  assert.equal(answer.headers.get("content-type"), "application/json");
  assert.equal(answer.headers.get("content-length"), null, "the body is not the upstream's");
  const { error, ...rest } = await answer.json();
  assert.deepEqual(rest, {});
  const { message, ...others } = error;
  assert.deepEqual(others, { type: "invalid_request_error", param: null, code: "invalid_request_error" });
  assert.deepEqual(CLAUDE_CODE_CONTEXT_LIMIT.exec(message)?.slice(1).map(Number), [12550, 128000, 131072]);
});

Deno.test("withTokenLimitWording: in Anthropic's envelope only error.message changes, the other bytes stay", async () => {
  const before = '{ "type" : "error",\n  "error": ';
  const after = ',"request_id":"req_9", "n": 1.50}';
  const error = { type: "invalid_request_error", message: DEEPSEEK_WINDOW };
  const text = await withTokenLimitWording(errorAnswer(`${before}${JSON.stringify(error)}${after}`), {})
    .text();
  assert.ok(text.startsWith(`${before}{"type":"invalid_request_error","message":"input length and`), text);
  assert.ok(text.endsWith(after), text);
  const worded = JSON.parse(text).error;
  assert.deepEqual(Object.keys(worded), ["type", "message"]);
  assert.match(worded.message, CLAUDE_CODE_CONTEXT_LIMIT);
});

Deno.test("withTokenLimitWording: a cap named alone is completed with what was asked, read only then", async () => {
  const body = JSON.stringify({
    type: "error",
    error: { type: "invalid_request_error", message: DEEPSEEK_CAP },
  });
  const asked = countedAsk(32000);
  const answer = withTokenLimitWording(errorAnswer(body), asked);
  assert.equal(asked.reads, 0, "nothing is read before the body is");
  const { error } = await answer.json();
  assert.match(error.message, /^max_tokens: 32000 > 8192, /);
  assert.match(error.message, CLAUDE_CODE_OUTPUT_CAP);
  assert.equal(asked.reads, 1);
});

Deno.test("withTokenLimitWording: anything else goes on byte for byte", async (t) => {
  const unchanged = async (answer: Response, bytes: Uint8Array) => {
    const out = withTokenLimitWording(answer, countedAsk(128000));
    assert.deepEqual(new Uint8Array(await out.arrayBuffer()), bytes);
  };
  await t.step("no limit wording, odd spacing and escapes kept", async () => {
    const text =
      '{"type":"error","error":{"type":"invalid_request_error","message":"messages: \\u0046ield required"}}  ';
    await unchanged(errorAnswer(text), encoder.encode(text));
  });
  await t.step("Anthropic's own wordings", async () => {
    for (const message of ANTHROPIC_OWN) {
      const text = JSON.stringify({ type: "error", error: { type: "invalid_request_error", message } });
      await unchanged(errorAnswer(text), encoder.encode(text));
    }
  });
  await t.step("a limit wording outside error.message, or in no JSON", async () => {
    for (
      const text of [
        JSON.stringify({ detail: DEEPSEEK_WINDOW }),
        DEEPSEEK_WINDOW,
        `{"error":"${DEEPSEEK_WINDOW}`,
      ]
    ) {
      await unchanged(errorAnswer(text), encoder.encode(text));
    }
  });
  await t.step("a body that is not UTF-8: re-encoded, it would not be the same", async () => {
    const text = JSON.stringify({ error: { message: DEEPSEEK_WINDOW, note: "X" } });
    const bytes = encoder.encode(text);
    bytes[text.indexOf("X")] = 0xff;
    await unchanged(errorAnswer(bytes), bytes);
  });
  await t.step("a body over 1 MiB, whole", async () => {
    const head = `{"error":{"message":${JSON.stringify(DEEPSEEK_WINDOW)},"input":"`;
    const large = largeBody(2, { head, tail: '"}}' });
    const out = withTokenLimitWording(errorAnswer(large.body), {});
    const bytes = new Uint8Array(await out.arrayBuffer());
    assert.equal(bytes.byteLength, encoder.encode(head).byteLength + 2 * 1_048_576 + 3);
    assert.ok(new TextDecoder().decode(bytes.subarray(0, 200)).startsWith(head.slice(0, 100)));
    assert.equal(large.cancelled, false);
  });
  await t.step("a status that refuses no request is the very answer", () => {
    for (const status of [401, 404, 429, 500, 529]) {
      const answer = errorAnswer(JSON.stringify({ error: { message: DEEPSEEK_WINDOW } }), status);
      assert.equal(withTokenLimitWording(answer, {}), answer);
    }
  });
});

Deno.test("withTokenLimitWording: the body is read only as the answer's reader asks, a sign of life per chunk", async () => {
  const upstream = controlledStream();
  const answer = withTokenLimitWording(upstream.response({ status: 400 }), {});
  const reader = answer.body!.getReader();
  assert.equal(await settledYet(upstream.whenRead()), false, "nothing read before the answer's reader asks");
  const read = reader.read();
  await upstream.whenRead();
  const text = JSON.stringify({ error: { message: DEEPSEEK_WINDOW } });
  upstream.push(text.slice(0, 40));
  assert.equal((await read).value?.byteLength, 0, "a sign of life, the error not whole yet");
  upstream.push(text.slice(40));
  upstream.end();
  const rest = [];
  for (let next = await reader.read(); !next.done; next = await reader.read()) rest.push(next.value);
  const { error } = JSON.parse(new TextDecoder().decode(concatBytes(rest)));
  assert.match(error.message, CLAUDE_CODE_CONTEXT_LIMIT);
});

Deno.test("withTokenLimitWording: cancelling the answer cancels the upstream's body", async () => {
  const upstream = controlledStream();
  const answer = withTokenLimitWording(upstream.response({ status: 400 }), {});
  const reader = answer.body!.getReader();
  const read = reader.read();
  await upstream.whenRead();
  upstream.push("{");
  await read;
  await reader.cancel(new Error("client gone"));
  assert.match(String(await upstream.cancelled), /client gone/);
});

Deno.test("refusedTokenLimit names what a smaller max_tokens fits: a cap, or the room a window leaves; not a prompt too long alone", () => {
  const cap =
    "max_tokens is too large: 32000. This model supports at most 16384 completion tokens, whereas " +
    "you provided 32000.";
  assert.deepEqual(refusedTokenLimit(JSON.stringify({ error: { message: cap } }), {}), {
    cap: 16384,
    asked: 32000,
  });
  assert.deepEqual(
    refusedTokenLimit("Invalid max_tokens value, the valid range of max_tokens is [1, 8192]", {
      maxTokens: 32000,
    }),
    { cap: 8192, asked: 32000 },
  );
  const window = (input: number) =>
    `This model's maximum context length is 8192 tokens. However, you requested ${input + 4000} tokens ` +
    `(${input} in the messages, 4000 in the completion).`;
  assert.deepEqual(refusedTokenLimit(window(6000), {}), { window: 8192, input: 6000, asked: 4000 });
  assert.equal(refusedTokenLimit(window(9000), {}), undefined, "the prompt alone is over the window");
  assert.equal(refusedTokenLimit("messages: bad role", { maxTokens: 32000 }), undefined);
});
