import assert from "node:assert/strict";
import { benchConfigText } from "../../src/bench/bench_config.ts";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { isBenchWorker, startWorkerServer } from "../../src/bench/worker_server.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

/** relay's program, which a bench worker runs. */
const MAIN = new URL("../../main.ts", import.meta.url);

/** The bench's relay config, parsed, as the loopback setup hands it to a worker. */
function benchConfig(upstream: string, ledgerPath?: string): Config {
  return parseConfig(benchConfigText(upstream, { maxConcurrent: 4, ledgerPath }), "bench", () => undefined)
    .config;
}

const MESSAGE = '{"model":"m","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}';

async function post(url: string): Promise<Response> {
  return await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: MESSAGE,
  });
}

async function refused(url: string): Promise<boolean> {
  try {
    await (await fetch(`${url}/health`)).body?.cancel();
    return false;
  } catch (error) {
    return error instanceof TypeError;
  }
}

Deno.test("the bench's own thread is not a bench worker", () => {
  assert.equal(isBenchWorker(), false);
});

Deno.test("a bare worker passes requests through on its own thread, tells its heap, and stops", async () => {
  const upstream = startFakeUpstream();
  const bare = await startWorkerServer("bare", { kind: "bare", upstream: upstream.url }, MAIN);
  assert.equal(bare.process, "worker");
  const response = await post(bare.url);
  assert.equal(response.status, 200);
  assert.match(await response.text(), /event: message_stop/);
  assert.equal((await upstream.nextRequest()).body.byteLength, MESSAGE.length);
  const usage = await bare.usage();
  assert.ok(usage && usage.memoryMib > 0, "the worker's heap");
  assert.equal(usage.cpuMs, undefined);
  await bare[Symbol.asyncDispose]();
  assert.ok(await refused(bare.url), "stopped");
  await upstream.close();
});

Deno.test("a worker that does not answer stop is ended after the stop timeout, as a child is killed", async () => {
  const upstream = startFakeUpstream();
  const deaf = new URL("./_deaf_worker.ts", import.meta.url);
  const bare = await startWorkerServer("bare", { kind: "bare", upstream: upstream.url }, deaf, 50);
  await bare[Symbol.asyncDispose]();
  assert.equal(await bare.stopped, "stopped");
  assert.ok(await refused(bare.url), "its server went with its thread");
  await upstream.close();
});

Deno.test("a relay worker serves its config, ledger and all, until stopped", async () => {
  const upstream = startFakeUpstream();
  await using folder = await tempFolder();
  const ledgerPath = `${folder.path}/ledger.db`;
  const relay = await startWorkerServer("relay", {
    kind: "relay",
    config: benchConfig(upstream.url, ledgerPath),
  }, MAIN);
  const response = await post(relay.url);
  assert.equal(response.status, 200);
  assert.match(await response.text(), /event: message_stop/);
  const forwarded = await upstream.nextRequest();
  assert.equal(forwarded.headers.get("x-api-key"), "sk-bench-upstream-0000000000000000");
  await relay[Symbol.asyncDispose]();
  assert.ok(await refused(relay.url), "stopped");
  assert.ok((await Deno.stat(ledgerPath)).size > 0, "the ledger was opened where the config says");
  await upstream.close();
});

Deno.test("a worker that cannot start says why", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // Its own ledger, never the one of the relay this machine's user runs.
  await using folder = await tempFolder();
  const config = benchConfig("http://127.0.0.1:2", `${folder.path}/ledger.db`);
  config.server.port = taken.addr.port;
  await assert.rejects(
    startWorkerServer("relay", { kind: "relay", config }, MAIN),
    /^Error: relay did not start: .*[Aa]ddr.*in use/,
  );
});
