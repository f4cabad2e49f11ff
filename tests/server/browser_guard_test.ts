import assert from "node:assert/strict";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { startTestRelay } from "../_helpers/relay.ts";

const ASK = JSON.stringify({
  model: "claude-sonnet-4-5",
  max_tokens: 8,
  messages: [{ role: "user", content: "hi" }],
});
const CHAT = JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] });

/** What a page on evil.example sends with `fetch(url, { method: "POST", mode: "no-cors", body })`. */
const FROM_A_PAGE = {
  "content-type": "text/plain;charset=UTF-8",
  "origin": "https://evil.example",
  "sec-fetch-site": "cross-site",
  "sec-fetch-mode": "no-cors",
};

Deno.test("a request a web page made is refused before any upstream sees it, on every relayed route", async () => {
  const upstream = startFakeUpstream();
  // No client tokens, as relay runs on loopback by default: the page needs none.
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  for (
    const [path, body] of [["/v1/messages", ASK], ["/v1/messages/count_tokens", ASK], [
      "/v1/chat/completions",
      CHAT,
    ]]
  ) {
    const response = await fetch(`${relay.url}${path}`, { method: "POST", headers: FROM_A_PAGE, body });
    assert.equal(response.status, 403, path);
    // Anthropic's shape, or OpenAI's on its route: an `error` object either way, with Anthropic's type.
    const { error } = await response.json();
    assert.match(
      error.message,
      /relay does not take requests from web pages \(this one came from Origin "https:\/\/evil\.example"\)/,
    );
    assert.equal(error.type, "permission_error", path);
    assert.equal("param" in error, path === "/v1/chat/completions", `${path}: the route's own error shape`);
  }
  const models = await fetch(`${relay.url}/v1/models`, { headers: { origin: "https://evil.example" } });
  assert.equal(models.status, 403);
  await models.body?.cancel();
  assert.equal(upstream.requests.length, 0, "the key was never used");
  await upstream.close();
});

Deno.test("an API client, which sends no Origin, or one that opts in as Anthropic's API allows, is served", async () => {
  const upstream = startFakeUpstream();
  await using relay = startTestRelay({ upstreamUrl: upstream.url });
  const headers: Record<string, string>[] = [
    { "content-type": "application/json" },
    {
      "content-type": "application/json",
      origin: "app://desktop",
      "anthropic-dangerous-direct-browser-access": "true",
    },
  ];
  for (const sent of headers) {
    const response = await fetch(`${relay.url}/v1/messages`, { method: "POST", headers: sent, body: ASK });
    assert.equal(response.status, 200, JSON.stringify(sent));
    await response.body?.cancel();
  }
  assert.equal(upstream.requests.length, 2);
  await upstream.close();
});
