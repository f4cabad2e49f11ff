import { readRateLimitHeaders } from "../src/routing/rate_limit_headers.ts";
import { headersForUpstream, responseForClient } from "../src/server/headers.ts";
import { maskedHeaders } from "../src/stream/secret_mask.ts";
import { anthropicResponseHeaders, claudeCodeRequestHeaders } from "./_fixtures.ts";

const _CASES = [
  {
    group: "headers to upstream",
    name: "headersForUpstream",
    headers: claudeCodeRequestHeaders(),
    filter: headersForUpstream,
  },
];

// The baseline is the copy every filter starts with, so the difference is the filtering itself.
for (const { group, name, headers, filter } of _CASES) {
  Deno.bench({
    name: `new Headers(), ${[...headers].length} headers`,
    group,
    baseline: true,
    fn: () => void new Headers(headers),
  });
  Deno.bench({ name: `${name}, ${[...headers].length} headers`, group, fn: () => void filter(headers) });
}

const answer = anthropicResponseHeaders();
const upstreamAnswer = new Response(null, { headers: answer });
Deno.bench({
  name: `new Response() with the upstream's Headers, ${[...answer].length} headers`,
  group: "answer to client",
  baseline: true,
  fn: () => void new Response(null, { headers: answer }),
});
Deno.bench({
  name: `responseForClient, ${[...answer].length} headers`,
  group: "answer to client",
  fn: () => void responseForClient(null, upstreamAnswer),
});

// Every successful answer is searched for the provider's key: one that quotes none is the common case.
const _PROVIDER_KEY = "sk-ant-api03-bench-provider-key-0000000000000000000000000000000000000";
Deno.bench({
  name: `maskedHeaders, ${[...answer].length} headers quoting no key`,
  group: "answer to client",
  fn: () => void maskedHeaders(upstreamAnswer, _PROVIDER_KEY),
});

Deno.bench({
  name: `headers.forEach, ${[...answer].length} headers`,
  group: "rate-limit headers",
  baseline: true,
  fn: () => answer.forEach(() => {}),
});
/** One instant for every call: the bench times the headers read, not the clock. */
const _AT = Date.now();
Deno.bench({
  name: `readRateLimitHeaders, ${[...answer].length} headers`,
  group: "rate-limit headers",
  fn: () => void readRateLimitHeaders(answer, _AT, _AT),
});
