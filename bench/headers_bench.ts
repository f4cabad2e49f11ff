import { headersForClient, headersForUpstream } from "../src/server/headers.ts";
import { anthropicResponseHeaders, claudeCodeRequestHeaders } from "./_fixtures.ts";

const _CASES = [
  {
    group: "headers to upstream",
    name: "headersForUpstream",
    headers: claudeCodeRequestHeaders(),
    filter: headersForUpstream,
  },
  {
    group: "headers to client",
    name: "headersForClient",
    headers: anthropicResponseHeaders(),
    filter: headersForClient,
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
