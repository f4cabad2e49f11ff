import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import type { LedgerHealth } from "../../src/ledger/writer.ts";
import { ConcurrencyLimiter } from "../../src/routing/concurrency.ts";
import { adminStatus } from "../../src/server/admin/status.ts";
import { InFlight } from "../../src/server/in_flight.ts";
import { Runtime } from "../../src/server/runtime.ts";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { EventBus } from "../../src/util/event_bus.ts";
import { createLogger } from "../../src/util/logger.ts";
import { maskSecret } from "../../src/util/mask.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream, messageStartEvent, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import {
  ADMIN_TOKEN,
  liveConfig,
  postMessage,
  startLiveRelay,
  upstreamProvider,
} from "../_helpers/live_relay.ts";

const K1 = "sk-test-admin-key-000000001";
const K2 = "sk-test-admin-key-000000002";
const CLIENT = "rly_client_token_000000000001";
const MOCK = "  - name: m\n    type: mock\n";

Deno.test("the admin API wants the admin token: missing, wrong or a client token is 401, the right one 200", async () => {
  await using relay = await startLiveRelay(liveConfig(MOCK, `  auth:\n    tokens: [${CLIENT}]\n`));
  const status = (headers: HeadersInit) => fetch(`${relay.url}/admin/status`, { headers });
  const missing = await status({});
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="relay admin"');
  assert.match((await missing.json()).error.message, /missing admin token/);
  const wrong = await status({ authorization: "Bearer adm_wrong_0123456789abcdef" });
  assert.equal(wrong.status, 401);
  assert.match((await wrong.json()).error.message, /invalid admin token/);
  assert.equal((await status({ authorization: `Bearer ${CLIENT}` })).status, 401, "client tokens never pass");
  assert.equal((await status({ "x-api-key": ADMIN_TOKEN })).status, 401, "only as a bearer token");
  const right = await status({ authorization: `Bearer ${ADMIN_TOKEN}` });
  assert.equal(right.status, 200);
  assert.equal((await right.json()).config.version, 1);
  const client = await postMessage(relay.url, undefined, { "x-api-key": ADMIN_TOKEN });
  assert.equal(client.status, 401, "and the admin token is no client token");
  await client.body?.cancel();
});

