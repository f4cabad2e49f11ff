import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { LedgerBusyError } from "../../src/ledger/busy.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { usageReport } from "../../src/ledger/query.ts";
import { createLogger } from "../../src/util/logger.ts";
import { holdLock } from "./_lock_holder.ts";
import { ledgerRecord, requestIds, storedRequestIds } from "./_records.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

const quiet = createLogger({ write: () => {} });

async function fileNames(folder: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(folder))).map(({ name }) => name).sort();
}

Deno.test("LedgerStore.open creates a private folder and file, in WAL mode, with the schema", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/data/relay/ledger.db`;
  const store = LedgerStore.open(path);
  try {
    assert.equal((await Deno.stat(`${folder.path}/data/relay`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(store.database.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
    assert.equal(store.database.prepare("PRAGMA user_version").get()?.user_version, 1);
  } finally {
    store.close();
  }
});

Deno.test("LedgerStore.open at a link to a file not there makes the file where the link points, 0600", async () => {
  await using folder = await tempFolder();
  await Deno.mkdir(`${folder.path}/data`);
  await Deno.symlink(`${folder.path}/data/ledger.db`, `${folder.path}/ledger.db`);
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  try {
    store.insert([ledgerRecord()]);
    assert.equal((await Deno.stat(`${folder.path}/data/ledger.db`)).mode! & 0o777, 0o600);
    assert.equal((await Deno.lstat(`${folder.path}/ledger.db`)).isSymlink, true, "the link stays a link");
  } finally {
    store.close();
  }
});

Deno.test("LedgerStore.open at a relative link in a linked folder makes the file where the system reads the link", async () => {
  await using folder = await tempFolder();
  await Deno.mkdir(`${folder.path}/real/sub`, { recursive: true });
  await Deno.symlink(`${folder.path}/real/sub`, `${folder.path}/via`);
  // `..` of the folder the link really sits in: real/, not the folder `via` is in.
  await Deno.symlink("../ledger.db", `${folder.path}/real/sub/ledger.db`);
  const store = LedgerStore.open(`${folder.path}/via/ledger.db`);
  try {
    store.insert([ledgerRecord()]);
    assert.equal((await Deno.stat(`${folder.path}/real/ledger.db`)).mode! & 0o777, 0o600);
    assert.deepEqual(await fileNames(folder.path), ["real", "via"], "no file made beside the linked folder");
  } finally {
    store.close();
  }
});

Deno.test("records survive closing and reopening the store: every field", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const first = LedgerStore.open(path);
  first.insert([
    ledgerRecord(),
    ledgerRecord({ requestId: "relay_0002", client: undefined, usage: undefined }),
  ]);
  first.close();

  const reopened = LedgerStore.open(path);
  try {
    const rows = reopened.database.prepare("SELECT * FROM requests ORDER BY id").all();
    assert.deepEqual({ ...rows[0] }, {
      id: 1,
      time: Date.UTC(2026, 10, 17, 9),
      request_id: "relay_0001",
      client: "ci",
      method: "POST",
      path: "/v1/messages",
      model: "claude-sonnet-4-5",
      upstream_model: "claude-sonnet-4-5",
      provider: "anthropic",
      key_id: "fc15735de69a",
      key_label: "sk-ant-...x7f2",
      status: 200,
      outcome: "complete",
      attempts: 1,
      ttfb_ms: 420,
      duration_ms: 3_100,
      input_tokens: 4,
      output_tokens: 73,
      cache_read_tokens: 14_207,
      cache_write_tokens: 1_832,
      cost_usd: 0.0136611,
      web_search_requests: 0,
      usage_estimated: 0,
    });
    assert.equal(rows[1].client, null);
    assert.equal(rows[1].input_tokens, null);
    assert.equal(rows[1].web_search_requests, null);
    assert.equal(rows[1].usage_estimated, null, "no usage, nothing estimated");
    assert.equal(
      reopened.database.prepare("PRAGMA user_version").get()?.user_version,
      1,
      "no migration twice",
    );
  } finally {
    reopened.close();
  }
});

Deno.test("a ledger written before web searches were counted is read as it is, and written with the new column", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  // The schema and a row as a relay of schema 1 wrote them.
  writeOldLedger(path, {});
  // `relay usage` of such a file (archived, or still an older relay's) reads it without changing it.
  const archive = LedgerStore.open(path, { readOnly: true });
  try {
    const { total } = usageReport(archive.database, { since: 0, until: 2, by: "client" });
    assert.deepEqual([total.requests, total.inputTokens, total.webSearches, total.costUsd], [1, 4, 0, 0.25]);
  } finally {
    archive.close();
  }

  const store = LedgerStore.open(path);
  try {
    store.insert([
      ledgerRecord({
        requestId: "after",
        usage: { input: 1, output: 1, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0, webSearches: 5 },
      }),
    ]);
    const rows = store.database.prepare(
      "SELECT request_id, input_tokens, cost_usd, web_search_requests FROM requests ORDER BY id",
    ).all();
    assert.deepEqual(rows.map((row) => ({ ...row })), [
      { request_id: "before", input_tokens: 4, cost_usd: 0.25, web_search_requests: null },
      { request_id: "after", input_tokens: 1, cost_usd: 0.0136611, web_search_requests: 5 },
    ]);
    // A column added, no step: an older relay sharing the file goes on writing it.
    assert.equal(store.database.prepare("PRAGMA user_version").get()?.user_version, 1);
    store.database.exec(
      `INSERT INTO requests (time, request_id, client, method, path, outcome, attempts, duration_ms)
        VALUES (3, 'older relay', 'ci', 'POST', '/v1/messages', 'complete', 1, 10)`,
    );
    assert.deepEqual(
      store.costByClient({ since: 0, until: Number.MAX_SAFE_INTEGER }),
      new Map([["ci", 0.2636611]]),
    );
  } finally {
    store.close();
  }
  // And the usage report reads the column once it is there.
  const reader = LedgerStore.open(path, { readOnly: true });
  try {
    assert.equal(usageReport(reader.database, { since: 0, by: "client" }).total.webSearches, 5);
  } finally {
    reader.close();
  }
});

Deno.test("a ledger written before estimates were marked is read as it is, and written with the new column", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  // The table as the relay before wrote it: web searches counted, estimates not marked.
  writeOldLedger(path, { web_search_requests: 2 });
  const archive = LedgerStore.open(path, { readOnly: true });
  try {
    const { total } = usageReport(archive.database, { since: 0, until: 2, by: "client" });
    assert.deepEqual([total.requests, total.webSearches, total.usageEstimated], [1, 2, 0]);
  } finally {
    archive.close();
  }

  const store = LedgerStore.open(path);
  try {
    store.insert([
      ledgerRecord({ requestId: "estimated", usageEstimated: true }),
      ledgerRecord({ requestId: "reported", usageEstimated: false }),
      ledgerRecord({ requestId: "no usage", usage: undefined, usageEstimated: true }),
    ]);
    const rows = store.database.prepare("SELECT request_id, usage_estimated FROM requests ORDER BY id").all();
    assert.deepEqual(rows.map((row) => ({ ...row })), [
      { request_id: "before", usage_estimated: null },
      { request_id: "estimated", usage_estimated: 1 },
      { request_id: "reported", usage_estimated: 0 },
      { request_id: "no usage", usage_estimated: null },
    ]);
    assert.equal(store.database.prepare("PRAGMA user_version").get()?.user_version, 1, "no schema step");
    // The relay before, sharing the file, names only the columns it knows.
    store.database.exec(
      `INSERT INTO requests (time, request_id, client, method, path, outcome, attempts, duration_ms,
        web_search_requests) VALUES (3, 'older relay', 'ci', 'POST', '/v1/messages', 'complete', 1, 10, 0)`,
    );
    assert.equal(usageReport(store.database, { since: 0, by: "client" }).total.usageEstimated, 1);
  } finally {
    store.close();
  }
});

Deno.test("a batch is all or nothing", async () => {
  await using folder = await tempFolder();
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  try {
    const broken = ledgerRecord({ outcome: undefined as unknown as string });
    assert.throws(() => store.insert([ledgerRecord(), broken]), /NOT NULL/);
    assert.equal(store.database.prepare("SELECT count(*) AS n FROM requests").get()?.n, 0);
  } finally {
    store.close();
  }
});

Deno.test("a batch SQLite rolled back itself fails with SQLite's own error, and the next one is written", async () => {
  await using folder = await tempFolder();
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  try {
    // No page to spare: a full disk, as SQLite sees it, which ends the whole transaction.
    const pages = store.database.prepare("PRAGMA page_count").get()?.page_count;
    store.database.exec(`PRAGMA max_page_count = ${pages}`);
    const big = Array.from({ length: 50 }, () => ledgerRecord({ model: "m".repeat(4096) }));
    assert.throws(() => store.insert(big), /database or disk is full/);
    assert.equal(store.database.isTransaction, false);
    store.database.exec("PRAGMA max_page_count = 1000000");
    store.insert([ledgerRecord()]);
    assert.equal(store.database.prepare("SELECT count(*) AS n FROM requests").get()?.n, 1);
  } finally {
    store.close();
  }
});

Deno.test("a read-only store reads while the writer is open, and refuses a missing file, a foreign one and writes", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  assert.throws(() => LedgerStore.open(path, { readOnly: true }), Deno.errors.NotFound);
  const writer = LedgerStore.open(path);
  writer.insert([ledgerRecord()]);
  const reader = LedgerStore.open(path, { readOnly: true });
  try {
    assert.equal(reader.database.prepare("SELECT count(*) AS n FROM requests").get()?.n, 1);
    assert.throws(() => reader.insert([ledgerRecord()]), /read-only/);
  } finally {
    reader.close();
    writer.close();
  }
  const foreign = `${folder.path}/other.db`;
  new DatabaseSync(foreign).close();
  // Not told to run relay serve on it, which would make relay's table in someone else's database.
  assert.throws(
    () => LedgerStore.open(foreign, { readOnly: true }),
    /^Error: .*other\.db is not a relay ledger$/,
  );
  const future = new DatabaseSync(`${folder.path}/future.db`);
  future.exec("PRAGMA user_version = 99");
  future.close();
  assert.throws(() => LedgerStore.open(`${folder.path}/future.db`), /newer relay/);
});

Deno.test("costByClient totals each client's cost in a month, a later month's rows left out; deleteBefore removes old rows in chunks", async () => {
  await using folder = await tempFolder();
  const store = LedgerStore.open(`${folder.path}/ledger.db`);
  try {
    const november = Date.UTC(2026, 10, 1);
    const december = Date.UTC(2026, 11, 1);
    store.insert([
      ledgerRecord({ time: november - 1, costUsd: 100 }),
      ledgerRecord({ time: november, costUsd: 1.25 }),
      ledgerRecord({ time: november + 5, costUsd: 0.5 }),
      ledgerRecord({ time: november + 6, client: "dev", costUsd: undefined }),
      ledgerRecord({ time: november + 7, client: undefined, costUsd: 9 }),
      // Stamped by a clock that ran a month ahead, since set back.
      ledgerRecord({ time: december, costUsd: 40 }),
    ]);
    assert.deepEqual(
      store.costByClient({ since: november, until: december }),
      new Map([["ci", 1.75], ["dev", 0]]),
    );
    assert.equal(store.deleteBefore(november + 6, 1), 1);
    assert.equal(store.deleteBefore(november + 6, 10), 2);
    assert.equal(store.deleteBefore(november + 6, 10), 0);
    assert.equal(store.database.prepare("SELECT count(*) AS n FROM requests").get()?.n, 3);
  } finally {
    store.close();
  }
});

Deno.test("writtenByOthers tells another connection's writes from the store's own", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const store = LedgerStore.open(path);
  const other = LedgerStore.open(path);
  try {
    assert.equal(store.writtenByOthers(), false, "the first ask takes the measure");
    store.insert([ledgerRecord({})]);
    assert.equal(store.writtenByOthers(), false, "its own batch");
    other.insert([ledgerRecord({})]);
    assert.equal(store.writtenByOthers(), true, "another relay's batch");
    assert.equal(store.writtenByOthers(), false);
  } finally {
    other.close();
    store.close();
  }
});

Deno.test("a store whose files were removed creates them again, with the schema, for the next batch, and warns", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/data/ledger.db`;
  const warnings: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "warn", write: (line) => warnings.push(JSON.parse(line)) });
  const store = LedgerStore.open(path, { logger });
  try {
    store.insert([ledgerRecord({ requestId: "before" })]);
    assert.deepEqual(warnings, [], "nothing to say while the file is there");
    // Another relay wrote to the old file once, and relay took note.
    const other = LedgerStore.open(path);
    other.insert([ledgerRecord({ requestId: "theirs" })]);
    other.close();
    assert.equal(store.writtenByOthers(), true);
    await Deno.remove(`${folder.path}/data`, { recursive: true });

    store.insert([ledgerRecord({ requestId: "after" })]);
    // A lone relay's file made again holds nobody else's spend: budgets keep what relay counted.
    assert.equal(store.writtenByOthers(), false);
    assert.equal((await Deno.stat(`${folder.path}/data`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const reader = LedgerStore.open(path, { readOnly: true });
    try {
      assert.deepEqual(
        reader.database.prepare("SELECT request_id FROM requests").all().map((row) => row.request_id),
        ["after"],
      );
    } finally {
      reader.close();
    }
    assert.deepEqual(warnings.map(({ level, msg, path }) => ({ level, msg, path })), [
      { level: "warn", msg: "ledger file was removed or replaced; reopening it", path },
    ]);
    store.insert([ledgerRecord({ requestId: "again" })]);
    assert.equal(warnings.length, 1, "once: the new file is the open one");
    assert.equal(store.database.prepare("SELECT count(*) AS n FROM requests").get()?.n, 2);
  } finally {
    store.close();
  }
});

Deno.test("a store whose file was replaced by another writes to the one at its path", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const warnings: string[] = [];
  const store = LedgerStore.open(path, { logger: createLogger({ write: (line) => warnings.push(line) }) });
  try {
    store.insert([ledgerRecord({ requestId: "old" })]);
    const other = LedgerStore.open(`${folder.path}/other.db`);
    other.insert([ledgerRecord({ requestId: "restored" })]);
    other.close();
    await Deno.rename(`${folder.path}/other.db`, path);

    store.insert([ledgerRecord({ requestId: "new" })]);
    assert.equal(warnings.length, 1);
    assert.equal(store.database.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
    assert.deepEqual(storedRequestIds(path), ["restored", "new"]);
  } finally {
    store.close();
  }
});

Deno.test("a batch finding the file locked by another writer fails at once, writing nothing, and goes in once it is free", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const store = LedgerStore.open(path, { logger: quiet });
  const other = new DatabaseSync(path);
  try {
    other.exec("BEGIN IMMEDIATE");
    const started = performance.now();
    assert.throws(() => store.insert([ledgerRecord({ requestId: "held" })]), LedgerBusyError);
    // Waiting out the other writer's lock (250 ms) would stall every stream on relay's one thread.
    assert.ok(performance.now() - started < 200, "it did not wait for the lock");
    other.exec("COMMIT");
    store.insert([ledgerRecord({ requestId: "held" })]);
    assert.deepEqual(requestIds(store.database), ["held"]);
  } finally {
    other.close();
    store.close();
  }
});

