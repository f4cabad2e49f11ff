import assert from "node:assert/strict";
import { LedgerBusyError } from "../../src/ledger/busy.ts";
import { Pricing } from "../../src/ledger/pricing.ts";
import { UsageRecorder } from "../../src/ledger/recorder.ts";
import { LedgerWriter } from "../../src/ledger/writer.ts";
import { createLogger } from "../../src/util/logger.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream, sseChunks, sseEvent, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { startTestRelay } from "../_helpers/relay.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

const MESSAGE_START = sseEvent("message_start", {
  type: "message_start",
  message: { usage: { input_tokens: 5 } },
});
const MESSAGE_END = sseEvent("message_delta", { type: "message_delta", usage: { output_tokens: 2 } }) +
  sseEvent("message_stop", { type: "message_stop" });

function post(url: string): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body:
      '{"model":"claude-sonnet-4-5","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}',
  });
}

/** The status of `answer`, its body read; fails (never waits for ever) if relay holds it back. */
async function statusOf(answer: Promise<Response>): Promise<number> {
  assert.ok(await settlesWithin(answer, 5_000), "relay answered at once");
  const response = await answer;
  await response.arrayBuffer();
  return response.status;
}

Deno.test("relay's own answers go out at once while a locked ledger's queue is full; a stream's record still waits for room", async () => {
  // Another process holds the file's write lock until the test lets go: every batch fails as busy.
  let locked = true;
  const written: string[][] = [];
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line)) });
  const timers = new FakeClock();
  const writer = new LedgerWriter({
    write: (records) => {
      if (locked) throw new LedgerBusyError("ledger.db");
      written.push(records.map((record) => record.outcome));
    },
    queueSize: 1,
    flushIntervalMs: 1_000,
    logger,
    timers,
  });
  const recorder = new UsageRecorder({ pricing: new Pricing(), writer, logger });
  const stream = controlledStream();
  let asked = 0;
  const upstream = startFakeUpstream(() =>
    asked++ === 0 ? stream.response() : sseChunks([MESSAGE_START, MESSAGE_END])
  );
  {
    await using relay = startTestRelay({
      upstreamUrl: upstream.url,
      ledger: recorder,
      maxConcurrent: 1,
      maxQueue: 0,
    });
    try {
      // One stream holds relay's only slot.
      const streaming = post(relay.url);
      await upstream.nextRequest();
      stream.push(MESSAGE_START);
      const held = await streaming;
      assert.equal(held.status, 200);

      // The first refusal fills the queue; the next ones find it full and the file locked.
      for (let refusal = 1; refusal <= 4; refusal++) {
        assert.equal(await statusOf(post(relay.url)), 503, `refusal ${refusal}`);
        assert.equal((await relay.nextRequestLog()).status, 503);
      }
      assert.equal(writer.dropped, 3, "the three the full queue could not take");
      assert.deepEqual(
        lines.filter((line) => line.msg === "ledger dropped records").map(({ level }) => level),
        ["warn", "debug", "debug"],
        "warned about once",
      );

      // The stream ends; its record waits for room, holding the slot: the next request is refused too.
      stream.push(MESSAGE_END);
      stream.end();
      await held.arrayBuffer();
      assert.equal((await relay.nextRequestLog()).outcome, "complete");
      assert.equal(writer.pending, 2, "the queued refusal and the stream's record, waiting");
      assert.equal(await statusOf(post(relay.url)), 503, "the stream's slot is still held");
      await relay.nextRequestLog();

      locked = false;
      timers.advance(1_000);
      assert.deepEqual(written, [["relay_error"], ["complete"]]);
      assert.equal(await statusOf(post(relay.url)), 200, "the slot went free once the record was in");
      assert.deepEqual(
        lines.filter((line) => line.msg === "ledger written again").map(({ dropped }) => dropped),
        [4],
        "the spell's end says how many went",
      );
    } finally {
      // Whatever failed above, nothing is left waiting on the ledger when relay shuts down.
      locked = false;
      await writer.close();
    }
  }
  await upstream.close();
});
