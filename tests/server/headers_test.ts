import assert from "node:assert/strict";
import { headersForUpstream, responseForClient, undecodedEncoding } from "../../src/server/headers.ts";
import { HeaderList, headerPairs } from "../../src/util/headers.ts";

Deno.test("headersForUpstream adds a beta relay asks for to the client's anthropic-beta, once", () => {
  const beta = "context-1m-2025-08-07";
  const betas = (headers: Record<string, string>) =>
    headersForUpstream(new Headers(headers), beta).get("anthropic-beta");
  assert.deepEqual(
    [
      betas({}),
      betas({ "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14" }),
      betas({ "anthropic-beta": "claude-code-20250219, context-1m-2025-08-07" }),
      betas({ "anthropic-beta": " " }),
    ],
    [
      beta,
      "claude-code-20250219,interleaved-thinking-2025-05-14,context-1m-2025-08-07",
      "claude-code-20250219, context-1m-2025-08-07",
      beta,
    ],
  );
  assert.equal(headersForUpstream(new Headers({ "x-app": "cli" })).get("anthropic-beta"), null);
});

Deno.test("headersForUpstream keeps anthropic headers verbatim and drops credentials, hop-by-hop and browser state", () => {
  const client = new Headers({
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
    "anthropic-dangerous-direct-browser-access": "true",
    "x-claude-code-session-id": "abc",
    "user-agent": "claude-cli/2.1.0 (external, cli)",
    "content-type": "application/json",
    "x-api-key": "rly_client_token_1234",
    "authorization": "Bearer rly_client_token_1234",
    "cookie": "session=1",
    "origin": "https://evil.example",
    "connection": "keep-alive, x-drop-me",
    "x-drop-me": "1",
    "keep-alive": "timeout=5",
    "transfer-encoding": "chunked",
    "proxy-authorization": "Basic Zm9v",
    "te": "trailers",
    "upgrade": "h2c",
    "host": "127.0.0.1:8787",
    "content-length": "123",
    "accept-encoding": "gzip, br",
    "expect": "100-continue",
  });
  client.append("anthropic-beta", "fine-grained-tool-streaming-2025-05-14");
  const upstream = headersForUpstream(client);
  assert.deepEqual(headerPairs(upstream).sort(), [
    [
      "anthropic-beta",
      "claude-code-20250219,interleaved-thinking-2025-05-14, fine-grained-tool-streaming-2025-05-14",
    ],
    ["anthropic-dangerous-direct-browser-access", "true"],
    ["anthropic-version", "2023-06-01"],
    ["content-type", "application/json"],
    ["user-agent", "claude-cli/2.1.0 (external, cli)"],
    ["x-claude-code-session-id", "abc"],
  ]);
  assert.equal(client.get("x-api-key"), "rly_client_token_1234", "the client's headers are not mutated");
});

Deno.test("responseForClient keeps status, rate-limit and request ids, drops stale encoding and hop-by-hop headers", () => {
  const upstream = new Headers({
    "content-type": "text/event-stream; charset=utf-8",
    "content-encoding": "gzip",
    "content-length": "999",
    "request-id": "req_011CabC",
    "anthropic-ratelimit-unified-status": "allowed",
    "anthropic-ratelimit-tokens-remaining": "1000",
    "retry-after": "3",
    "x-should-retry": "false",
    "connection": "close, x-hop",
    "x-hop": "1",
    "transfer-encoding": "chunked",
    "set-cookie": "__cf_bm=1",
  });
  const answer = new Response("data", { status: 429, headers: upstream });
  const client = responseForClient("data", answer);
  assert.equal(client.status, 429);
  assert.equal(answer.headers.get("content-encoding"), "gzip", "the upstream's answer is left as it was");
  assert.deepEqual([...client.headers.keys()].sort(), [
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-ratelimit-unified-status",
    "content-type",
    "request-id",
    "retry-after",
    "x-should-retry",
  ]);
});

Deno.test("undecodedEncoding names an answer's encoding only when fetch left the body encoded", () => {
  const encodingOf = (value?: string) =>
    undecodedEncoding(new Headers(value === undefined ? {} : { "content-encoding": value }));
  assert.deepEqual(
    [undefined, "gzip", " GZIP ", "br", "identity"].map(encodingOf),
    [undefined, undefined, undefined, undefined, undefined],
  );
  assert.deepEqual(["deflate", "zstd", "x-gzip", "gzip, gzip"].map(encodingOf), [
    "deflate",
    "zstd",
    "x-gzip",
    "gzip, gzip",
  ]);
});

Deno.test("a HeaderList reads like the Headers it was made from, without building one", () => {
  const source = new Headers({ "Anthropic-Version": "2023-06-01", "X-Claude-Code-Session-Id": "abc" });
  source.append("anthropic-beta", "a");
  source.append("anthropic-beta", "b");
  const list = new HeaderList(headerPairs(source));
  assert.equal(list.get("ANTHROPIC-VERSION"), "2023-06-01", "any case");
  assert.equal(list.get("anthropic-beta"), "a, b", "a repeated header once, joined");
  assert.equal(list.get("x-api-key"), null);
  assert.deepEqual(headerPairs(list), headerPairs(source));
});