Deno.test("a writing store never waits on its folder's lock another process holds: opening, and reopening a removed file, fail at once until it is let go", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const store = LedgerStore.open(path, { logger: quiet });
  try {
    store.insert([ledgerRecord({ requestId: "old" })]);
    const busy = new LedgerBusyError(folder.path);
    {
      await using _holder = await holdLock(folder.path);
      // A reader takes no lock: `relay usage` reads on.
      LedgerStore.open(path, { readOnly: true }).close();
      assert.throws(() => LedgerStore.open(path), busy);
      await Deno.remove(path);
      assert.throws(() => store.insert([ledgerRecord({ requestId: "held" })]), busy);
      assert.throws(
        () => store.insert([ledgerRecord({ requestId: "held" })]),
        busy,
        "and again, until let go",
      );
    }
    store.insert([ledgerRecord({ requestId: "held" })]);
    assert.deepEqual(requestIds(store.database), ["held"]);
  } finally {
    store.close();
  }
});

Deno.test("a file renamed away (rotated, archived) keeps its records; the store goes on in a new one", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const store = LedgerStore.open(path, { logger: quiet });
  try {
    store.insert([ledgerRecord({ requestId: "a" }), ledgerRecord({ requestId: "b" })]);
    await Deno.rename(path, `${folder.path}/archive.db`);
    store.insert([ledgerRecord({ requestId: "c" })]);
    assert.deepEqual(requestIds(store.database), ["c"]);
  } finally {
    store.close();
  }
  const archive = new DatabaseSync(`${folder.path}/archive.db`, { readOnly: true });
  try {
    assert.deepEqual(requestIds(archive), ["a", "b"], "what its -wal held went into it before the -wal went");
  } finally {
    archive.close();
  }
});