Deno.test("without server.admin.token the admin API is off, on loopback and elsewhere; /metrics needs it off loopback", async () => {
  {
    await using relay = await startLiveRelay(`providers:\n${MOCK}`);
    const off = await relay.admin("/status");
    assert.equal(off.status, 404);
    assert.match((await off.json()).error.message, /admin API is off: set server\.admin\.token/);
    const metrics = await fetch(`${relay.url}/metrics`);
    assert.equal(metrics.status, 200, "on loopback /metrics is open");
    await metrics.body?.cancel();
  }
  {
    const open = `server:\n  host: 0.0.0.0\n  auth:\n    tokens: [${CLIENT}]\nproviders:\n${MOCK}`;
    await using relay = await startLiveRelay(open, { hostname: "0.0.0.0" });
    assert.equal((await (await relay.admin("/status")).json()).error.type, "not_found_error");
    const metrics = await fetch(`${relay.url}/metrics`);
    assert.equal(metrics.status, 404);
    assert.match((await metrics.json()).error.message, /non-loopback address needs server\.admin\.token/);
  }
  {
    const guarded = liveConfig(MOCK, `  host: 0.0.0.0\n  auth:\n    tokens: [${CLIENT}]\n`);
    await using relay = await startLiveRelay(guarded, { hostname: "0.0.0.0" });
    const anonymous = await fetch(`${relay.url}/metrics`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const scraped = await fetch(`${relay.url}/metrics`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(scraped.status, 200);
    assert.match(await scraped.text(), /^# HELP relay_requests_total /);
  }
});

Deno.test("an admin route asked with another method is 405 naming the methods it takes, once the token passed", async () => {
  await using relay = await startLiveRelay(liveConfig(MOCK));
  for (
    const [method, route, allow] of [
      ["GET", "/reload", "POST"],
      ["DELETE", "/status", "GET, HEAD"],
      ["POST", "/events", "GET, HEAD"],
      ["GET", "/providers/m/disable", "POST"],
      ["PUT", "/providers/m/keys/0/enable", "POST"],
    ]
  ) {
    const wrong = await relay.admin(route, { method });
    assert.equal(wrong.status, 405, `${method} ${route}`);
    assert.equal(wrong.headers.get("allow"), allow);
    assert.deepEqual(await wrong.json(), {
      type: "error",
      error: { type: "invalid_request_error", message: `/admin${route} takes ${allow}, not ${method}` },
    });
  }
  const head = await relay.admin("/reload", { method: "HEAD" });
  assert.equal(head.status, 405);
  assert.equal(head.headers.get("allow"), "POST");
  await head.body?.cancel();
  // The methods a route takes still answer, and a route that is not there is still a 404.
  assert.equal((await relay.admin("/status", { method: "HEAD" })).status, 200);
  const missing = await relay.admin("/nope", { method: "DELETE" });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  // Without the token every path is a 401: the routes are not told apart.
  for (const route of ["/status", "/nope"]) {
    const anonymous = await fetch(`${relay.url}/admin${route}`, { method: "DELETE" });
    assert.equal(anonymous.status, 401, route);
    assert.equal(anonymous.headers.get("allow"), null);
    await anonymous.body?.cancel();
  }
});

Deno.test("with the admin API off, a wrong method on an admin route is the same 404 as any other", async () => {
  await using relay = await startLiveRelay(`providers:\n${MOCK}`);
  const off = await fetch(`${relay.url}/admin/reload`);
  assert.equal(off.status, 404);
  assert.match((await off.json()).error.message, /admin API is off/);
});

/** An unnamed key's admin status, but for `resets_at`, while it is enabled, unbroken and refuses no model. */
function healthyKeyStatus(index: number, label: string) {
  return {
    index,
    name: null,
    label,
    enabled: true,
    disabled_reason: null,
    breaker: "closed",
    probing: false,
    retry_at: null,
    saturation: 0,
    cooling_until: null,
    refused_models: [],
  };
}

Deno.test("the admin status shows providers, masked keys, breakers, pools and load", async () => {
  const upstream = startFakeUpstream();
  await using relay = await startLiveRelay(
    liveConfig(upstreamProvider("up", upstream.url, [K1, K2], "    max_in_flight: 8") + MOCK),
  );
  await (await postMessage(relay.url)).arrayBuffer();
  const response = await relay.admin("/status");
  const text = await response.text();
  assert.ok(!text.includes(K1) && !text.includes(K2), "keys only masked");
  const status = JSON.parse(text);
  assert.equal(status.config.path, relay.path);
  assert.equal(status.config.reloadable, true);
  assert.deepEqual(status.server, { in_flight: 0, queued: 0, exchanges: 0 });
  const [up, mock] = status.providers;
  assert.deepEqual(
    { ...up, keys: up.keys.map(({ resets_at: _, ...key }: Record<string, unknown>) => key) },
    {
      name: "up",
      type: "anthropic-compatible",
      enabled: true,
      breaker: "closed",
      probing: false,
      retry_at: null,
      in_flight: 0,
      max_in_flight: 8,
      keys: [healthyKeyStatus(0, "sk-...0001"), healthyKeyStatus(1, "sk-...0002")],
      refused_models: [],
    },
  );
  assert.equal(typeof up.keys[0].resets_at, "string", "the request counted in K1's window");
  assert.equal(mock.name, "m");
  await upstream.close();
});

Deno.test("the admin status counts a stream while it is open, and lets it go when it ends", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response());
  await using relay = await startLiveRelay(
    liveConfig(upstreamProvider("up", upstream.url, [K1], "    max_in_flight: 8")),
  );
  const load = async () => {
    const status = await (await relay.admin("/status")).json();
    return { server: status.server, provider: status.providers[0].in_flight };
  };
  const pending = postMessage(relay.url);
  stream.push(
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3}}}\n\n',
  );
  const reader = (await pending).body!.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /message_start/);
  assert.deepEqual(await load(), { server: { in_flight: 1, queued: 0, exchanges: 1 }, provider: 1 });

  stream.push('event: message_stop\ndata: {"type":"message_stop"}\n\n');
  stream.end();
  while (!(await reader.read()).done);
  // The slot is given back once the access line is written (and the ledger, off here, took its record).
  await relay.waitForLog((line) => line.msg === "request");
  assert.deepEqual(await load(), { server: { in_flight: 0, queued: 0, exchanges: 0 }, provider: 0 });
  await upstream.close();
});

