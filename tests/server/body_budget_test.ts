/**
 * `server.max_body_memory`: the request bodies relay holds at once, uploads under way and requests
 * queued for a slot together, are bounded, and every way a request ends gives its bytes back.
 */
import assert from "node:assert/strict";
import type { Provider } from "../../src/providers/types.ts";
import { ConcurrencyLimiter } from "../../src/routing/concurrency.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import { type PlanRequest, type Route, Router } from "../../src/routing/router.ts";
import { type AppOptions, createApp } from "../../src/server/app.ts";
import { readBody } from "../../src/server/body.ts";
import { BodyBudget } from "../../src/server/body_budget.ts";
import { RelayError } from "../../src/server/errors.ts";
import { InFlight } from "../../src/server/in_flight.ts";
import { createLogger, type LogFields } from "../../src/util/logger.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { type ControlledStream, controlledStream, MESSAGE_ANSWER } from "../_helpers/fake_upstream.ts";
import { loadGolden } from "../_helpers/golden.ts";
import { PROVIDER_KEY, TEST_ROUTING, TEST_TIMEOUTS } from "../_helpers/relay.ts";

const MIB = 1_048_576;

/** The start of a Messages body, up to its one user message's text. */
const MESSAGES = '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"';
/** The start of a Chat Completions body, up to its one user message's text. */
const CHAT = '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"';

/** A body of exactly `size` bytes: `head` (`MESSAGES` or `CHAT`), then its user message's text. */
function bodyOf(head: string, size: number): string {
  const tail = '"}]}';
  return head + "x".repeat(size - head.length - tail.length) + tail;
}

