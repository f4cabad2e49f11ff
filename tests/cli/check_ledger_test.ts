/** `relay check` refuses a ledger `relay serve` could not open, as serve would, and creates nothing. */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runRelay, sandbox, writeConfig } from "../_helpers/cli.ts";

const MOCK = "providers:\n  - name: mock\n    type: mock\n";

/** Every entry under `folder`, relative to it. */
async function entries(folder: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    out.push(entry.name);
    if (entry.isDirectory) {
      out.push(...(await entries(`${folder}/${entry.name}`)).map((n) => `${entry.name}/${n}`));
    }
  }
  return out.sort();
}

Deno.test("relay check names a ledger.path under a regular file, at its line, and creates nothing", async () => {
  const folder = await sandbox();
  await Deno.writeTextFile(`${folder}/afile`, "not a folder\n");
  const path = await writeConfig(folder, `${MOCK}ledger:\n  path: ./afile/sub/usage.db\n`);
  const { code, stdout, stderr } = await runRelay(["check", "-c", path], { cwd: folder });
  assert.equal(code, 1, stdout);
  assert.equal(
    stderr,
    `${path}:5:9: ledger.path: relay serve cannot open its usage ledger ${folder}/afile/sub/usage.db: ` +
      `${folder}/afile is not a folder (set ledger.path to a writable file, or ledger.enabled: false)\n`,
  );
  assert.doesNotMatch(stdout, /is valid/);
  assert.deepEqual(await entries(folder), ["afile", "relay.yaml"]);

  const off = await writeConfig(folder, `${MOCK}ledger:\n  enabled: false\n  path: ./afile/usage.db\n`);
  const disabled = await runRelay(["check", "-c", off], { cwd: folder });
  assert.equal(disabled.code, 0, disabled.stderr);
});

Deno.test("relay check names a ledger.path that is a folder", async () => {
  const folder = await sandbox();
  await Deno.mkdir(`${folder}/usage.db`);
  const path = await writeConfig(folder, `${MOCK}ledger:\n  path: usage.db\n`);
  const { code, stderr } = await runRelay(["check", "-c", path], { cwd: folder });
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`^${path}:5:9: ledger\\.path: .* ${folder}/usage\\.db is a folder `));
});

Deno.test("relay check names the default ledger's folder when it cannot be made, with no ledger.path in the file", async () => {
  const home = await sandbox();
  await Deno.writeTextFile(`${home}/.local`, "");
  const path = await writeConfig(home, MOCK);
  const { code, stderr } = await runRelay(["check", "-c", path], { cwd: home });
  assert.equal(code, 1);
  assert.match(
    stderr,
    new RegExp(
      `^${path}: ledger\\.path: relay serve cannot open its usage ledger ` +
        `${home}/\\.local/share/relay/ledger\\.db: ${home}/\\.local is not a folder `,
    ),
  );
});

Deno.test("relay check on the built-in defaults only warns of a ledger it cannot make: relay serve starts without it", async () => {
  const home = await sandbox();
  await Deno.writeTextFile(`${home}/.local`, "");
  const { code, stdout, stderr } = await runRelay(["check"], { cwd: home });
  assert.equal(code, 0, stderr);
  assert.match(
    stderr,
    /^warning: relay serve cannot open its usage ledger .* is not a folder \(so relay serve records no usage: /m,
  );
  assert.match(stdout, /the defaults above are valid/);
  assert.deepEqual(await entries(home), [".local"]);
});

Deno.test({
  name: "relay check names a ledger folder this user may not write (mode 0500)",
  // Root writes whatever the mode says.
  ignore: Deno.uid() === 0,
  fn: async () => {
    const folder = await sandbox();
    await Deno.mkdir(`${folder}/closed`, { mode: 0o500 });
    await Deno.chmod(`${folder}/closed`, 0o500);
    const path = await writeConfig(folder, `${MOCK}ledger:\n  path: ./closed/usage.db\n`);
    const { code, stderr } = await runRelay(["check", "-c", path], { cwd: folder });
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`${folder}/closed is not writable by this user .*mode 0500`));
  },
});

Deno.test({
  name: "relay check names an existing ledger file this user may not write (mode 0400)",
  ignore: Deno.uid() === 0,
  fn: async () => {
    const folder = await sandbox();
    await Deno.writeTextFile(`${folder}/usage.db`, "");
    await Deno.chmod(`${folder}/usage.db`, 0o400);
    const path = await writeConfig(folder, `${MOCK}ledger:\n  path: usage.db\n`);
    const { code, stderr } = await runRelay(["check", "-c", path], { cwd: folder });
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`cannot write ${folder}/usage\\.db: Permission denied `));
  },
});

Deno.test("relay check names a ledger.path that holds something other than a SQLite database", async () => {
  const folder = await sandbox();
  await Deno.writeTextFile(`${folder}/usage.db`, "notes, not a database\n");
  const path = await writeConfig(folder, `${MOCK}ledger:\n  path: usage.db\n`);
  const { code, stderr } = await runRelay(["check", "-c", path], { cwd: folder });
  assert.equal(code, 1);
  assert.match(stderr, /usage\.db is not a SQLite database \(the ledger is one\)/);
});

Deno.test("relay serve names a ledger.path under a regular file as relay check does, not the OS's 'File exists'", async () => {
  const folder = await sandbox();
  await Deno.writeTextFile(`${folder}/afile`, "not a folder\n");
  await writeConfig(folder, `${MOCK}ledger:\n  path: ./afile/usage.db\n`);
  const { code, stderr } = await runRelay(["serve", "--port", "0"], { cwd: folder });
  assert.equal(code, 1);
  assert.ok(
    stderr.includes(
      `relay cannot open its usage ledger ${folder}/afile/usage.db: ${folder}/afile is not a folder\n`,
    ),
    stderr,
  );
});

Deno.test("relay check refuses a ledger a newer relay wrote, as relay serve would", async () => {
  const folder = await sandbox();
  const database = new DatabaseSync(`${folder}/usage.db`);
  database.exec("CREATE TABLE requests (id TEXT); PRAGMA user_version = 99");
  database.close();
  const path = await writeConfig(folder, `${MOCK}ledger:\n  path: usage.db\n`);
  const { code, stderr } = await runRelay(["check", "-c", path], { cwd: folder });
  assert.equal(code, 1);
  assert.match(
    stderr,
    /usage\.db: the ledger was written by a newer relay \(schema 99, this one knows \d+\)/,
  );
});

Deno.test("relay check takes a ledger.path that links to a file not made yet, and looks where it points", async () => {
  const folder = await sandbox();
  await Deno.mkdir(`${folder}/data`);
  await Deno.symlink("data/usage.db", `${folder}/usage.db`);
  const path = await writeConfig(folder, `${MOCK}ledger:\n  path: usage.db\n`);
  const ok = await runRelay(["check", "-c", path], { cwd: folder });
  assert.equal(ok.code, 0, ok.stderr);
  await Deno.remove(`${folder}/data`);
  await Deno.writeTextFile(`${folder}/data`, "");
  const under = await runRelay(["check", "-c", path], { cwd: folder });
  assert.equal(under.code, 1);
  assert.match(under.stderr, new RegExp(`${folder}/data is not a folder`));
});
