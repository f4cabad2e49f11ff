/**
 * What the ledger records of Anthropic streams from Anthropic-compatible gateways that leave out what
 * api.anthropic.com sends: relay in-process, its real ledger on disk.
 */
import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { openLedger } from "../../src/ledger/open.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { estimateTokens } from "../../src/routing/token_estimate.ts";
import { createLogger } from "../../src/util/logger.ts";
import { sseChunks, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { loadGolden } from "../_helpers/golden.ts";
import { startTestRelay } from "../_helpers/relay.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

const CI_TOKEN = "rly_ci_token_0000000000000002";

/** A Sonnet 4.5 request for `content`, streamed unless told. */
function request(content: string, stream = true) {
  return { model: "claude-sonnet-4-5", max_tokens: 64, stream, messages: [{ role: "user", content }] };
}

/** The ledger row of a request for `content` relayed to `upstreamUrl`, once it is written. */
async function relayed(
  path: string,
  upstreamUrl: string,
  content = "hi",
  stream = true,
): Promise<Record<string, unknown>> {
  const config = configSchema.parse({
    server: { auth: { tokens: [{ name: "ci", token: CI_TOKEN }] } },
    ledger: { path },
    providers: [{ name: "mock", type: "mock" }],
  });
  const ledger = await openLedger(config, { logger: createLogger({ level: "error", write: () => {} }) });
  {
    await using relay = startTestRelay({ upstreamUrl, clients: ledger.clients, ledger: ledger.recorder });
    const response = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": CI_TOKEN },
      body: JSON.stringify(request(content, stream)),
    });
    await response.body?.cancel();
    await relay.nextRequestLog();
  }
  await ledger.close();
  const store = LedgerStore.open(path, { readOnly: true });
  try {
    const rows = store.database.prepare("SELECT * FROM requests ORDER BY id").all();
    assert.equal(rows.length, 1);
    return { ...rows[0] };
  } finally {
    store.close();
  }
}

/** `bytes` as a gateway that writes no `event:` lines sends it. */
function dataOnly(bytes: Uint8Array): Uint8Array {
  return new TextEncoder().encode(new TextDecoder().decode(bytes).replace(/^event: .*\n/gm, ""));
}

Deno.test("a stream without event: lines is billed its own usage, complete, as the same stream with them is", async () => {
  await using folder = await tempFolder();
  const stream = dataOnly(await loadGolden("cached"));
  const upstream = startFakeUpstream(() => sseChunks([stream.subarray(0, 333), stream.subarray(333)]));
  const row = await relayed(`${folder.path}/ledger.db`, upstream.url);
  await upstream.close();
  assert.deepEqual(
    [row.outcome, row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens],
    ["complete", 4, 73, 14_207, 1_832],
  );
  assert.deepEqual([row.cost_usd, row.usage_estimated], [0.0136611, 0]);
});

Deno.test("a stream whose message_start counts no input is billed relay's estimate of the request, marked estimated", async () => {
  const golden = new TextDecoder().decode(await loadGolden("text"));
  // 3,500 characters: about a thousand tokens as relay estimates them.
  const content = "To be or not to be. ".repeat(175);
  const { input } = estimateTokens(request(content));
  assert.ok(input > 900, `${input}`);
  for (const usage of ["null", "left out"]) {
    // message_start's usage is the first, and the only one with input_tokens.
    const stream = golden.replace(
      /,"usage":\{"input_tokens"[^}]*\}/,
      usage === "null" ? ',"usage":null' : "",
    );
    assert.notEqual(stream, golden);
    await using folder = await tempFolder();
    const upstream = startFakeUpstream(() => sseChunks([stream]));
    const row = await relayed(`${folder.path}/ledger.db`, upstream.url, content);
    await upstream.close();
    assert.deepEqual([row.outcome, row.input_tokens, row.output_tokens, row.usage_estimated], [
      "complete",
      input,
      12,
      1,
    ], usage);
    // $3 and $15 a million on Sonnet 4.5: the input is priced, not only the output.
    assert.ok(Math.abs(Number(row.cost_usd) - (input * 3 + 12 * 15) / 1e6) < 1e-9, `${row.cost_usd}`);
  }
});

Deno.test("an unstreamed message whose usage counts no input (or output) is billed relay's estimates, marked estimated", async () => {
  const content = "To be or not to be. ".repeat(175);
  const { input } = estimateTokens(request(content, false));
  assert.ok(input > 900, `${input}`);
  const message = {
    id: "msg_01",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5",
    content: [{ type: "text", text: "Hello." }],
    stop_reason: "end_turn",
    stop_sequence: null,
  };
  for (
    const [label, usage, expected] of [
      // "Hello." is two tokens as relay estimates what an answer wrote.
      ["null", { usage: null }, [input, 2, 1]],
      ["left out", {}, [input, 2, 1]],
      ["without input_tokens", { usage: { output_tokens: 12 } }, [input, 12, 1]],
      // Zero is the upstream's own count.
      ["input_tokens 0", { usage: { input_tokens: 0, output_tokens: 12 } }, [0, 12, 0]],
    ] as const
  ) {
    await using folder = await tempFolder();
    const upstream = startFakeUpstream(() => Response.json({ ...message, ...usage }));
    const row = await relayed(`${folder.path}/ledger.db`, upstream.url, content, false);
    await upstream.close();
    assert.deepEqual(
      [row.outcome, row.input_tokens, row.output_tokens, row.usage_estimated],
      ["complete", ...expected],
      label,
    );
    // $3 and $15 a million on Sonnet 4.5: the input is priced, not only the output.
    const [inputTokens, outputTokens] = expected;
    assert.ok(
      Math.abs(Number(row.cost_usd) - (inputTokens * 3 + outputTokens * 15) / 1e6) < 1e-9,
      `${label}: ${row.cost_usd}`,
    );
  }
});