Deno.test("a replaced file is reopened at once, while a reader still reads the old one", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const store = LedgerStore.open(path, { logger: quiet });
  const reading = new DatabaseSync(path, { readOnly: true });
  try {
    store.insert([ledgerRecord({ requestId: "old" })]);
    reading.exec("BEGIN");
    reading.prepare("SELECT count(*) FROM requests").get();
    const other = LedgerStore.open(`${folder.path}/other.db`);
    other.insert([ledgerRecord({ requestId: "restored" })]);
    other.close();
    await Deno.rename(`${folder.path}/other.db`, path);

    store.insert([ledgerRecord({ requestId: "new" })]);
    assert.deepEqual(requestIds(store.database), ["restored", "new"]);
    assert.deepEqual(requestIds(reading), ["old"], "the reader keeps its old file");
  } finally {
    reading.close();
    store.close();
  }
});

Deno.test("relays sharing a file that was removed all write to the new one, which keeps every record", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const first = LedgerStore.open(path, { logger: quiet });
  const second = LedgerStore.open(path, { logger: quiet });
  try {
    first.insert([ledgerRecord({ requestId: "gone-1" })]);
    second.insert([ledgerRecord({ requestId: "gone-2" })]);
    // SQLite leaves the `-wal` and `-shm`, which the second relay still uses for the old file.
    await Deno.remove(path);

    first.insert([ledgerRecord({ requestId: "first-1" }), ledgerRecord({ requestId: "first-2" })]);
    second.insert([ledgerRecord({ requestId: "second" })]);
    first.insert([ledgerRecord({ requestId: "first-3" })]);
    const expected = ["first-1", "first-2", "second", "first-3"];
    assert.deepEqual(requestIds(second.database), expected);
    const reader = LedgerStore.open(path, { readOnly: true });
    try {
      assert.deepEqual(requestIds(reader.database), expected);
      assert.equal(reader.database.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
    } finally {
      reader.close();
    }
  } finally {
    first.close();
    second.close();
  }
  assert.deepEqual(await fileNames(folder.path), ["ledger.db"], "the last to close empties the -wal");
  const reopened = LedgerStore.open(path);
  try {
    assert.deepEqual(requestIds(reopened.database), ["first-1", "first-2", "second", "first-3"]);
  } finally {
    reopened.close();
  }
});

