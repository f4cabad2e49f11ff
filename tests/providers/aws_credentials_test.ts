import assert from "node:assert/strict";
import { type AwsCredentialSources, resolveAwsCredentials } from "../../src/providers/aws_credentials.ts";

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
  assert.equal(resolveAwsCredentials(sources({ ...HOME, AWS_PROFILE: "work" })).accessKeyId, "AKIDWORK");
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
  assert.equal(resolveAwsCredentials(sources(env, files)).accessKeyId, "AKIDALT");
});

Deno.test("resolveAwsCredentials ignores empty environment variables", () => {
  const env = { ...HOME, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "" };
  assert.equal(resolveAwsCredentials(sources(env)).accessKeyId, "AKIDDEFAULT");
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
    /\[sso\] in \/home\/u\/\.aws\/credentials has no aws_access_key_id\/aws_secret_access_key/,
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
