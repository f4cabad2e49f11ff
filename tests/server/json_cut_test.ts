import assert from "node:assert/strict";
import type { LedgerEntry } from "../../src/ledger/entry.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream, MESSAGE_ANSWER, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { anthropicRoute, startTestRelay } from "../_helpers/relay.ts";
import { settlesWithin } from "../_helpers/settles_within.ts";

/** A whole message, as Anthropic answers an unstreamed request. */
const MESSAGE = JSON.stringify({
  ...MESSAGE_ANSWER,
  model: "m",
  content: [{ type: "text", text: "Hello from a message whose connection closed before its end" }],
  usage: { input_tokens: 11, output_tokens: 7 },
});
/** The message cut after its text: what reaches relay when the upstream's connection closes there. */
const CUT_MESSAGE = MESSAGE.slice(0, MESSAGE.indexOf('"stop_reason"'));

const CUT = "upstream upstream ended its answer before its JSON was whole";

/**
 * An upstream on raw TCP: for each request, read whole, it writes `answer` and closes its connection,
 * so an answer whose length the head does not give (HTTP/1.0) ends there, cleanly.
 */
function rawUpstream(answer: string): { url: string; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serve = async (connection: Deno.Conn) => {
    await _readRequest(connection);
    await connection.write(new TextEncoder().encode(answer));
  };
  (async () => {
    for await (const connection of listener) {
      serve(connection).catch(() => {}).finally(() => connection.close());
    }
  })().catch(() => {});
  return { url: `http://127.0.0.1:${listener.addr.port}`, close: () => listener.close() };
}

/** Reads a request's head and its `content-length` of body. */
async function _readRequest(connection: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(65_536);
  let text = "";
  for (;;) {
    const read = await connection.read(buffer);
    if (read === null) return;
    text += new TextDecoder().decode(buffer.subarray(0, read));
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const length = Number(/content-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
    if (new TextEncoder().encode(text.slice(end + 4)).byteLength >= length) return;
  }
}

function post(url: string, path = "/v1/messages"): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model: "m", max_tokens: 50, messages: [{ role: "user", content: "hi" }] }),
  });
}

const UPSTREAM_ANSWERS = {
  "an HTTP/1.0 answer that closes mid-JSON": "HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n" +
    CUT_MESSAGE,
  "a connection: close answer that closes mid-JSON":
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n" + CUT_MESSAGE,
  "an answer whose content-length is short of its JSON":
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
    `content-length: ${CUT_MESSAGE.length}\r\n\r\n${MESSAGE}`,
};

for (const [cut, answer] of Object.entries(UPSTREAM_ANSWERS)) {
  Deno.test(`${cut} breaks the client's transfer off, logged and recorded as the upstream's failure, its usage estimated`, async () => {
    const upstream = rawUpstream(answer);
    const recorded: LedgerEntry[] = [];
    await using relay = startTestRelay({
      upstreamUrl: upstream.url,
      ledger: { record: (entry) => void recorded.push(entry) },
    });
    const response = await post(relay.url);
    assert.equal(response.status, 200, "the head went out with the first byte");
    // Never ended as if it were whole: the SDKs would throw a SyntaxError, which they do not retry.
    await assert.rejects(response.text());
    const log = await relay.nextRequestLog();
    assert.deepEqual(
      [log.status, log.outcome, log.errorType, log.message, log.usage_estimated],
      [200, "upstream_failed", "api_error", CUT, true],
    );
    const [entry] = recorded;
    assert.deepEqual([entry.status, entry.outcome, entry.usageEstimated], [200, "upstream_failed", true]);
    // The message was billed whole: relay's estimate of the request, and at least the text that came.
    assert.ok(entry.usage!.input > 0, `input estimated: ${JSON.stringify(entry.usage)}`);
    assert.ok(entry.usage!.output > 0, `output estimated from the text: ${JSON.stringify(entry.usage)}`);
    upstream.close();
  });
}

Deno.test("a message cut after its usage, its last brace missing, is recorded with the usage it reported", async () => {
  const upstream = startFakeUpstream(() =>
    new Response(MESSAGE.slice(0, -1), { headers: { "content-type": "application/json" } })
  );
  const recorded: LedgerEntry[] = [];
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    ledger: { record: (entry) => void recorded.push(entry) },
  });
  await assert.rejects((await post(relay.url)).text());
  assert.deepEqual((await relay.nextRequestLog()).outcome, "upstream_failed");
  const [entry] = recorded;
  assert.deepEqual(
    [entry.outcome, entry.usage?.input, entry.usage?.output, entry.usageEstimated],
    ["upstream_failed", 11, 7, undefined],
  );
  await upstream.close();
});

Deno.test("a token count cut mid-JSON breaks the client's transfer off too, with no usage to record", async () => {
  const upstream = startFakeUpstream(() =>
    new Response('{"input_tokens":', { headers: { "content-type": "application/json" } })
  );
  const recorded: LedgerEntry[] = [];
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    ledger: { record: (entry) => void recorded.push(entry) },
  });
  const response = await post(relay.url, "/v1/messages/count_tokens");
  await assert.rejects(response.text());
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.message, log.usage_estimated], ["upstream_failed", CUT, undefined]);
  assert.deepEqual(
    recorded.map((entry) => [entry.outcome, entry.usage]),
    [["upstream_failed", undefined]],
  );
  await upstream.close();
});

