import assert from "node:assert/strict";
import { backupPath, writeFileAtomic } from "../../src/config/write.ts";
import { configErrorWith } from "../_helpers/config.ts";

async function folder(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "relay-write-" });
}

async function entries(path: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(path))).map((entry) => entry.name).sort();
}

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test("writeFileAtomic creates a missing folder 0700 and the file 0600", async () => {
  const root = await folder();
  const path = `${root}/a/b/relay.yaml`;
  const result = await writeFileAtomic(path, "providers: []\n");
  assert.deepEqual(result, { backup: undefined, createdFolder: true });
  assert.equal(await Deno.readTextFile(path), "providers: []\n");
  assert.equal(await mode(path), 0o600);
  assert.equal(await mode(`${root}/a/b`), 0o700);
  assert.equal(await mode(`${root}/a`), 0o700);
  assert.deepEqual(await entries(`${root}/a/b`), ["relay.yaml"], "no temporary file left");
});

Deno.test("writeFileAtomic leaves an existing folder's mode alone", async () => {
  const root = await folder();
  await Deno.chmod(root, 0o755);
  const result = await writeFileAtomic(`${root}/relay.yaml`, "x\n");
  assert.equal(result.createdFolder, false);
  assert.equal(await mode(root), 0o755);
});

Deno.test("writeFileAtomic replaces a file, keeping the old one as a 0600 backup", async () => {
  const root = await folder();
  const path = `${root}/relay.yaml`;
  await Deno.writeTextFile(path, "old\n", { mode: 0o644 });
  const at = new Date("2025-01-02T03:04:05.678Z");
  const { backup } = await writeFileAtomic(path, "new\n", { backupAt: at });
  assert.equal(backup, `${path}.bak-20250102T030405Z`);
  assert.equal(await Deno.readTextFile(backup!), "old\n");
  assert.equal(await mode(backup!), 0o600);
  assert.equal(await Deno.readTextFile(path), "new\n");
  assert.equal(await mode(path), 0o600, "the replacement is private even if the original was not");
});

Deno.test("writeFileAtomic numbers backups taken within one second, never overwriting one", async () => {
  const root = await folder();
  const path = `${root}/relay.yaml`;
  await Deno.writeTextFile(path, "first\n", { mode: 0o600 });
  const stamp = `${path}.bak-20250102T030405Z`;
  const backups = [];
  for (const [ms, text] of [[100, "second\n"], [500, "third\n"], [900, "fourth\n"]] as const) {
    backups.push(
      (await writeFileAtomic(path, text, { backupAt: new Date(`2025-01-02T03:04:05.${ms}Z`) })).backup,
    );
  }
  assert.deepEqual(backups, [stamp, `${stamp}-2`, `${stamp}-3`]);
  assert.equal(await Deno.readTextFile(stamp), "first\n");
  assert.equal(await Deno.readTextFile(`${stamp}-2`), "second\n");
  assert.equal(await Deno.readTextFile(`${stamp}-3`), "third\n");
  assert.equal(await mode(`${stamp}-3`), 0o600);
  assert.equal(await Deno.readTextFile(path), "fourth\n");
});

Deno.test("writeFileAtomic with backupAt and no file yet writes no backup", async () => {
  const root = await folder();
  const { backup } = await writeFileAtomic(`${root}/relay.yaml`, "x\n", { backupAt: new Date() });
  assert.equal(backup, undefined);
  assert.deepEqual(await entries(root), ["relay.yaml"]);
});

Deno.test("writeFileAtomic gives exactly the mode asked for, even where the umask would narrow it", async () => {
  const root = await folder();
  // The usual umask (022) clears group write at creation.
  await writeFileAtomic(`${root}/settings.json`, "{}\n", { mode: 0o660 });
  assert.equal(await mode(`${root}/settings.json`), 0o660);
});

Deno.test("an aborted writeFileAtomic leaves the original, and no temporary file or backup", async () => {
  const root = await folder();
  const path = `${root}/relay.yaml`;
  await Deno.writeTextFile(path, "old\n", { mode: 0o600 });
  const controller = new AbortController();
  controller.abort(new Error("interrupted"));
  await assert.rejects(
    writeFileAtomic(path, "new\n", { backupAt: new Date(), signal: controller.signal }),
    /interrupted/,
  );
  assert.equal(await Deno.readTextFile(path), "old\n");
  assert.deepEqual(await entries(root), ["relay.yaml"]);
});

