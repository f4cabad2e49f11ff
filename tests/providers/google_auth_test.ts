import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readCredentialsFile } from "../../src/providers/credentials_file.ts";
import { googleServiceAccountTokens } from "../../src/providers/google_auth.ts";
import { makeServiceAccount, startFakeOAuth } from "../_helpers/fake_oauth.ts";

const NOW = 1_750_000_000_123;
const NOW_S = 1_750_000_000;

Deno.test("googleServiceAccountTokens trades a signed one-hour assertion for an access token", async () => {
  await using account = await makeServiceAccount();
  const oauth = startFakeOAuth({ kind: "jwt-bearer", ...account, now: () => NOW });
  const tokens = googleServiceAccountTokens({
    credentialsFile: account.file,
    tokenUrl: oauth.url,
    now: () => NOW,
  });

  assert.equal(await tokens.token(), "fake-access-token-1");

  // The fake verified the signature with the public key before it answered.
  assert.equal(oauth.assertions.length, 1);
  const [{ header, claims }] = oauth.assertions;
  assert.deepEqual(header, { alg: "RS256", typ: "JWT", kid: account.json.private_key_id });
  assert.deepEqual(claims, {
    iss: account.clientEmail,
    scope: "https://www.googleapis.com/auth/cloud-platform",
    aud: oauth.url,
    iat: NOW_S,
    exp: NOW_S + 3600,
  });
  const form = new URLSearchParams(new TextDecoder().decode(oauth.requests[0].body));
  assert.deepEqual([...form.keys()], ["grant_type", "assertion"]);
  assert.equal(form.get("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
  await oauth.close();
});

Deno.test("googleServiceAccountTokens posts to the file's token_uri, which is also the audience", async () => {
  await using account = await makeServiceAccount();
  const oauth = startFakeOAuth({ kind: "jwt-bearer", ...account, now: () => NOW });
  const tokens = googleServiceAccountTokens({
    credentialsFile: account.file,
    readFile: () => JSON.stringify({ ...account.json, token_uri: oauth.url }),
    now: () => NOW,
  });
  assert.equal(await tokens.token(), "fake-access-token-1");
  assert.equal(oauth.assertions[0].claims.aud, oauth.url);
  await oauth.close();
});

Deno.test("googleServiceAccountTokens signs anew five minutes before its token expires", async () => {
  await using account = await makeServiceAccount();
  let now = NOW;
  const oauth = startFakeOAuth({ kind: "jwt-bearer", ...account, now: () => now });
  const tokens = googleServiceAccountTokens({
    credentialsFile: account.file,
    tokenUrl: oauth.url,
    now: () => now,
  });

  assert.equal(await tokens.token(), "fake-access-token-1");
  now = NOW + 3600_000 - 300_000 - 1;
  assert.equal(await tokens.token(), "fake-access-token-1");
  assert.equal(oauth.requests.length, 1);

  now += 1;
  const refreshedAt = now;
  assert.equal(await tokens.token(), "fake-access-token-1");
  now = NOW + 3600_000 - 10_000;
  assert.equal(await tokens.token(), "fake-access-token-2");
  assert.equal(oauth.assertions[1].claims.iat, Math.floor(refreshedAt / 1000));
  await oauth.close();
});

Deno.test("googleServiceAccountTokens reports a refused assertion without leaking the key or the JWT", async () => {
  await using account = await makeServiceAccount();
  await using other = await makeServiceAccount();
  const oauth = startFakeOAuth({ kind: "jwt-bearer", ...other, now: () => NOW });
  const tokens = googleServiceAccountTokens({
    credentialsFile: account.file,
    tokenUrl: oauth.url,
    now: () => NOW,
  });

  const error: Error = await tokens.token().then(() => assert.fail("resolved"), (error) => error);
  assert.match(
    error.message,
    /^token endpoint http:\/\/127\.0\.0\.1:\d+\/token answered 400: invalid_grant: /,
  );
  const assertion = new URLSearchParams(new TextDecoder().decode(oauth.requests[0].body)).get("assertion")!;
  assert.ok(!error.message.includes(assertion));
  assert.ok(!error.message.includes("PRIVATE KEY"));
  assert.equal(oauth.issued.length, 0);
  await oauth.close();
});

Deno.test("googleServiceAccountTokens names what is wrong with the credentials file", async () => {
  await using account = await makeServiceAccount();
  const { file, json } = account;
  const withFile = (text: string) => () =>
    googleServiceAccountTokens({ credentialsFile: file, readFile: () => text });
  const without = (field: string) => JSON.stringify({ ...json, [field]: undefined });

  assert.throws(
    () => googleServiceAccountTokens({ credentialsFile: "/nonexistent/sa.json" }),
    (error: Error) => error.message.startsWith("cannot read service-account file /nonexistent/sa.json: "),
  );
  for (const field of ["client_email", "private_key", "token_uri"]) {
    assert.throws(withFile(without(field)), { message: `service-account file ${file} has no "${field}"` });
  }
  assert.throws(withFile(JSON.stringify({ ...json, token_uri: "" })), {
    message: `service-account file ${file} has no "token_uri"`,
  });
  assert.throws(withFile("{not json"), { message: `service-account file ${file} is not JSON` });
  assert.throws(withFile("[1]"), { message: `service-account file ${file} is not a JSON object` });
  assert.throws(withFile("null"), { message: `service-account file ${file} is not a JSON object` });
  assert.throws(withFile(JSON.stringify({ type: "authorized_user", refresh_token: "1//x" })), {
    message: `${file} holds "type": "authorized_user"; relay needs a service_account key`,
  });
});

Deno.test("googleServiceAccountTokens refuses a key that cannot sign RS256 at once, before any request", async () => {
  await using account = await makeServiceAccount();
  const { file, json } = account;
  const withKey = (privateKey: string) => () =>
    googleServiceAccountTokens({
      credentialsFile: file,
      readFile: () => JSON.stringify({ ...json, private_key: privateKey }),
    });
  const unreadable = {
    message: `private_key in service-account file ${file} is not an unencrypted PEM private key ` +
      "(`openssl pkcs8 -topk8 -nocrypt -in key.pem` writes one from most other forms)",
  };
  assert.throws(withKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END"), unreadable);
  assert.throws(withKey("not a key"), unreadable);
  const notRs256 = {
    message:
      `private_key in service-account file ${file} is not an RSA key of 2048 bits or more, which RS256 needs`,
  };
  const pem = (key: KeyObject) => key.export({ type: "pkcs8", format: "pem" }) as string;
  assert.throws(withKey(pem(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey)), notRs256);
  assert.throws(withKey(pem(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey)), notRs256);
});

Deno.test("googleServiceAccountTokens signs with a PKCS#1 key (BEGIN RSA PRIVATE KEY) too", async () => {
  await using account = await makeServiceAccount();
  const oauth = startFakeOAuth({ kind: "jwt-bearer", ...account, now: () => NOW });
  const pkcs1 = createPrivateKey(account.json.private_key).export({ type: "pkcs1", format: "pem" }) as string;
  assert.match(pkcs1, /^-----BEGIN RSA PRIVATE KEY-----/);
  const tokens = googleServiceAccountTokens({
    credentialsFile: account.file,
    readFile: () => JSON.stringify({ ...account.json, private_key: pkcs1 }),
    tokenUrl: oauth.url,
    now: () => NOW,
  });
  // The fake verified the signature with the account's public key before it answered.
  assert.equal(await tokens.token(), "fake-access-token-1");
  await oauth.close();
});

Deno.test("googleServiceAccountTokens refuses a named pipe without opening it, which would wait for a writer", async () => {
  const dir = await Deno.makeTempDir();
  const fifo = `${dir}/sa.json`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  // Opening the pipe would not hang the test: this writer hands whoever opens it "{}" and ends.
  const writer = new Deno.Command("sh", { args: ["-c", `printf '{}' > "$0"`, fifo], stdout: "null" }).spawn();
  try {
    assert.throws(() => googleServiceAccountTokens({ credentialsFile: fifo }), {
      message: `cannot read service-account file ${fifo}: not a regular file`,
    });
    assert.throws(() => readCredentialsFile(dir), { message: "not a regular file" });
    assert.throws(() => readCredentialsFile(`${dir}/gone.json`), Deno.errors.NotFound);
  } finally {
    try {
      writer.kill();
    } catch {
      // It found a reader and ended.
    }
    await writer.status;
    await Deno.remove(dir, { recursive: true });
  }
});
