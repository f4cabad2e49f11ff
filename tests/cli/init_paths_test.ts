/** A path given to `relay init` names the same file in the config it writes, wherever that config is. */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { runRelay, sandbox, writeConfig } from "../_helpers/cli.ts";
import { firstProvider, readConfigFile } from "../_helpers/config.ts";
import { makeServiceAccount } from "../_helpers/fake_oauth.ts";

/** `providers[0].credentials_file` as written, and as relay reads it. */
async function credentialsFile(config: string): Promise<{ written: string; read: string | undefined }> {
  return {
    written: parse(await Deno.readTextFile(config)).providers[0].credentials_file,
    read: (await firstProvider(config, "vertex")).credentials_file,
  };
}

async function setUp() {
  const root = await sandbox();
  for (const folder of ["work", "elsewhere", "work/conf"]) await Deno.mkdir(`${root}/${folder}`);
  const account = await makeServiceAccount();
  return { root, work: `${root}/work`, account };
}

const VERTEX = ["init", "--yes", "--provider", "vertex", "--project", "p"];

Deno.test("relay init --credentials-file relative to the folder it runs in, the config elsewhere: written absolute", async () => {
  const { root, work, account } = await setUp();
  await using _ = account;
  await Deno.copyFile(account.file, `${work}/sa.json`);
  const config = `${root}/elsewhere/relay.yaml`;
  const { code, stderr } = await runRelay([...VERTEX, "--credentials-file", "sa.json", "-c", config], {
    cwd: work,
  });
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /cannot start/);
  assert.deepEqual(await credentialsFile(config), { written: `${work}/sa.json`, read: `${work}/sa.json` });
  const check = await runRelay(["check", "-c", config], { cwd: root });
  assert.equal(check.code, 0, check.stderr);
});

Deno.test("relay init --credentials-file under the config's folder: written relative to it, so the two move together", async () => {
  const { work, account } = await setUp();
  await using _ = account;
  await Deno.copyFile(account.file, `${work}/conf/sa.json`);
  const config = `${work}/conf/relay.yaml`;
  const { code, stderr } = await runRelay(
    [...VERTEX, "--credentials-file", "./conf/sa.json", "-c", "conf/relay.yaml"],
    { cwd: work },
  );
  assert.equal(code, 0, stderr);
  assert.deepEqual(await credentialsFile(config), { written: "sa.json", read: `${work}/conf/sa.json` });
});

Deno.test("relay init writes $GOOGLE_APPLICATION_CREDENTIALS, read from the folder it runs in, as the config reads it", async () => {
  const { root, work, account } = await setUp();
  await using _ = account;
  await Deno.copyFile(account.file, `${work}/sa.json`);
  const config = `${root}/elsewhere/relay.yaml`;
  const { code, stderr } = await runRelay([...VERTEX, "-c", config], {
    cwd: work,
    env: { GOOGLE_APPLICATION_CREDENTIALS: "sa.json" },
  });
  assert.equal(code, 0, stderr);
  assert.equal((await credentialsFile(config)).read, `${work}/sa.json`);
});

Deno.test("relay init keeps an existing config's credentials_file, already read from the config's folder", async () => {
  const { root, work, account } = await setUp();
  await using _ = account;
  await Deno.copyFile(account.file, `${root}/elsewhere/sa.json`);
  const config = await writeConfig(
    `${root}/elsewhere`,
    "providers:\n  - { name: vertex, type: vertex, project: p, region: global, credentials_file: sa.json }\n",
  );
  // Run from another folder than the config's, so that reading the kept path from there names another file.
  const relative = await runRelay(["init", "--yes", "-c", config, "--port", "8797"], { cwd: work });
  assert.equal(relative.code, 0, relative.stderr);
  assert.doesNotMatch(relative.stderr, /cannot start/);
  assert.equal((await readConfigFile(config)).server.port, 8797, "the file is written again");
  assert.deepEqual(
    await credentialsFile(config),
    { written: "sa.json", read: `${root}/elsewhere/sa.json` },
    "a relative value is kept as it is",
  );

  const { code, stderr } = await runRelay(
    [...VERTEX, "--credentials-file", "sa.json", "-c", config, "--port", "8799"],
    { cwd: work },
  );
  // A flag is read from the folder init runs in: sa.json there is another file.
  assert.equal(code, 0, stderr);
  assert.equal((await credentialsFile(config)).written, `${work}/sa.json`);
  const kept = await runRelay(["init", "--yes", "-c", config, "--port", "8798"], { cwd: work });
  assert.equal(kept.code, 0, kept.stderr);
  assert.equal((await credentialsFile(config)).written, `${work}/sa.json`, "an unchanged value is kept");
});
