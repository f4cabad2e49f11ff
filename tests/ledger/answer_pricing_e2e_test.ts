/** What relay charges a client follows what the answer says served it: relay in-process, its ledger in memory. */
import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { openLedger } from "../../src/ledger/open.ts";
import { createLogger } from "../../src/util/logger.ts";
import { MESSAGE_ANSWER, sseChunks, startFakeUpstream, textAnswerStream } from "../_helpers/fake_upstream.ts";
import { startTestRelay } from "../_helpers/relay.ts";

const CI_TOKEN = "rly_ci_token_0000000000000002";

/** 100,000 input tokens and 10,000 output: $0.60 on Opus 5.5 at its standard prices. */
const START = { input_tokens: 100_000, output_tokens: 1 };
const END = { output_tokens: 10_000 };

Deno.test("relay prices an answer at the speed and geo its usage says served it, whatever the request asked for", async () => {
  const answers = [
    // Asked for fast mode in the US, served at standard speed in the US: 10% more.
    () =>
      sseChunks([
        textAnswerStream({
          id: "msg_1",
          text: "a",
          startUsage: { ...START, speed: "standard", inference_geo: "us" },
          endUsage: END,
        }),
      ]),
    // Asked for neither; the answer says fast mode served it: twice the price.
    () =>
      sseChunks([
        textAnswerStream({
          id: "msg_2",
          text: "b",
          startUsage: { ...START, speed: "fast", inference_geo: "global" },
          endUsage: END,
        }),
      ]),
    // Unstreamed, fast in the US: both.
    () =>
      Response.json({
        ...MESSAGE_ANSWER,
        usage: { input_tokens: 100_000, output_tokens: 10_000, speed: "fast", inference_geo: "us" },
      }),
    // A model with no fast-mode price: no price, rather than its standard one.
    () =>
      sseChunks([
        textAnswerStream({ id: "msg_4", text: "d", startUsage: { ...START, speed: "fast" }, endUsage: END }),
      ]),
  ];
  const upstream = startFakeUpstream(() => answers.shift()!());
  const warnings: Record<string, unknown>[] = [];
  const config = configSchema.parse({
    server: { auth: { tokens: [{ name: "ci", token: CI_TOKEN }] } },
    ledger: { enabled: false },
    providers: [{ name: "mock", type: "mock" }],
  });
  const ledger = await openLedger(config, {
    logger: createLogger({ level: "warn", write: (line) => warnings.push(JSON.parse(line)) }),
  });
  {
    await using relay = startTestRelay({
      upstreamUrl: upstream.url,
      clients: ledger.clients,
      ledger: ledger.recorder,
    });
    const ask = async (model: string, asked: Record<string, unknown>, stream = true) => {
      const response = await fetch(`${relay.url}/v1/messages`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "anthropic-version": "2023-06-01",
          "x-api-key": CI_TOKEN,
        },
        body: JSON.stringify({
          model,
          max_tokens: 64,
          stream,
          messages: [{ role: "user", content: "hi" }],
          ...asked,
        }),
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      await relay.nextRequestLog();
      return ledger.clients.spentThisMonth("ci");
    };
    assert.equal(await ask("claude-opus-5-5", { speed: "fast", inference_geo: "us" }), 0.66);
    assert.equal(await ask("claude-opus-5-5", {}), 1.86);
    assert.equal(
      await ask("claude-opus-5-5", { speed: "fast", inference_geo: "us" }, false),
      3.18,
    );
    assert.equal(await ask("claude-sonnet-4-6", { speed: "fast" }), 3.18);
  }
  await upstream.close();
  await ledger.close();
  assert.deepEqual(warnings.map(({ msg, model }) => [msg, model]), [[
    "no fast-mode price for model",
    "claude-sonnet-4-6",
  ]]);
});