Deno.test("the admin status shows each client's limits, what its stream in flight holds of its budget, and its spend once it ends", async () => {
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response());
  const clients = `  auth:\n    tokens:\n      - name: ci\n        token: ${CLIENT}\n        rpm: 10\n` +
    "        monthly_budget_usd: 5\n      - name: dev\n        token: rly_dev_token_0000000000000002\n";
  await using relay = await startLiveRelay(
    liveConfig(upstreamProvider("up", upstream.url, [K1]), clients) +
      "pricing:\n  claude-sonnet-4-5: { input: 3, output: 15 }\nledger:\n  enabled: false\n",
    { ledger: true },
  );
  const clientsNow = async () => {
    const text = await (await relay.admin("/status")).text();
    assert.ok(!text.includes(CLIENT), "no client token");
    return JSON.parse(text).clients;
  };
  const pending = postMessage(relay.url, undefined, { "x-api-key": CLIENT });
  stream.push(
    'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10}}}\n\n',
  );
  const reader = (await pending).body!.getReader();
  await reader.read();
  const [ci, dev] = await clientsNow();
  // It holds its input estimate and all 64 of max_tokens: 64 * $15 per million at least.
  assert.ok(ci.held_usd >= 64 * 15 / 1e6 && ci.held_usd < 0.01, `held ${ci.held_usd}`);
  assert.deepEqual({ ...ci, held_usd: 0 }, {
    name: "ci",
    models: null,
    rpm: { limit: 10, saturation: 0.1 },
    tpm: null,
    monthly_budget_usd: 5,
    spent_usd: 0,
    held_usd: 0,
  });
  assert.deepEqual(dev, {
    name: "dev",
    models: null,
    rpm: null,
    tpm: null,
    monthly_budget_usd: null,
    spent_usd: 0,
    held_usd: 0,
  });

  stream.push(
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},' +
      '"usage":{"output_tokens":20}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n',
  );
  stream.end();
  while (!(await reader.read()).done);
  await relay.waitForLog((line) => line.msg === "request");
  const [ended] = await clientsNow();
  assert.equal(ended.held_usd, 0, "let go once it ended");
  assert.equal(ended.spent_usd, (10 * 3 + 20 * 15) / 1e6, "and charged what it used");
  await upstream.close();
});

Deno.test("switching a key or a provider off sends new requests elsewhere until it is on again", async () => {
  const upstream = startFakeUpstream();
  await using relay = await startLiveRelay(liveConfig(upstreamProvider("up", upstream.url, [K1, K2])));
  let conversation = 0;
  const keyUsed = async () => {
    // A new conversation each time: affinity would keep one on the key that served it.
    const body = JSON.stringify({
      model: "m",
      max_tokens: 8,
      messages: [{ role: "user", content: `${conversation++}` }],
    });
    await (await postMessage(relay.url, body)).arrayBuffer();
    return upstream.requests.at(-1)!.headers.get("x-api-key");
  };
  const post = (route: string) => relay.admin(route, { method: "POST" });
  assert.equal(await keyUsed(), K1);
  // The key is named as logs name it, whatever the URL called it.
  assert.deepEqual(await (await post("/providers/up/keys/00/disable")).json(), {
    provider: "up",
    key: maskSecret(K1),
    enabled: false,
  });
  assert.equal(await keyUsed(), K2);
  assert.equal((await post("/providers/up/disable")).status, 200);
  const refused = await postMessage(relay.url);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("x-should-retry"), "false", "a person must switch it back on");
  assert.equal(refused.headers.get("retry-after"), null);
  assert.match((await refused.json()).error.message, /switched off/);
  await post("/providers/up/enable");
  await post("/providers/up/keys/0/enable");
  assert.equal(await keyUsed(), K1);
  const missing = await post("/providers/nope/disable");
  assert.equal(missing.status, 404);
  assert.match((await missing.json()).error.message, /no provider nope in config version 1/);
  assert.equal((await post("/providers/up/keys/7/disable")).status, 404);
  assert.ok(
    relay.logs.some((line) =>
      line.msg === "switched off" && line.provider === "up" && line.key === maskSecret(K1)
    ),
  );
  await upstream.close();
});