Deno.test("a JSON answer that ends before its first byte is a failed attempt, the next provider asked", async () => {
  const empty = startFakeUpstream(() =>
    new Response("", { headers: { "content-type": "application/json" } })
  );
  const whole = startFakeUpstream(() => Response.json(JSON.parse(MESSAGE)));
  await using relay = startTestRelay({
    routes: [anthropicRoute("empty", empty.url), anthropicRoute("whole", whole.url)],
    retry: { maxAttempts: 2 },
  });
  const response = await post(relay.url);
  assert.deepEqual(await response.json(), JSON.parse(MESSAGE));
  const failed = await relay.logged("attempt failed");
  assert.equal(failed.provider, "empty");
  assert.match(String(failed.reason), /upstream empty ended its answer before its JSON/);
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.provider, log.outcome, log.attempts], ["whole", "complete", 2]);
  await Promise.all([empty.close(), whole.close()]);
});

for (
  const [said, answer] of [
    ["a 204", () => new Response(null, { status: 204 })],
    ["an empty 200 of no type", () => new Response("")],
  ] as const
) {
  Deno.test(`${said} to a POST is a failed attempt, the next provider asked; alone, relay's 502`, async () => {
    const empty = startFakeUpstream(answer);
    const whole = startFakeUpstream(() => Response.json(JSON.parse(MESSAGE)));
    for (const path of ["/v1/messages", "/v1/messages/count_tokens"]) {
      await using relay = startTestRelay({
        routes: [anthropicRoute("empty", empty.url), anthropicRoute("whole", whole.url)],
        retry: { maxAttempts: 2 },
      });
      const response = await post(relay.url, path);
      assert.deepEqual(await response.json(), JSON.parse(MESSAGE));
      const failed = await relay.logged("attempt failed");
      assert.equal(failed.provider, "empty");
      assert.match(String(failed.reason), /: upstream empty answered 20[04] without a body$/);
      const log = await relay.nextRequestLog();
      assert.deepEqual([log.provider, log.outcome, log.attempts], ["whole", "complete", 2]);
    }
    await using alone = startTestRelay({ upstreamUrl: empty.url });
    const response = await post(alone.url);
    assert.equal(response.status, 502);
    const body = await response.json();
    assert.equal(body.type, "error");
    assert.match(body.error.message, /without a body/);
    await Promise.all([empty.close(), whole.close()]);
  });
}

Deno.test("a JSON answer cut short counts against its provider's breaker, as a cut stream does", async () => {
  const cutting = rawUpstream(UPSTREAM_ANSWERS["an HTTP/1.0 answer that closes mid-JSON"]);
  const whole = startFakeUpstream(() => Response.json(JSON.parse(MESSAGE)));
  await using relay = startTestRelay({
    routes: [anthropicRoute("cutting", cutting.url), anthropicRoute("whole", whole.url)],
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 60_000 } },
  });
  await assert.rejects((await post(relay.url)).text());
  assert.equal((await relay.nextRequestLog()).provider, "cutting");
  // Its breaker open, the next request goes to the provider after it, and reads a whole message.
  const next = await post(relay.url);
  assert.deepEqual(await next.json(), JSON.parse(MESSAGE));
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.provider, log.outcome], ["whole", "complete"]);
  cutting.close();
  await whole.close();
});

Deno.test("a whole JSON message ends the client's answer, complete, though the upstream keeps its chunked body open", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() =>
    stream.response({ headers: { "content-type": "application/json" } })
  );
  // The clock moves only once the client has it all: only the message's own end can end it.
  const clock = new FakeClock();
  await using relay = startTestRelay({ upstreamUrl: upstream.url, clock });
  // In two chunks, the first closing an object (its content's) that is not yet the message.
  const split = MESSAGE.indexOf("}") + 1;
  stream.push(MESSAGE.slice(0, split));
  const response = await post(relay.url);
  await stream.whenRead();
  stream.push(MESSAGE.slice(split));
  const body = response.text();
  assert.ok(await settlesWithin(body, 5_000), "the client's answer ended with its JSON");
  assert.equal(await body, MESSAGE);
  // The upstream is let go within a second, as after a stream's message_stop.
  clock.advance(1_000);
  await stream.cancelled;
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.input_tokens, log.output_tokens], ["complete", 11, 7]);
  await upstream.close();
});

Deno.test("a message cut mid-text records at least the text before the cut as its output", async () => {
  const long = JSON.stringify({
    ...MESSAGE_ANSWER,
    model: "m",
    content: [{
      type: "text",
      text: "A long answer whose connection closed in the middle of its text. ".repeat(40),
    }],
    usage: { input_tokens: 11, output_tokens: 700 },
  });
  const upstream = rawUpstream(
    "HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n" +
      long.slice(0, long.indexOf("middle", 1_000)),
  );
  const recorded: LedgerEntry[] = [];
  await using relay = startTestRelay({
    upstreamUrl: upstream.url,
    ledger: { record: (entry) => void recorded.push(entry) },
  });
  await assert.rejects((await post(relay.url)).text());
  const log = await relay.nextRequestLog();
  assert.deepEqual([log.outcome, log.message, log.usage_estimated], ["upstream_failed", CUT, true]);
  const [entry] = recorded;
  assert.ok(
    entry.usage!.output > 100,
    `output estimated from the text cut midway: ${JSON.stringify(entry.usage)}`,
  );
  upstream.close();
});
