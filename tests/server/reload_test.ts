import assert from "node:assert/strict";
import { type ControlledStream, controlledStream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { liveConfig, postMessage, startLiveRelay, upstreamProvider } from "../_helpers/live_relay.ts";
import { assembledResponse } from "../_helpers/anthropic_grammar.ts";
import { loadGolden } from "../_helpers/golden.ts";

const K1 = "sk-test-key-one-0000000001";
const K2 = "sk-test-key-two-0000000002";

/** The golden text stream, split after its first event: what commits a stream, and the rest. */
async function goldenHalves(): Promise<[Uint8Array, Uint8Array]> {
  const bytes = await loadGolden("text");
  const cut = new TextDecoder().decode(bytes).indexOf("\n\n") + 2;
  return [bytes.slice(0, cut), bytes.slice(cut)];
}

/** An upstream whose every stream the test finishes, each recorded with the key it came with. */
function heldUpstream(head: Uint8Array) {
  const held: { key: string | null; stream: ControlledStream }[] = [];
  const upstream = startFakeUpstream((_request, recorded) => {
    const stream = controlledStream();
    stream.push(head);
    held.push({ key: recorded.headers.get("x-api-key"), stream });
    return stream.response();
  });
  return { upstream, held };
}

Deno.test("a reload under 50 in-flight streams loses none; new requests run on the new config", async () => {
  const [head, rest] = await goldenHalves();
  const { upstream, held } = heldUpstream(head);
  await using relay = await startLiveRelay(liveConfig(upstreamProvider("up", upstream.url, [K1])));
  // Each answer's headers arrive once its upstream committed: all 50 are under way.
  const responses = await Promise.all(Array.from({ length: 50 }, () => postMessage(relay.url)));
  assert.ok(responses.every((response) => response.status === 200));

  await relay.write(liveConfig(upstreamProvider("up", upstream.url, [K2])));
  const reloaded = await relay.runtime.reload("test");
  assert.deepEqual(reloaded, {
    ok: true,
    version: 2,
    changes: { added: [], removed: [], changed: ["up"], kept: [] },
    needsRestart: [],
  });
  for (const { stream } of held) {
    stream.push(rest);
    stream.end();
  }
  const streams = await Promise.all(responses.map(assembledResponse));
  for (const { message, error } of streams) {
    assert.equal(error, undefined);
    assert.equal(message.stop_reason, "end_turn");
    assert.equal(message.content[0].text, "Hello! How can I help you today?");
  }
  const requestLines = relay.logs.filter((line) => line.msg === "request");
  assert.equal(requestLines.length, 50);
  assert.ok(requestLines.every((line) => line.config_version === 1 && line.outcome === "complete"));

  const after = postMessage(relay.url);
  while (held.length < 51) await upstream.nextRequest();
  held[50].stream.push(rest);
  held[50].stream.end();
  assert.equal((await assembledResponse(await after)).error, undefined);
  assert.equal(held[50].key, K2, "the new key");
  assert.equal(held.slice(0, 50).filter(({ key }) => key === K1).length, 50);
  assert.equal(
    (await relay.waitForLog((line) => line.msg === "request" && line.config_version === 2)).status,
    200,
  );
  await upstream.close();
});

Deno.test("a key a reload removed drains its stream under way and takes no new requests", async () => {
  const [head, rest] = await goldenHalves();
  const { upstream, held } = heldUpstream(head);
  await using relay = await startLiveRelay(liveConfig(upstreamProvider("up", upstream.url, [K1, K2])));
  const draining = await postMessage(relay.url);
  assert.equal(held[0].key, K1, "ties go to the key listed first");

  await relay.write(liveConfig(upstreamProvider("up", upstream.url, [K2])));
  assert.equal((await relay.runtime.reload("test")).ok, true);
  const later = await Promise.all(Array.from({ length: 5 }, () => postMessage(relay.url)));
  assert.deepEqual(held.slice(1).map(({ key }) => key), [K2, K2, K2, K2, K2]);
  for (const { stream } of held) {
    stream.push(rest);
    stream.end();
  }
  for (const response of [draining, ...later]) {
    assert.equal((await assembledResponse(response)).error, undefined);
  }
  await upstream.close();
});

Deno.test("an invalid file changes nothing: bad YAML, an open mode, a missing variable, unreadable credentials; the error shows in the admin status", async () => {
  const upstream = startFakeUpstream();
  const good = liveConfig(upstreamProvider("up", upstream.url, ["${KEY}"]));
  await using relay = await startLiveRelay(good, { env: { KEY: K1 } });
  for (
    const [text, mode, problem] of [
      [good.replace("providers:", "providers: ["), 0o600, /relay\.yaml:\d+:\d+/],
      [good, 0o644, /has mode 0644.*chmod 600/],
      [good.replace("${KEY}", "${MISSING_KEY}"), 0o600, /MISSING_KEY/],
      [good.replace("anthropic-compatible", "anthropic-compat"), 0o600, /providers\[0\]\.type/],
      [
        good.replace(
          "providers:\n",
          "providers:\n  - { name: vx, type: vertex, project: p, region: global, credentials_file: /no/sa.json }\n",
        ),
        0o600,
        /relay\.yaml:\d+:5: providers\[0\]: vx: cannot read service-account file \/no\/sa\.json/,
      ],
    ] as const
  ) {
    await relay.write(text, mode);
    const result = await relay.runtime.reload("test");
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.error : "", problem);
    assert.equal(relay.runtime.current.version, 1);
    const status = await (await relay.admin("/status")).json();
    assert.equal(status.config.version, 1);
    assert.match(status.config.last_error.error, problem);
    assert.equal((await postMessage(relay.url)).status, 200, "the previous config keeps serving");
    assert.equal(upstream.requests.at(-1)!.headers.get("x-api-key"), K1);
  }
  assert.ok(relay.logs.some((line) => line.msg === "config reload failed" && line.config_version === 1));
  await relay.write(good);
  assert.equal((await relay.runtime.reload("test")).ok, true);
  assert.equal((await (await relay.admin("/status")).json()).config.last_error, null);
  await upstream.close();
});