Deno.test("a failed writeFileAtomic removes its temporary file", async () => {
  const root = await folder();
  // Renaming a file over a non-empty folder fails after the temporary file was written.
  await Deno.mkdir(`${root}/relay.yaml`);
  await Deno.writeTextFile(`${root}/relay.yaml/inside`, "");
  await assert.rejects(writeFileAtomic(`${root}/relay.yaml`, "new\n"));
  assert.deepEqual(await entries(root), ["relay.yaml"]);
});

Deno.test("backupPath stamps UTC seconds in a sortable, shell-safe form", () => {
  assert.equal(
    backupPath("/a/relay.yaml", new Date("2031-12-31T23:59:59.999Z")),
    "/a/relay.yaml.bak-20311231T235959Z",
  );
  assert.equal(
    backupPath("/a/relay.yaml", new Date("2031-12-31T23:59:59Z"), 2),
    "/a/relay.yaml.bak-20311231T235959Z-2",
  );
});

Deno.test("writeFileAtomic replaces the file a symlink leads to, keeping the link and the backup beside it", async () => {
  const root = await folder();
  await Deno.mkdir(`${root}/dotfiles`);
  await Deno.mkdir(`${root}/config`);
  await Deno.writeTextFile(`${root}/dotfiles/relay.yaml`, "old\n", { mode: 0o600 });
  // A relative link, a chain of two as a dotfiles manager may leave.
  await Deno.symlink("../dotfiles/relay.yaml", `${root}/config/middle.yaml`);
  await Deno.symlink(`${root}/config/middle.yaml`, `${root}/config/relay.yaml`);
  const at = new Date("2025-01-02T03:04:05Z");
  const { backup } = await writeFileAtomic(`${root}/config/relay.yaml`, "new\n", {
    backupAt: at,
    mode: 0o640,
  });
  assert.ok((await Deno.lstat(`${root}/config/relay.yaml`)).isSymlink);
  assert.ok((await Deno.lstat(`${root}/config/middle.yaml`)).isSymlink);
  assert.equal(await Deno.readTextFile(`${root}/dotfiles/relay.yaml`), "new\n");
  assert.equal(await mode(`${root}/dotfiles/relay.yaml`), 0o640);
  assert.equal(backup, `${root}/config/relay.yaml.bak-20250102T030405Z`);
  assert.equal(await Deno.readTextFile(backup!), "old\n");
  assert.deepEqual(await entries(`${root}/dotfiles`), ["relay.yaml"], "no temporary file left");
});

Deno.test("writeFileAtomic creates the file a dangling symlink points at, in a new 0700 folder", async () => {
  const root = await folder();
  await Deno.symlink(`${root}/dotfiles/relay.yaml`, `${root}/relay.yaml`);
  const { createdFolder } = await writeFileAtomic(`${root}/relay.yaml`, "x\n");
  assert.equal(createdFolder, true);
  assert.ok((await Deno.lstat(`${root}/relay.yaml`)).isSymlink);
  assert.equal(await Deno.readTextFile(`${root}/dotfiles/relay.yaml`), "x\n");
  assert.equal(await mode(`${root}/dotfiles`), 0o700);
});

Deno.test("writeFileAtomic names the path and the system's reason when it cannot write", async () => {
  const root = await folder();
  await Deno.symlink(`${root}/a`, `${root}/a`);
  await assert.rejects(
    writeFileAtomic(`${root}/a`, "x\n"),
    configErrorWith(`cannot write ${root}/a: too many levels of symbolic links`),
  );
});

Deno.test("writeFileAtomic follows a chain of as many links as the system follows, 40", async () => {
  const root = await folder();
  await Deno.writeTextFile(`${root}/relay.yaml`, "old\n");
  for (let n = 40; n >= 1; n--) {
    await Deno.symlink(n === 40 ? "relay.yaml" : `link${n + 1}`, `${root}/link${n}`);
  }
  assert.equal(await Deno.readTextFile(`${root}/link1`), "old\n", "the system reads through all 40");
  await writeFileAtomic(`${root}/link1`, "new\n");
  assert.equal(await Deno.readTextFile(`${root}/relay.yaml`), "new\n");
  assert.ok((await Deno.lstat(`${root}/link40`)).isSymlink);
});
