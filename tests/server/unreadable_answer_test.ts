/**
 * A 200 relay cannot read (a completion cut short, a corrupt event stream), over real HTTP: whether the
 * request was streamed or not, the client gets relay's own 502 `api_error` saying what the 200 held,
 * with the headers of relay's other error answers, and the log says so too, never `502 from upstream`.
 * It is retried or failed over, and counted against the provider's breaker, and so is an answer to a
 * stream that is neither SSE nor a Message or completion (a gateway's page), from either format. The
 * 200's request-id is logged, though the adapter found it unreadable before relay had its answer.
 */
import assert from "node:assert/strict";
import { createAnthropicProvider } from "../../src/providers/anthropic.ts";
import { createBedrockProvider } from "../../src/providers/bedrock.ts";
import { createOpenAIProvider } from "../../src/providers/openai.ts";
import { ModelMap } from "../../src/routing/model_map.ts";
import type { Route } from "../../src/routing/router.ts";
import { maskSecret } from "../../src/util/mask.ts";
import { chunkFrame, eventStreamResponse } from "../_helpers/fake_bedrock.ts";
import { MESSAGE_ANSWER } from "../_helpers/fake_upstream.ts";
import { startTestRelay, TEST_TIMEOUTS, type TestRelay } from "../_helpers/relay.ts";

const ASK = { model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "hi" }] };

/** A completion cut short, as an upstream whose `content-length` undercounts its body leaves it. */
const CUT_COMPLETION = () =>
  new Response('{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"cont', {
    headers: { "content-type": "application/json", "x-request-id": "req_cut" },
  });

const COMPLETION = () =>
  Response.json({ choices: [{ index: 0, message: { content: "Whole." }, finish_reason: "stop" }] });

/** A gateway's error page, under a 200. */
const PAGE = () =>
  new Response("<html><body>Service temporarily unavailable</body></html>", {
    headers: { "content-type": "text/html" },
  });

/** An OpenAI-compatible provider `name` whose upstream answers each request with what `answer` gives. */
function openaiRoute(name: string, answer: () => Response, calls: { count: number } = { count: 0 }): Route {
  const provider = createOpenAIProvider({
    name,
    baseUrl: "http://127.0.0.1:9/v1",
    fetch: _counted(answer, calls),
  });
  return _route(provider);
}

/** An Anthropic-compatible provider `name` whose upstream answers each request with what `answer` gives. */
function anthropicRoute(
  name: string,
  answer: () => Response,
  calls: { count: number } = { count: 0 },
): Route {
  const provider = createAnthropicProvider({
    name,
    type: "anthropic-compatible",
    baseUrl: "http://127.0.0.1:9",
    authHeader: "x-api-key",
    fetch: _counted(answer, calls),
  });
  return _route(provider);
}

function _counted(answer: () => Response, calls: { count: number }): typeof fetch {
  return () => {
    calls.count++;
    return Promise.resolve(answer());
  };
}

function _route(provider: Route["provider"]): Route {
  const secret = `sk-${provider.name}-key-00000000000000`;
  return {
    provider,
    keys: [{ secret, label: maskSecret(secret) }],
    timeouts: TEST_TIMEOUTS,
    models: new ModelMap(undefined),
  };
}

function post(relay: TestRelay, stream: boolean): Promise<Response> {
  return fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...ASK, stream }),
  });
}

/** The answer relay gives for an unreadable 200, and what it says. */
async function assertRelays502(response: Response, message: RegExp): Promise<string> {
  assert.equal(response.status, 502);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(response.headers.get("cache-control"), null, "no header of the stream it never was");
  const { type, error } = await response.json();
  assert.equal(type, "error");
  assert.equal(error.type, "api_error");
  assert.match(error.message, message);
  return error.message;
}

/**
 * What the log says of the attempt and of the request: the 200 was unreadable, not an upstream's 502.
 * The access line, for the caller to look further into.
 */
async function assertLogged(
  relay: TestRelay,
  said: RegExp,
  message: string,
): Promise<Record<string, unknown>> {
  const line = await relay.nextRequestLog();
  assert.deepEqual([line.status, line.error], [502, message]);
  assert.equal(line.outcome, "relay_error", "relay's own answer: no upstream's error went on");
  const attempt = relay.logs.findLast((logged) => logged.msg === "attempt failed");
  assert.doesNotMatch(String(attempt?.reason), /502 from upstream|event before message_start/);
  assert.match(String(attempt?.reason), said);
  return line;
}

Deno.test("an OpenAI upstream's 200 relay cannot read is relay's 502 api_error, streamed or not, logged as what it was", async () => {
  await using relay = startTestRelay({ routes: [openaiRoute("oa", CUT_COMPLETION)] });
  const said = /^upstream oa answered 200 without a JSON body: /;
  const messages: string[] = [];
  for (const stream of [true, false]) {
    messages.push(await assertRelays502(await post(relay, stream), said));
    const line = await assertLogged(
      relay,
      /upstream oa answered 200 without a JSON body: /,
      messages.at(-1)!,
    );
    // Unstreamed, the adapter finds it unreadable before it answers: its headers still reach relay.
    assert.equal(line.upstream_request_id, "req_cut", `the 200's x-request-id, stream: ${stream}`);
  }
  assert.equal(messages[0], messages[1], "the same answer whether streamed or not");
});

