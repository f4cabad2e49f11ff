import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AwsSsoCredentials,
  type AwsSsoProfile,
  ssoCachePath,
  ssoLoginProblem,
} from "../../src/providers/aws_sso.ts";
import { systemEnvironment } from "../../src/providers/registry.ts";
import { CredentialError } from "../../src/providers/types.ts";
import { createLogger } from "../../src/util/logger.ts";
import {
  SSO_ACCOUNT,
  SSO_CACHE_NAMES,
  SSO_CLIENT,
  SSO_ROLE,
  startFakeAwsSso,
  writeSsoLogin,
} from "../_helpers/fake_aws_sso.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.parse("2026-06-01T08:00:00Z");
const LOGIN_TOKEN = "aoaAAAAAGhLoginAccessToken0123456789abcdefGHIJ";

const DEV: AwsSsoProfile = {
  profile: "dev",
  accountId: SSO_ACCOUNT,
  roleName: SSO_ROLE,
  startUrl: "https://corp.awsapps.com/start",
  region: "eu-central-1",
  session: "corp",
};
const LEGACY: AwsSsoProfile = {
  profile: "legacy",
  accountId: SSO_ACCOUNT,
  roleName: SSO_ROLE,
  startUrl: "https://legacy.awsapps.com/start#/",
  region: "us-west-2",
};

/** A home folder, a fake IAM Identity Center, a clock at T0, and the credentials source over them all. */
async function setup(profile: AwsSsoProfile = DEV) {
  const home = await tempFolder();
  const clock = new FakeClock(T0);
  const sso = startFakeAwsSso({ now: clock.now, accessTokens: [LOGIN_TOKEN] });
  const warnings: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "warn", write: (line) => warnings.push(JSON.parse(line)) });
  const env = { HOME: home.path, ...sso.env };
  const source = new AwsSsoCredentials(profile, {
    env: (name) => env[name as keyof typeof env],
    readFile: systemEnvironment.readFile,
    now: clock.now,
    logger,
    provider: "bedrock",
  });
  return {
    home: home.path,
    clock,
    sso,
    source,
    warnings,
    env,
    async [Symbol.asyncDispose]() {
      await sso.close();
      await home[Symbol.asyncDispose]();
    },
  };
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(path));
}

/** A login that has expired but holds its refresh token: the next credentials refresh it first. */
function writeExpiredLogin(home: string): Promise<string> {
  return writeSsoLogin(home, {
    accessToken: "expired-login-0123456789abcdef",
    expiresAt: T0 - MINUTE,
    refreshToken: "fake-refresh-token-0",
  });
}

/** A login of LOGIN_TOKEN good for 8 hours, as `aws sso login` or the AWS CLI's own refresh writes it. */
function writeValidLogin(home: string, refreshToken: string): Promise<string> {
  return writeSsoLogin(home, { accessToken: LOGIN_TOKEN, expiresAt: T0 + 8 * HOUR, refreshToken });
}

/** Checks `source`'s first role credentials were fetched with LOGIN_TOKEN, after one call to CreateToken. */
async function assertRoleFetchedWithLogin(
  env: Awaited<ReturnType<typeof setup>>,
  source: AwsSsoCredentials,
): Promise<void> {
  assert.deepEqual(await source.credentials(), env.sso.issued[0]);
  assert.equal(env.sso.calls.createToken, 1);
  assert.equal(env.sso.requests[1].headers.get("x-amz-sso_bearer_token"), LOGIN_TOKEN);
}

Deno.test("ssoCachePath names the cache by the SHA-1 of the sso-session, or of the start URL in the legacy form", () => {
  const env = (name: string) => name === "HOME" ? "/home/u" : undefined;
  assert.equal(ssoCachePath(DEV, env), `/home/u/.aws/sso/cache/${SSO_CACHE_NAMES.session}`);
  assert.equal(ssoCachePath(LEGACY, env), `/home/u/.aws/sso/cache/${SSO_CACHE_NAMES.legacy}`);
  assert.equal(ssoCachePath(DEV, () => undefined), undefined);
});

