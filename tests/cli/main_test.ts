import assert from "node:assert/strict";
import { VERSION } from "../../src/version.ts";
import { FROM_SOURCE, runRelay } from "../_helpers/cli.ts";

Deno.test("relay --version prints the version", async () => {
  const { code, stdout } = await runRelay(["--version"]);
  assert.equal(code, 0);
  assert.equal(stdout.trim(), VERSION);
});

Deno.test("relay --help lists the commands that exist, and only those", async () => {
  const { code, stdout } = await runRelay(["--help"]);
  assert.equal(code, 0);
  const commands = [...stdout.matchAll(/^ {2}(\w+)/gm)].map((match) => match[1]);
  assert.deepEqual(commands.filter((name) => name !== "help"), [
    "serve",
    "check",
    "init",
    "env",
    "bench",
    "usage",
    "status",
    "reload",
  ]);
});

Deno.test("an unknown command fails with a pointer to --help", async () => {
  const { code, stderr } = await runRelay(["srve"]);
  assert.notEqual(code, 0);
  assert.match(stderr, /unknown command 'srve'/);
  assert.match(stderr, /relay --help/);
});

Deno.test("relay says in one line that it cannot write its output to a full disk, and exits 1", async () => {
  const toFullDisk = ["sh", "-c", 'exec "$@" >/dev/full', "sh", ...FROM_SOURCE];
  for (const args of [["env"], ["env", "--json"], ["--version"]]) {
    const { code, stderr } = await runRelay(args, { command: toFullDisk });
    assert.equal(code, 1, args.join(" "));
    assert.equal(
      stderr.split("\n").filter((line) => line.startsWith("relay:")).join("\n"),
      "relay: cannot write its output: No space left on device",
    );
    assert.doesNotMatch(stderr, /Uncaught| {4}at /);
  }
});
