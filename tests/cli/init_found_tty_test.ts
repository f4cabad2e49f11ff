/**
 * What `relay init` finds on this machine and offers at a terminal (tmux, as in init_tty_test.ts): the
 * AWS profiles where the Bedrock provider looks, the project a Vertex service-account file names.
 */
import assert from "node:assert/strict";
import { cliEnv, FROM_SOURCE, sandbox } from "../_helpers/cli.ts";
import { firstProvider, userConfigIn } from "../_helpers/config.ts";
import { makeServiceAccount } from "../_helpers/fake_oauth.ts";
import { openTerminal } from "../_helpers/tmux.ts";

/** relay init in a terminal, HOME and working folder both `home`, as in tests/_helpers/cli.ts. */
function relayInit(home: string, args: string[] = [], env: Record<string, string> = {}) {
  return openTerminal([...FROM_SOURCE, "init", ...args], {
    cwd: home,
    env: cliEnv(home, { LANG: "C.UTF-8", ...env }),
  });
}

Deno.test("relay init lists the AWS profiles of AWS_SHARED_CREDENTIALS_FILE=~/..., as Bedrock reads it", async () => {
  const home = await sandbox();
  await Deno.mkdir(`${home}/aws`);
  await Deno.writeTextFile(
    `${home}/aws/credentials`,
    "[work]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n",
  );
  await using terminal = await relayInit(home, [], { AWS_SHARED_CREDENTIALS_FILE: "~/aws/credentials" });
  const first = await terminal.waitFor(/◆ {2}Which providers should relay use\?/);
  assert.match(first, /AWS profiles: work/);
  await terminal.press("C-c");
  assert.equal(await terminal.exitCode(), 130);
});

Deno.test("relay init lists the profiles of the AWS config file too, SSO ones among them, each once, and none it refuses", async () => {
  const home = await sandbox();
  await Deno.mkdir(`${home}/.aws`);
  await Deno.writeTextFile(
    `${home}/.aws/credentials`,
    "[work]\naws_access_key_id = A\naws_secret_access_key = s\n",
  );
  await Deno.writeTextFile(
    `${home}/.aws/config`,
    "[default]\nregion = eu-west-1\n\n[profile work]\nregion = eu-west-1\n\n[profile dev]\nsso_session = corp\n" +
      "sso_account_id = 111122223333\nsso_role_name = BedrockUser\n\n[sso-session corp]\n" +
      "sso_start_url = https://corp.awsapps.com/start\nsso_region = eu-central-1\n\n" +
      "[profile role]\nrole_arn = arn:aws:iam::111122223333:role/Bedrock\nsource_profile = work\n\n" +
      "[profile process]\ncredential_process = /usr/local/bin/get-creds\n",
  );
  await using terminal = await relayInit(home);
  const first = await terminal.waitFor(/◆ {2}Which providers should relay use\?/);
  // Neither the role nor the process profile, nor [default], which holds only a region.
  assert.match(first, /AWS profiles: work, dev +│/);
  await terminal.press("C-c");
  assert.equal(await terminal.exitCode(), 130);
});

Deno.test("relay init at a terminal offers Vertex the project its service-account file names", async () => {
  const home = await sandbox();
  await using account = await makeServiceAccount({ project_id: "from-the-file" });
  await using terminal = await relayInit(home);
  await terminal.waitFor(/◆ {2}Which providers should relay use\?/);
  // Vertex is the sixth type offered.
  await terminal.press("Down", "Down", "Down", "Down", "Down", "Space", "Enter");
  await terminal.waitFor(/◆ {2}Service-account JSON file/);
  await terminal.type(account.file);
  await terminal.press("Enter");
  const project = await terminal.waitFor(/◆ {2}Google Cloud project id/);
  assert.match(project.slice(project.lastIndexOf("Google Cloud project id")), /from-the-file/);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}Vertex region/);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}Models/);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}Port relay listens on/);
  await terminal.press("Enter");
  await terminal.waitFor(/relay is set up/);
  assert.equal(await terminal.exitCode(), 0);

  assert.equal((await firstProvider(userConfigIn(home), "vertex")).project, "from-the-file");
});