Deno.test("a relay that starts while another still has the removed file open shares the new file with it", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const running = LedgerStore.open(path, { logger: quiet });
  try {
    running.insert([ledgerRecord({ requestId: "gone" })]);
    await Deno.remove(path);
    // In another process: within one, SQLite shares a `-shm` by the database's inode, not by its name.
    const started = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { LedgerStore } from ${JSON.stringify(import.meta.resolve("../../src/ledger/store.ts"))};
        import { ledgerRecord } from ${JSON.stringify(import.meta.resolve("./_records.ts"))};
        const store = LedgerStore.open(${JSON.stringify(path)});
        store.insert([ledgerRecord({ requestId: "started" })]);
        store.close();`,
      ],
      stdout: "null",
    }).output();
    assert.equal(started.code, 0, new TextDecoder().decode(started.stderr));

    running.insert([ledgerRecord({ requestId: "running" })]);
    assert.deepEqual(requestIds(running.database), ["started", "running"]);
  } finally {
    running.close();
  }
});

Deno.test("relays sharing a file that was replaced all write to the new one", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const first = LedgerStore.open(path, { logger: quiet });
  const second = LedgerStore.open(path, { logger: quiet });
  try {
    first.insert([ledgerRecord({ requestId: "old" })]);
    const other = LedgerStore.open(`${folder.path}/other.db`);
    other.insert([ledgerRecord({ requestId: "restored" })]);
    other.close();
    await Deno.rename(`${folder.path}/other.db`, path);

    second.insert([ledgerRecord({ requestId: "second" })]);
    first.insert([ledgerRecord({ requestId: "first" })]);
    second.insert([ledgerRecord({ requestId: "second-again" })]);
    const expected = ["restored", "second", "first", "second-again"];
    assert.deepEqual(requestIds(first.database), expected);
    assert.deepEqual(requestIds(second.database), expected);
  } finally {
    first.close();
    second.close();
  }
});

Deno.test("a store opening a new file another connection migrated meanwhile finds the schema there", async () => {
  await using folder = await tempFolder();
  const template = LedgerStore.open(`${folder.path}/template/ledger.db`);
  const schema = template.database.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL").all();
  const version = template.database.prepare("PRAGMA user_version").get()?.user_version;
  template.close();
  const path = `${folder.path}/ledger.db`;
  const other = new DatabaseSync(path);
  other.exec("PRAGMA journal_mode = WAL");
  // Another relay, opening the same new file, migrates it between the store's look at the schema
  // version and its first transaction.
  const exec = DatabaseSync.prototype.exec;
  let interleaved = false;
  DatabaseSync.prototype.exec = function (this: DatabaseSync, sql: string) {
    if (this !== other && !interleaved && sql.startsWith("BEGIN")) {
      interleaved = true;
      other.exec(
        `BEGIN; ${schema.map((row) => `${row.sql};`).join(" ")} PRAGMA user_version = ${version}; COMMIT;`,
      );
    }
    return exec.call(this, sql);
  };
  try {
    const store = LedgerStore.open(path);
    store.insert([ledgerRecord()]);
    store.close();
  } finally {
    DatabaseSync.prototype.exec = exec;
    other.close();
  }
  assert.equal(interleaved, true);
});

Deno.test("a store that could not create its file again tries with the next batch", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/data/ledger.db`;
  const store = LedgerStore.open(path, { logger: createLogger({ write: () => {} }) });
  try {
    store.insert([ledgerRecord({ requestId: "before" })]);
    await Deno.remove(`${folder.path}/data`, { recursive: true });
    await Deno.writeTextFile(`${folder.path}/data`, "a file where the folder was");
    assert.throws(
      () => store.insert([ledgerRecord({ requestId: "refused" })]),
      (error: Error) =>
        error.message.startsWith(`cannot reopen ${path}: `) &&
        error.cause instanceof Deno.errors.AlreadyExists,
    );

    await Deno.remove(`${folder.path}/data`);
    store.insert([ledgerRecord({ requestId: "after" })]);
    assert.deepEqual(
      store.database.prepare("SELECT request_id FROM requests").all().map((row) => row.request_id),
      ["after"],
    );
  } finally {
    store.close();
  }
});

