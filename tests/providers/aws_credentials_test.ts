import assert from "node:assert/strict";
import {
  type AwsCredentials,
  awsCredentials,
  type AwsCredentialSources,
  isAwsSsoProfile,
  resolveAwsCredentials,
} from "../../src/providers/aws_credentials.ts";
import { AwsSsoCredentials } from "../../src/providers/aws_sso.ts";
import { createLogger } from "../../src/util/logger.ts";

const FILE = `
# written by aws configure
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret/default+key

  [ work ]
  ; a comment, indented
AWS_ACCESS_KEY_ID=AKIDWORK
aws_secret_access_key   =   secret-work
aws_session_token = token-work

[sso]
sso_start_url = https://example.awsapps.com/start
`;

/** Sources over a fixed environment and file system; `files` maps a path to its text. */
function sources(
  env: Record<string, string>,
  files: Record<string, string> = { "/home/u/.aws/credentials": FILE },
  config?: AwsCredentialSources["config"],
): AwsCredentialSources {
  return { config, env: (name) => env[name], readFile: (path) => files[path] };
}

const HOME = { HOME: "/home/u" };

/** The static keys `sources` resolve to; fails the test on an SSO profile. */
function keys(found: ReturnType<typeof resolveAwsCredentials>): AwsCredentials {
  assert.ok(!isAwsSsoProfile(found), `static keys, not the SSO profile ${JSON.stringify(found)}`);
  return found;
}
const ENV_KEYS = { AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "secret-env" };

Deno.test("resolveAwsCredentials takes explicit config keys before everything else", () => {
  const config = {
    access_key_id: "AKIDCONF",
    secret_access_key: "secret-conf",
    session_token: "tok",
    profile: "work",
  };
  assert.deepEqual(resolveAwsCredentials(sources({ ...HOME, ...ENV_KEYS }, undefined, config)), {
    accessKeyId: "AKIDCONF",
    secretAccessKey: "secret-conf",
    sessionToken: "tok",
  });
});

Deno.test("resolveAwsCredentials takes the config profile before the environment's keys", () => {
  assert.deepEqual(resolveAwsCredentials(sources({ ...HOME, ...ENV_KEYS }, undefined, { profile: "work" })), {
    accessKeyId: "AKIDWORK",
    secretAccessKey: "secret-work",
    sessionToken: "token-work",
  });
});

Deno.test("resolveAwsCredentials takes the environment's keys before the file's profiles", () => {
  const env = { ...HOME, ...ENV_KEYS, AWS_SESSION_TOKEN: "tok-env", AWS_PROFILE: "work" };
  assert.deepEqual(resolveAwsCredentials(sources(env)), {
    accessKeyId: "AKIDENV",
    secretAccessKey: "secret-env",
    sessionToken: "tok-env",
  });
});

Deno.test("resolveAwsCredentials falls back to AWS_PROFILE, then to the default profile", () => {
  assert.equal(
    keys(resolveAwsCredentials(sources({ ...HOME, AWS_PROFILE: "work" }))).accessKeyId,
    "AKIDWORK",
  );
  assert.deepEqual(resolveAwsCredentials(sources(HOME)), {
    accessKeyId: "AKIDDEFAULT",
    secretAccessKey: "secret/default+key",
  });
});

Deno.test("resolveAwsCredentials reads AWS_SHARED_CREDENTIALS_FILE, with ~ as HOME", () => {
  const files = {
    "/home/u/creds.ini": "[default]\r\naws_access_key_id=AKIDALT\r\naws_secret_access_key=s\r\n",
  };
  const env = { ...HOME, AWS_SHARED_CREDENTIALS_FILE: "~/creds.ini" };
  assert.equal(keys(resolveAwsCredentials(sources(env, files))).accessKeyId, "AKIDALT");
});

Deno.test("resolveAwsCredentials ignores empty environment variables", () => {
  const env = { ...HOME, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "" };
  assert.equal(keys(resolveAwsCredentials(sources(env))).accessKeyId, "AKIDDEFAULT");
});

