/** `relay init` offers Vertex the project its service-account file names, without a terminal. */
import assert from "node:assert/strict";
import { runRelay, sandbox } from "../_helpers/cli.ts";
import { firstProvider, userConfigIn } from "../_helpers/config.ts";
import { makeServiceAccount } from "../_helpers/fake_oauth.ts";

/** The Vertex provider of the file relay init wrote in `home`. */
const vertex = (home: string) => firstProvider(userConfigIn(home), "vertex");

Deno.test("relay init --yes takes Vertex's project from the service-account file given, unless told otherwise", async (t) => {
  await using account = await makeServiceAccount({ project_id: "from-the-file" });
  const init = (flags: string[], env: Record<string, string> = {}) =>
    sandbox().then(async (home) => ({
      home,
      ...await runRelay(["init", "--yes", "--provider", "vertex", ...flags], { cwd: home, env }),
    }));

  await t.step("--credentials-file", async () => {
    const { home, code, stderr } = await init(["--credentials-file", account.file]);
    assert.equal(code, 0, stderr);
    assert.equal((await vertex(home)).project, "from-the-file");
  });
  await t.step("$GOOGLE_APPLICATION_CREDENTIALS, the file relay reads without credentials_file", async () => {
    const { home, code, stderr } = await init([], { GOOGLE_APPLICATION_CREDENTIALS: account.file });
    assert.equal(code, 0, stderr);
    assert.equal((await vertex(home)).project, "from-the-file");
  });
  await t.step("--project and $ANTHROPIC_VERTEX_PROJECT_ID come first", async () => {
    const flag = await init(["--credentials-file", account.file, "--project", "from-the-flag"]);
    assert.equal(flag.code, 0, flag.stderr);
    assert.equal((await vertex(flag.home)).project, "from-the-flag");
    const variable = await init(["--credentials-file", account.file], {
      ANTHROPIC_VERTEX_PROJECT_ID: "from-the-variable",
    });
    assert.equal(variable.code, 0, variable.stderr);
    assert.equal((await vertex(variable.home)).project, "from-the-variable");
  });
  await t.step("a file that is not JSON still needs --project", async () => {
    const home = await sandbox();
    await Deno.writeTextFile(`${home}/sa.json`, "not json");
    const { code, stderr } = await runRelay(
      ["init", "--yes", "--provider", "vertex", "--credentials-file", `${home}/sa.json`],
      { cwd: home },
    );
    assert.equal(code, 2);
    assert.match(stderr, /--yes still needs --project/);
  });
});
