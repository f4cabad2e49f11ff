/**
 * A fake AWS IAM Identity Center for the SSO tests: one real HTTP server on a loopback port that is
 * both the SSO portal (`GET /federation/credentials`, GetRoleCredentials) and the SSO OIDC endpoint
 * (`POST /token`, CreateToken with the refresh-token grant), checking each request the way AWS would
 * and answering in AWS's shapes. It also writes the AWS CLI's files for a profile: `~/.aws/config` and
 * the login cache, `~/.aws/sso/cache/<sha1>.json`. Point relay at it with `AWS_ENDPOINT_URL_SSO` and
 * `AWS_ENDPOINT_URL_SSO_OIDC` (see {@linkcode FakeAwsSso.env}).
 */
import { join } from "node:path";
import type { AwsCredentials } from "../../src/providers/aws_credentials.ts";
import { type RecordedRequest, startFakeUpstream } from "./fake_upstream.ts";

export const SSO_ACCOUNT = "111122223333";
export const SSO_ROLE = "BedrockUser";
export const SSO_CLIENT = {
  clientId: "fake-client-id-0123456789",
  clientSecret: "fake-client-secret-abcdef0123456789",
};

export interface FakeAwsSso {
  /** `http://127.0.0.1:<port>`: the portal and the OIDC endpoint both. */
  url: string;
  /** The variables that send relay's SSO calls here. */
  env: Record<string, string>;
  /** Every request, accepted or not, in arrival order. */
  requests: RecordedRequest[];
  /** The next request not yet returned by an earlier call, as it arrives (`FakeUpstream.nextRequest`). */
  nextRequest(): Promise<RecordedRequest>;
  /** Access tokens the portal takes; CreateToken adds those it issues. */
  accessTokens: Set<string>;
  /** The refresh token CreateToken takes now; replaced by each refresh, as AWS rotates it. */
  refreshToken: string;
  /** Role credentials handed out, in order: `ASIAFAKE1...`, `ASIAFAKE2...` */
  issued: AwsCredentials[];
  /** How long the role credentials handed out from now on last, in ms (1 h to start with). */
  roleLifetimeMs: number;
  /** `expiresIn` of the access tokens CreateToken hands out, in seconds (1 h to start with). */
  accessTokenLifetimeS: number;
  /** How many calls reached each endpoint. */
  calls: { roleCredentials: number; createToken: number };
  close(): Promise<void>;
}

/**
 * Starts the fake on 127.0.0.1 and a free port; `now` (wall-clock ms) dates the role credentials.
 *
 * @example
 * ```ts
 * const sso = startFakeAwsSso({ now: clock.now, accessTokens: ["login-token"] });
 * ```
 */
export function startFakeAwsSso(
  options: { now: () => number; accessTokens?: string[]; refreshToken?: string },
) {
  const sso: FakeAwsSso = {
    url: "",
    env: {},
    requests: [],
    nextRequest: () => server.nextRequest(),
    accessTokens: new Set(options.accessTokens ?? []),
    refreshToken: options.refreshToken ?? "fake-refresh-token-0",
    issued: [],
    roleLifetimeMs: 3_600_000,
    accessTokenLifetimeS: 3600,
    calls: { roleCredentials: 0, createToken: 0 },
    close: () => server.close(),
  };
  const server = startFakeUpstream((request, recorded) => {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/federation/credentials") {
      sso.calls.roleCredentials++;
      return _roleCredentials(sso, url, recorded, options.now);
    }
    if (request.method === "POST" && url.pathname === "/token") {
      sso.calls.createToken++;
      return _createToken(sso, recorded);
    }
    return _awsError(404, "ResourceNotFoundException", `no ${request.method} ${url.pathname}`);
  });
  sso.url = server.url;
  sso.env = { AWS_ENDPOINT_URL_SSO: server.url, AWS_ENDPOINT_URL_SSO_OIDC: server.url };
  sso.requests = server.requests;
  return sso;
}

function _roleCredentials(sso: FakeAwsSso, url: URL, recorded: RecordedRequest, now: () => number): Response {
  const token = recorded.headers.get("x-amz-sso_bearer_token") ?? "";
  if (!sso.accessTokens.has(token)) {
    return _awsError(401, "UnauthorizedException", "Session token not found or invalid");
  }
  if (url.searchParams.get("account_id") !== SSO_ACCOUNT || url.searchParams.get("role_name") !== SSO_ROLE) {
    return _awsError(403, "ForbiddenException", "No access");
  }
  const n = sso.issued.length + 1;
  const credentials = {
    accessKeyId: `ASIAFAKE${n}EXAMPLE`,
    secretAccessKey: `fake/secret+access/key-${n}-0123456789abcdef`,
    sessionToken: `IQoJb3JpZ2luX2VjEFAKESESSIONTOKEN${n}abcdefghijklmnop/+0123456789`,
  };
  sso.issued.push(credentials);
  return Response.json({ roleCredentials: { ...credentials, expiration: now() + sso.roleLifetimeMs } });
}

