import assert from "node:assert/strict";
import type { AdminStatus } from "../../src/server/admin/status.ts";
import { formatStatus } from "../../src/cli/status.ts";

const NOW = Date.parse("2026-11-25T12:00:00.000Z");
const until = (inMs: number) => new Date(NOW + inMs).toISOString();
const KEY: AdminStatus["providers"][number]["keys"][number] = {
  index: 0,
  name: null,
  label: "ABSK...ple",
  enabled: true,
  disabled_reason: null,
  breaker: "closed",
  saturation: 0,
  cooling_until: null,
  resets_at: null,
  refused_models: [],
};
const PROVIDER: AdminStatus["providers"][number] = {
  name: "bedrock",
  type: "bedrock",
  enabled: true,
  breaker: "closed",
  retry_at: null,
  in_flight: 0,
  max_in_flight: null,
  keys: [KEY],
  refused_models: [],
};
const STATUS: AdminStatus = {
  relay_version: "0.1.0",
  started_at: "2026-11-25T10:00:00.000Z",
  uptime_ms: 7_200_000,
  config: {
    version: 1,
    path: null,
    loaded_at: "2026-11-25T10:00:00.000Z",
    loaded_ago_ms: 7_200_000,
    reloadable: false,
    last_error: null,
    needs_restart: [],
    history: [],
  },
  server: { in_flight: 0, queued: 0, exchanges: 0 },
  ledger: { enabled: false, path: null },
  clients: [],
  providers: [PROVIDER],
};

Deno.test("formatStatus lists the models a 429 put at their rate limit, per key or provider without keys, after the refused ones", () => {
  const status: AdminStatus = {
    ...STATUS,
    providers: [
      {
        ...PROVIDER,
        keys: [{
          ...KEY,
          refused_models: [{ model: "us.anthropic.claude-opus-4-1", until: until(270_000) }],
          cooled_models: [{ model: "us.anthropic.claude-haiku\u202e", until: until(45_000) }],
        }],
      },
      {
        ...PROVIDER,
        name: "vertex",
        type: "vertex",
        keys: [],
        cooled_models: [{ model: "claude-sonnet-4-5@20250929", until: until(60_000) }],
      },
    ],
  };
  assert.deepEqual(formatStatus(status, NOW).split("\n").slice(-4), [
    "",
    "bedrock 0 ABSK...ple: refused us.anthropic.claude-opus-4-1 by its upstream (403); asked again in 4m 30s",
    "bedrock 0 ABSK...ple: at its rate limit for us.anthropic.claude-haiku\\u202e (429; other models are served); asked again in 45s",
    "vertex: at its rate limit for claude-sonnet-4-5@20250929 (429; other models are served); asked again in 1m",
  ]);
  assert.ok(!formatStatus(STATUS, NOW).includes("rate limit"));
});
