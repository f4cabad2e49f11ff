/** With HOME unset (a systemd unit without User=, cron), relay refuses what needs a home instead of using `/`. */
import assert from "node:assert/strict";
import { FROM_SOURCE, sandbox, writeConfig } from "../_helpers/cli.ts";

/** relay with no HOME at all: cliEnv always sets one. */
async function runHomeless(args: string[], cwd: string) {
  const [program, ...base] = FROM_SOURCE;
  const { code, stdout, stderr } = await new Deno.Command(program, {
    args: [...base, ...args],
    cwd,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
      NO_PROXY: "127.0.0.1,localhost",
    },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("relay usage and relay serve with HOME unset refuse a default ledger, naming HOME and XDG_DATA_HOME", async () => {
  const folder = await sandbox();
  const config = await writeConfig(folder, "providers:\n  - name: mock\n    type: mock\n");
  const usage = await runHomeless(["usage", "--config", config], folder);
  assert.equal(usage.code, 1);
  assert.match(
    usage.stderr,
    /^\$HOME is not set, so relay has no home folder for its usage ledger .*\$XDG_DATA_HOME/m,
  );
  const serve = await runHomeless(["serve", "--port", "0", "--config", config], folder);
  assert.equal(serve.code, 1);
  assert.match(serve.stderr, /relay cannot open its usage ledger \(no folder for it\): \$HOME is not set/);
});

Deno.test("relay init --yes with HOME unset refuses rather than writing /.config/relay/relay.yaml", async () => {
  const folder = await sandbox();
  const init = await runHomeless(["init", "--yes", "--provider", "mock"], folder);
  assert.equal(init.code, 1);
  assert.match(init.stderr, /\$HOME is not set, so relay has no home folder for relay\.yaml .*--config PATH/);
});
