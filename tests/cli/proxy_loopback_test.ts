import assert from "node:assert/strict";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { runRelay, sandbox, spawnRelay, writeConfig } from "../_helpers/cli.ts";

const ADMIN = "adm_cli_proxy_0123456789";
const KEY = "sk-ant-fake-proxy-0123456789";

/**
 * A proxy on 127.0.0.1 that records the head of each request made to it and answers none. Deno itself
 * may go through it too (its update check, an npm download), so tests look at what each one asked for.
 */
function recordingProxy() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const reads: Promise<string>[] = [];
  const accepting = (async () => {
    for await (const connection of listener) reads.push(_head(connection));
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    /** The head of every request so far, once each has arrived. */
    heads: () => Promise.all(reads),
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
    },
  };
}

async function _head(connection: Deno.Conn): Promise<string> {
  let head = "";
  const buffer = new Uint8Array(4096);
  try {
    while (!head.includes("\r\n\r\n")) {
      const read = await connection.read(buffer);
      if (read === null) break;
      head += new TextDecoder().decode(buffer.subarray(0, read));
    }
  } catch {
    // the client went away
  } finally {
    connection.close();
  }
  return head;
}

/** What a corporate machine's shell holds: a proxy, and nothing in NO_PROXY for loopback. */
function behind(proxy: { url: string }, cwd: string) {
  return {
    cwd,
    env: { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, ALL_PROXY: proxy.url },
    unset: ["NO_PROXY", "no_proxy"],
  };
}

/** The requests the proxy was asked to send to loopback, or that carry one of `secrets`. */
async function leaked(proxy: { heads(): Promise<string[]> }, secrets: string[]): Promise<string[]> {
  return (await proxy.heads()).filter((head) =>
    /^\S+ (http:\/\/)?(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(head) ||
    secrets.some((secret) => head.includes(secret))
  );
}

Deno.test("with HTTP_PROXY set and no NO_PROXY, relay status and reload never send the admin token through the proxy", async () => {
  await using proxy = recordingProxy();
  const folder = await sandbox();
  const path = await writeConfig(
    folder,
    `server:\n  admin:\n    token: ${ADMIN}\nproviders:\n  - name: m\n    type: mock\n`,
  );
  await using relay = await spawnRelay([], { cwd: folder });
  for (const url of [relay.url, relay.url.replace("127.0.0.1", "localhost")]) {
    const status = await runRelay(["status", "--json", "-c", path, "--url", url], behind(proxy, folder));
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout).providers.map((p: { name: string }) => p.name), ["m"]);
  }
  const reload = await runRelay(["reload", "-c", path, "--url", relay.url], behind(proxy, folder));
  assert.equal(reload.code, 0, reload.stderr);
  assert.deepEqual(await leaked(proxy, [ADMIN]), []);
});

Deno.test("with HTTP_PROXY set and no NO_PROXY, relay serve never sends a loopback upstream's key through the proxy", async () => {
  await using proxy = recordingProxy();
  const upstream = startFakeUpstream();
  const folder = await sandbox();
  await writeConfig(
    folder,
    `providers:\n  - name: up\n    type: anthropic-compatible\n    base_url: "${upstream.url}"\n` +
      `    keys:\n      - key: ${KEY}\n`,
  );
  try {
    await using relay = await spawnRelay([], behind(proxy, folder));
    const answer = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: '{"model":"claude-haiku-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}',
    });
    assert.equal(answer.status, 200, await answer.text());
    assert.equal(upstream.requests.length, 1, "the loopback upstream got the request itself");
    assert.equal(upstream.requests[0].headers.get("x-api-key"), KEY);
  } finally {
    await upstream.close();
  }
  assert.deepEqual(await leaked(proxy, [KEY]), []);
});
