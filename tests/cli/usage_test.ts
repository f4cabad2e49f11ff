import assert from "node:assert/strict";
import { formatUsage, parseSince } from "../../src/cli/usage.ts";
import { usageReport } from "../../src/ledger/query.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import stringWidth from "string-width";
import { runRelay, sandbox, writeConfig } from "../_helpers/cli.ts";
import { ledgerRecord } from "../ledger/_records.ts";

const HOUR = 3_600_000;

/** A sandbox whose config points the ledger at `ledger.db` there; `ledger` adds settings to it. */
async function withLedgerConfig(ledger = ""): Promise<{ folder: string; path: string }> {
  const folder = await sandbox();
  const path = `${folder}/ledger.db`;
  await writeConfig(
    folder,
    `ledger:\n  path: ${path}\n${ledger}providers:\n  - name: mock\n    type: mock\n`,
  );
  return { folder, path };
}

/** Records an hour ago and two days ago, written the way relay writes them. */
function prepare(path: string): void {
  const now = Date.now();
  const store = LedgerStore.open(path);
  store.insert([
    ledgerRecord({ requestId: "a", time: now - HOUR, ttfbMs: 400, durationMs: 2_000, costUsd: 0.5 }),
    ledgerRecord({ requestId: "b", time: now - HOUR, ttfbMs: 600, durationMs: 4_000, costUsd: 0.25 }),
    ledgerRecord({
      requestId: "c",
      time: now - HOUR,
      model: "claude-haiku-4-5",
      client: "dev",
      outcome: "upstream_error",
      status: 529,
      ttfbMs: undefined,
      durationMs: 300,
      usage: undefined,
      costUsd: 0,
    }),
    ledgerRecord({ requestId: "old", time: now - 48 * HOUR, costUsd: 100 }),
  ]);
  store.close();
}

Deno.test("relay usage --json totals the last 24h by model from a ledger it reads without writing", async () => {
  const { folder, path } = await withLedgerConfig();
  prepare(path);
  const before = await Deno.readFile(path);
  const { code, stdout, stderr } = await runRelay(["usage", "--json"], { cwd: folder });
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.ledger, path);
  assert.equal(report.by, "model");
  assert.equal(Date.parse(report.until) - Date.parse(report.since), 24 * HOUR);
  assert.deepEqual(report.groups.map((group: { name: string }) => group.name), [
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
  ]);
  assert.deepEqual(report.groups[0], {
    name: "claude-sonnet-4-5",
    requests: 2,
    errors: 0,
    error_rate: 0,
    input_tokens: 8,
    output_tokens: 146,
    cache_read_tokens: 28_414,
    cache_write_tokens: 3_664,
    web_searches: 0,
    cost_usd: 0.75,
    unpriced: 0,
    usage_estimated: 0,
    cache_hit_ratio: 28_414 / (8 + 28_414 + 3_664),
    ttfb_p50: 400,
    ttfb_p95: 600,
    duration_p50: 2_000,
    duration_p95: 4_000,
  });
  assert.equal(report.total.requests, 3);
  assert.equal(report.total.errors, 1);
  assert.deepEqual(await Deno.readFile(path), before, "read-only");
});

Deno.test("relay usage reads the ledger of a config that has it off, saying so on stderr only", async () => {
  const on = await withLedgerConfig();
  prepare(on.path);
  const plain = await runRelay(["usage", "--json"], { cwd: on.folder });
  assert.equal(plain.stderr, "", "no note while it is on");
  const { folder } = await withLedgerConfig("  enabled: false\n");
  await Deno.copyFile(on.path, `${folder}/ledger.db`);
  const { code, stdout, stderr } = await runRelay(["usage", "--json"], { cwd: folder });
  assert.equal(code, 0, stderr);
  assert.equal(JSON.parse(stdout).total.requests, 3);
  assert.equal(
    stderr,
    `note: the ledger is off in this config (ledger.enabled: false): ${folder}/ledger.db holds what relay ` +
      "recorded while it was on\n",
  );
});