/** An upload the test feeds: relay reads it as the test pushes it. */
function upload(path: string, init: { signal?: AbortSignal; headers?: HeadersInit } = {}) {
  const body = controlledStream();
  const request = new Request(`http://relay${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...init.headers },
    body: body.body,
    signal: init.signal,
  });
  return { body, request };
}

/** One `send` per upstream answer, in order; an in-process provider, so nothing listens on a port. */
function scripted(...answers: ((signal: AbortSignal) => Response | Promise<Response>)[]): Provider {
  return {
    name: "upstream",
    type: "test",
    send: (request) => Promise.resolve(answers.shift()!(request.signal!)),
  };
}

/** The one provider of a test's router, serving every model with one key. */
function routeTo(provider: Provider): Route {
  return {
    provider,
    keys: [{ secret: PROVIDER_KEY, label: "sk-...x7f2" }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
}

/** relay's app in process over `provider`, its bodies counted in `budget`; `ended()` gives each access line. */
function appOver(provider: Provider, options: Partial<AppOptions> = {}) {
  const budget = new BodyBudget();
  const lines: LogFields[] = [];
  const waiting: ((line: LogFields) => void)[] = [];
  const appOptions: AppOptions = {
    router: new Router([routeTo(provider)], TEST_ROUTING),
    logger: createLogger({ write: () => {} }),
    maxBodyBytes: 2 * MIB,
    maxBodyMemory: 3 * MIB,
    bodyBudget: budget,
    inFlight: new InFlight(),
    limiter: new ConcurrencyLimiter({ max: 4, maxQueue: 4 }),
    queueTimeoutMs: 30_000,
    retry: { maxAttempts: 1, backoff: { baseMs: 0, maxMs: 0, maxRetryAfterMs: 0 }, maxWaitMs: 0 },
    tokens: [],
    onRequest: (line) => {
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    },
    ...options,
  };
  const app = createApp(appOptions);
  return {
    fetch: (request: Request) => app.fetch(request),
    options: appOptions,
    budget,
    /** Resolves with the next request's access line: written as the request ends. */
    ended: (): Promise<LogFields> => {
      const line = lines.shift();
      return line ? Promise.resolve(line) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** The golden text stream, split after its first event: what commits a stream, and the rest. */
async function goldenHalves(): Promise<[Uint8Array, Uint8Array]> {
  const bytes = await loadGolden("text");
  const cut = new TextDecoder().decode(bytes).indexOf("\n\n") + 2;
  return [bytes.slice(0, cut), bytes.slice(cut)];
}

/** What readBody reads of a request: `stream` as its body. */
function requestOf(stream: ControlledStream, headers: HeadersInit = {}) {
  return { headers: new Headers(headers), body: stream.body as ReadableStream<Uint8Array<ArrayBuffer>> };
}

/** Pushes `bytes` into `body` and waits until relay has read them and asks for more. */
async function fed(body: ControlledStream, bytes: Uint8Array | string): Promise<void> {
  await body.whenRead();
  body.push(bytes);
  await body.whenRead();
}

Deno.test("a BodyBudget refuses bytes past its limit with relay's 503, and a hold gives back what it took, once", () => {
  const budget = new BodyBudget();
  const first = budget.open(3 * MIB);
  const second = budget.open(3 * MIB);
  first.take(2 * MIB);
  second.take(MIB);
  assert.equal(budget.held, 3 * MIB);
  assert.throws(() => second.take(1), (error: unknown) => {
    assert.ok(error instanceof RelayError);
    assert.deepEqual([error.status, error.type, error.headers], [503, "overloaded_error", {
      "retry-after": "1",
    }]);
    assert.equal(error.message, "relay holds 3 MiB of request bodies already (server.max_body_memory)");
    return true;
  });
  assert.equal(budget.held, 3 * MIB, "a refused take takes nothing");
  first.release();
  first.release();
  assert.equal(budget.held, MIB, "given back once, however often released");
  assert.doesNotThrow(() => budget.open(2 * MIB).take(MIB), "a limit is the hold's own: a reload's");
});

Deno.test("readBody takes a body's bytes as they arrive, whatever its content-length says, and refuses what the budget cannot cover", async () => {
  const budget = new BodyBudget();
  const declared = budget.open(1000);
  const stream = controlledStream();
  const read = readBody(requestOf(stream, { "content-length": "600" }), 1000, {
    hold: declared,
  });
  await stream.whenRead();
  assert.equal(budget.held, 0, "an announced body holds nothing before its bytes come");
  stream.push(new Uint8Array(600));
  stream.end();
  assert.equal((await read).byteLength, 600);
  assert.equal(budget.held, 600);

  const chunked = controlledStream();
  const refused = readBody(requestOf(chunked, { "content-length": "500" }), 1000, {
    hold: budget.open(1000),
  });
  await fed(chunked, new Uint8Array(300));
  assert.equal(budget.held, 900);
  chunked.push(new Uint8Array(200));
  await assert.rejects(refused, (error) => error instanceof RelayError && error.status === 503);
  await chunked.cancelled;
  declared.release();
  assert.equal(budget.held, 300, "the refused body's first 300 bytes wait for its request to end");
});

Deno.test("uploads past server.max_body_memory together are refused with a 503 at once, not held in memory", async () => {
  const relay = appOver(scripted(() => Response.json(MESSAGE_ANSWER)));
  const holding = upload("/v1/messages");
  const held = relay.fetch(holding.request);
  const first = bodyOf(MESSAGES, 2 * MIB);
  await fed(holding.body, first.slice(0, 2 * MIB - 10));
  assert.equal(relay.budget.held, 2 * MIB - 10);

  const late = upload("/v1/messages");
  const refused = relay.fetch(late.request);
  late.body.push(bodyOf(MESSAGES, 1.5 * MIB));
  const answer = await refused;
  assert.equal(answer.status, 503);
  assert.equal(answer.headers.get("retry-after"), "1");
  assert.deepEqual(await answer.json(), {
    type: "error",
    error: {
      type: "overloaded_error",
      message: "relay holds 2 MiB of request bodies already (server.max_body_memory)",
    },
  });
  assert.equal((await relay.ended()).status, 503);
  assert.equal(relay.budget.held, 2 * MIB - 10, "the refused body's bytes are given back");

  holding.body.push(first.slice(2 * MIB - 10));
  holding.body.end();
  const served = await held;
  assert.equal(served.status, 200);
  await served.arrayBuffer();
  assert.equal((await relay.ended()).outcome, "complete");
  assert.equal(relay.budget.held, 0);
});

Deno.test("requests queued for a slot hold their bodies in the budget until they end", async () => {
  const stream = controlledStream();
  const limiter = new ConcurrencyLimiter({ max: 1, maxQueue: 4 });
  const relay = appOver(scripted(() => stream.response(), () => Response.json(MESSAGE_ANSWER)), { limiter });
  const [head, rest] = await goldenHalves();
  stream.push(head);
  const streaming = await relay.fetch(
    new Request("http://relay/v1/messages", { method: "POST", body: bodyOf(MESSAGES, MIB) }),
  );
  assert.equal(streaming.status, 200);
  const waiting = upload("/v1/messages");
  const queued = relay.fetch(waiting.request);
  await fed(waiting.body, bodyOf(MESSAGES, MIB));
  waiting.body.end();
  const refused = await relay.fetch(
    new Request("http://relay/v1/messages", { method: "POST", body: bodyOf(MESSAGES, 1.5 * MIB) }),
  );
  assert.equal(limiter.queued, 1);
  assert.equal(refused.status, 503);
  assert.match((await refused.json()).error.message, /^relay holds 2 MiB of request bodies already/);
  await relay.ended();
  stream.push(rest);
  stream.end();
  await streaming.arrayBuffer();
  await relay.ended();
  await (await queued).arrayBuffer();
  await relay.ended();
  assert.equal(relay.budget.held, 0);
});

Deno.test("every way a request ends gives its body back to the budget", async (t) => {
  const body = bodyOf(MESSAGES, 64 * 1024);
  const post = (path = "/v1/messages", bytes: string = body) =>
    new Request(`http://relay${path}`, { method: "POST", body: bytes });
  const [head, rest] = await goldenHalves();

  await t.step("a stream read to its end", async () => {
    const stream = controlledStream();
    const relay = appOver(scripted(() => stream.response()));
    stream.push(head);
    const answer = await relay.fetch(post());
    assert.equal(relay.budget.held, body.length, "held while the answer streams");
    stream.push(rest);
    stream.end();
    await answer.arrayBuffer();
    assert.equal((await relay.ended()).outcome, "complete");
    assert.equal(relay.budget.held, 0);
  });
  await t.step("a client that leaves mid-stream", async () => {
    const stream = controlledStream();
    const relay = appOver(scripted(() => stream.response()));
    stream.push(head);
    const answer = await relay.fetch(post());
    await answer.body!.cancel();
    assert.equal((await relay.ended()).outcome, "client_closed");
    assert.equal(relay.budget.held, 0);
  });
  await t.step("an upstream's error passed on", async () => {
    const relay = appOver(scripted(() => Response.json({ type: "error" }, { status: 500 })));
    const answer = await relay.fetch(post());
    assert.equal(answer.status, 500);
    await answer.arrayBuffer();
    assert.equal((await relay.ended()).outcome, "upstream_error");
    assert.equal(relay.budget.held, 0);
  });
  await t.step("a refusal of relay's own, at either door", async () => {
    const relay = appOver(scripted());
    assert.equal((await relay.fetch(post("/v1/messages", body.slice(1)))).status, 400);
    assert.equal((await relay.ended()).status, 400);
    assert.equal(relay.budget.held, 0);
    assert.equal((await relay.fetch(post("/v1/chat/completions", body.slice(1)))).status, 400);
    assert.equal(relay.budget.held, 0);
  });
  await t.step("a body over server.max_body_size", async () => {
    const relay = appOver(scripted(), { maxBodyBytes: 100 * 1024 });
    const big = upload("/v1/messages");
    const answer = relay.fetch(big.request);
    await fed(big.body, new Uint8Array(90 * 1024));
    big.body.push(new Uint8Array(20 * 1024));
    assert.equal((await answer).status, 413);
    assert.equal((await relay.ended()).status, 413);
    assert.equal(relay.budget.held, 0);
  });
  await t.step("a body slower than server.body_timeout", async () => {
    const clock = new FakeClock();
    const relay = appOver(scripted(), { bodyTimeoutMs: 50, timers: clock, now: clock.now });
    const slow = upload("/v1/messages");
    const answer = relay.fetch(slow.request);
    await fed(slow.body, body.slice(0, 1000));
    clock.advance(50);
    assert.equal((await answer).status, 408);
    assert.equal((await relay.ended()).status, 408);
    assert.equal(relay.budget.held, 0);
  });
  await t.step("a client that leaves mid-upload", async () => {
    const relay = appOver(scripted());
    const client = new AbortController();
    const leaving = upload("/v1/messages", { signal: client.signal });
    const answer = relay.fetch(leaving.request);
    await fed(leaving.body, body.slice(0, 1000));
    client.abort();
    leaving.body.fail(new Error("connection reset"));
    assert.equal((await answer).status, 499);
    assert.equal((await relay.ended()).outcome, "client_closed");
    assert.equal(relay.budget.held, 0);
  });
  await t.step("relay failing on its own", async () => {
    class BrokenRouter extends Router {
      override plan(_request: PlanRequest): never {
        throw new Error("a bug");
      }
    }
    const relay = appOver(scripted(), { router: new BrokenRouter([routeTo(scripted())], TEST_ROUTING) });
    assert.equal((await relay.fetch(post())).status, 500);
    assert.equal(relay.budget.held, 0);
  });
});

