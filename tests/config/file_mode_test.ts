import assert from "node:assert/strict";
import { checkFileMode, fileModeProblems, unreadableFileError } from "../../src/config/file_mode.ts";
import { configErrorWith } from "../_helpers/config.ts";

const REGULAR = 0o100000;

Deno.test("fileModeProblems accepts a file only its owner can use", () => {
  assert.deepEqual(fileModeProblems("relay.yaml", { mode: REGULAR | 0o600, uid: 501 }, 501), []);
  assert.deepEqual(fileModeProblems("relay.yaml", { mode: REGULAR | 0o400, uid: 501 }, 501), []);
  assert.deepEqual(fileModeProblems("relay.yaml", { mode: REGULAR | 0o700, uid: 0 }, 0), []);
});

Deno.test("fileModeProblems refuses group- or other-readable files, naming the mode and the fix", () => {
  const cases: [number, string][] = [
    [0o644, "relay.yaml has mode 0644: its group and others can read it"],
    [0o640, "relay.yaml has mode 0640: its group can read it"],
    [0o604, "relay.yaml has mode 0604: others can read it"],
    [0o620, "relay.yaml has mode 0620: its group can change it"],
    [0o666, "relay.yaml has mode 0666: its group and others can read and change it"],
    [0o601, "relay.yaml has mode 0601: others can open it"],
  ];
  for (const [mode, start] of cases) {
    assert.deepEqual(fileModeProblems("relay.yaml", { mode: REGULAR | mode, uid: 501 }, 501), [
      `${start}, and it holds API keys. Fix: chmod 600 relay.yaml`,
    ]);
  }
});

Deno.test("fileModeProblems refuses a file owned by someone else, naming the owner and chown", () => {
  assert.deepEqual(fileModeProblems("/etc/relay.yaml", { mode: REGULAR | 0o600, uid: 0 }, 1000), [
    "/etc/relay.yaml is owned by uid 0, not by you (uid 1000): its owner can change where your keys are sent. " +
    "Fix: chown 1000 /etc/relay.yaml",
  ]);
});

Deno.test("fileModeProblems reports both problems, quoting a path the shell would split", () => {
  const problems = fileModeProblems("my dir/relay.yaml", { mode: REGULAR | 0o644, uid: 7 }, 8);
  assert.equal(problems.length, 2);
  assert.match(problems[0], /Fix: chown 8 'my dir\/relay\.yaml'$/);
  assert.match(problems[1], /Fix: chmod 600 'my dir\/relay\.yaml'$/);
});

Deno.test("fileModeProblems skips what the platform does not report", () => {
  assert.deepEqual(fileModeProblems("relay.yaml", { mode: null, uid: null }, null), []);
  assert.deepEqual(fileModeProblems("relay.yaml", { mode: REGULAR | 0o600, uid: 5 }, null), []);
});

async function withFile(mode: number, run: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/relay.yaml`;
    await Deno.writeTextFile(path, "providers: []\n");
    await Deno.chmod(path, mode);
    await run(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("checkFileMode passes a 0600 file owned by the current user", async () => {
  await withFile(0o600, async (path) => {
    await checkFileMode(path, Deno.uid());
  });
});

Deno.test("checkFileMode refuses 0644, 0640 and 0604 files with ConfigError", async () => {
  for (const mode of [0o644, 0o640, 0o604]) {
    await withFile(mode, async (path) => {
      const octal = `0${mode.toString(8)}`;
      await assert.rejects(
        () => checkFileMode(path, Deno.uid()),
        configErrorWith(new RegExp(`^${path} has mode ${octal}: .* Fix: chmod 600 ${path}$`), path),
      );
    });
  }
});

Deno.test("checkFileMode refuses a file owned by another uid", async () => {
  await withFile(0o600, async (path) => {
    const other = (Deno.uid() ?? 0) + 1;
    await assert.rejects(
      () => checkFileMode(path, other),
      configErrorWith(new RegExp(`Fix: chown ${other} ${RegExp.escape(path)}`)),
    );
  });
});

Deno.test("checkFileMode refuses a directory and lets a missing file through as NotFound", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => checkFileMode(dir, Deno.uid()),
      configErrorWith(new RegExp(`^${RegExp.escape(dir)} is not a regular file`)),
    );
    await assert.rejects(() => checkFileMode(`${dir}/absent.yaml`, Deno.uid()), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkFileMode refuses a path it cannot stat with one line naming the file and why", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "");
    await Deno.symlink("loop.yaml", `${dir}/loop.yaml`);
    const cases: [string, string][] = [
      [`${dir}/file/relay.yaml`, "part of its path is not a directory"],
      [`${dir}/loop.yaml`, "its path runs into a symlink loop"],
      // Deno has no class for ENAMETOOLONG: the OS wording is kept, less the call and the path.
      [`${dir}/${"a".repeat(300)}.yaml`, "file name too long"],
    ];
    for (const [path, reason] of cases) {
      await assert.rejects(
        () => checkFileMode(path, Deno.uid()),
        configErrorWith(`cannot read ${path}: ${reason}`, path),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unreadableFileError puts what a file call threw in words", () => {
  const cases: [unknown, string][] = [
    [new Deno.errors.IsADirectory("Is a directory (os error 21)"), "it is a directory"],
    [new Deno.errors.PermissionDenied("Permission denied (os error 13): readfile '/x'"), "permission denied"],
    [new Error("Input/output error (os error 5)"), "input/output error"],
  ];
  for (const [error, reason] of cases) {
    assert.equal(unreadableFileError("/x", error).message, `cannot read /x: ${reason}`);
  }
});