Deno.test("relay usage prints a plain table off a terminal, by client, from a date", async () => {
  const { folder, path } = await withLedgerConfig();
  prepare(path);
  const since = new Date(Date.now() - 72 * HOUR).toISOString().slice(0, 10);
  const { code, stdout, stderr } = await runRelay(["usage", "--by", "client", "--since", since], {
    cwd: folder,
  });
  assert.equal(code, 0, stderr);
  assert.ok(!stdout.includes("\x1b["), "no colour off a terminal");
  const lines = stdout.split("\n");
  assert.equal(lines[0], `ledger: ${path}`);
  assert.match(
    lines[1],
    new RegExp(`^from ${since} 00:00 UTC to \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC, by client$`),
  );
  assert.match(
    lines[3],
    /^CLIENT\s+REQUESTS\s+ERRORS\s+INPUT\s+OUTPUT\s+CACHE READ\s+CACHE WRITE\s+CACHE HIT\s+COST\s+TTFB P50\/P95\s+TIME P50\/P95$/,
  );
  assert.match(
    lines[4],
    /^ci\s+3\s+0\s+12\s+219\s+42,621\s+5,496\s+88\.6%\s+\$100\.75\s+420ms\/600ms\s+3\.1s\/4\.0s$/,
  );
  assert.match(lines[5], /^dev\s+1\s+1 \(100\.0%\)\s+0\s+0\s+0\s+0\s+-\s+\$0\.00\s+-\/-\s+300ms\/300ms$/);
  assert.match(lines[6], /^-+$/, "a rule sets the total apart");
  assert.match(lines[7], /^total\s+4\s+1 \(25\.0%\)/);
});

Deno.test("relay usage refuses a bad --since and says where the ledger would be when there is none", async () => {
  const { folder } = await withLedgerConfig();
  const bad = await runRelay(["usage", "--since", "yesterday"], { cwd: folder });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /argument 'yesterday' is invalid/);
  const impossible = await runRelay(["usage", "--since", "2026-02-30"], { cwd: folder });
  assert.equal(impossible.code, 1);
  assert.equal(
    impossible.stderr.trim(),
    bad.stderr.trim().replace("'yesterday'", "'2026-02-30'"),
    "the same error as any bad value",
  );
  const far = await runRelay(["usage", "--since", "999999999d"], { cwd: folder });
  assert.equal(far.code, 1);
  assert.equal(
    far.stderr.trim(),
    "error: option '--since <when>' argument '999999999d' is invalid. " +
      "a duration that long reaches back past the earliest date: use a date such as 2026-11-01",
    "no stack trace",
  );
  const missing = await runRelay(["usage"], { cwd: folder });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no ledger at .*\/ledger\.db yet: relay serve creates it when it starts/);
  const home = await sandbox();
  const defaults = await runRelay(["usage"], { cwd: home });
  assert.match(defaults.stderr, new RegExp(`no ledger at ${home}/\\.local/share/relay/ledger\\.db yet`));
});

Deno.test("relay usage names the file in a ledger.path's way, as relay check does, not the OS's error", async () => {
  const folder = await sandbox();
  await Deno.writeTextFile(`${folder}/afile`, "not a folder\n");
  const path = await writeConfig(
    folder,
    "ledger:\n  path: ./afile/usage.db\nproviders:\n  - name: m\n    type: mock\n",
  );
  const { code, stderr } = await runRelay(["usage", "-c", path], { cwd: folder });
  assert.equal(code, 1);
  assert.equal(
    stderr,
    `relay cannot read the ledger ${folder}/afile/usage.db: ${folder}/afile is not a folder\n`,
  );
});

Deno.test("relay usage says a ledger.path that is a folder is one, as relay check does", async () => {
  const { folder, path } = await withLedgerConfig();
  await Deno.mkdir(path);
  const { code, stderr } = await runRelay(["usage"], { cwd: folder });
  assert.equal(code, 1);
  assert.equal(stderr, `relay cannot read the ledger ${path}: it is a folder\n`);
});

Deno.test({
  name:
    "relay usage says what to do with a WAL ledger in a folder it may not write, where SQLite cannot make its -shm",
  // root writes any folder: the -shm is made, and nothing is tested.
  ignore: Deno.uid() === 0,
  fn: async () => {
    const { folder, path } = await withLedgerConfig();
    prepare(path);
    for (const sidecar of ["-wal", "-shm"]) await Deno.remove(`${path}${sidecar}`).catch(() => {});
    await Deno.chmod(folder, 0o555);
    try {
      const { code, stderr } = await runRelay(["usage"], { cwd: folder });
      assert.equal(code, 1);
      assert.equal(
        stderr,
        `relay cannot read the ledger ${path}: SQLite needs to make or write ${path}-shm to read it, and ` +
          "this user may not: copy the file to a folder you may write, or run as its owner\n",
      );
    } finally {
      await Deno.chmod(folder, 0o755);
    }
  },
});