Deno.test("the admin status shows the models an upstream refused a key (403); switching the key on takes them back", async () => {
  const upstream = startFakeUpstream((request) =>
    request.json().then((body) =>
      body.model === "opus"
        ? Response.json({ type: "error", error: { type: "permission_error", message: "no opus" } }, {
          status: 403,
        })
        : Response.json({ type: "message", content: [] })
    )
  );
  await using relay = await startLiveRelay(liveConfig(upstreamProvider("up", upstream.url, [K1])));
  const ask = async (model: string) => {
    const response = await postMessage(relay.url, JSON.stringify({ model, max_tokens: 8, messages: [] }));
    await response.body?.cancel();
    return response.status;
  };
  const key = async () => (await (await relay.admin("/status")).json()).providers[0].keys[0];
  const before = Date.now();
  assert.deepEqual([await ask("opus"), await ask("sonnet")], [403, 200]);
  const { enabled, disabled_reason, refused_models } = await key();
  assert.deepEqual([enabled, disabled_reason, refused_models.map(({ model }: { model: string }) => model)], [
    true,
    null,
    ["opus"],
  ]);
  const until = Date.parse(refused_models[0].until);
  assert.ok(until >= before + 300_000 && until <= Date.now() + 300_000, refused_models[0].until);
  assert.equal(await ask("opus"), 403);
  assert.equal(upstream.requests.length, 2, "relay refused opus itself");
  await (await relay.admin("/providers/up/keys/0/enable", { method: "POST" })).body?.cancel();
  assert.deepEqual((await key()).refused_models, []);
  assert.equal(await ask("opus"), 403);
  assert.equal(upstream.requests.length, 3, "asked again at once");
  await upstream.close();
});

Deno.test("switching a provider on closes its breakers: it is tried again at once, whatever its cooldown; open, each says when it probes", async () => {
  let down = true;
  const upstream = startFakeUpstream(() =>
    down ? new Response("down", { status: 500 }) : Response.json({ type: "message", content: [] })
  );
  const breaker =
    "routing:\n  max_attempts: 1\n  breaker:\n    failures: 1\n    cooldown: 1h\n    last_resort: false\n";
  await using relay = await startLiveRelay(liveConfig(upstreamProvider("up", upstream.url, [K1]), breaker));
  const breakers = async () => {
    const [up] = (await (await relay.admin("/status")).json()).providers;
    return [up.breaker, up.keys[0].breaker, up.retry_at === null, up.keys[0].retry_at === null];
  };
  await (await postMessage(relay.url)).arrayBuffer();
  assert.deepEqual(await breakers(), ["open", "open", false, false]);
  down = false;
  const refused = await postMessage(relay.url);
  assert.equal(refused.status, 503, "open for the hour");
  await refused.body?.cancel();

  await (await relay.admin("/providers/up/enable", { method: "POST" })).body?.cancel();
  assert.deepEqual(await breakers(), ["closed", "closed", true, true]);
  const answered = await postMessage(relay.url);
  assert.equal(answered.status, 200);
  await answered.body?.cancel();
  assert.equal(upstream.requests.length, 2);
  await upstream.close();
});

