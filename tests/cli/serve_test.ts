import assert from "node:assert/strict";
import { SseDecoder } from "../../src/stream/sse_decode.ts";
import { assembleAnthropicStream, assembledResponse } from "../_helpers/anthropic_grammar.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { cliEnv, FROM_SOURCE, runRelay, sandbox, spawnRelay, writeConfig } from "../_helpers/cli.ts";
import { controlledStream, startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { openTerminal } from "../_helpers/tmux.ts";

/** The project's folder, where `deno task` finds its tasks. */
const PROJECT = new URL("../../", import.meta.url).pathname;

const STREAM =
  '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}';

async function streamMessage(url: string, headers: HeadersInit = {}) {
  const response = await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
    body: STREAM,
  });
  return response;
}

Deno.test("relay serve with no config anywhere serves the mock and says so, then stops on SIGTERM", async () => {
  await using relay = await spawnRelay([]);
  assert.ok(relay.stderr.some((line) => line.includes("built-in mock provider")), relay.stderr.join("\n"));
  assert.ok(
    relay.stderr.some((line) => /run `deno task --config \S+\/deno\.json relay init`/.test(line)),
    "from source",
  );
  assert.match(relay.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const response = await streamMessage(relay.url);
  assert.equal(response.status, 200);
  const { message, error } = await assembledResponse(response);
  assert.equal(error, undefined);
  assert.equal(message.stop_reason, "end_turn");
  const log = JSON.parse(await relay.waitForLine(/"msg":"request"/));
  assert.equal(log.provider, "mock");
  assert.equal(log.status, 200);
  relay.process.kill("SIGTERM");
  assert.equal((await relay.process.status).code, 0);
  await relay.waitForLine(/"msg":"stopped"/);
});

Deno.test("SIGTERM lets an in-flight stream finish before relay exits", async () => {
  await using relay = await spawnRelay([]);
  // The mock spaces its events out, so the stream is still open when the signal lands.
  const response = await streamMessage(relay.url, { "x-relay-mock": "events=6, chunk_delay=50ms" });
  const reader = response.body!.getReader();
  const chunks = [(await reader.read()).value!];
  relay.process.kill("SIGTERM");
  await relay.waitForLine(/"msg":"shutting down"/);
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  chunks.reduce((offset, chunk) => (body.set(chunk, offset), offset + chunk.byteLength), 0);
  const { message, error } = assembleAnthropicStream(new SseDecoder().feed(body));
  assert.equal(error, undefined);
  assert.equal(message.stop_reason, "end_turn");
  assert.equal((await relay.process.status).code, 0);
});

Deno.test("relay serve uses the config file it finds, with --port overriding it", async () => {
  const folder = await sandbox();
  await writeConfig(
    folder,
    `server:\n  port: 2\nproviders:\n  - name: demo\n    type: mock\n    mock:\n      events: 3\n`,
  );
  await using relay = await spawnRelay([], { cwd: folder });
  assert.ok(!relay.stderr.some((line) => line.includes("No config file")));
  const { message } = await assembledResponse(await streamMessage(relay.url));
  assert.equal(message.content[0].type, "text");
  assert.equal(JSON.parse(await relay.waitForLine(/"msg":"request"/)).provider, "demo");
});

Deno.test("relay serve refuses a config others can read, naming the file, its mode and the fix", async () => {
  const folder = await sandbox();
  for (const mode of [0o644, 0o640, 0o604]) {
    const path = await writeConfig(folder, "providers:\n  - name: m\n    type: mock\n", mode);
    const { code, stderr } = await runRelay(["serve", "--port", "0"], { cwd: folder });
    assert.equal(code, 1);
    assert.ok(stderr.includes(path), stderr);
    assert.ok(stderr.includes(`0${mode.toString(8)}`), stderr);
    assert.ok(stderr.includes(`chmod 600 ${path}`), stderr);
  }
});

Deno.test("relay serve refuses a non-loopback --host without client tokens", async () => {
  const { code, stderr } = await runRelay(["serve", "--port", "0", "--host", "0.0.0.0"]);
  assert.equal(code, 1);
  assert.match(stderr, /binding 0\.0\.0\.0 requires server\.auth\.tokens/);
});

Deno.test("relay serve reports a port already in use and exits 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { code, stderr } = await runRelay(["serve", "--port", String(listener.addr.port)]);
    assert.equal(code, 1);
    assert.match(stderr, /cannot listen on 127\.0\.0\.1:\d+/);
    assert.match(stderr, /"msg":"ledger"[^]*cannot listen/, "the log lines before it come first");
  } finally {
    listener.close();
  }
});

