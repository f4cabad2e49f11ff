import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { openLedger } from "../../src/ledger/open.ts";
import { createLogger } from "../../src/util/logger.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { holdLock, lockedElsewhere } from "./_lock_holder.ts";
import { ledgerRecord, storedRequestIds } from "./_records.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

function config(path: string) {
  return configSchema.parse({ ledger: { path }, providers: [{ name: "mock", type: "mock" }] });
}

/** A record as relay hands it to the recorder, which prices it. */
function entry(requestId: string) {
  const { costUsd: _, ...fields } = ledgerRecord({ requestId });
  return fields;
}

/** An HTTP server in the test's process: an answer from it shows the process's event loop turned. */
async function withServer(body: (url: string) => Promise<void>): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("turned"));
  try {
    await body(`http://127.0.0.1:${server.addr.port}/`);
  } finally {
    await server.shutdown();
  }
}

async function turned(url: string): Promise<string> {
  return await (await fetch(url)).text();
}

Deno.test("openLedger waits for its folder's lock another process holds without stopping relay's thread, says so once, and opens once it is let go", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "warn", write: (line) => lines.push(JSON.parse(line)) });
  await using holder = await holdLock(folder.path);
  await withServer(async (url) => {
    const opening = openLedger(config(path), { logger, timers: new FakeClock() });
    assert.equal(await turned(url), "turned");
    assert.equal(lockedElsewhere(folder.path), true, "the event loop turned while the lock was held");
    assert.deepEqual(lines.map(({ msg, folder }) => ({ msg, folder })), [
      { msg: "ledger waiting for the lock on its folder", folder: folder.path },
    ]);

    await holder.release();
    const ledger = await opening;
    await ledger.recorder.record(entry("after"));
    await ledger.close();
    assert.equal(lines.length, 1, "said once");
    assert.deepEqual(storedRequestIds(path), ["after"]);
  });
});

Deno.test("a ledger removed while another process holds its folder's lock is reopened once it is let go, relay's thread turning and its records kept in order meanwhile", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const lines: Record<string, unknown>[] = [];
  const timers = new FakeClock();
  const ledger = await openLedger(config(path), {
    logger: createLogger({ level: "warn", write: (line) => lines.push(JSON.parse(line)) }),
    timers,
  });
  const flushIntervalMs = config(path).ledger.flush_interval;
  await withServer(async (url) => {
    await ledger.recorder.record(entry("before"));
    timers.advance(flushIntervalMs);
    await Deno.remove(path);
    await using holder = await holdLock(folder.path);
    await ledger.recorder.record(entry("a"));
    await ledger.recorder.record(entry("b"));

    timers.advance(flushIntervalMs);
    const { state, pending, error } = ledger.health!();
    assert.deepEqual(
      { state, pending, error },
      {
        state: "locked",
        pending: 2,
        error:
          `${folder.path} is locked: another process holds its lock (another relay sharing the ledger? lslocks lists the holders)`,
      },
    );
    assert.equal(await turned(url), "turned");
    assert.equal(lockedElsewhere(folder.path), true, "the event loop turned while the lock was held");
    await ledger.recorder.record(entry("c"));

    await holder.release();
    timers.advance(flushIntervalMs);
    const after = ledger.health!();
    assert.deepEqual({ state: after.state, written: after.written }, {
      state: "ok",
      written: 4,
    });
  });
  await ledger.close();
  assert.deepEqual(
    storedRequestIds(path),
    ["a", "b", "c"],
    "nothing lost or reordered; `before` went with the old file",
  );
  assert.deepEqual(lines.map(({ msg, error }) => ({ msg, error })), [
    { msg: "ledger file was removed or replaced; reopening it", error: undefined },
    {
      msg: "ledger locked by another writer; batches wait",
      error:
        `${folder.path} is locked: another process holds its lock (another relay sharing the ledger? lslocks lists the holders)`,
    },
  ], "the warning says whose lock: the folder's, which a process other than a relay may hold");
});

Deno.test("as relay stops, a removed ledger whose folder another process holds does not keep it: the last batch is dropped and said", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const lines: Record<string, unknown>[] = [];
  const ledger = await openLedger(config(path), {
    logger: createLogger({ level: "warn", write: (line) => lines.push(JSON.parse(line)) }),
    timers: new FakeClock(),
  });
  await Deno.remove(path);
  await using _holder = await holdLock(folder.path);
  await ledger.recorder.record(entry("last"));
  await ledger.close();
  assert.equal(ledger.health!().dropped, 1);
  assert.equal(
    lines.at(-1)?.reason,
    `${folder.path} is locked: another process holds its lock (another relay sharing the ledger? lslocks lists the holders)`,
  );
});
