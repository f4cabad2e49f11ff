import assert from "node:assert/strict";
import { runRelay, sandbox, writeConfig } from "../_helpers/cli.ts";
import { SSO_CACHE_NAMES, startFakeAwsSso, writeSsoLogin } from "../_helpers/fake_aws_sso.ts";

const HOUR = 3_600_000;
const BEDROCK_ON_DEV =
  "providers:\n  - name: bedrock\n    type: bedrock\n    region: eu-west-1\n    aws:\n      profile: dev\n";

/**
 * Runs `relay check -c path` in `home` with IAM Identity Center's endpoints on a fake that answers as
 * AWS would: relay check must not call it at all, so a call it made and swallowed fails the test too.
 */
async function checkWithoutNetwork(home: string, path: string) {
  const sso = startFakeAwsSso({ now: Date.now, accessTokens: ["login-token", "t"], refreshToken: "r" });
  try {
    const result = await runRelay(["check", "-c", path], { cwd: home, env: sso.env });
    assert.deepEqual(
      sso.requests.map((request) => `${request.method} ${request.path}`),
      [],
      "relay check called IAM Identity Center",
    );
    return result;
  } finally {
    await sso.close();
  }
}

Deno.test("relay check warns of an SSO profile with no cached login, and passes", async () => {
  const home = await sandbox();
  await writeSsoLogin(home, { accessToken: "login-token", expiresAt: Date.now() + HOUR });
  await Deno.remove(`${home}/.aws/sso/cache/${SSO_CACHE_NAMES.session}`);
  const path = await writeConfig(home, BEDROCK_ON_DEV);
  const { code, stdout, stderr } = await checkWithoutNetwork(home, path);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /is valid/);
  assert.match(
    stderr,
    /^warning: provider bedrock cannot sign requests yet: AWS profile "dev": no SSO login is cached \(.*\); run `aws sso login --profile dev`$/m,
  );
});

Deno.test("relay check warns of an SSO login that has expired for good, not of one relay can use or refresh", async () => {
  const home = await sandbox();
  const path = await writeConfig(home, BEDROCK_ON_DEV);
  await writeSsoLogin(home, {
    form: "legacy",
    profile: "dev",
    accessToken: "t",
    expiresAt: Date.now() - HOUR,
  });
  const expired = await checkWithoutNetwork(home, path);
  assert.equal(expired.code, 0, expired.stderr);
  assert.match(
    expired.stderr,
    /AWS profile "dev": the SSO login expired at \S+ and holds no refresh token; run `aws sso login --profile dev`/,
  );

  for (
    const login of [{ expiresAt: Date.now() + HOUR }, { expiresAt: Date.now() - HOUR, refreshToken: "r" }]
  ) {
    await writeSsoLogin(home, { accessToken: "t", ...login });
    const usable = await checkWithoutNetwork(home, path);
    assert.equal(usable.code, 0, usable.stderr);
    assert.doesNotMatch(usable.stderr, /warning/);
  }
});

Deno.test("relay check refuses an assumed-role profile, saying how to export its credentials", async () => {
  const home = await sandbox();
  await Deno.mkdir(`${home}/.aws`);
  await Deno.writeTextFile(
    `${home}/.aws/config`,
    "[profile dev]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
  );
  const path = await writeConfig(home, BEDROCK_ON_DEV);
  const { code, stderr } = await runRelay(["check", "-c", path], { cwd: home });
  assert.equal(code, 1);
  assert.match(stderr, /AWS profile "dev" from the config: it assumes a role \(role_arn\)/);
  assert.match(stderr, /eval "\$\(aws configure export-credentials --profile dev --format env\)"/);
});
