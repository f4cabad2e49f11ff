/**
 * Where relay's questions are drawn: on the terminal, even when stdout is not it. Run in a real
 * terminal (tmux), as tests/cli/init_tty_test.ts does.
 */
import assert from "node:assert/strict";
import { cliEnv, FROM_SOURCE, sandbox } from "../_helpers/cli.ts";
import { openTerminal } from "../_helpers/tmux.ts";
import { shellQuote } from "../../src/util/shell_quote.ts";

/** `relay init` in a terminal with `redirect` (shell syntax) after it. */
function relayInit(home: string, redirect: string) {
  const command = [...FROM_SOURCE, "init", "--port", "8799"].map((word) => shellQuote(word)).join(" ");
  return openTerminal(["sh", "-c", `${command} ${redirect}`], {
    cwd: home,
    env: cliEnv(home, { LANG: "C.UTF-8" }),
  });
}

Deno.test("relay init > file asks on the terminal through stderr, and leaves the file free of the wizard", async () => {
  const home = await sandbox();
  await using terminal = await relayInit(home, "> out.txt");
  await terminal.waitFor(/◆ {2}Which providers should relay use\?/);
  await terminal.press("C-c");
  assert.equal(await terminal.exitCode(), 130);
  assert.equal(await Deno.readTextFile(`${home}/out.txt`), "");
});

Deno.test("relay init with neither stdout nor stderr a terminal does not wait for keys", async () => {
  const home = await sandbox();
  await using terminal = await relayInit(home, "> out.txt 2> err.txt");
  assert.equal(await terminal.exitCode(), 2);
  assert.match(await Deno.readTextFile(`${home}/err.txt`), /relay init has no terminal to ask at/);
});
