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

Deno.test("with() puts fixed fields on every line, the line's own fields winning a clash", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line), now: at }).with({ config_version: 2, a: 1 });
  log.info("one");
  log.with({ b: true }).warn("two", { a: 9 });
  assert.deepEqual(lines.map((line) => JSON.parse(line)), [
    { time: "2026-11-25T12:00:00.000Z", level: "info", msg: "one", config_version: 2, a: 1 },
    { time: "2026-11-25T12:00:00.000Z", level: "warn", msg: "two", config_version: 2, a: 9, b: true },
  ]);
});

Deno.test("text format quotes and escapes control characters a client put in a value", () => {
  const lines: string[] = [];
  const log = createLogger({ format: "text", write: (line) => lines.push(line), now: at });
  log.info("request", {
    path: "/v1/\u001b]2;TITLE\u0007",
    model: "\u001b[31mRED",
    c1: "\u009b31m\u007f",
    quote: 'a"b',
    plain: "claude-sonnet-4-5",
  });
  assert.equal(
    lines[0],
    '12:00:00.000 INFO  request path="/v1/\\u001b]2;TITLE\\u0007" model="\\u001b[31mRED" ' +
      'c1="\\u009b31m\\u007f" quote="a\\"b" plain=claude-sonnet-4-5',
  );
});

Deno.test("JSON lines escape DEL and C1 controls too, and read back the same", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line), now: at });
  const model = "\u001b[31m\u009b2J\u007f";
  log.info("request", { model });
  assert.doesNotMatch(lines[0], /\p{Cc}/u);
  assert.equal(JSON.parse(lines[0]).model, model);
});