Deno.test("relay serve refuses a bad --port, an empty one too (an unset $PORT), rather than any free port", async () => {
  for (const port of ["http", "", " ", " 80", "1e3", "0x50", "80.0"]) {
    // A config that is not there: were the port taken, relay would stop at it rather than serve.
    const { code, stderr } = await runRelay(["serve", "--port", port, "-c", "/nonexistent/relay.yaml"]);
    assert.notEqual(code, 0, `--port '${port}'`);
    assert.match(stderr, /expected a port number from 0 to 65535/);
  }
});

Deno.test("relay serve refuses an empty --host (an unset $HOST), or one no address, as the file's server.host", async () => {
  const { code, stderr } = await runRelay(["serve", "--host", "", "-c", "/nonexistent/relay.yaml"]);
  assert.notEqual(code, 0);
  assert.match(
    stderr,
    /--host <host>' argument '' is invalid\. must not be empty \(127\.0\.0\.1 keeps relay local\)/,
  );
  // Before the rule on tokens, which would otherwise take "not a host" for an address beyond loopback.
  const typo = await runRelay(["serve", "--host", "not a host", "-c", "/nonexistent/relay.yaml"]);
  assert.notEqual(typo.code, 0);
  assert.match(typo.stderr, /argument 'not a host' is invalid\. is neither an IP address nor a host name/);
});

Deno.test("relay serve says it cannot listen on an address that is not this machine's, without a stack trace", async () => {
  // 192.0.2.0/24 is reserved for documentation: no machine has it.
  const folder = await sandbox();
  await writeConfig(
    folder,
    "server:\n  host: 192.0.2.1\n  auth:\n    tokens: [rly_serve_test_token_0000000001]\nproviders:\n  - name: m\n    type: mock\n",
  );
  const { code, stderr } = await runRelay(["serve", "--port", "0"], { cwd: folder });
  assert.equal(code, 1);
  assert.match(stderr, /relay cannot listen on 192\.0\.2\.1:0: Cannot assign requested address/);
  assert.doesNotMatch(stderr, /Uncaught| {4}at /);
});

Deno.test("relay serve with a config pointed at by RELAY_CONFIG that does not exist says where the path came from", async () => {
  const { code, stderr } = await runRelay(["serve"], { env: { RELAY_CONFIG: "/nonexistent/relay.yaml" } });
  assert.equal(code, 1);
  assert.match(stderr, /\/nonexistent\/relay\.yaml/);
  assert.match(stderr, /RELAY_CONFIG/);
});