Deno.test("unchanged providers keep their breakers across a reload; the last five configs are kept", async () => {
  const failing = startFakeUpstream(() => new Response("down", { status: 500 }));
  const healthy = startFakeUpstream();
  const breaker = "routing:\n  max_attempts: 1\n  breaker:\n    failures: 1\n";
  const config = (second: string) =>
    liveConfig(
      upstreamProvider("a", failing.url, [K1]) + upstreamProvider("b", healthy.url, [second]),
      breaker,
    );
  await using relay = await startLiveRelay(config(K1));
  assert.equal((await postMessage(relay.url)).status, 500);
  await relay.waitForLog((line) => line.msg === "breaker" && line.provider === "a" && line.key === undefined);
  for (const key of [K2, K1, K2, K1, K2]) {
    await relay.write(config(key));
    assert.equal((await relay.runtime.reload("test")).ok, true);
  }
  const status = await (await relay.admin("/status")).json();
  assert.deepEqual(status.providers.map((p: { name: string; breaker: string }) => [p.name, p.breaker]), [
    ["a", "open"],
    ["b", "closed"],
  ]);
  assert.deepEqual(status.config.history.map((record: { version: number }) => record.version), [
    2,
    3,
    4,
    5,
    6,
  ]);
  assert.equal((await postMessage(relay.url)).status, 200, "a is skipped while open");
  await failing.close();
  await healthy.close();
});

Deno.test("a reload that changes a switched-off provider or key says it is switched on again", async () => {
  // d's key is named; the reload renames it, which changes d and brings the key back under its new label.
  const named = (name: string) =>
    `  - name: d\n    type: anthropic-compatible\n    base_url: http://127.0.0.1:2\n    keys:\n      - key: ${K1}\n        name: ${name}\n`;
  const config = (extra: string, name: string) =>
    liveConfig(
      upstreamProvider("a", "http://127.0.0.1:2", [K1, K2], extra) +
        upstreamProvider("b", "http://127.0.0.1:2", [K1], extra) +
        upstreamProvider("c", "http://127.0.0.1:2", [K2]) + named(name),
    );
  await using relay = await startLiveRelay(config("", "main"));
  const switches = [
    "/providers/a/keys/1/disable",
    "/providers/b/disable",
    "/providers/b/keys/0/disable",
    "/providers/c/disable",
    "/providers/d/keys/main/disable",
  ];
  for (const route of switches) assert.equal((await relay.admin(route, { method: "POST" })).status, 200);
  const events = await relay.admin("/events");
  const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();

  await relay.write(config("    max_in_flight: 4", "primary"));
  assert.equal((await relay.runtime.reload("test")).ok, true);
  const lines = relay.logs.filter((line) => line.msg === "switched on");
  assert.deepEqual(lines.map(({ provider, key, by }) => ({ provider, key, by })), [
    { provider: "a", key: "sk-...0002", by: "reload" },
    { provider: "b", key: undefined, by: "reload" },
    { provider: "b", key: "sk-...0001", by: "reload" },
    { provider: "d", key: "primary (sk-...0001)", by: "reload" },
  ], "c is unchanged and stays off");
  let text = "";
  while (!text.includes('"provider":"d"')) text += (await reader.read()).value;
  assert.match(text, /event: switch\ndata: \{"provider":"a","key":"sk-\.\.\.0002","enabled":true\}/);
  await reader.cancel();
  const status = await (await relay.admin("/status")).json();
  assert.deepEqual(status.providers.map((p: { name: string; enabled: boolean }) => [p.name, p.enabled]), [
    ["a", true],
    ["b", true],
    ["c", false],
    ["d", true],
  ]);
});