Deno.test("a file put in place that relay cannot open is warned about once a spell; each failed batch says which file and why", async () => {
  await using folder = await tempFolder();
  const path = `${folder.path}/ledger.db`;
  const lines: Record<string, unknown>[] = [];
  const store = LedgerStore.open(path, {
    logger: createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line)) }),
  });
  const said = () => lines.map(({ level, msg }) => `${level} ${msg}`);
  try {
    store.insert([ledgerRecord({ requestId: "before" })]);
    const replace = async (bytes: Uint8Array) => {
      await Deno.writeFile(`${path}.new`, bytes);
      await Deno.rename(`${path}.new`, path);
    };
    await replace(new TextEncoder().encode("not a database ".repeat(400)));
    for (let batch = 0; batch < 3; batch++) {
      assert.throws(
        () => store.insert([ledgerRecord({ requestId: "refused" })]),
        new RegExp(`^Error: cannot reopen ${path}: file is not a database$`),
      );
    }
    assert.deepEqual(said(), [
      "warn ledger file was removed or replaced; reopening it",
      "debug ledger file was removed or replaced; reopening it",
      "debug ledger file was removed or replaced; reopening it",
    ], "one warning for a spell of three failed batches");

    // A newer relay's ledger is no better: the same spell goes on.
    const newer = new DatabaseSync(`${path}.newer`);
    newer.exec("PRAGMA user_version = 99");
    newer.close();
    await Deno.rename(`${path}.newer`, path);
    assert.throws(
      () => store.insert([ledgerRecord({ requestId: "refused" })]),
      /^Error: cannot reopen .*: the ledger was written by a newer relay \(schema 99, this one knows 1\)$/,
    );
    assert.equal(said().filter((line) => line.startsWith("warn")).length, 1);

    await Deno.remove(path);
    store.insert([ledgerRecord({ requestId: "after" })]);
    assert.deepEqual(requestIds(store.database), ["after"]);
    await Deno.remove(path);
    store.insert([ledgerRecord({ requestId: "again" })]);
    assert.equal(said().filter((line) => line.startsWith("warn")).length, 2, "a new spell is said again");
  } finally {
    store.close();
  }
});

