/**
 * relay with a Bedrock upstream on an AWS SSO (IAM Identity Center) profile, end to end over real HTTP:
 * an Anthropic-format client, relay in-process, a fake IAM Identity Center (portal and OIDC) and a fake
 * Bedrock that accepts only the role credentials the portal handed out last, SigV4 and session token
 * checked.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { BedrockProviderConfig } from "../../src/config/schema.ts";
import { AwsSsoCredentials } from "../../src/providers/aws_sso.ts";
import { createBedrockProvider } from "../../src/providers/bedrock.ts";
import { createProvider, systemEnvironment } from "../../src/providers/registry.ts";
import {
  type BedrockCall,
  bedrockError,
  type FakeBedrock,
  startFakeBedrock,
} from "../_helpers/fake_bedrock.ts";
import {
  type FakeAwsSso,
  SSO_ACCOUNT,
  SSO_ROLE,
  startFakeAwsSso,
  writeSsoLogin,
} from "../_helpers/fake_aws_sso.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { loadGolden } from "../_helpers/golden.ts";
import { startTestRelay, type TestRelay } from "../_helpers/relay.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";
import type { Provider } from "../../src/providers/types.ts";

const REGION = "eu-west-1";
const HOUR = 3_600_000;
const LOGIN_TOKEN = "aoaAAAAAGhE2eLoginAccessToken0123456789abcdefGHIJ";
const MODELS = { "claude-sonnet-4-5": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" };
/** The sso-session `ssoConfigFile` writes. */
const CORP = { startUrl: "https://corp.awsapps.com/start", region: "eu-central-1", session: "corp" };
const ASK = { model: "claude-sonnet-4-5", max_tokens: 256, messages: [{ role: "user", content: "hi" }] };

interface Setup {
  home: string;
  sso: FakeAwsSso;
  bedrock: FakeBedrock;
  relay: TestRelay;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A home folder with the AWS CLI's files for profile `dev`, the fakes, and relay over the provider
 * `provider` builds from them.
 */
async function setup(
  now: () => number,
  login: { expiresAt: number; refreshToken?: string },
  provider: (bedrockUrl: string, env: Record<string, string>) => Provider,
  answer?: (call: BedrockCall) => Response | Promise<Response>,
): Promise<Setup> {
  const home = await tempFolder();
  const sso = startFakeAwsSso({ now, accessTokens: [LOGIN_TOKEN] });
  await writeSsoLogin(home.path, { accessToken: LOGIN_TOKEN, ...login });
  const bedrock = startFakeBedrock({
    region: REGION,
    // Only the credentials handed out last are good: those before them have expired.
    get credentials() {
      return sso.issued.at(-1);
    },
    answer,
  });
  const env = { HOME: home.path, ...sso.env };
  const relay = startTestRelay({ provider: provider(bedrock.url, env), models: MODELS });
  return {
    home: home.path,
    sso,
    bedrock,
    relay,
    async [Symbol.asyncDispose]() {
      await relay[Symbol.asyncDispose]();
      await bedrock.close();
      await sso.close();
      await home[Symbol.asyncDispose]();
    },
  };
}

/** The Bedrock provider as relay's config builds it: `aws: { profile: dev }`, no keys. */
function fromConfig(bedrockUrl: string, env: Record<string, string>): Provider {
  const config: BedrockProviderConfig = {
    name: "bedrock",
    type: "bedrock",
    keys: [],
    timeouts: {},
    region: REGION,
    base_url: bedrockUrl,
    aws: { profile: "dev" },
  };
  return createProvider(config, { ...systemEnvironment, env: (name) => env[name] });
}

function post(relay: TestRelay, body: Record<string, unknown>) {
  return fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
  });
}

Deno.test("relay streams from Bedrock signed with an SSO profile's role credentials, as `aws sso login` left them", async () => {
  await using env = await setup(
    Date.now,
    { expiresAt: Date.now() + 8 * HOUR, refreshToken: "r" },
    fromConfig,
  );
  const response = await post(env.relay, { ...ASK, stream: true });
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal(await response.text(), new TextDecoder().decode(await loadGolden("text")));

  const [roleRequest] = env.sso.requests;
  assert.equal(roleRequest.headers.get("x-amz-sso_bearer_token"), LOGIN_TOKEN);
  assert.match(roleRequest.path, new RegExp(`role_name=${SSO_ROLE}&account_id=${SSO_ACCOUNT}`));
  const [call] = env.bedrock.calls;
  assert.equal(call.operation, "invoke-with-response-stream");
  assert.equal(call.recorded.headers.get("x-amz-security-token"), env.sso.issued[0].sessionToken);
});

