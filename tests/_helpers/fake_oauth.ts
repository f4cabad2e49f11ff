/**
 * A fake OAuth 2.0 token endpoint for the Vertex and Foundry tests: a real HTTP server on a loopback
 * port that checks each request the way Google's or Entra's endpoint would (the JWT-bearer assertion's
 * signature and claims, or the client credentials), hands out numbered tokens, counts the calls, and
 * can hold its answers until the test lets them go.
 */
import { exportPKCS8, generateKeyPair, type JWTHeaderParameters, type JWTPayload, jwtVerify } from "jose";
import { type RecordedRequest, startFakeUpstream } from "./fake_upstream.ts";

/** What the endpoint accepts: Google's service-account grant, or Entra's client credentials. */
export type FakeGrant =
  | {
    kind: "jwt-bearer";
    /** The public half of the service account's key. */
    publicKey: CryptoKey;
    clientEmail: string;
    /** The clock the assertion's `iat` and `exp` are checked against, in ms. */
    now: () => number;
  }
  | { kind: "client-credentials"; clientId: string; clientSecret: string; scope: string };

/** A verified JWT-bearer assertion. */
export interface SeenAssertion {
  header: JWTHeaderParameters;
  claims: JWTPayload;
}

export interface FakeOAuth {
  /** The token endpoint, `http://127.0.0.1:<port>/token`. */
  url: string;
  /** Every token request so far, accepted or not, in arrival order. */
  requests: RecordedRequest[];
  /** The next request not yet returned by an earlier call; waits for one. */
  nextRequest(): Promise<RecordedRequest>;
  /** Access tokens handed out, in order: `fake-access-token-1`, `-2`, ... */
  issued: string[];
  /** The assertions that passed verification (jwt-bearer only), in order. */
  assertions: SeenAssertion[];
  /** `expires_in` of the tokens handed out from now on, in seconds; 3600 to start with. */
  expiresIn: number;
  /** Holds every answer, from now on, until the returned function is called. */
  hold(): () => void;
  close(): Promise<void>;
}

const _JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const _CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";

/**
 * Starts a fake token endpoint on 127.0.0.1 and a free port.
 *
 * @example
 * ```ts
 * const oauth = startFakeOAuth({ kind: "client-credentials", clientId: "app", clientSecret: "s", scope });
 * const release = oauth.hold();
 * const pending = tokens.token();
 * await oauth.nextRequest();
 * release();
 * assert.equal(await pending, oauth.issued[0]);
 * ```
 */
export function startFakeOAuth(grant: FakeGrant): FakeOAuth {
  let gate: Promise<void> | undefined;
  const oauth: FakeOAuth = {
    url: "",
    requests: [],
    nextRequest: () => server.nextRequest(),
    issued: [],
    assertions: [],
    expiresIn: 3600,
    hold() {
      const held = Promise.withResolvers<void>();
      gate = held.promise;
      return () => {
        gate = undefined;
        held.resolve();
      };
    },
    close: () => server.close(),
  };
  const server = startFakeUpstream(async (request, recorded) => {
    const waitFor = gate;
    const problem = await _problem(request, recorded, grant, oauth);
    await waitFor;
    if (problem) return Response.json(problem.body, { status: problem.status });
    const token = `fake-access-token-${oauth.issued.length + 1}`;
    oauth.issued.push(token);
    return Response.json({ access_token: token, expires_in: oauth.expiresIn, token_type: "Bearer" });
  });
  oauth.url = `${server.url}/token`;
  oauth.requests = server.requests;
  return oauth;
}

/** A service account made for one test: its key file on disk and the public half to verify with. */
export interface TestServiceAccount extends AsyncDisposable {
  /** Path of the service-account JSON, in a fresh temp directory. */
  file: string;
  /** The file's fields. */
  json: Record<string, string>;
  publicKey: CryptoKey;
  clientEmail: string;
}

/**
 * Generates an RSA key and writes a service-account file around it, shaped like the ones the Google
 * Cloud console hands out; `fields` overrides or adds fields.
 *
 * @example
 * ```ts
 * await using account = await makeServiceAccount({ token_uri: oauth.url });
 * const tokens = googleServiceAccountTokens({ credentialsFile: account.file });
 * ```
 */
export async function makeServiceAccount(fields: Record<string, string> = {}): Promise<TestServiceAccount> {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const clientEmail = "relay-test@my-project.iam.gserviceaccount.com";
  const json = {
    type: "service_account",
    project_id: "my-project",
    private_key_id: "0123456789abcdef0123456789abcdef01234567",
    private_key: await exportPKCS8(privateKey),
    client_email: clientEmail,
    client_id: "100000000000000000001",
    token_uri: "https://oauth2.googleapis.com/token",
    ...fields,
  };
  const dir = await Deno.makeTempDir({ prefix: "relay_sa_" });
  const file = `${dir}/service-account.json`;
  await Deno.writeTextFile(file, JSON.stringify(json, null, 2));
  return {
    file,
    json,
    publicKey,
    clientEmail,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

interface _Problem {
  status: number;
  body: { error: string; error_description: string };
}

async function _problem(
  request: Request,
  recorded: RecordedRequest,
  grant: FakeGrant,
  oauth: FakeOAuth,
): Promise<_Problem | undefined> {
  const refuse = (status: number, error: string, description: string) => ({
    status,
    body: { error, error_description: description },
  });
  if (request.method !== "POST" || new URL(request.url).pathname !== "/token") {
    return refuse(404, "not_found", `no ${request.method} ${new URL(request.url).pathname}`);
  }
  if (recorded.headers.get("content-type") !== "application/x-www-form-urlencoded") {
    return refuse(400, "invalid_request", `content-type ${recorded.headers.get("content-type")}`);
  }
  const form = new URLSearchParams(new TextDecoder().decode(recorded.body));
  if (grant.kind === "client-credentials") {
    if (form.get("grant_type") !== "client_credentials") {
      return refuse(400, "unsupported_grant_type", `grant_type ${form.get("grant_type")}`);
    }
    if (form.get("client_id") !== grant.clientId || form.get("client_secret") !== grant.clientSecret) {
      return refuse(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.");
    }
    if (form.get("scope") !== grant.scope) return refuse(400, "invalid_scope", `scope ${form.get("scope")}`);
    return undefined;
  }
  if (form.get("grant_type") !== _JWT_BEARER) {
    return refuse(400, "unsupported_grant_type", `grant_type ${form.get("grant_type")}`);
  }
  try {
    const { protectedHeader, payload } = await jwtVerify(form.get("assertion") ?? "", grant.publicKey, {
      algorithms: ["RS256"],
      typ: "JWT",
      issuer: grant.clientEmail,
      audience: oauth.url,
      currentDate: new Date(grant.now()),
      requiredClaims: ["iat", "exp", "scope"],
    });
    if (payload.scope !== _CLOUD_PLATFORM) return refuse(400, "invalid_scope", `scope ${payload.scope}`);
    if (payload.exp! - payload.iat! > 3600) return refuse(400, "invalid_grant", "assertion lives over 1 h");
    oauth.assertions.push({ header: protectedHeader, claims: payload });
    return undefined;
  } catch (error) {
    return refuse(400, "invalid_grant", `Invalid JWT: ${(error as Error).message}`);
  }
}