Deno.test("relay keeps serving while nobody reads its stderr, and its log lines follow once somebody does", async () => {
  const home = await sandbox();
  const [program, ...args] = FROM_SOURCE;
  const process = new Deno.Command(program, {
    args: [...args, "serve", "--port", "0"],
    cwd: home,
    clearEnv: true,
    env: cliEnv(home),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = process.stderr.pipeThrough(new TextDecoderStream()).values();
  let seen = "";
  while (!/"msg":"listening"/.test(seen)) {
    const { value, done } = await lines.next();
    assert.ok(!done, seen);
    seen += value;
  }
  const url = JSON.parse(seen.split("\n").find((line) => line.includes('"msg":"listening"'))!).url;
  // From here nobody reads stderr: its pipe (64 KiB) fills after about 150 access log lines, and a
  // relay that waited for it would stop answering; the timeout turns that into a failure, not a hang.
  const requests = 400;
  for (let sent = 0; sent < requests; sent += 8) {
    await Promise.all(Array.from({ length: 8 }, async () => {
      const response = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: '{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}',
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }));
  }
  process.kill("SIGTERM");
  for await (const text of lines) seen += text;
  assert.equal((await process.status).code, 0);
  const logged = seen.split("\n").filter((line) => line.includes('"msg":"request"'));
  assert.equal(logged.length, requests, "every access log line, once stderr is read again");
  assert.match(seen, /"msg":"stopped"/);
});

Deno.test("relay out of file descriptors says so, lets its streams finish and records them, then exits 1", async () => {
  const home = await sandbox();
  const stream = controlledStream();
  const upstream = startFakeUpstream(() => stream.response());
  await writeConfig(
    home,
    `providers:\n  - name: up\n    type: anthropic-compatible\n    base_url: "${upstream.url}"\n` +
      `    keys:\n      - key: sk-ant-fake-0123456789\nledger:\n  path: ${home}/ledger.db\n`,
  );
  await using relay = await spawnRelay([], {
    cwd: home,
    // A low limit the test's own connections can reach: Deno's server stops for good at EMFILE.
    command: ["bash", "-c", 'ulimit -n 200; exec "$@"', "bash", ...FROM_SOURCE],
  });
  stream.push(_FAKE_EVENTS[0]);
  const answer = await streamMessage(relay.url);
  const reader = answer.body!.getReader();
  const chunks = [(await reader.read()).value!];
  const port = Number(new URL(relay.url).port);
  const held: Deno.TcpConn[] = [];
  try {
    // Half a request line each, as a slow client would send: Deno keeps every one open.
    for (let i = 0; i < 260; i++) {
      const connection = await Deno.connect({ hostname: "127.0.0.1", port }).catch(() => undefined);
      if (!connection) break;
      held.push(connection);
      await connection.write(new TextEncoder().encode("GET /health HTTP/1.1\r\nHo")).catch(() => {});
    }
    const line = JSON.parse(await relay.waitForLine(/relay stopped accepting connections/));
    assert.match(line.error, /os error 24/);
    assert.match(line.hint, /ulimit -n/);
    for (const event of _FAKE_EVENTS.slice(1)) stream.push(event);
    stream.end();
    for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
    const { message, error } = assembleAnthropicStream(new SseDecoder().feed(concatBytes(chunks)));
    assert.equal(error, undefined, "the stream under way ends whole");
    assert.equal(message.stop_reason, "end_turn");
    assert.equal(JSON.parse(await relay.waitForLine(/"msg":"request"/)).outcome, "complete");
    assert.equal((await relay.process.status).code, 1);
  } finally {
    for (const connection of held) connection.close();
    await upstream.close();
  }
  const usage = await runRelay(["usage", "--json"], { cwd: home });
  assert.equal(JSON.parse(usage.stdout).total.output_tokens, 5, "its tokens are in the ledger");
});

/** A whole Anthropic stream, event by event, of 5 output tokens. */
const _FAKE_EVENTS = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",' +
  '"model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,' +
  '"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}\n\n',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},' +
  '"usage":{"output_tokens":5}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
];

Deno.test("one Ctrl-C under deno task serve, which the task doubles, drains a stream in flight and exits 0", async () => {
  const home = await sandbox();
  await using terminal = await openTerminal(["deno", "task", "serve", "-p", "0"], {
    cwd: PROJECT,
    env: cliEnv(home),
  });
  const listening = await terminal.waitFor(/listening .*url=http:\/\/127\.0\.0\.1:\d+/);
  const url = /url=(http:\/\/127\.0\.0\.1:\d+)/.exec(listening)![1];
  const response = await streamMessage(url, { "x-relay-mock": "events=6, chunk_delay=50ms" });
  const reader = response.body!.getReader();
  await reader.read();
  await terminal.press("C-c");
  let rest = "";
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    rest += new TextDecoder().decode(next.value);
  }
  assert.match(rest, /event: message_stop/, "the stream in flight ran to its end");
  assert.equal(await terminal.exitCode(), 0);
  assert.doesNotMatch(await terminal.screen(), /stopped at once/);
});