Deno.test("resolveAwsCredentials refuses half a key pair instead of falling through", () => {
  assert.throws(
    () => resolveAwsCredentials(sources(HOME, undefined, { access_key_id: "AKIDCONF" })),
    /access_key_id and secret_access_key in the config: only one of the two is set/,
  );
  assert.throws(
    () => resolveAwsCredentials(sources({ ...HOME, AWS_SECRET_ACCESS_KEY: "s" })),
    /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: only one/,
  );
});

Deno.test("resolveAwsCredentials names the config profile it could not use and why", () => {
  assert.throws(
    () => resolveAwsCredentials(sources({ ...HOME, ...ENV_KEYS }, undefined, { profile: "missing" })),
    /profile "missing" from the config: no \[missing\] section in \/home\/u\/\.aws\/credentials/,
  );
  assert.throws(
    () => resolveAwsCredentials(sources(HOME, undefined, { profile: "sso" })),
    /AWS profile "sso" is set up for SSO but has no sso_region, sso_account_id, sso_role_name/,
  );
});

Deno.test("resolveAwsCredentials lists every place it looked when nothing is found", () => {
  assert.throws(
    () => resolveAwsCredentials(sources(HOME, {})),
    (error: Error) => {
      assert.match(error.message, /config has neither access_key_id\/secret_access_key nor profile/);
      assert.match(error.message, /AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY are not set/);
      assert.match(error.message, /profile "default": \/home\/u\/\.aws\/credentials does not exist/);
      return true;
    },
  );
  assert.throws(
    () => resolveAwsCredentials(sources({ AWS_PROFILE: "work" }, {})),
    /profile "work" \(AWS_PROFILE\): no credentials file \(neither AWS_SHARED_CREDENTIALS_FILE nor HOME is set\)/,
  );
});

Deno.test("resolveAwsCredentials names the credentials file it could not read, and why", () => {
  const refused = {
    ...sources(HOME),
    readFile: () => {
      throw new Error("not a regular file");
    },
  };
  assert.throws(() => resolveAwsCredentials(refused), {
    message: "cannot read AWS credentials file /home/u/.aws/credentials: not a regular file",
  });
});

// ---------------------------------------------------------------------------------------------------
// The shared config file, and SSO profiles

const CONFIG = `
[default]
region = eu-west-1
aws_access_key_id = AKIDCONFIGDEFAULT
aws_secret_access_key = secret-config-default

[profile work]
aws_access_key_id = AKIDCONFIGWORK
aws_secret_access_key = secret-config-work

[profile static]
aws_access_key_id = AKIDSTATIC
aws_secret_access_key = secret-static
aws_session_token = token-static

[notaprofile]
aws_access_key_id = AKIDIGNORED
aws_secret_access_key = secret-ignored

[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = BedrockUser
region = us-east-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-central-1
sso_registration_scopes = sso:account:access

[profile legacy]
sso_start_url = https://legacy.awsapps.com/start#/
sso_region = us-west-2
sso_account_id = 444455556666
sso_role_name = ReadOnly

[profile both]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = BedrockUser

[profile nosession]
sso_session = missing
sso_account_id = 1
sso_role_name = r

[profile half]
sso_session = corp
sso_account_id = 111122223333

[profile clash]
sso_session = corp
sso_region = us-east-1
sso_account_id = 1
sso_role_name = r

[profile role]
role_arn = arn:aws:iam::111122223333:role/Bedrock
source_profile = dev

[profile process]
credential_process = /usr/local/bin/get-creds

[profile plain]
region = us-east-1
`;

/** Profiles that hold more than one kind of credential, for the order they are read in. */
const PRECEDENCE_FILES = {
  "/home/u/.aws/credentials": `
[rolekeys]
aws_access_key_id = AKIDROLEKEYS
aws_secret_access_key = s
[webkeys]
aws_access_key_id = AKIDWEBKEYS
aws_secret_access_key = s
[processkeys]
aws_access_key_id = AKIDPROCESSKEYS
aws_secret_access_key = s
[loginkeys]
aws_access_key_id = AKIDLOGINKEYS
aws_secret_access_key = s
`,
  "/home/u/.aws/config": `
[profile rolekeys]
role_arn = arn:aws:iam::111122223333:role/Bedrock
source_profile = default
[profile webkeys]
web_identity_token_file = /var/run/token
[profile processkeys]
credential_process = /usr/local/bin/get-creds
[profile processconfigkeys]
credential_process = /usr/local/bin/get-creds
aws_access_key_id = AKIDCONFIGKEYS
aws_secret_access_key = s
[profile loginkeys]
sso_session = corp
[profile loginonly]
sso_session = corp
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-central-1
`,
};

