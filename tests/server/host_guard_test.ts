import assert from "node:assert/strict";
import { rawHttp } from "../_helpers/raw_http.ts";
import { Hono } from "hono";
import { refuseOtherHosts } from "../../src/server/host_guard.ts";
import type { RelayEnv } from "../../src/server/request_id.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { ADMIN_TOKEN, startLiveRelay, upstreamProvider } from "../_helpers/live_relay.ts";

/** An app behind the guard alone, answering 200 to whatever it lets through. */
function guarded(allowed: readonly string[] = []): Hono<RelayEnv> {
  const app = new Hono<RelayEnv>();
  app.use(refuseOtherHosts(() => allowed, (_, status, message) => Response.json({ message }, { status })));
  app.all("*", (c) => c.text("served"));
  return app;
}

/** `host` as the one Host header of a request (a `Request` built here keeps the one it is given). */
async function statusFor(app: Hono<RelayEnv>, host: string | undefined): Promise<number> {
  const headers: Record<string, string> = host === undefined ? {} : { host };
  const response = await app.fetch(new Request("http://127.0.0.1:8787/v1/models", { headers }));
  await response.body?.cancel();
  return response.status;
}

Deno.test("loopback names are served in every form a client writes them", async () => {
  const app = guarded();
  for (
    const host of [
      "127.0.0.1:8787",
      "127.0.0.1",
      "localhost:8787",
      "localhost",
      "LOCALHOST:8787",
      "LocalHost",
      "localhost.:8787",
      "localhost.",
      "relay.localhost:8787",
      "A.B.Localhost",
      "127.0.0.2:8787",
      "127.255.255.254",
      "127.0.0.1.:8787",
      "[::1]:8787",
      "[::1]",
      "[0:0:0:0:0:0:0:1]:8787",
      "[::ffff:127.0.0.1]:8787",
      // A URL parser's IPv4: no DNS name, so no page can stand behind it (browsers send 127.0.0.1).
      "127.1:8787",
      "127.1",
      "0x7f.1",
      "2130706433:8787",
    ]
  ) {
    assert.equal(await statusFor(app, host), 200, host);
  }
});

Deno.test("a request without Host, as HTTP/1.0 sends it, is served: a browser always sends one", async () => {
  assert.equal(await statusFor(guarded(), undefined), 200);
});

Deno.test("any other Host is refused, a web page's rebound name and 0.0.0.0 among them", async () => {
  const app = guarded();
  for (
    const host of [
      "evil.example:8787",
      "evil.example",
      "EVIL.example",
      "localhost.evil.example:8787",
      "127.0.0.1.evil.example:8787",
      "127.0.0.1.nip.io:8787",
      "evil-localhost:8787",
      "localhostx",
      // The "0.0.0.0 day": browsers reach these as this machine, from any page.
      "0.0.0.0:8787",
      "0.0.0.0",
      "0:8787",
      "[::]:8787",
      "[::ffff:0.0.0.0]",
      "192.168.1.5:8787",
      "10.0.0.1",
      "[fe80::1]:8787",
      "128.0.0.1",
      "",
      "::1",
      "a b",
      "%zz",
    ]
  ) {
    assert.equal(await statusFor(app, host), 403, JSON.stringify(host));
  }
});

Deno.test("the refusal names the Host it got and the fix", async () => {
  const response = await guarded().fetch(
    new Request("http://127.0.0.1/v1/messages", { method: "POST", headers: { host: "evil.example:18915" } }),
  );
  assert.equal(response.status, 403);
  assert.equal(
    (await response.json()).message,
    "relay on a loopback address answers only requests addressed to it by a loopback name, not " +
      "Host: evil.example:18915 (a web page's DNS rebinding looks like this); if you reach relay by that " +
      "name, add it to server.allowed_hosts",
  );
});

Deno.test("allowed names are served whole, in any case, with any port, and no other", async () => {
  const app = guarded(["relay.internal", "Dev.Box", "192.168.1.5", "fe80::1"]);
  for (
    const host of [
      "relay.internal:8787",
      "relay.internal",
      "RELAY.INTERNAL:443",
      "relay.internal.:8787",
      "dev.box",
      "192.168.1.5:8787",
      "[fe80::1]:8787",
    ]
  ) {
    assert.equal(await statusFor(app, host), 200, host);
  }
  for (const host of ["evil.relay.internal", "relay.internal.evil.example", "internal", "192.168.1.50"]) {
    assert.equal(await statusFor(app, host), 403, host);
  }
});