Deno.test("relay usage reads the ledger settings of a file that does not load in this shell, with a note", async () => {
  // The client token comes from CI's environment: relay has it, this shell does not.
  const { folder, path } = await withLedgerConfig('server:\n  auth:\n    tokens: ["${CI_TOKEN}"]\n');
  prepare(path);
  const { code, stdout, stderr } = await runRelay(["usage", "--json"], { cwd: folder });
  assert.equal(code, 0, stderr);
  assert.equal(JSON.parse(stdout).total.requests, 3);
  assert.match(
    stderr,
    /^note: .*relay\.yaml does not load, so relay usage read only ledger\.path and ledger\.enabled from it:\n.*CI_TOKEN/,
  );

  // A ledger path it cannot read is the file's error, as before.
  await writeConfig(
    folder,
    `ledger:\n  path: \${LEDGER_DIR}/ledger.db\nproviders:\n  - name: mock\n    type: mock\n`,
  );
  const unreadable = await runRelay(["usage"], { cwd: folder });
  assert.equal(unreadable.code, 1);
  assert.match(unreadable.stderr, /LEDGER_DIR/);
  assert.doesNotMatch(unreadable.stderr, /note:/);
});

Deno.test("parseSince takes a duration back from now or a UTC date, and nothing else", () => {
  const now = Date.UTC(2026, 10, 8, 12);
  assert.equal(parseSince("24h", now), Date.UTC(2026, 10, 7, 12));
  assert.equal(parseSince("7d", now), Date.UTC(2026, 10, 1, 12));
  assert.equal(parseSince("2026-11-01", now), Date.UTC(2026, 10, 1));
  assert.equal(parseSince("2024-02-29", now), Date.UTC(2024, 1, 29), "a leap day");
  for (
    const bad of [
      "yesterday",
      "2026-13-01",
      "2026-02-30",
      "2026-02-29",
      "2026-04-31",
      "2026-01-00",
      "-1h",
      "7 days",
    ]
  ) {
    assert.throws(() => parseSince(bad, now), /expected a duration such as 24h or 7d/, bad);
  }
});

Deno.test("parseSince refuses a duration reaching back before 1970, or a date in the future", () => {
  const now = Date.UTC(2026, 10, 8, 12);
  const hoursSince1970 = now / 3_600_000;
  assert.equal(parseSince(`${hoursSince1970}h`, now), 0, "back to 1970-01-01 exactly");
  for (const far of [`${hoursSince1970 + 1}h`, "100000000d", "999999999d", `${"9".repeat(400)}d`]) {
    assert.throws(
      () => parseSince(far, now),
      /a duration that long reaches back past the earliest date/,
      far,
    );
  }
  assert.equal(parseSince("0s", now), now);
  assert.equal(parseSince("2026-11-08", now), Date.UTC(2026, 10, 8), "today is not the future");
  assert.throws(
    () => parseSince("2026-11-10", now),
    /^InvalidArgumentError: a date in the future: 2026-11-10 has not begun anywhere yet \(a date is read as 2026-11-10 00:00 UTC\)$/,
  );
});

Deno.test("parseSince takes a date that has begun in some time zone: today's, for a user east of UTC", () => {
  // 12:00 UTC is 02:00 the next day in Kiritimati (UTC+14), whose users mean their own today.
  assert.equal(parseSince("2026-11-09", Date.UTC(2026, 10, 8, 12)), Date.UTC(2026, 10, 9));
  assert.equal(parseSince("2026-11-09", Date.UTC(2026, 10, 8, 10)), Date.UTC(2026, 10, 9), "midnight there");
  assert.throws(() => parseSince("2026-11-09", Date.UTC(2026, 10, 8, 9, 59)), /a date in the future/);
});