Deno.test("the front door's body counts as it is read, and its translation once, given back as its request ends", async () => {
  const relay = appOver(scripted(() => Response.json(MESSAGE_ANSWER)), {
    maxBodyBytes: 2 * MIB,
    maxBodyMemory: 2 * MIB,
  });
  const chat = upload("/v1/chat/completions");
  const answer = relay.fetch(chat.request);
  const bytes = bodyOf(CHAT, 1.5 * MIB);
  await fed(chat.body, bytes.slice(0, MIB));
  assert.equal(relay.budget.held, MIB);
  chat.body.push(bytes.slice(MIB));
  chat.body.end();
  const served = await answer;
  assert.equal(served.status, 200, "counted twice, the translation would not have fit");
  assert.equal((await served.json()).choices[0].message.content, "ok");
  assert.equal((await relay.ended()).outcome, "complete");
  assert.equal(relay.budget.held, 0);

  const holding = upload("/v1/messages");
  const held = relay.fetch(holding.request);
  await fed(holding.body, bodyOf(MESSAGES, MIB));
  const refused = await relay.fetch(
    new Request("http://relay/v1/chat/completions", { method: "POST", body: bodyOf(CHAT, 1.5 * MIB) }),
  );
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.deepEqual((await refused.json()).error, {
    message: "relay holds 1 MiB of request bodies already (server.max_body_memory)",
    type: "overloaded_error",
    param: null,
    code: null,
  });
  assert.equal(relay.budget.held, MIB);
  holding.body.end();
  await (await held).arrayBuffer();
  await relay.ended();
  assert.equal(relay.budget.held, 0);
});