Deno.test("the admin status tells of the last resort's probe while it is out, on the provider and its key", async () => {
  let down = true;
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => down ? new Response("down", { status: 500 }) : stream.response());
  const breaker = "routing:\n  max_attempts: 1\n  breaker:\n    failures: 1\n    cooldown: 1h\n";
  await using relay = await startLiveRelay(liveConfig(upstreamProvider("up", upstream.url, [K1]), breaker));
  const probing = async () => {
    const [up] = (await (await relay.admin("/status")).json()).providers;
    return [up.breaker, up.probing, up.keys[0].breaker, up.keys[0].probing];
  };
  await (await postMessage(relay.url)).arrayBuffer();
  assert.deepEqual(await probing(), ["open", false, "open", false]);
  down = false;
  const held = postMessage(relay.url);
  await upstream.nextRequest(); // the first request's
  await upstream.nextRequest(); // the probe, its upstream silent
  assert.deepEqual(await probing(), ["open", true, "open", true]);
  stream.push(messageStartEvent("msg_probe", { input_tokens: 1, output_tokens: 0 }));
  const answered = await held;
  assert.equal(answered.status, 200);
  assert.deepEqual(await probing(), ["closed", false, "closed", false], "its first event closed both");
  stream.end();
  await answered.body?.cancel();
  await upstream.close();
});

Deno.test("POST /admin/reload answers the new version and what changed, or 422 with the error", async () => {
  await using relay = await startLiveRelay(liveConfig(MOCK));
  await relay.write(liveConfig(MOCK + "  - name: m2\n    type: mock\n", "  port: 9999\n"));
  const reloaded = await relay.admin("/reload", { method: "POST" });
  assert.equal(reloaded.status, 200);
  assert.deepEqual(await reloaded.json(), {
    ok: true,
    version: 2,
    added: ["m2"],
    removed: [],
    changed: [],
    kept: ["m"],
    needs_restart: ["server.port"],
    path: relay.path,
  });
  assert.ok(
    relay.logs.some((line) => line.msg === "config change needs a restart" && line.fields === "server.port"),
  );
  const status = await relay.admin("/status");
  assert.deepEqual(
    (await status.json()).config.needs_restart,
    ["server.port"],
    "pending until relay restarts",
  );
  await relay.write("providers: [");
  const refused = await relay.admin("/reload", { method: "POST" });
  assert.equal(refused.status, 422);
  const body = await refused.json();
  assert.equal(body.ok, false);
  assert.equal(body.version, 2);
  assert.match(body.error, /relay\.yaml:1:/);
  assert.equal(body.path, relay.path, "the file relay reads, which relay reload -c compares with its own");
});

/** Reads SSE events off `response` one at a time. */
function eventReader(response: Response) {
  const reader = response.body!.getReader();
  const decoder = new SseDecoder();
  const queue: { event: string; data: Record<string, unknown> }[] = [];
  const next = async (): Promise<{ event: string; data: Record<string, unknown> }> => {
    while (queue.length === 0) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the event stream ended");
      for (const event of decoder.feed(value)) {
        queue.push({ event: event.event, data: JSON.parse(event.data) });
      }
    }
    return queue.shift()!;
  };
  return Object.assign(next, { cancel: () => reader.cancel() });
}

Deno.test("the event stream tells requests, breaker changes, switches and reloads as they happen", async () => {
  const upstream = startFakeUpstream(() => new Response("down", { status: 500 }));
  const breaker = "routing:\n  max_attempts: 1\n  breaker:\n    failures: 1\n";
  await using relay = await startLiveRelay(liveConfig(upstreamProvider("up", upstream.url, [K2]), breaker));
  const response = await relay.admin("/events");
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const next = eventReader(response);
  assert.deepEqual(await next(), { event: "ready", data: { config_version: 1 } });

  assert.equal((await postMessage(relay.url)).status, 500);
  const changes = [await next(), await next()];
  assert.deepEqual(changes.map(({ event, data }) => [event, data.key ?? "-", data.to]), [
    ["breaker", "sk-...0002", "open"],
    ["breaker", "-", "open"],
  ]);
  const request = await next();
  assert.equal(request.event, "request");
  assert.equal(request.data.status, 500);
  assert.equal(request.data.config_version, 1);
  assert.equal(request.data.provider, "up");

  await relay.admin("/providers/up/disable", { method: "POST" });
  assert.deepEqual(await next(), { event: "switch", data: { provider: "up", enabled: false } });
  await relay.admin("/reload", { method: "POST" });
  assert.deepEqual(await next(), { event: "reload", data: { ok: true, version: 2, reason: "admin API" } });
  await next.cancel();
  await upstream.close();
});