/**
 * A ledger as an earlier relay of schema 1 wrote it, with one row: its table, and the columns added since
 * that it already had (`added`, each with the row's value).
 */
function writeOldLedger(path: string, added: Record<string, number>): void {
  const names = Object.keys(added);
  const columns = names.map((name) => `, ${name} INTEGER`).join("");
  const values = Object.values(added).map((value) => `, ${value}`).join("");
  const old = new DatabaseSync(path);
  old.exec(`PRAGMA journal_mode = WAL;
    CREATE TABLE requests (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, request_id TEXT NOT NULL,
      client TEXT, method TEXT NOT NULL, path TEXT NOT NULL, model TEXT, upstream_model TEXT, provider TEXT,
      key_id TEXT, key_label TEXT, status INTEGER, outcome TEXT NOT NULL, attempts INTEGER NOT NULL,
      ttfb_ms INTEGER, duration_ms INTEGER NOT NULL, input_tokens INTEGER, output_tokens INTEGER,
      cache_read_tokens INTEGER, cache_write_tokens INTEGER, cost_usd REAL${columns});
    CREATE INDEX requests_time ON requests (time);
    CREATE INDEX requests_client_time ON requests (client, time);
    INSERT INTO requests (time, request_id, client, method, path, outcome, attempts, duration_ms, input_tokens,
      cost_usd${names.map((name) => `, ${name}`).join("")})
      VALUES (1, 'before', 'ci', 'POST', '/v1/messages', 'complete', 1, 10, 4, 0.25${values});
    PRAGMA user_version = 1;`);
  old.close();
}
