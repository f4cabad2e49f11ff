import assert from "node:assert/strict";
import { RelayError } from "../../src/server/errors.ts";
import { messageAsSse } from "../../src/stream/message_as_sse.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { wholeAnswerStream } from "../../src/stream/whole_answer_stream.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { MESSAGE_ANSWER } from "../_helpers/fake_upstream.ts";

/** The events of `text` answered whole, each as its name and parsed data, and what the options were told. */
function answered(
  text: string,
  { cut = false, label, key }: { cut?: boolean; label?: string; key?: { secret: string } } = {},
) {
  const told = { message: 0, outputUnreported: 0 };
  const bytes = wholeAnswerStream({ text, cut }, {
    name: "glm",
    key,
    label,
    onMessage: () => told.message++,
    onOutputUnreported: () => told.outputUnreported++,
  });
  const events = new SseDecoder().feed(concatBytes(bytes)).map(({ event, data }) => ({
    event,
    data: JSON.parse(data),
  }));
  return { bytes, events, told };
}

/** The error `answer` throws, which must be relay's own. */
function thrown(answer: () => unknown): RelayError {
  try {
    answer();
  } catch (error) {
    assert.ok(error instanceof RelayError, String(error));
    return error;
  }
  assert.fail("nothing thrown");
}

Deno.test("wholeAnswerStream: a Message is its stream, told as one", () => {
  const { bytes, told } = answered(JSON.stringify(MESSAGE_ANSWER));
  assert.deepEqual(concatBytes(bytes), concatBytes(messageAsSse(MESSAGE_ANSWER)));
  assert.deepEqual(told, { message: 1, outputUnreported: 0 });
  const uncounted = answered(JSON.stringify({ ...MESSAGE_ANSWER, usage: { input_tokens: 3 } }));
  assert.deepEqual(uncounted.told, { message: 1, outputUnreported: 1 });
});

Deno.test("wholeAnswerStream: the upstream's own error is an error event, in Anthropic's words or OpenAI's", () => {
  const anthropic = answered('{"type":"error","error":{"type":"overloaded_error","message":"busy"}}');
  assert.deepEqual(anthropic.events, [{
    event: "error",
    data: { type: "error", error: { type: "overloaded_error", message: "busy" } },
  }]);
  const openai = answered(
    '{"error":{"message":"slow down","type":"rate_limit_exceeded","code":"rate_limit"}}',
  );
  assert.deepEqual(openai.events.map(({ event, data }) => [event, data.error.type]), [[
    "error",
    "rate_limit_error",
  ]]);
  assert.deepEqual([anthropic.told.message, openai.told.message], [0, 0]);
});

Deno.test("wholeAnswerStream: an answer that is no Message is thrown as relay's 502 api_error naming the provider and why", async (t) => {
  const cases: [string, string, { cut?: boolean; label?: string }, string | RegExp][] = [
    [
      "no JSON, labelled",
      "<html>",
      { label: "text/html" },
      /^upstream glm answered a stream with a body \(text\/html\) that is neither SSE nor JSON: /,
    ],
    [
      "no JSON, unlabelled",
      "",
      {},
      /^upstream glm answered a stream with a body \(no content-type\) that is neither/,
    ],
    [
      "too large",
      '{"type":"mess',
      { cut: true },
      "upstream glm answered a stream with a body over 32 MiB, more than relay reads whole",
    ],
    ["a list", "[1]", {}, "upstream glm answered a stream with JSON that is not a Message: [1]"],
    [
      "a Message without content",
      '{"type":"message"}',
      {},
      /JSON that is not a Message: \{"type":"message"\}$/,
    ],
    [
      "another shape",
      `{"choices":[],"x":"${"y".repeat(300)}"}`,
      {},
      /JSON that is not a Message: \{"choices":\[\],"x":"y+\.\.\.$/,
    ],
  ];
  for (const [name, text, options, message] of cases) {
    await t.step(name, () => {
      let told = 0;
      const error = thrown(() =>
        wholeAnswerStream({ text, cut: options.cut ?? false }, {
          name: "glm",
          label: options.label,
          onMessage: () => told++,
        })
      );
      assert.deepEqual([error.status, error.type], [502, "api_error"]);
      if (typeof message === "string") assert.equal(error.message, message);
      else assert.match(error.message, message);
      assert.equal(told, 0);
    });
  }
});

Deno.test("wholeAnswerStream: what relay's 502 quotes of the answer has the key and any secret masked", () => {
  const secret = "glm0key0shaped0like0nothing0123456789";
  const answer = JSON.stringify({ echoed: secret, api_key: "sk-other-secret-0123456789abcdef" });
  const error = thrown(() => answered(answer, { key: { secret } }));
  assert.match(error.message, /JSON that is not a Message: \{"echoed":".+","api_key":".+"\}$/);
  assert.doesNotMatch(
    error.message,
    /glm0key0shaped0like0nothing0123456789|sk-other-secret-0123456789abcdef/,
  );
});