Deno.test("relay masks the SSO session token it signed with where Bedrock's answer quotes it", async () => {
  let sessionToken = "";
  await using env = await setup(
    Date.now,
    { expiresAt: Date.now() + 8 * HOUR },
    fromConfig,
    (call) => {
      sessionToken = call.recorded.headers.get("x-amz-security-token")!;
      return bedrockError(400, "ValidationException", `The security token ${sessionToken} is not valid here`);
    },
  );
  const response = await post(env.relay, ASK);
  const text = await response.text();
  assert.equal(response.status, 400);
  assert.ok(sessionToken.length > 0);
  assert.ok(!text.includes(sessionToken), `the session token is masked: ${text}`);
  assert.match(text, /The security token \S+ is not valid here/);
});

Deno.test("relay fetches new role credentials, refreshing the SSO login, once those it had expire", async () => {
  const clock = new FakeClock(Date.now());
  await using env = await setup(
    clock.now,
    { expiresAt: clock.now() + HOUR, refreshToken: "fake-refresh-token-0" },
    (bedrockUrl, vars) =>
      createBedrockProvider({
        name: "bedrock",
        region: REGION,
        baseUrl: bedrockUrl,
        credentials: new AwsSsoCredentials(
          { profile: "dev", accountId: SSO_ACCOUNT, roleName: SSO_ROLE, ...CORP },
          { env: (name) => vars[name], readFile: systemEnvironment.readFile, now: clock.now },
        ),
      }),
  );
  const first = await post(env.relay, { ...ASK, stream: true });
  assert.equal(first.status, 200);
  await first.body?.cancel();

  // An hour on, the role credentials and the login's access token have both expired.
  clock.advance(HOUR + 1000);
  const second = await post(env.relay, { ...ASK, stream: true });
  assert.equal(second.status, 200, await second.clone().text());
  await second.body?.cancel();

  assert.equal(env.sso.issued.length, 2);
  assert.equal(env.sso.calls.createToken, 1);
  const [, secondCall] = env.bedrock.calls;
  assert.equal(secondCall.recorded.headers.get("x-amz-security-token"), env.sso.issued[1].sessionToken);
});

Deno.test("a Bedrock request on an SSO login that has expired for good gets an error that says to log in", async () => {
  await using env = await setup(Date.now, { expiresAt: Date.now() - HOUR }, fromConfig);
  const response = await post(env.relay, ASK);
  assert.equal(response.status, 502);
  // Only `aws sso login` mends it: the client is told not to send again.
  assert.equal(response.headers.get("x-should-retry"), "false");
  const body = await response.json();
  assert.equal(body.type, "error");
  assert.match(
    body.error.message,
    /^upstream bedrock failed: Bedrock auth failed: AWS profile "dev": the SSO login expired at /,
  );
  assert.match(body.error.message, /run `aws sso login --profile dev`$/);
  assert.ok(!JSON.stringify(body).includes(LOGIN_TOKEN));
  assert.equal(env.sso.requests.length, 0);
  assert.equal(env.bedrock.calls.length, 0);
});

Deno.test("a Bedrock request with no SSO login cached is told to log in, and no local path", async () => {
  await using env = await setup(Date.now, { expiresAt: Date.now() + HOUR }, fromConfig);
  await Deno.remove(join(env.home, ".aws", "sso"), { recursive: true });
  const response = await post(env.relay, ASK);
  assert.equal(response.status, 502);
  assert.equal(response.headers.get("x-should-retry"), "false");
  const body = await response.json();
  assert.equal(
    body.error.message,
    'upstream bedrock failed: Bedrock auth failed: AWS profile "dev": no SSO login is cached; ' +
      "run `aws sso login --profile dev`",
  );
  assert.ok(!JSON.stringify(body).includes(env.home));
  assert.equal(env.bedrock.calls.length, 0);
});