Deno.test("a reloaded server.max_body_memory applies to the requests that start after it, at both doors", async () => {
  let limit = 2 * MIB;
  const answers = Array.from({ length: 3 }, () => () => Response.json(MESSAGE_ANSWER));
  const relay: ReturnType<typeof appOver> = appOver(scripted(...answers), {
    settings: () => ({ ...relay.options, maxBodyMemory: limit }),
  });
  const holding = upload("/v1/messages");
  const held = relay.fetch(holding.request);
  await fed(holding.body, bodyOf(MESSAGES, 1.5 * MIB));
  const post = (path: string, body: string) =>
    relay.fetch(new Request(`http://relay${path}`, { method: "POST", body }));
  const statuses = async () => {
    const answers = [
      await post("/v1/messages", bodyOf(MESSAGES, MIB)),
      await post("/v1/chat/completions", bodyOf(CHAT, MIB)),
    ];
    await Promise.all(answers.map((answer) => answer.arrayBuffer()));
    return answers.map((answer) => answer.status);
  };
  assert.deepEqual(await statuses(), [503, 503]);
  limit = 4 * MIB;
  assert.deepEqual(await statuses(), [200, 200]);
  holding.body.end();
  await (await held).arrayBuffer();
  assert.equal(relay.budget.held, 0);
});