Deno.test("AwsSsoCredentials trades the cached login for role credentials, kept until 5 minutes before they expire", async () => {
  await using env = await setup();
  await writeValidLogin(env.home, "r");

  const first = await env.source.credentials();
  assert.deepEqual(first, env.sso.issued[0]);
  const [request] = env.sso.requests;
  assert.equal(request.method, "GET");
  const url = new URL(request.url);
  assert.equal(url.pathname, "/federation/credentials");
  assert.equal(url.searchParams.get("role_name"), SSO_ROLE);
  assert.equal(url.searchParams.get("account_id"), SSO_ACCOUNT);
  assert.equal(request.headers.get("x-amz-sso_bearer_token"), LOGIN_TOKEN);
  assert.deepEqual(await env.source.credentials(), first);
  assert.equal(env.sso.calls.roleCredentials, 1);
  assert.equal(await env.sso.nextRequest(), request);

  // Within 5 minutes of their expiry: still served at once, while the next are fetched behind them.
  env.clock.advance(HOUR - 5 * MINUTE);
  assert.deepEqual(await env.source.credentials(), first);
  const behind = await env.sso.nextRequest();
  assert.equal(new URL(behind.url).pathname, "/federation/credentials", "fetched before they expire");
  // Once they would have expired, the next are those that fetch brought: no second fetch.
  env.clock.advance(5 * MINUTE);
  const second = await env.source.credentials();
  assert.deepEqual(second, env.sso.issued[1]);
  assert.notEqual(second.sessionToken, first.sessionToken);
  assert.equal(env.sso.calls.roleCredentials, 2);
  assert.equal(env.sso.calls.createToken, 0);
});

Deno.test("AwsSsoCredentials refreshes an expired login as the AWS CLI does, and writes it back keeping the mode", async () => {
  await using env = await setup();
  const cache = await writeSsoLogin(env.home, {
    accessToken: "expired-login-token-0123456789abcdef",
    expiresAt: T0 - MINUTE,
    refreshToken: "fake-refresh-token-0",
  });
  await Deno.chmod(cache, 0o640);
  const before = await readJson(cache);

  const credentials = await env.source.credentials();
  assert.deepEqual(credentials, env.sso.issued[0]);
  const [refresh, portal] = env.sso.requests;
  assert.equal(refresh.method, "POST");
  assert.equal(new URL(refresh.url).pathname, "/token");
  assert.equal(refresh.headers.get("content-type"), "application/json");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(refresh.body)), {
    ...SSO_CLIENT,
    grantType: "refresh_token",
    refreshToken: "fake-refresh-token-0",
  });
  const refreshed = [...env.sso.accessTokens].at(-1)!;
  assert.equal(portal.headers.get("x-amz-sso_bearer_token"), refreshed);

  // Written back for the AWS CLI: the new token and refresh token, the registration kept, same mode.
  assert.deepEqual(await readJson(cache), {
    ...before,
    accessToken: refreshed,
    expiresAt: "2026-06-01T09:00:00Z",
    refreshToken: "fake-refresh-token-1",
  });
  assert.equal((await Deno.stat(cache)).mode! & 0o777, 0o640);
  const folder = [...Deno.readDirSync(join(env.home, ".aws", "sso", "cache"))].map((entry) => entry.name);
  assert.deepEqual(folder, [SSO_CACHE_NAMES.session], "no temporary file is left behind");
});

Deno.test("AwsSsoCredentials refreshes a login about to expire, and goes on with it when the refresh fails", async () => {
  await using env = await setup();
  const refreshToken = "revoked-refresh-token-0123456789abcdefABCDEF";
  await writeSsoLogin(env.home, { accessToken: LOGIN_TOKEN, expiresAt: T0 + 10 * MINUTE, refreshToken });

  await assertRoleFetchedWithLogin(env, env.source);
  const [warning] = env.warnings;
  assert.equal(warning.msg, "AWS SSO login refresh failed");
  assert.equal(warning.provider, "bedrock");
  assert.equal(warning.profile, "dev");
  assert.match(String(warning.error), /answered 400: invalid_grant: Invalid refresh token provided/);
  assert.ok(!JSON.stringify(env.warnings).includes(refreshToken), "the refresh token is never logged");
  assert.ok(!JSON.stringify(env.warnings).includes(SSO_CLIENT.clientSecret), "nor the client secret");
});

Deno.test("AwsSsoCredentials says to run aws sso login when the login has expired for good, without a call", async () => {
  await using env = await setup(LEGACY);
  // What the client is told names no local path; the log and `relay check` do (ssoLoginProblem).
  await assert.rejects(() => env.source.credentials(), {
    message: 'AWS profile "legacy": no SSO login is cached; run `aws sso login --profile legacy`',
  });
  await Deno.mkdir(join(env.home, ".aws", "sso", "cache"), { recursive: true });
  await Deno.writeTextFile(join(env.home, ".aws", "sso", "cache", SSO_CACHE_NAMES.legacy), "{}");
  await assert.rejects(() => env.source.credentials(), {
    message: 'AWS profile "legacy": its SSO cache file holds no SSO login (accessToken and expiresAt); ' +
      "run `aws sso login --profile legacy`",
  });
  await writeSsoLogin(env.home, { form: "legacy", accessToken: LOGIN_TOKEN, expiresAt: T0 - HOUR });
  await assert.rejects(() => env.source.credentials(), {
    message:
      'AWS profile "legacy": the SSO login expired at 2026-06-01T07:00:00Z and holds no refresh token; ' +
      "run `aws sso login --profile legacy`",
  });
  assert.equal(env.sso.requests.length, 0);
});

