/** With HOME unset (a systemd unit without User=, cron), relay refuses what needs a home instead of using `/`. */
import assert from "node:assert/strict";
import { runRelay, sandbox, writeConfig } from "../_helpers/cli.ts";

Deno.test("relay usage and relay serve with HOME unset refuse a default ledger, naming HOME and XDG_DATA_HOME", async () => {
  const folder = await sandbox();
  const config = await writeConfig(folder, "providers:\n  - name: mock\n    type: mock\n");
  const usage = await runRelay(["usage", "--config", config], { cwd: folder, unset: ["HOME"] });
  assert.equal(usage.code, 1);
  assert.match(
    usage.stderr,
    /^\$HOME is not set, so relay has no home folder for its usage ledger .*\$XDG_DATA_HOME/m,
  );
  const serve = await runRelay(["serve", "--port", "0", "--config", config], {
    cwd: folder,
    unset: ["HOME"],
  });
  assert.equal(serve.code, 1);
  assert.match(serve.stderr, /relay cannot open its usage ledger \(no folder for it\): \$HOME is not set/);
});

Deno.test("relay init --yes with HOME unset refuses rather than writing /.config/relay/relay.yaml", async () => {
  const folder = await sandbox();
  const init = await runRelay(["init", "--yes", "--provider", "mock"], { cwd: folder, unset: ["HOME"] });
  assert.equal(init.code, 1);
  assert.match(init.stderr, /\$HOME is not set, so relay has no home folder for relay\.yaml .*--config PATH/);
});