Deno.test("parseSince refuses a date before 1970 as it refuses a duration reaching back that far", () => {
  const now = Date.UTC(2026, 10, 8, 12);
  assert.equal(parseSince("1970-01-01", now), 0);
  for (const early of ["1969-12-31", "0000-01-01"]) {
    assert.throws(
      () => parseSince(early, now),
      /^InvalidArgumentError: a date before 1970-01-01, where the ledger's times start$/,
      early,
    );
  }
});

Deno.test("relay usage counts records stamped after now, as a clock set back since leaves them", async () => {
  const { folder, path } = await withLedgerConfig();
  const later = Date.now() + HOUR;
  const store = LedgerStore.open(path);
  store.insert([ledgerRecord({ requestId: "ahead", time: later, costUsd: 2 })]);
  store.close();
  const { code, stdout, stderr } = await runRelay(["usage", "--json"], { cwd: folder });
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.total.requests, 1);
  assert.equal(report.total.cost_usd, 2);
  assert.equal(Date.parse(report.until), later + 1, "the period runs past its latest record");
});

Deno.test("relay usage on a ledger with corrupt pages says so in one line naming the file", async () => {
  const { folder, path } = await withLedgerConfig();
  const store = LedgerStore.open(path);
  store.insert(
    Array.from({ length: 2_000 }, (_, id) => ledgerRecord({ requestId: `r${id}`, time: Date.now() })),
  );
  store.close();
  // Every page but the first (the header, which opening reads) is overwritten.
  const file = await Deno.open(path, { write: true });
  await file.seek(4_096, Deno.SeekMode.Start);
  await file.write(new Uint8Array(64 * 1_024).fill(0xa5));
  file.close();
  const { code, stdout, stderr } = await runRelay(["usage"], { cwd: folder });
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.equal(stderr, `relay cannot read the ledger ${path}: database disk image is malformed\n`);
});

Deno.test("formatUsage colours the header and only the error cells that are not zero", async () => {
  const { path } = await withLedgerConfig();
  prepare(path);
  const store = LedgerStore.open(path, { readOnly: true });
  const report = usageReport(store.database, { since: Date.now() - 24 * HOUR, by: "model" });
  store.close();
  const text = formatUsage(report, path, { bold: (t) => `<b>${t}</b>`, red: (t) => `<r>${t}</r>` });
  const lines = text.split("\n");
  assert.equal((lines[3].match(/<b>/g) ?? []).length, 11, "every header cell");
  assert.ok(!lines[4].includes("<r>"), "sonnet had no errors");
  assert.match(lines[5], /^claude-haiku-4-5\s+1\s+<r>1 \(100\.0%\)<\/r>/);
});

Deno.test("formatUsage shows a cost under a cent as it is, and one too small for that as under $0.0001", async () => {
  const { path } = await withLedgerConfig();
  const store = LedgerStore.open(path);
  store.insert([
    ledgerRecord({ requestId: "a", time: Date.now() - HOUR, costUsd: 0.0042 }),
    ledgerRecord({ requestId: "b", time: Date.now() - HOUR, model: "claude-haiku-4-5", costUsd: 0.00003 }),
  ]);
  const report = usageReport(store.database, { since: Date.now() - 24 * HOUR, by: "model" });
  store.close();
  const lines = formatUsage(report, path).split("\n");
  assert.match(lines[4], /^claude-sonnet-4-5\s.*\s\$0\.0042\s/);
  assert.match(lines[5], /^claude-haiku-4-5\s.*\s<\$0\.0001\s/);
  assert.match(lines[7], /^total\s.*\s\$0\.0042\s/);
});

Deno.test("formatUsage marks a cost that leaves out unpriced requests, and shows none for only those", async () => {
  const { path } = await withLedgerConfig();
  const store = LedgerStore.open(path);
  store.insert([
    ledgerRecord({ requestId: "a", time: Date.now() - HOUR, costUsd: 0.5 }),
    ledgerRecord({ requestId: "b", time: Date.now() - HOUR, model: "local", costUsd: undefined }),
  ]);
  const byModel = usageReport(store.database, { since: Date.now() - 24 * HOUR, by: "model" });
  const byProvider = usageReport(store.database, { since: Date.now() - 24 * HOUR, by: "provider" });
  store.close();
  const lines = formatUsage(byModel, path).split("\n");
  assert.match(lines[4], /^claude-sonnet-4-5\s.*\s\$0\.50\s/);
  assert.match(lines[5], /^local\s.*\s-\*\s/);
  assert.match(lines[7], /^total\s.*\s\$0\.50\*\s/);
  assert.match(formatUsage(byProvider, path), /\n\S+\s.*\s\$0\.50\*\s/, "one group of both");
});