Deno.test("the allowed names are read per request: a new list takes effect at once", async () => {
  let allowed: readonly string[] = [];
  const app = new Hono<RelayEnv>();
  app.use(refuseOtherHosts(() => allowed, (_, status, message) => Response.json({ message }, { status })));
  app.all("*", (c) => c.text("served"));
  assert.equal(await statusFor(app, "relay.internal"), 403);
  allowed = ["relay.internal"];
  assert.equal(await statusFor(app, "relay.internal"), 200);
  allowed = [];
  assert.equal(await statusFor(app, "relay.internal"), 403);
});

const ASK = JSON.stringify({
  model: "claude-haiku-4-5",
  max_tokens: 5,
  messages: [{ role: "user", content: "x" }],
});

/** One request over a raw connection: `fetch` sends a Host of its own, never the one given. */
function rawExchange(url: string, head: string, body = ""): Promise<string> {
  const length = body === "" ? "" : `content-length: ${new TextEncoder().encode(body).length}\r\n`;
  return rawHttp(url, `${head}\r\n${length}connection: close\r\n\r\n${body}`);
}

/** What a page on evil.example sends once its name points at 127.0.0.1: same-origin, so no preflight. */
function fromRebindingPage(port: string, method: string, path: string): string {
  const host = `evil.example:${port}`;
  return method === "GET"
    ? `GET ${path} HTTP/1.1\r\nhost: ${host}`
    : `POST ${path} HTTP/1.1\r\nhost: ${host}\r\norigin: http://${host}\r\n` +
      "anthropic-dangerous-direct-browser-access: true\r\ncontent-type: text/plain;charset=UTF-8";
}

Deno.test("relay on 127.0.0.1 without tokens refuses a rebinding page's requests before any upstream sees them, until its name is allowed", async () => {
  const upstream = startFakeUpstream();
  const config = (allowed: string) =>
    `server:\n  admin:\n    token: ${ADMIN_TOKEN}\n${allowed}providers:\n` +
    upstreamProvider("up", upstream.url, ["sk-ant-relays-own-key-0123456789"]);
  await using relay = await startLiveRelay(config(""));
  const { port } = new URL(relay.url);
  for (
    const [method, path] of [
      ["POST", "/v1/messages"],
      ["POST", "/v1/chat/completions"],
      ["GET", "/v1/models"],
      ["GET", "/metrics"],
      ["GET", "/admin/status"],
    ]
  ) {
    const answer = await rawExchange(
      relay.url,
      fromRebindingPage(port, method, path),
      method === "POST" ? ASK : "",
    );
    assert.match(answer, /^HTTP\/1\.1 403 /, path);
    assert.match(
      answer,
      new RegExp(
        `"message":"relay on a loopback address answers only requests addressed to it by a loopback name, not Host: evil\\.example:${port} `,
      ),
      path,
    );
    // The route's own error shape: OpenAI's on the front door, Anthropic's elsewhere.
    assert.equal(/"param":/.test(answer), path === "/v1/chat/completions", path);
  }
  assert.equal(upstream.requests.length, 0, "relay's key was never used");
  const refused = relay.logs.filter((line) => line.msg === "request" && line.status === 403);
  assert.equal(refused.length, 5, "each refusal has its access line");

  // The same request addressed to relay by its loopback name goes through.
  const local = await rawExchange(
    relay.url,
    fromRebindingPage(port, "POST", "/v1/messages").replace(
      `host: evil.example:${port}`,
      `host: 127.0.0.1:${port}`,
    )
      .replace(/origin: [^\r]*\r\n/, ""),
    ASK,
  );
  assert.match(local, /^HTTP\/1\.1 200 /);
  assert.equal(upstream.requests.length, 1);

  // A reload that lists the name lets it in, without a restart.
  await relay.write(config("  allowed_hosts: [EVIL.example]\n"));
  assert.equal((await relay.runtime.reload("test")).ok, true);
  const allowed = await rawExchange(relay.url, fromRebindingPage(port, "POST", "/v1/messages"), ASK);
  assert.match(allowed, /^HTTP\/1\.1 200 /);
  assert.equal(upstream.requests.length, 2);
  assert.match(await rawExchange(relay.url, fromRebindingPage(port, "GET", "/metrics")), /^HTTP\/1\.1 200 /);
  await upstream.close();
});

Deno.test("relay on a non-loopback address does not check the Host: it requires client tokens there", async () => {
  const upstream = startFakeUpstream();
  await using relay = await startLiveRelay(
    `server:\n  auth:\n    tokens: [tok-client-0123456789]\nproviders:\n` +
      upstreamProvider("up", upstream.url, ["sk-ant-relays-own-key-0123456789"]),
    { hostname: "0.0.0.0" },
  );
  const answer = await rawExchange(
    relay.url,
    "POST /v1/messages HTTP/1.1\r\nhost: relay.lan:8787\r\nx-api-key: tok-client-0123456789\r\n" +
      "content-type: application/json",
    ASK,
  );
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.equal(upstream.requests.length, 1);
  await upstream.close();
});