const BOTH_FILES = {
  "/home/u/.aws/credentials": FILE +
    "\n[both]\naws_access_key_id = AKIDBOTH\naws_secret_access_key = s-both\n",
  "/home/u/.aws/config": CONFIG,
};

Deno.test("resolveAwsCredentials takes a config-file profile's static keys, [profile NAME] and [default]", () => {
  const configOnly = { "/home/u/.aws/config": CONFIG };
  assert.deepEqual(resolveAwsCredentials(sources({ ...HOME, AWS_PROFILE: "static" }, configOnly)), {
    accessKeyId: "AKIDSTATIC",
    secretAccessKey: "secret-static",
    sessionToken: "token-static",
  });
  assert.equal(keys(resolveAwsCredentials(sources(HOME, configOnly))).accessKeyId, "AKIDCONFIGDEFAULT");
  // A bare [NAME] in the config file is no profile, to the AWS CLI either.
  assert.throws(
    () => resolveAwsCredentials(sources(HOME, configOnly, { profile: "notaprofile" })),
    /profile "notaprofile" from the config: \/home\/u\/\.aws\/credentials does not exist; no \[profile notaprofile\] section in \/home\/u\/\.aws\/config$/,
  );
});

Deno.test("resolveAwsCredentials takes the credentials file's keys over the config file's for one profile", () => {
  assert.equal(
    keys(resolveAwsCredentials(sources(HOME, BOTH_FILES, { profile: "work" }))).accessKeyId,
    "AKIDWORK",
  );
  assert.equal(keys(resolveAwsCredentials(sources(HOME, BOTH_FILES))).accessKeyId, "AKIDDEFAULT");
  // A profile only the config file has keys for is found there, beside the credentials file.
  assert.equal(
    keys(resolveAwsCredentials(sources(HOME, BOTH_FILES, { profile: "static" }))).accessKeyId,
    "AKIDSTATIC",
  );
});

Deno.test("resolveAwsCredentials reads a profile's settings in the AWS CLI's order, signing as it would", () => {
  const resolve = (profile: string, files: Record<string, string> = PRECEDENCE_FILES) =>
    resolveAwsCredentials(sources(HOME, files, { profile }));
  // The SSO role before the credentials file's keys of the same profile (botocore's SSOProvider first).
  assert.equal(isAwsSsoProfile(resolve("both", BOTH_FILES)), true);
  // An assumed role or a web identity before everything else: refused, never signed with the keys beside it.
  for (const [profile, what] of [["rolekeys", /role_arn/], ["webkeys", /web_identity_token_file/]] as const) {
    assert.throws(() => resolve(profile), (error: Error) => {
      assert.match(error.message, what);
      assert.match(error.message, /aws configure export-credentials --profile /);
      return true;
    });
  }
  // The credentials file's keys before credential_process; credential_process before the config file's keys.
  assert.equal(keys(resolve("processkeys")).accessKeyId, "AKIDPROCESSKEYS");
  assert.throws(
    () => resolve("processconfigkeys"),
    /runs a program for its credentials \(credential_process\)/,
  );
  // A profile with only its login (sso_session, for `aws sso login`) signs with its keys, as the CLI does...
  assert.equal(keys(resolve("loginkeys")).accessKeyId, "AKIDLOGINKEYS");
  // ...and without keys says what it lacks to be an SSO profile.
  assert.throws(
    () => resolve("loginonly"),
    /AWS profile "loginonly" is set up for SSO but has no sso_account_id, sso_role_name$/,
  );
});

Deno.test("resolveAwsCredentials reads AWS_CONFIG_FILE, with ~ as HOME", () => {
  const files = {
    "/home/u/conf/aws.ini": "[profile alt]\naws_access_key_id=AKIDALT\naws_secret_access_key=s\n",
  };
  const env = { ...HOME, AWS_CONFIG_FILE: "~/conf/aws.ini", AWS_PROFILE: "alt" };
  assert.equal(keys(resolveAwsCredentials(sources(env, files))).accessKeyId, "AKIDALT");
});