Deno.test("relay usage shows web searches in --json, and in the table only for a period that has some", async () => {
  const { folder, path } = await withLedgerConfig();
  prepare(path);
  const plain = await runRelay(["usage"], { cwd: folder });
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(!plain.stdout.includes("SEARCHES"), "no column of nothing");
  const store = LedgerStore.open(path);
  const searched = { input: 4, output: 73, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0, webSearches: 5 };
  store.insert([ledgerRecord({ requestId: "d", time: Date.now() - HOUR, usage: searched, costUsd: 0.05 })]);
  store.close();
  const table = await runRelay(["usage"], { cwd: folder });
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.split("\n");
  assert.match(lines[3], /\s+CACHE HIT\s+SEARCHES\s+COST\s+/);
  assert.match(lines[4], /^claude-sonnet-4-5\s+3\s.*\s5\s+\$0\.80\s/);
  assert.match(lines[5], /^claude-haiku-4-5\s+1\s.*\s0\s+\$0\.00\s/);
  const json = await runRelay(["usage", "--json"], { cwd: folder });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.deepEqual(report.groups.map((group: { web_searches: number }) => group.web_searches), [5, 0]);
  assert.equal(report.total.web_searches, 5);
});

Deno.test("relay usage tells how many requests had estimated usage, in --json, and in a note only for a period that has some", async () => {
  const { folder, path } = await withLedgerConfig();
  prepare(path);
  const plain = await runRelay(["usage"], { cwd: folder });
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(!plain.stdout.includes("note:"), "no note of nothing");
  const store = LedgerStore.open(path);
  store.insert([
    ledgerRecord({ requestId: "d", time: Date.now() - HOUR, usageEstimated: true, costUsd: 0.05 }),
    ledgerRecord({
      requestId: "e",
      time: Date.now() - HOUR,
      model: "local",
      usageEstimated: true,
      costUsd: undefined,
    }),
  ]);
  store.close();
  const table = await runRelay(["usage"], { cwd: folder });
  assert.equal(table.code, 0, table.stderr);
  assert.deepEqual(table.stdout.trimEnd().split("\n").slice(-3), [
    "",
    "note: * leaves out 1 request relay has no price for: a model without one, or fast mode without its fast " +
    "multiple; add them under pricing in the config",
    "note: usage relay estimated for 2 requests, in the totals above: the stream ended before the upstream " +
    "reported it, or the upstream reports none (or no input)",
  ]);
  const json = await runRelay(["usage", "--json"], { cwd: folder });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.deepEqual(
    report.groups.map((
      group: { name: string; usage_estimated: number },
    ) => [group.name, group.usage_estimated]),
    [["claude-sonnet-4-5", 1], ["claude-haiku-4-5", 0], ["local", 1]],
  );
  assert.equal(report.total.usage_estimated, 2);
});