Deno.test("the event stream tells of the breakers a reload closes with the provider it changed", async () => {
  const upstream = startFakeUpstream(() => new Response("down", { status: 500 }));
  const breaker = "routing:\n  max_attempts: 1\n  breaker:\n    failures: 1\n";
  await using relay = await startLiveRelay(liveConfig(upstreamProvider("up", upstream.url, [K2]), breaker));
  const next = eventReader(await relay.admin("/events"));
  assert.equal((await next()).event, "ready");
  assert.equal((await postMessage(relay.url)).status, 500);
  for (let i = 0; i < 3; i++) await next(); // the key's and the provider's breakers open, the request
  await relay.write(
    liveConfig(upstreamProvider("up", upstream.url, [K2], "    timeouts:\n      idle: 6m"), breaker),
  );
  await relay.admin("/reload", { method: "POST" });
  // A switch after it: what the reload told of comes before it, and a stream that told nothing fails here.
  await relay.admin("/providers/up/disable", { method: "POST" });
  assert.equal((await next()).event, "reload");
  const told = async () => {
    const { event, data } = await next();
    return [event, data.key ?? "-", data.from, data.to];
  };
  assert.deepEqual(await told(), ["breaker", "sk-...0002", "open", "closed"]);
  assert.deepEqual(await told(), ["breaker", "-", "open", "closed"]);
  assert.equal((await next()).event, "switch");
  await next.cancel();
  await upstream.close();
});

Deno.test("the event stream tells of a key its upstream took out", async () => {
  const upstream = startFakeUpstream(() =>
    Response.json({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } }, {
      status: 401,
    })
  );
  await using relay = await startLiveRelay(liveConfig(upstreamProvider("up", upstream.url, [K1])));
  const next = eventReader(await relay.admin("/events"));
  assert.equal((await next()).event, "ready");
  const answer = await postMessage(relay.url);
  await answer.body?.cancel();
  assert.deepEqual(await next(), {
    event: "key_disabled",
    data: { provider: "up", key: "sk-...0001", reason: "401 from upstream" },
  });
  const request = await next();
  assert.deepEqual([request.event, request.data.status], ["request", 401]);
  await next.cancel();
  await upstream.close();
});

Deno.test("an event stream ends when a reload changes or removes the admin token it was opened with", async () => {
  await using relay = await startLiveRelay(liveConfig(MOCK));
  const first = eventReader(await relay.admin("/events"));
  assert.deepEqual(await first(), { event: "ready", data: { config_version: 1 } });
  await relay.runtime.reload("test");
  assert.deepEqual(await first(), { event: "reload", data: { ok: true, version: 2, reason: "test" } });

  // Switched off, then changed by the reload that rotates the token: its `switch` event is the new
  // token's holders' to see, not the old one's.
  await relay.admin("/providers/m/disable", { method: "POST" });
  assert.equal((await first()).event, "switch");
  const rotated = "adm_rotated_0123456789abcdef";
  await relay.write(liveConfig(`${MOCK}    max_in_flight: 4\n`).replace(ADMIN_TOKEN, rotated));
  await relay.runtime.reload("test");
  assert.ok(relay.logs.some((line) => line.msg === "switched on" && line.provider === "m"));
  assert.deepEqual(await first(), { event: "end", data: { reason: "token_changed" } });
  await assert.rejects(first(), /the event stream ended/);

  const second = eventReader(
    await fetch(`${relay.url}/admin/events`, { headers: { authorization: `Bearer ${rotated}` } }),
  );
  assert.deepEqual(await second(), { event: "ready", data: { config_version: 3 } });
  await relay.write(`providers:\n${MOCK}`);
  await relay.runtime.reload("test");
  assert.deepEqual(await second(), { event: "end", data: { reason: "token_changed" } });
  await assert.rejects(second(), /the event stream ended/);
  assert.equal(relay.runtime.events.subscribers, 0);
});