Deno.test("AwsSsoCredentials says to log in again when the refresh or the portal refuses the login, never quoting tokens", async () => {
  await using env = await setup();
  const refreshToken = "revoked-refresh-token-0123456789abcdefABCDEF";
  await writeSsoLogin(env.home, {
    accessToken: "expired-login-0123456789abcdef",
    expiresAt: T0 - 1,
    refreshToken,
  });
  const refused = (error: Error) => {
    assert.match(
      error.message,
      /^AWS profile "dev": the SSO login expired at 2026-06-01T07:59:59Z and refreshing/,
    );
    assert.match(
      error.message,
      /answered 400: invalid_grant: Invalid refresh token provided; run `aws sso login --profile dev`$/,
    );
    assert.ok(!error.message.includes(refreshToken) && !error.message.includes(SSO_CLIENT.clientSecret));
    return true;
  };
  await assert.rejects(() => env.source.credentials(), refused);
  // A refresh that failed is not tried again for 30 s, however many requests ask meanwhile.
  await assert.rejects(() => env.source.credentials(), refused);
  assert.equal(env.sso.calls.createToken, 1);
  env.clock.advance(30_000);
  await assert.rejects(() => env.source.credentials(), refused);
  assert.equal(env.sso.calls.createToken, 2);

  // A login the portal no longer takes (signed out elsewhere), though it has not expired by the clock.
  const revoked = "signed-out-login-token-0123456789abcdefXYZ";
  await writeSsoLogin(env.home, { accessToken: revoked, expiresAt: T0 + 8 * HOUR, refreshToken });
  await assert.rejects(() => env.source.credentials(), (error: Error) => {
    assert.equal(
      error.message,
      'AWS profile "dev": the SSO portal refused the login: UnauthorizedException: Session token not found or ' +
        "invalid; run `aws sso login --profile dev`",
    );
    return true;
  });
});

Deno.test("AwsSsoCredentials calls AWS's own endpoints unless AWS_ENDPOINT_URL_SSO(_OIDC) say otherwise", async () => {
  await using home = await tempFolder();
  await writeSsoLogin(home.path, {
    accessToken: "expired",
    expiresAt: T0 - 1,
    refreshToken: "fake-refresh-token-0",
  });
  const urls: string[] = [];
  const fetchSpy: typeof fetch = (input) => {
    const url = String(input);
    urls.push(url);
    return Promise.resolve(
      url.endsWith("/token") ? Response.json({ accessToken: "new-login", expiresIn: 3600 }) : Response.json({
        roleCredentials: {
          accessKeyId: "A",
          secretAccessKey: "S",
          sessionToken: "T",
          expiration: T0 + HOUR,
        },
      }),
    );
  };
  const vars: Record<string, string> = {
    HOME: home.path,
    AWS_ENDPOINT_URL_SSO: "http://127.0.0.1:9/",
    AWS_ENDPOINT_URL_SSO_OIDC: "http://127.0.0.1:9/",
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "TRUE",
  };
  const source = new AwsSsoCredentials(DEV, {
    env: (name) => vars[name],
    readFile: systemEnvironment.readFile,
    fetch: fetchSpy,
    now: () => T0,
  });
  assert.deepEqual(await source.credentials(), { accessKeyId: "A", secretAccessKey: "S", sessionToken: "T" });
  assert.deepEqual(urls, [
    "https://oidc.eu-central-1.amazonaws.com/token",
    `https://portal.sso.eu-central-1.amazonaws.com/federation/credentials?role_name=${SSO_ROLE}&account_id=${SSO_ACCOUNT}`,
  ]);
});

