import assert from "node:assert/strict";
import {
  awsConfigPath,
  awsCredentialsPath,
  configProfile,
  parseAwsIni,
  readAwsSharedFile,
  ssoSession,
} from "../../src/providers/aws_config.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

/** The shared config file over `text`, as the Bedrock provider reads it. */
function configFile(text: string) {
  return readAwsSharedFile("/home/u/.aws/config", "config", () => text);
}

Deno.test("parseAwsIni reads sections and settings as the AWS CLI does", () => {
  const sections = parseAwsIni(
    "region = ignored, before any section\r\n" +
      "# a comment\r\n" +
      "[ profile   dev ]\r\n" +
      "  ; an indented comment\r\n" +
      "AWS_Access_Key_ID = AKID\r\n" +
      "aws_secret_access_key=sec#ret=\r\n" +
      "not a setting\r\n" +
      "= no key\r\n" +
      "s3 =\r\n" +
      "  max_concurrent_requests = 20\r\n" +
      "[profile dev]\n" +
      "region = eu-west-1\n",
  );
  assert.deepEqual([...sections.keys()], ["profile dev"]);
  assert.deepEqual(Object.fromEntries(sections.get("profile dev")!), {
    // Keys lowercased; a `#` or `=` after the value's start is part of it.
    aws_access_key_id: "AKID",
    aws_secret_access_key: "sec#ret=",
    s3: "",
    // A nested value's lines are settings of their own, never consulted.
    max_concurrent_requests: "20",
    // The same section twice is one.
    region: "eu-west-1",
  });
});

Deno.test("parseAwsIni reads an old Mac's lone carriage returns and an empty file", () => {
  assert.deepEqual(Object.fromEntries(parseAwsIni("[default]\rregion = us-east-1\r").get("default")!), {
    region: "us-east-1",
  });
  assert.equal(parseAwsIni("").size, 0);
});

Deno.test("parseAwsIni reads a header in time linear in its line, its name trimmed, on one line", () => {
  // A `[` that no `]` ends, or text after the `]`: once 7 s for 2,000 spaces, and 14 s for 64 KiB.
  const long = "[" + " ".repeat(2_000) + "x\n" + "[x" + " ".repeat(65_536) + "]y\n";
  const started = performance.now();
  const sections = parseAwsIni(
    long + "[ profile \u00a0dev\t]\n[[x]]\n[ ] ]\n[]\n[a\u2028b]\n[\u2028]\n" +
      // Nothing but white space inside: its last character is the name, as it always was.
      "[   ]\n",
  );
  const elapsed = performance.now() - started;
  assert.deepEqual([...sections.keys()], ["profile dev", "[x]", "]", " "]);
  assert.ok(elapsed < 1_000, `${elapsed} ms`);
});

Deno.test("configProfile finds [profile NAME] with any spacing, and never a bare [NAME]", () => {
  const file = configFile(
    "[profile  dev]\nregion = a\n[work]\nregion = b\n[sso-session  corp]\nsso_region = c\n",
  );
  assert.equal(configProfile(file, "dev")?.get("region"), "a");
  assert.equal(configProfile(file, "work"), undefined);
  assert.equal(ssoSession(file, "corp")?.get("sso_region"), "c");
});

Deno.test("configProfile takes [profile default] over [default] for the default profile, and either alone", () => {
  const both = configFile("[default]\nregion = bare\n[profile default]\nregion = named\n");
  assert.equal(configProfile(both, "default")?.get("region"), "named");
  assert.equal(configProfile(configFile("[default]\nregion = bare\n"), "default")?.get("region"), "bare");
  assert.equal(
    configProfile(configFile("[profile default]\nregion = named\n"), "default")?.get("region"),
    "named",
  );
  assert.equal(configProfile(readAwsSharedFile(undefined, "config", () => ""), "default"), undefined);
});

Deno.test("readAwsSharedFile tells a missing file from an unreadable one", () => {
  assert.deepEqual(readAwsSharedFile("/home/u/.aws/config", "config", () => undefined), {
    path: "/home/u/.aws/config",
    sections: undefined,
  });
  assert.throws(
    () =>
      readAwsSharedFile("/home/u/.aws/credentials", "credentials", () => {
        throw new Error("not a regular file");
      }),
    { message: "cannot read AWS credentials file /home/u/.aws/credentials: not a regular file" },
  );
});

Deno.test("awsCredentialsPath and awsConfigPath follow their variables, ~ as HOME, else ~/.aws", () => {
  assert.equal(awsCredentialsPath(env({ HOME: "/home/u" })), "/home/u/.aws/credentials");
  assert.equal(awsConfigPath(env({ HOME: "/home/u" })), "/home/u/.aws/config");
  assert.equal(
    awsCredentialsPath(env({ HOME: "/home/u", AWS_SHARED_CREDENTIALS_FILE: "~/aws/creds" })),
    "/home/u/aws/creds",
  );
  assert.equal(awsConfigPath(env({ AWS_CONFIG_FILE: "/etc/aws/config" })), "/etc/aws/config");
  assert.equal(awsConfigPath(env({})), undefined);
});
