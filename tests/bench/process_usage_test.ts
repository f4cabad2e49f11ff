import assert from "node:assert/strict";
import { childUsage, parseProcUsage } from "../../src/bench/process_usage.ts";

const STATUS = "Name:\tdeno\nState:\tS (sleeping)\nVmHWM:\t  262144 kB\nVmRSS:\t  131072 kB\nThreads:\t9\n";
/** A command name with spaces and parentheses; utime 250 and stime 50 ticks. */
const STAT = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 123 456 789\n";

Deno.test("a reading of /proc/<pid>/status then /proc/<pid>/stat gives RSS, its peak and CPU time", () => {
  assert.deepEqual(parseProcUsage(STATUS + STAT), { memoryMib: 128, peakMib: 256, cpuMs: 3000 });
});

Deno.test({
  name: "a running process's usage is read from /proc, and a process that is gone has none",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const usage = await childUsage(Deno.pid);
    assert.ok(usage && usage.memoryMib > 0 && usage.peakMib! >= usage.memoryMib && usage.cpuMs! > 0);
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    assert.equal(await childUsage(gone.pid), undefined);
  },
});