Deno.test("resolveAwsCredentials finds an SSO profile in its sso-session form, from AWS_PROFILE", () => {
  const found = resolveAwsCredentials(sources({ ...HOME, AWS_PROFILE: "dev" }, BOTH_FILES));
  assert.deepEqual(found, {
    profile: "dev",
    accountId: "111122223333",
    roleName: "BedrockUser",
    startUrl: "https://corp.awsapps.com/start",
    region: "eu-central-1",
    session: "corp",
  });
});

Deno.test("resolveAwsCredentials finds an SSO profile in its legacy form, from the config's profile", () => {
  const found = resolveAwsCredentials(sources({ ...HOME, ...ENV_KEYS }, BOTH_FILES, { profile: "legacy" }));
  assert.deepEqual(found, {
    profile: "legacy",
    accountId: "444455556666",
    roleName: "ReadOnly",
    startUrl: "https://legacy.awsapps.com/start#/",
    region: "us-west-2",
  });
});

Deno.test("resolveAwsCredentials says what an SSO profile lacks", () => {
  const resolve = (profile: string) => () => resolveAwsCredentials(sources(HOME, BOTH_FILES, { profile }));
  assert.throws(
    resolve("nosession"),
    /AWS profile "nosession" names sso_session "missing", but \/home\/u\/\.aws\/config has no \[sso-session missing\] section/,
  );
  assert.throws(resolve("half"), /AWS profile "half" is set up for SSO but has no sso_role_name$/);
  assert.throws(
    resolve("clash"),
    /AWS profile "clash": sso_region is us-east-1 there but eu-central-1 in \[sso-session corp\]/,
  );
});

Deno.test("resolveAwsCredentials refuses assumed roles and credential_process, saying to export credentials", () => {
  for (
    const [profile, what] of [["role", /assumes a role \(role_arn\)/], [
      "process",
      /credential_process/,
    ]] as const
  ) {
    assert.throws(
      () => resolveAwsCredentials(sources(HOME, BOTH_FILES, { profile })),
      (error: Error) => {
        assert.match(error.message, what);
        assert.match(
          error.message,
          new RegExp(`eval "\\$\\(aws configure export-credentials --profile ${profile} --format env\\)"`),
        );
        return true;
      },
    );
  }
  assert.throws(
    () => resolveAwsCredentials(sources(HOME, BOTH_FILES, { profile: "plain" })),
    /\[plain\] in \/home\/u\/\.aws\/config has no aws_access_key_id\/aws_secret_access_key and no SSO settings/,
  );
});

Deno.test("resolveAwsCredentials names the config file it could not read, and why", () => {
  const refused = {
    ...sources(HOME),
    readFile: (path: string) => {
      if (path.endsWith("config")) throw new Error("not a regular file");
      return FILE;
    },
  };
  assert.throws(() => resolveAwsCredentials(refused), {
    message: "cannot read AWS config file /home/u/.aws/config: not a regular file",
  });
});

Deno.test("awsCredentials makes an SSO profile's credentials a refreshing source, warning of a login it cannot use", () => {
  const warnings: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "warn", write: (line) => warnings.push(JSON.parse(line)) });
  const options = { ...sources({ ...HOME, AWS_PROFILE: "dev" }, BOTH_FILES), logger, provider: "bedrock" };
  assert.ok(awsCredentials(options) instanceof AwsSsoCredentials);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].msg, "AWS SSO login unusable");
  assert.equal(warnings[0].provider, "bedrock");
  assert.equal(
    warnings[0].hint,
    "requests to this provider fail until the login is renewed; relay reads it again on the next request",
  );
  assert.match(
    String(warnings[0].problem),
    /^AWS profile "dev": no SSO login is cached \(\/home\/u\/\.aws\/sso\/cache\/ee0bfd2552fbd840c02cc48b6e823320543c450f\.json does not exist\); run `aws sso login --profile dev`$/,
  );
  // Static keys are handed on as they are: signing with them costs what it did.
  assert.deepEqual(awsCredentials({ ...sources(HOME, BOTH_FILES), logger }), {
    accessKeyId: "AKIDDEFAULT",
    secretAccessKey: "secret/default+key",
  });
  assert.equal(warnings.length, 1);
});
