import assert from "node:assert/strict";
import { createProgress } from "../../src/bench/progress.ts";

function recorder(terminal: boolean) {
  const written: string[] = [];
  let clock = 0;
  const progress = createProgress({
    total: 200,
    terminal,
    write: (text) => written.push(text),
    now: () => clock,
  });
  return { progress, written, tick: (ms: number) => clock += ms };
}

Deno.test("without a terminal: a line per phase, then at most one every interval", () => {
  const { progress, written, tick } = recorder(false);
  progress.phase("concurrency 1");
  progress.advance(50);
  tick(4_999);
  progress.advance(50);
  assert.deepEqual(written, ["bench: concurrency 1: 0/200 requests (0%)\n"]);
  tick(1);
  progress.advance(1);
  progress.phase("concurrency 16");
  progress.finish();
  assert.deepEqual(written, [
    "bench: concurrency 1: 0/200 requests (0%)\n",
    "bench: concurrency 1: 101/200 requests (50%)\n",
    "bench: concurrency 16: 101/200 requests (50%)\n",
  ], "nothing done since the last line: finish adds none");
  progress.advance(99);
  progress.finish();
  assert.equal(written.at(-1), "bench: concurrency 16: 200/200 requests (100%)\n", "the run's end, shown");
});

Deno.test("at a terminal: one bar redrawn in place, at most every 100 ms, and cleared at the end", () => {
  const { progress, written, tick } = recorder(true);
  progress.phase("warm-up");
  tick(100);
  progress.advance(100);
  progress.advance(100);
  progress.finish();
  assert.deepEqual(written, [
    `\r\x1b[2K[${"-".repeat(30)}]   0% warm-up`,
    `\r\x1b[2K[${"#".repeat(15)}${"-".repeat(15)}]  50% warm-up`,
    "\r\x1b[2K",
  ]);
  assert.ok(written.every((text) => !text.includes("\n")), "the bar never scrolls");
});

Deno.test("at a terminal narrower than the bar's line, the line is cut one short of its width", () => {
  const written: string[] = [];
  let columns: number | undefined = 40;
  const progress = createProgress({
    total: 200,
    terminal: true,
    write: (text) => written.push(text),
    columns: () => columns,
  });
  progress.phase("fidelity under load, concurrency 16");
  columns = undefined;
  progress.phase("concurrency 1");
  assert.deepEqual(written, [
    `\r\x1b[2K[${"-".repeat(30)}]   0% f`,
    `\r\x1b[2K[${"-".repeat(30)}]   0% concurrency 1`,
  ]);
});
