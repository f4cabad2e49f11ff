/** writeFileAtomic keeps the owner of the file it replaces (`sudo relay init`, `sudo relay env`). */
import assert from "node:assert/strict";
import { ownerToKeep, writeFileAtomic } from "../../src/config/write.ts";
import { configErrorWith } from "../_helpers/config.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

const ROOT = Deno.uid() === 0;
const NOBODY = 65534;
const WRITE_TS = new URL("../../src/config/write.ts", import.meta.url).pathname;

Deno.test("ownerToKeep asks for the replaced file's owner only when the new file lacks it", () => {
  assert.deepEqual(ownerToKeep({ uid: 1000, gid: 1000 }, { uid: 0, gid: 0 }), { uid: 1000, gid: 1000 });
  assert.deepEqual(ownerToKeep({ uid: 1000, gid: 50 }, { uid: 1000, gid: 1000 }), { uid: 1000, gid: 50 });
  assert.equal(ownerToKeep({ uid: 1000, gid: 1000 }, { uid: 1000, gid: 1000 }), undefined);
  assert.equal(ownerToKeep(undefined, { uid: 0, gid: 0 }), undefined, "a new file is its writer's");
  assert.equal(ownerToKeep({ uid: null, gid: null }, { uid: 0, gid: 0 }), undefined, "no owners here");
});

Deno.test("writeFileAtomic on the writer's own file warns of nothing, its owner as it was", async () => {
  await using folder = await tempFolder("relay-owner-");
  const path = `${folder.path}/settings.json`;
  await Deno.writeTextFile(path, "{}\n", { mode: 0o600 });
  const before = await Deno.stat(path);
  const warned: string[] = [];
  await writeFileAtomic(path, "{ }\n", { backupAt: new Date(), warn: (line) => warned.push(line) });
  const after = await Deno.stat(path);
  assert.deepEqual([after.uid, after.gid], [before.uid, before.gid]);
  assert.deepEqual(warned, []);
});

Deno.test({
  name: "writeFileAtomic run by root gives the new file and its backup the replaced file's owner",
  ignore: !ROOT,
  fn: async () => {
    await using folder = await tempFolder("relay-owner-");
    const root = folder.path;
    const path = `${root}/relay.yaml`;
    await Deno.writeTextFile(path, "old\n", { mode: 0o600 });
    await Deno.chown(path, NOBODY, NOBODY);
    const { backup } = await writeFileAtomic(path, "new\n", { backupAt: new Date(), mode: 0o640 });
    for (const file of [path, backup!]) {
      const stat = await Deno.stat(file);
      assert.deepEqual([stat.uid, stat.gid], [NOBODY, NOBODY], file);
    }
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640, "the mode asked for survives the chown");
    assert.equal(await Deno.readTextFile(path), "new\n");
  },
});

Deno.test({
  name: "writeFileAtomic that may not keep the owner writes anyway and says so in one line",
  ignore: !ROOT,
  fn: async () => {
    // A user who may write into root's folder but not give a file to root.
    await using folder = await tempFolder("relay-owner-");
    const root = folder.path;
    await Deno.chmod(root, 0o777);
    const path = `${root}/relay.yaml`;
    await Deno.writeTextFile(path, "old\n", { mode: 0o600 });
    const script = `${root}/write.ts`;
    await Deno.writeTextFile(
      script,
      `import { writeFileAtomic } from ${
        JSON.stringify(WRITE_TS)
      };\nawait writeFileAtomic(Deno.args[0], "new\\n");\n`,
      { mode: 0o644 },
    );
    await Deno.mkdir(`${root}/deno`, { mode: 0o777 });
    await Deno.chmod(`${root}/deno`, 0o777);
    const { code, stderr } = await new Deno.Command("setpriv", {
      args: [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        Deno.execPath(),
        "run",
        "-q",
        "--no-config",
        "--allow-read",
        "--allow-write",
        script,
        path,
      ],
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin", DENO_DIR: `${root}/deno` },
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.equal(
      new TextDecoder().decode(stderr),
      `warning: ${path} was owned by uid 0 (gid 0); relay could not keep that (Operation not permitted), ` +
        `so it is now owned by uid ${NOBODY} (gid ${NOBODY})\n`,
    );
    assert.equal(await Deno.readTextFile(path), "new\n");
  },
});

Deno.test("writeFileAtomic under /dev says Deno refuses it there, not to run again with --allow-all", async () => {
  await assert.rejects(
    writeFileAtomic("/dev/relay-test-nowhere/settings.json", "{}\n"),
    configErrorWith(
      "cannot write /dev/relay-test-nowhere/settings.json: Deno, which runs relay, opens files under /dev, " +
        "/proc and /sys only with --allow-all, which relay does not take: put the file elsewhere",
    ),
  );
});
