/**
 * The headers of a real Claude Code exchange, for the loopback bench: relay copies, filters and reads
 * headers on every request, so a workload without them would time a relay nobody runs.
 */

/** What Claude Code sets on `POST /v1/messages`; fetch adds host, connection, length and encoding. */
export const CLAUDE_CODE_HEADERS: Readonly<Record<string, string>> = {
  "accept": "application/json",
  "anthropic-version": "2023-06-01",
  "anthropic-beta":
    "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14," +
    "context-1m-2025-08-07",
  "anthropic-dangerous-direct-browser-access": "true",
  "x-api-key": "sk-ant-api03-bench-client-key-000000000000000000000000000000000000",
  "user-agent": "claude-cli/2.0.14 (external, cli)",
  "x-app": "cli",
  "x-claude-code-session-id": "0b9c5d0e-5f4e-4d43-9c1b-1d2f3a4b5c6d",
  "x-stainless-arch": "x64",
  "x-stainless-lang": "js",
  "x-stainless-os": "Linux",
  "x-stainless-package-version": "0.60.0",
  "x-stainless-retry-count": "0",
  "x-stainless-runtime": "node",
  "x-stainless-runtime-version": "v22.19.0",
  "x-stainless-timeout": "600",
};

/**
 * What api.anthropic.com sends with a streamed answer besides its framing and content type, at `now`
 * (ms since the epoch). The rate limits are far above anything a bench spends, with windows resetting
 * a minute on: relay reads them as an upstream's, and a tight one would make it hold requests back.
 */
export function anthropicAnswerHeaders(now: number): Record<string, string> {
  const reset = new Date(now + 60_000).toISOString().replace(/\.\d+Z$/, "Z");
  return {
    "cache-control": "no-cache",
    ...Object.fromEntries(
      ["input-tokens", "output-tokens", "requests", "tokens"].flatMap((kind) => [
        [`anthropic-ratelimit-${kind}-limit`, "100000000"],
        [`anthropic-ratelimit-${kind}-remaining`, "99999000"],
        [`anthropic-ratelimit-${kind}-reset`, reset],
      ]),
    ),
    "request-id": "req_011CVUbench0000000000000",
    "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
    "anthropic-organization-id": "00000000-0000-4000-8000-000000000000",
    "via": "1.1 google",
    "cf-cache-status": "DYNAMIC",
    "x-robots-tag": "none",
    "server": "cloudflare",
    "cf-ray": "9a3b4c5d6e7f8091-FRA",
  };
}