Deno.test("ssoLoginProblem tells a login relay cannot use from one it can, reading only the cache", async () => {
  await using home = await tempFolder();
  const options = {
    env: (name: string) => name === "HOME" ? home.path : undefined,
    readFile: systemEnvironment.readFile,
    now: () => T0,
  };
  assert.match(
    ssoLoginProblem(DEV, options)!,
    /^AWS profile "dev": no SSO login is cached \(.*\); run `aws sso login --profile dev`$/,
  );
  await writeSsoLogin(home.path, { accessToken: "t", expiresAt: T0 + MINUTE });
  assert.equal(ssoLoginProblem(DEV, options), undefined);
  await writeSsoLogin(home.path, { accessToken: "t", expiresAt: T0 - MINUTE, refreshToken: "r" });
  assert.equal(ssoLoginProblem(DEV, options), undefined, "expired, but relay can refresh it");
  await writeSsoLogin(home.path, {
    accessToken: "t",
    expiresAt: T0 - MINUTE,
    refreshToken: "r",
    registrationExpiresAt: T0 - 1000,
  });
  assert.equal(
    ssoLoginProblem(DEV, options),
    'AWS profile "dev": the SSO login expired at 2026-06-01T07:59:00Z and its client registration expired at ' +
      "2026-06-01T07:59:59Z; run `aws sso login --profile dev`",
  );
  await writeSsoLogin(home.path, { accessToken: "t", expiresAt: T0 - MINUTE });
  assert.match(ssoLoginProblem(DEV, options)!, /holds no refresh token; run `aws sso login --profile dev`$/);
});

/** A fetch that lets `before` act (as the AWS CLI would, meanwhile) when relay calls the OIDC endpoint. */
function aroundCreateToken(before: () => Promise<void>, after = async () => {}): typeof fetch {
  return async (input, init) => {
    const refreshing = String(input).endsWith("/token");
    if (refreshing) await before();
    const response = await fetch(input, init);
    if (refreshing) await after();
    return response;
  };
}

/** A second source over `env`'s home and fake, with its own fetch and file writing. */
function sourceOver(
  env: Awaited<ReturnType<typeof setup>>,
  options: Partial<ConstructorParameters<typeof AwsSsoCredentials>[1]>,
): AwsSsoCredentials {
  const logger = createLogger({ level: "warn", write: (line) => env.warnings.push(JSON.parse(line)) });
  return new AwsSsoCredentials(DEV, {
    env: (name) => env.env[name as keyof typeof env.env],
    readFile: systemEnvironment.readFile,
    now: env.clock.now,
    logger,
    provider: "bedrock",
    ...options,
  });
}

Deno.test("AwsSsoCredentials takes the login another refresh wrote when its own refresh token was spent meanwhile", async () => {
  await using env = await setup();
  const cache = await writeExpiredLogin(env.home);
  // The AWS CLI (or another provider on the sso-session) refreshes first: relay's refresh token is spent.
  const source = sourceOver(env, {
    fetch: aroundCreateToken(async () => {
      env.sso.refreshToken = "rotated-by-the-cli";
      await writeValidLogin(env.home, "rotated-by-the-cli");
    }),
  });

  await assertRoleFetchedWithLogin(env, source);
  assert.equal((await readJson(cache)).accessToken, LOGIN_TOKEN);
  assert.deepEqual(env.warnings, []);
});

Deno.test("AwsSsoCredentials does not write its refresh over a login written while it refreshed, and uses that one", async () => {
  await using env = await setup();
  const cache = await writeExpiredLogin(env.home);
  // `aws sso login` ends while relay's CreateToken is in flight.
  const source = sourceOver(env, {
    fetch: aroundCreateToken(async () => {}, async () => {
      await writeValidLogin(env.home, "new");
    }),
  });

  await assertRoleFetchedWithLogin(env, source);
  const kept = await readJson(cache);
  assert.equal(kept.accessToken, LOGIN_TOKEN);
  assert.equal(kept.refreshToken, "new");
});

Deno.test("AwsSsoCredentials goes on with a refreshed login it could not save, warning once", async () => {
  await using env = await setup();
  const cache = await writeExpiredLogin(env.home);
  const before = await Deno.readTextFile(cache);
  env.sso.roleLifetimeMs = 20 * MINUTE;
  const source = sourceOver(env, {
    writeFile: () => Promise.reject(new Deno.errors.PermissionDenied("read-only file system")),
  });

  assert.deepEqual(await source.credentials(), env.sso.issued[0]);
  const refreshed = [...env.sso.accessTokens].at(-1)!;
  assert.equal(env.sso.requests[1].headers.get("x-amz-sso_bearer_token"), refreshed);
  // The role's credentials expire long before the login relay refreshed: the next are fetched with it.
  env.clock.advance(20 * MINUTE);
  assert.deepEqual(await source.credentials(), env.sso.issued[1]);
  assert.equal(env.sso.requests[2].headers.get("x-amz-sso_bearer_token"), refreshed);
  assert.equal(env.sso.calls.createToken, 1);
  assert.equal(await Deno.readTextFile(cache), before);
  assert.deepEqual(env.warnings.map((warning) => warning.msg), ["AWS SSO login refreshed but not saved"]);
  assert.match(String(env.warnings[0].error), /read-only file system/);
});