/** A status read off `clock` (monotonic) while the wall clock says `wall`, with what `ledger` gives. */
function statusOn(clock: FakeClock, wall: { now: number }, ledger?: () => LedgerHealth) {
  const runtime = new Runtime({
    config: configSchema.parse({ providers: [{ name: "m", type: "mock" }] }),
    path: "/etc/relay.yaml",
    load: () => Promise.reject(new Error("/etc/relay.yaml:2:1: bad")),
    logger: () => createLogger({ write: () => {} }),
    events: new EventBus(),
    now: () => wall.now,
    monotonic: clock.now,
  });
  const started = { at: wall.now, monotonic: clock.now() };
  const sources = {
    runtime,
    limiter: new ConcurrencyLimiter({ max: 4, maxQueue: 4 }),
    inFlight: new InFlight(),
    ledger: { path: ledger && "/var/lib/relay/ledger.db", health: ledger },
    started,
    wallClock: () => wall.now,
  };
  return { runtime, status: () => adminStatus(sources) };
}

Deno.test("the admin status measures uptime and ages on relay's monotonic clock, whatever its wall clock does", async () => {
  const clock = new FakeClock(50_000);
  const wall = { now: Date.parse("2026-11-25T10:00:00Z") };
  const { runtime, status } = statusOn(clock, wall);
  clock.advance(7_200_000);
  wall.now += 7_200_000;
  await runtime.reload("SIGHUP");
  clock.advance(90_000);
  // A clock step back of an hour (NTP, a VM resumed): time spent stays what it was.
  wall.now -= 3_600_000;
  const { started_at, uptime_ms, config } = status();
  assert.equal(started_at, "2026-11-25T10:00:00.000Z", "for people, the date it started");
  assert.equal(uptime_ms, 7_290_000);
  assert.equal(config.loaded_at, "2026-11-25T10:00:00.000Z");
  assert.equal(config.loaded_ago_ms, 7_290_000);
  assert.equal(config.last_error?.at, "2026-11-25T12:00:00.000Z");
  assert.equal(config.last_error?.ago_ms, 90_000);
  assert.equal(config.last_error?.reason, "SIGHUP");
});

Deno.test("the admin status tells the ledger's state, its counts, why it fails and since when; or that it is off", () => {
  const clock = new FakeClock(50_000);
  const wall = { now: Date.parse("2026-11-25T12:00:00Z") };
  const health: LedgerHealth = {
    state: "failing",
    error: "database or disk is full",
    since: 50_000 + 60_000,
    pending: 1_234,
    written: 5_000,
    dropped: 3,
  };
  const { status } = statusOn(clock, wall, () => health);
  clock.advance(240_000);
  wall.now += 240_000;
  assert.deepEqual(status().ledger, {
    enabled: true,
    path: "/var/lib/relay/ledger.db",
    state: "failing",
    error: "database or disk is full",
    pending: 1_234,
    written_total: 5_000,
    dropped_total: 3,
    since: "2026-11-25T12:01:00.000Z",
    for_ms: 180_000,
  });
  Object.assign(health, { state: "ok", error: undefined, since: clock.now() });
  assert.deepEqual(
    { ...status().ledger, since: undefined },
    {
      enabled: true,
      path: "/var/lib/relay/ledger.db",
      state: "ok",
      error: null,
      pending: 1_234,
      written_total: 5_000,
      dropped_total: 3,
      since: undefined,
      for_ms: 0,
    },
  );
  assert.deepEqual(statusOn(clock, wall).status().ledger, { enabled: false, path: null });
});