Deno.test("an OpenAI upstream's unreadable 200 fails over and counts against its breaker, streamed or not", async () => {
  for (const stream of [true, false]) {
    const cut = { count: 0 };
    await using relay = startTestRelay({
      routes: [openaiRoute("cut", CUT_COMPLETION, cut), openaiRoute("whole", COMPLETION)],
      retry: { maxAttempts: 2 },
      routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 } },
    });
    const first = await post(relay, stream);
    assert.equal(first.status, 200);
    assert.match(await first.text(), /Whole\./);
    const line = await relay.nextRequestLog();
    assert.deepEqual([line.provider, line.failovers], ["whole", 1]);
    const attempt = relay.logs.find((logged) => logged.msg === "attempt failed");
    assert.equal(attempt?.next, "retry_next_provider");
    assert.match(String(attempt?.reason), /upstream cut answered 200 without a JSON body/);

    const second = await post(relay, stream);
    assert.equal(second.status, 200);
    await second.body?.cancel();
    assert.equal(cut.count, 1, "cut's breaker is open: the next request goes to whole at once");
  }
});

Deno.test("a Bedrock stream whose first frame is corrupt is relay's 502, not Bedrock's, and logged so", async () => {
  const frame = chunkFrame('{"type":"message_stop"}');
  const badCrc = frame.slice();
  badCrc[9] ^= 0x01; // the prelude's CRC
  const firsts = [badCrc, new TextEncoder().encode("<html>bad gateway</html>")];
  let first = firsts[0];
  const provider = createBedrockProvider({
    name: "bd",
    region: "us-east-1",
    baseUrl: "http://127.0.0.1:9",
    credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" },
    fetch: () => Promise.resolve(eventStreamResponse([first], { "x-amzn-requestid": "req_bd" })),
  });
  await using relay = startTestRelay({ provider, models: { "claude-*": "anthropic.claude-x" } });
  for (first of firsts) {
    const said = /^upstream bd answered 200, but Bedrock's event stream is broken: /;
    const message = await assertRelays502(await post(relay, true), said);
    const line = await assertLogged(
      relay,
      /upstream bd answered 200, but Bedrock's event stream is broken: /,
      message,
    );
    assert.equal(line.upstream_request_id, "req_bd", "the 200's id, though relay never had its answer");
  }
});

/**
 * A streamed request to a provider whose 200 is a page (`paged`, its calls counted): alone, relay's
 * 502 saying `said`, its attempt logged as `logged`; before a provider that answers (`good`, whose
 * stream holds `answered`), failed over, and its breaker opened for the next request.
 */
async function assertPageFailsOver(
  paged: (calls: { count: number }) => Route,
  good: Route,
  { said, logged, answered }: { said: RegExp; logged: RegExp; answered: RegExp },
): Promise<void> {
  const calls = { count: 0 };
  const bad = paged(calls);
  {
    await using relay = startTestRelay({ routes: [paged({ count: 0 })] });
    const message = await assertRelays502(await post(relay, true), said);
    await assertLogged(relay, logged, message);
  }
  await using relay = startTestRelay({
    routes: [bad, good],
    retry: { maxAttempts: 2 },
    routing: { breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 30_000 } },
  });
  const first = await post(relay, true);
  assert.equal(first.status, 200);
  assert.match(await first.text(), answered);
  const line = await relay.nextRequestLog();
  const [badName, goodName] = [bad.provider.name, good.provider.name];
  assert.deepEqual([line.provider, line.failovers], [goodName, 1]);
  const attempt = relay.logs.find((logged) => logged.msg === "attempt failed");
  assert.deepEqual([attempt?.provider, attempt?.next], [badName, "retry_next_provider"]);

  const second = await post(relay, true);
  assert.equal(second.status, 200);
  await second.body?.cancel();
  assert.equal(calls.count, 1, `${badName}'s breaker is open: the next request goes to ${goodName} at once`);
}

Deno.test("an Anthropic-format upstream's 200 page to a stream is relay's 502 as an OpenAI one's is, and fails over", async () => {
  await assertPageFailsOver(
    (calls) => anthropicRoute("glm", PAGE, calls),
    anthropicRoute("up", () => Response.json(MESSAGE_ANSWER)),
    {
      said: /^upstream glm answered a stream with a body \(text\/html\) that is neither SSE nor JSON: /,
      logged: /upstream glm answered a stream with a body \(text\/html\) that is neither/,
      answered: /event: message_stop/,
    },
  );
});

Deno.test("an OpenAI upstream's 200 page to a stream is relay's 502 naming its content type, and fails over", async () => {
  await assertPageFailsOver((calls) => openaiRoute("oa", PAGE, calls), openaiRoute("whole", COMPLETION), {
    said: /^upstream oa answered a stream with a body \(text\/html\) that is neither SSE nor JSON: /,
    logged: /upstream oa answered a stream with a body \(text\/html\) that is neither/,
    answered: /Whole\./,
  });
});