function _createToken(sso: FakeAwsSso, recorded: RecordedRequest): Response {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(new TextDecoder().decode(recorded.body));
  } catch {
    return Response.json({ error: "invalid_request", error_description: "not JSON" }, { status: 400 });
  }
  if (body.clientId !== SSO_CLIENT.clientId || body.clientSecret !== SSO_CLIENT.clientSecret) {
    return Response.json({ error: "invalid_client", error_description: "Invalid client" }, { status: 401 });
  }
  if (body.grantType !== "refresh_token" || body.refreshToken !== sso.refreshToken) {
    return Response.json(
      { error: "invalid_grant", error_description: "Invalid refresh token provided" },
      { status: 400 },
    );
  }
  const n = sso.calls.createToken;
  const accessToken = `fake-sso-access-token-${n}-aBcDeFgHiJkLmNoPqRsTuVwXyZ012345`;
  sso.accessTokens.add(accessToken);
  sso.refreshToken = `fake-refresh-token-${n}`;
  return Response.json({
    accessToken,
    tokenType: "Bearer",
    expiresIn: sso.accessTokenLifetimeS,
    refreshToken: sso.refreshToken,
  });
}

function _awsError(status: number, type: string, message: string): Response {
  return Response.json({ message }, { status, headers: { "x-amzn-errortype": type } });
}

/** An SSO profile's config, in the current form (`sso_session`) or the legacy one. */
export function ssoConfigFile(profile: string, form: "session" | "legacy" = "session"): string {
  if (form === "legacy") {
    return `[profile ${profile}]\nsso_start_url = https://legacy.awsapps.com/start#/\nsso_region = us-west-2\n` +
      `sso_account_id = ${SSO_ACCOUNT}\nsso_role_name = ${SSO_ROLE}\n`;
  }
  return `[profile ${profile}]\nsso_session = corp\nsso_account_id = ${SSO_ACCOUNT}\nsso_role_name = ${SSO_ROLE}\n` +
    "region = eu-west-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n" +
    "sso_region = eu-central-1\nsso_registration_scopes = sso:account:access\n";
}

/** The cache file names: SHA-1 of `corp` (the session) and of the legacy start URL, as `sha1sum` gives them. */
export const SSO_CACHE_NAMES = {
  session: "ee0bfd2552fbd840c02cc48b6e823320543c450f.json",
  legacy: "ac60cfe620e0b9d4aa02d26761573a831bdae14f.json",
};

/**
 * Writes `home`'s `.aws/config` for `profile` and its login cache as `aws sso login` leaves it, mode 0600:
 * the access token expiring at `expiresAt`, and for the session form the client registration and
 * refresh token. Returns the cache file's path.
 */
export async function writeSsoLogin(
  home: string,
  login: {
    profile?: string;
    form?: "session" | "legacy";
    accessToken: string;
    expiresAt: number;
    refreshToken?: string;
    registrationExpiresAt?: number;
  },
): Promise<string> {
  const form = login.form ?? "session";
  await Deno.mkdir(join(home, ".aws", "sso", "cache"), { recursive: true });
  await Deno.writeTextFile(join(home, ".aws", "config"), ssoConfigFile(login.profile ?? "dev", form));
  const path = join(home, ".aws", "sso", "cache", SSO_CACHE_NAMES[form]);
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  const cache = form === "legacy"
    ? {
      startUrl: "https://legacy.awsapps.com/start#/",
      region: "us-west-2",
      accessToken: login.accessToken,
      expiresAt: iso(login.expiresAt),
    }
    : {
      startUrl: "https://corp.awsapps.com/start",
      region: "eu-central-1",
      accessToken: login.accessToken,
      expiresAt: iso(login.expiresAt),
      ...SSO_CLIENT,
      registrationExpiresAt: iso(login.registrationExpiresAt ?? login.expiresAt + 90 * 86_400_000),
      ...(login.refreshToken !== undefined && { refreshToken: login.refreshToken }),
    };
  await Deno.writeTextFile(path, JSON.stringify(cache), { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return path;
}