/** A name a client could choose: it would set the terminal's title, clear it and paint, or break lines. */
const EVIL = "\u001b]0;pwned\u0007\u001b[2J\u001b[31mEVIL\u001b[0m\nx\r\t\u0001\u007f\u009b2J";
const SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mEVIL\\x1b[0m\\nx\\r\\t\\x01\\x7f\\x9b2J";
/**
 * `name` as a table cell, when it shows past the 48 columns a cell has, as {@linkcode SHOWN} does: its
 * first 23 and last 24 columns.
 */
const cell = (name: string) => `${name.slice(0, 23)}…${name.slice(-24)}`;
const SHOWN_CELL = cell(SHOWN);
const CONTROL = /\p{Cc}/u;

Deno.test("formatUsage shows control characters in every name as escapes, whatever it totals by", async () => {
  const { path } = await withLedgerConfig();
  const store = LedgerStore.open(path);
  store.insert([
    ledgerRecord({ time: Date.now() - HOUR, model: EVIL, provider: EVIL, keyLabel: EVIL, client: EVIL }),
  ]);
  store.close();
  const reader = LedgerStore.open(path, { readOnly: true });
  try {
    for (const by of ["model", "provider", "key", "client"] as const) {
      const report = usageReport(reader.database, { since: Date.now() - 24 * HOUR, by });
      const lines = formatUsage(report, path).split("\n");
      assert.equal(lines.length, 7, `${by}: one line a row, and the rule above the total`);
      assert.ok(!CONTROL.test(lines.join("")), `${by}: no control character`);
      const name = by === "key" ? `${SHOWN} fc15735de69a` : SHOWN; // a key's id after its label
      assert.ok(lines[4].startsWith(`${cell(name)}  `), `${by}: ${lines[4]}`);
      assert.equal(lines[4].indexOf(" 1 ") + 1, lines[3].indexOf("REQUESTS") + 7, `${by}: aligned`);
    }
  } finally {
    reader.close();
  }
});

Deno.test("formatUsage lines up wide and combining names, cuts a long one and sets the real total apart", async () => {
  const { path } = await withLedgerConfig();
  const long = "x".repeat(256);
  const store = LedgerStore.open(path);
  store.insert(
    ["total", long, "模型-中文名字", "mo\u0310del", "rtl-\u202eledom"].map((model, index) =>
      ledgerRecord({ requestId: `${index}`, time: Date.now() - HOUR, model })
    ),
  );
  store.close();
  const reader = LedgerStore.open(path, { readOnly: true });
  const report = usageReport(reader.database, { since: Date.now() - 24 * HOUR, by: "model" });
  reader.close();
  const table = formatUsage(report, path).split("\n").slice(3, 11);
  const widths = table.map((line) => stringWidth(line));
  assert.deepEqual(widths, widths.map(() => widths[0]), `every line as wide:\n${table.join("\n")}`);
  assert.ok(widths[0] < 160, "no row as wide as the long name");
  assert.ok(table.some((line) => line.startsWith(`${cell(long)}  `)), "the long name cut");
  assert.ok(table.some((line) => line.startsWith("rtl-\\u202eledom  ")), "the bidi override escaped");
  assert.ok(!/\p{Cf}/u.test(table.join("")), "no format character reaches the terminal");
  assert.match(table[6], /^-+$/, "a rule above the real total");
  assert.match(table[7], /^total +5 /);
});

Deno.test("formatUsage --by key tells keys with one long label apart by the ids at the end of their names", async () => {
  const { path } = await withLedgerConfig();
  const keyLabel = "anthropic-production-platform-team-primary (sk-ant-...abcd)";
  const store = LedgerStore.open(path);
  store.insert(
    ["k1a2b3c4d5e6", "k9f8e7d6c5b4"].map((keyId, index) =>
      ledgerRecord({ requestId: `${index}`, time: Date.now() - HOUR, keyId, keyLabel })
    ),
  );
  store.close();
  const reader = LedgerStore.open(path, { readOnly: true });
  const report = usageReport(reader.database, { since: Date.now() - 24 * HOUR, by: "key" });
  reader.close();
  const names = formatUsage(report, path).split("\n").slice(4, 6).map((line) => line.split(/ {2,}/)[0])
    .sort();
  assert.deepEqual(names, [cell(`${keyLabel} k1a2b3c4d5e6`), cell(`${keyLabel} k9f8e7d6c5b4`)]);
});

Deno.test("relay usage prints no control character from a name, as a table or as JSON", async () => {
  const { folder, path } = await withLedgerConfig();
  const store = LedgerStore.open(path);
  store.insert([ledgerRecord({ time: Date.now() - HOUR, model: EVIL })]);
  store.close();
  const table = await runRelay(["usage"], { cwd: folder });
  assert.equal(table.code, 0, table.stderr);
  assert.ok(!CONTROL.test(table.stdout.replaceAll("\n", "")), table.stdout);
  assert.ok(table.stdout.split("\n")[4].startsWith(`${SHOWN_CELL}  `));
  const json = await runRelay(["usage", "--json"], { cwd: folder });
  assert.equal(json.code, 0, json.stderr);
  assert.ok(!CONTROL.test(json.stdout.replaceAll("\n", "")), json.stdout);
  assert.equal(JSON.parse(json.stdout).groups[0].name, EVIL, "the name itself, escaped as JSON");
});
