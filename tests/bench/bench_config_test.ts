import assert from "node:assert/strict";
import { benchConfigText } from "../../src/bench/bench_config.ts";
import { parseConfig } from "../../src/config/load.ts";

Deno.test("the bench's relay config is valid: one anthropic-compatible provider, any port, room for the load", () => {
  const text = benchConfigText("http://127.0.0.1:9000", { maxConcurrent: 1000 });
  const { config, warnings } = parseConfig(text, "bench.yaml", () => undefined);
  assert.deepEqual(warnings, []);
  assert.equal(config.server.host, "127.0.0.1");
  assert.equal(config.server.port, 0);
  assert.equal(config.server.max_concurrent, 1000);
  assert.equal(config.log.level, "info", "relay runs as people run it");
  assert.deepEqual(config.providers.map(({ type }) => type), ["anthropic-compatible"]);
  assert.equal((config.providers[0] as { base_url: string }).base_url, "http://127.0.0.1:9000");
});

Deno.test("the bench's relay keeps its ledger where it is told, away from the one people run", () => {
  const text = benchConfigText("http://127.0.0.1:9000", {
    maxConcurrent: 16,
    ledgerPath: "/tmp/relay-bench-x/ledger.db",
  });
  const { config } = parseConfig(text, "bench.yaml", () => undefined);
  assert.equal(config.ledger.enabled, true, "its cost is part of what is measured");
  assert.equal(config.ledger.path, "/tmp/relay-bench-x/ledger.db");
});