Deno.test("every log line carries the config version it was written under", async () => {
  await using relay = await startLiveRelay(liveConfig("  - name: m\n    type: mock\n"));
  await (await postMessage(relay.url)).arrayBuffer();
  relay.runtime.logger.info("outside any request");
  await relay.runtime.reload("test");
  relay.runtime.logger.info("after the reload");
  assert.ok(relay.logs.length >= 4);
  assert.ok(relay.logs.every((line) => typeof line.config_version === "number"), JSON.stringify(relay.logs));
  assert.equal(relay.logs.at(-1)!.config_version, 2);
});

Deno.test("a reloaded server.max_body_size applies to /v1/chat/completions as to /v1/messages", async () => {
  const upstream = startFakeUpstream();
  const provider = upstreamProvider("up", upstream.url, [K1]);
  await using relay = await startLiveRelay(liveConfig(provider, "  max_body_size: 1KiB\n"));
  const chat = () =>
    fetch(`${relay.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        messages: [{ role: "user", content: "x".repeat(2048) }],
      }),
    });
  const refused = await chat();
  assert.equal(refused.status, 413);
  await refused.body?.cancel();
  await relay.write(liveConfig(provider, "  max_body_size: 1MiB\n"));
  assert.equal((await relay.runtime.reload("test")).ok, true);
  const served = await chat();
  assert.equal(served.status, 200);
  await served.body?.cancel();
  await upstream.close();
});

Deno.test("a restart-only change stays pending over later reloads, until the file sets the started value again", async () => {
  const config = (port: number, level: string) =>
    liveConfig("  - name: m\n    type: mock\n", `  port: ${port}\nlog:\n  level: ${level}\n`);
  await using relay = await startLiveRelay(config(18_000, "info"));
  await relay.write(config(18_001, "info"));
  const moved = await relay.runtime.reload("test");
  assert.deepEqual(moved.ok && moved.needsRestart, ["server.port"]);
  await relay.write(config(18_001, "debug"));
  const later = await relay.runtime.reload("test");
  assert.deepEqual(later.ok && later.needsRestart, ["server.port"], "still listening on the first port");
  assert.deepEqual(relay.runtime.needsRestart, ["server.port"]);
  assert.equal(relay.logs.filter((line) => line.msg === "config change needs a restart").length, 2);
  await relay.write(config(18_000, "debug"));
  const back = await relay.runtime.reload("test");
  assert.deepEqual(back.ok && back.needsRestart, []);
  assert.deepEqual(relay.runtime.needsRestart, []);
});

Deno.test("a reload may not drop the client tokens while relay listens on a non-loopback address", async () => {
  const mock = "  - name: m\n    type: mock\n";
  // 127.1 is loopback to the OS but not to relay's rule, so it stands in for 0.0.0.0.
  await using relay = await startLiveRelay(
    liveConfig(mock, '  host: "127.1"\n  auth:\n    tokens: ["rly_client_token_0001"]\n'),
  );
  await relay.write(liveConfig(mock, "  host: 127.0.0.1\n"));
  const refused = await relay.runtime.reload("test");
  assert.equal(refused.ok, false);
  assert.match(
    !refused.ok ? refused.error : "",
    /server\.auth\.tokens: relay listens on 127\.1 until it restarts/,
  );
  assert.equal(relay.runtime.current.version, 1);
  assert.deepEqual(relay.runtime.current.config.server.auth.tokens, ["rly_client_token_0001"]);
});

Deno.test("beforeEachReload runs just before each reload reads the file, whatever asked for it", async () => {
  const mock = "  - name: m\n    type: mock\n";
  await using relay = await startLiveRelay(liveConfig(mock));
  // What the callback writes is what the reload reads: it ran before the read.
  let runs = 0;
  relay.runtime.beforeEachReload(() => {
    runs++;
    Deno.writeTextFileSync(relay.path, liveConfig(`${mock}  - name: m${runs}\n    type: mock\n`), {
      mode: 0o600,
    });
  });
  const first = await relay.runtime.reload("test");
  assert.deepEqual([first.ok, first.ok && first.changes.added], [true, ["m1"]]);
  const second = await relay.runtime.reload("SIGHUP");
  assert.deepEqual([second.ok, second.ok && second.changes.added], [true, ["m2"]]);
});
