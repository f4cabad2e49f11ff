import assert from "node:assert/strict";
import { createLogger, UNCUT } from "../../src/util/logger.ts";

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

/** The last characters of `value`: what a failed assertion on a long value prints, instead of all of it. */
const tail = (value: string) => value.slice(-40);

Deno.test("a long string field is cut to its start, saying how much was left out, in JSON and in text", () => {
  const json: string[] = [];
  const text: string[] = [];
  const error = "overloaded: " + "x".repeat(2_000_000);
  const path = "/v1/" + "\u0001".repeat(60_000);
  createLogger({ write: (line) => json.push(line), now: at }).warn("request", { path, error, status: 404 });
  createLogger({ format: "text", write: (line) => text.push(line), now: at }).warn("request", { error });
  assert.ok(json[0].length < 16 * 1024, `${json[0].length} characters`); // before the rest, which print it
  const logged = JSON.parse(json[0]);
  assert.equal(logged.path, path.slice(0, 2048) + "…[57956 more characters]");
  assert.equal(logged.error, error.slice(0, 2048) + "…[1997964 more characters]");
  assert.equal(logged.status, 404);
  assert.equal(
    text[0],
    `12:00:00.000 WARN  request error="${error.slice(0, 2048)}…[1997964 more characters]"`,
  );
});

Deno.test("a cut leaves no half of a surrogate pair, and fixed fields are cut too", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line), now: at }).with({ client: "c".repeat(5000) });
  log.info("request", { model: "m".repeat(2047) + "😀".repeat(10) });
  const logged = JSON.parse(lines[0]);
  assert.equal(tail(logged.model), tail("m".repeat(2047) + "…[20 more characters]"));
  assert.equal(tail(logged.client), tail("c".repeat(2048) + "…[2952 more characters]"));
});

Deno.test("a line's UNCUT strings, which their caller bounds itself, are written whole, and no others", () => {
  const lines: string[] = [];
  const long = "b".repeat(64 * 1024);
  const cut = "b".repeat(2048) + "…[63488 more characters]";
  const log = createLogger({ write: (line) => lines.push(line), now: at });
  log.info("request body", { body: long });
  log.with({ client: long, [UNCUT]: ["client"] }).info("request body", {
    body: long,
    path: long,
    [UNCUT]: ["body"],
  });
  const [plain, uncut] = lines.map((line) => JSON.parse(line));
  assert.equal(tail(plain.body), tail(cut), "no name is uncut unasked");
  assert.equal(uncut.body.length, long.length);
  assert.equal(tail(uncut.path), tail(cut));
  assert.equal(tail(uncut.client), tail(long), "with() takes UNCUT too");
});

Deno.test("text format quotes anything but printable ASCII, escaping what would look like other fields or reorder the line", () => {
  const lines: string[] = [];
  const log = createLogger({ format: "text", write: (line) => lines.push(line), now: at });
  log.info("request", {
    model: "mock-1\u3164client=admin\u3164status=200",
    fillers: "a\u115fb\u1160c\uffa0d",
    bidi: "mock-1\u202e",
    hidden: "a\u200bb\ufeff\u{e0001}",
    lines: "a\u2028b\u2029c",
    nbsp: "a\u00a0b",
    readable: "模型-名字 😀 café",
    plain: "claude-sonnet-4-5",
  });
  assert.equal(
    lines[0],
    "12:00:00.000 INFO  request " +
      'model="mock-1\\u3164client=admin\\u3164status=200" fillers="a\\u115fb\\u1160c\\uffa0d" ' +
      'bidi="mock-1\\u202e" hidden="a\\u200bb\\ufeff\\udb40\\udc01" lines="a\\u2028b\\u2029c" ' +
      'nbsp="a\u00a0b" readable="模型-名字 😀 café" plain=claude-sonnet-4-5',
  );
  assert.equal(
    JSON.parse(lines[0].split(" bidi=")[1].split(" ")[0]),
    "mock-1\u202e",
    "quoted values read back",
  );
});
