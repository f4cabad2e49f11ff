/**
 * `relay bench --provider`'s question as a person meets it: relay from source in a real terminal
 * (tmux), the screen read, the process signalled as a terminal's job control or `kill` would.
 */
import assert from "node:assert/strict";
import { cliEnv, FROM_SOURCE, sandbox, writeConfig } from "../_helpers/cli.ts";
import { openTerminal } from "../_helpers/tmux.ts";

Deno.test("SIGINT while relay bench --provider asks to spend tokens exits 130, nothing spent", async () => {
  const home = await sandbox();
  // One that spends tokens: a mock spends none, so the bench would not ask. It is never reached.
  const config = "providers:\n  - name: m\n    type: anthropic-compatible\n" +
    '    base_url: "http://127.0.0.1:18799"\n    keys:\n      - key: sk-bench-tty-key-0000\n';
  const path = await writeConfig(home, config);
  const command = [...FROM_SOURCE, "bench", "--provider", "m", "-c", path];
  await using terminal = await openTerminal(command, { cwd: home, env: cliEnv(home, { LANG: "C.UTF-8" }) });
  await terminal.waitFor(/Spend them\?/);
  // The bench itself, not the shell around it, whose command line holds the same words.
  const pgrep = await new Deno.Command("pgrep", { args: ["-f", `^deno run .* -c ${path}$`] }).output();
  const [pid] = new TextDecoder().decode(pgrep.stdout).trim().split("\n").map(Number);
  assert.ok(pid > 0, "the bench's process is found");
  Deno.kill(pid, "SIGINT");
  assert.equal(await terminal.exitCode(), 130);
  assert.doesNotMatch(await terminal.screen(), /relay bench, /, "no run, no report");
});
