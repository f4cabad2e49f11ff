import assert from "node:assert/strict";
import { createLogger } from "../../src/util/logger.ts";

const at = () => new Date("2026-11-25T12:00:00.000Z");

Deno.test("logger writes one JSON object a line at or above its level", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (line) => lines.push(line), now: at });
  log.debug("hidden");
  log.info("request", { status: 200, model: "m", skipped: undefined });
  log.error("boom");
  assert.equal(lines.length, 2);
  assert.deepEqual(JSON.parse(lines[0]), {
    time: "2026-11-25T12:00:00.000Z",
    level: "info",
    msg: "request",
    status: 200,
    model: "m",
  });
  assert.equal(JSON.parse(lines[1]).level, "error");
});

Deno.test("text format is one readable line with quoted values where needed", () => {
  const lines: string[] = [];
  const log = createLogger({ format: "text", write: (line) => lines.push(line), now: at });
  log.warn("config", { warning: "timeouts.idle is 2s", n: 3 });
  assert.equal(lines[0], '12:00:00.000 WARN  config warning="timeouts.idle is 2s" n=3');
});