Deno.test("AwsSsoCredentials makes one refresh and one GetRoleCredentials for requests that ask together at expiry", async () => {
  await using env = await setup();
  await writeExpiredLogin(env.home);
  const all = await Promise.all([
    env.source.credentials(),
    env.source.credentials(),
    env.source.credentials(),
  ]);
  assert.deepEqual(all, [env.sso.issued[0], env.sso.issued[0], env.sso.issued[0]]);
  assert.deepEqual(env.sso.calls, { roleCredentials: 1, createToken: 1 });
});

Deno.test("AwsSsoCredentials reads the expiresAt the AWS CLI v1 wrote, with UTC for Z", async () => {
  await using env = await setup();
  const cache = await writeSsoLogin(env.home, { accessToken: LOGIN_TOKEN, expiresAt: T0 + 8 * HOUR });
  await Deno.writeTextFile(
    cache,
    JSON.stringify({ ...(await readJson(cache)), expiresAt: "2026-06-01T16:00:00UTC" }),
  );
  const options = {
    env: (name: string) => env.env[name as keyof typeof env.env],
    readFile: systemEnvironment.readFile,
  };
  assert.equal(ssoLoginProblem(DEV, { ...options, now: () => T0 }), undefined);
  assert.match(
    ssoLoginProblem(DEV, { ...options, now: () => T0 + 9 * HOUR })!,
    /the SSO login expired at 2026-06-01T16:00:00Z and holds no refresh token/,
  );
  assert.deepEqual(await env.source.credentials(), env.sso.issued[0]);
  assert.equal(env.sso.calls.createToken, 0);
});

/** What a failure says of retrying: `permanent`, `passing`, or `no CredentialError`. */
async function verdictOf(credentials: Promise<unknown>): Promise<string> {
  const error = await credentials.then(() => assert.fail("resolved"), (error) => error);
  if (!(error instanceof CredentialError)) return `no CredentialError: ${error}`;
  return error.permanent ? "permanent" : "passing";
}

Deno.test("AwsSsoCredentials throws what needs `aws sso login` as permanent, an SSO endpoint's own trouble as passing", async () => {
  await using env = await setup();
  const other = new AwsSsoCredentials({ ...DEV, accountId: "444455556666" }, {
    env: (name) => env.env[name as keyof typeof env.env],
    readFile: systemEnvironment.readFile,
    now: env.clock.now,
  });
  /** The source over the same login, its SSO endpoints answering `status` to every call. */
  const failing = (status: number, readFile = systemEnvironment.readFile) =>
    new AwsSsoCredentials(DEV, {
      env: (name) => env.env[name as keyof typeof env.env],
      readFile,
      now: env.clock.now,
      fetch: () => Promise.resolve(Response.json({ message: "failed" }, { status })),
    });

  assert.equal(await verdictOf(env.source.credentials()), "permanent", "no login cached");
  await writeSsoLogin(env.home, { accessToken: LOGIN_TOKEN, expiresAt: T0 + 8 * HOUR });
  assert.equal(await verdictOf(other.credentials()), "permanent", "the role not granted (403)");
  assert.equal(await verdictOf(failing(500).credentials()), "passing", "GetRoleCredentials fails (500)");
  assert.equal(await verdictOf(failing(429).credentials()), "passing", "GetRoleCredentials throttled");
  const unreadable = () => {
    throw new Deno.errors.PermissionDenied("Permission denied (os error 13)");
  };
  assert.equal(await verdictOf(failing(200, unreadable).credentials()), "permanent", "the cache unreadable");

  await writeSsoLogin(env.home, { accessToken: "signed-out-0123456789abcdef", expiresAt: T0 + 8 * HOUR });
  assert.equal(await verdictOf(env.source.credentials()), "permanent", "the portal refuses the login (401)");

  await writeSsoLogin(env.home, { accessToken: "expired-0123456789abcdef", expiresAt: T0 - 1 });
  assert.equal(await verdictOf(env.source.credentials()), "permanent", "expired, no refresh token");
  await writeExpiredLogin(env.home);
  env.sso.refreshToken = "another-refresh-token";
  assert.equal(await verdictOf(env.source.credentials()), "permanent", "the refresh refused (400)");
  const oidcDown = failing(503);
  assert.equal(await verdictOf(oidcDown.credentials()), "passing", "expired, the refresh failed (503)");
  // Asked again within the refresh's 30 s pause, which ends with no call: still the same verdict.
  assert.equal(await verdictOf(oidcDown.credentials()), "passing", "expired, the refresh paused");
});
