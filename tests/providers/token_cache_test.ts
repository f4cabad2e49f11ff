import assert from "node:assert/strict";
import { settlesWithin } from "../_helpers/settles_within.ts";
import {
  fetchCredentialEndpoint,
  type IssuedToken,
  requestAccessToken,
  sendWithToken,
  TokenCache,
} from "../../src/providers/token_cache.ts";
import { CredentialError } from "../../src/providers/types.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** A request that goes on: its signal never aborts. */
const GOING_ON = new AbortController().signal;

/** A token endpoint the test answers by hand: every fetch waits until the test settles it. */
function heldEndpoint() {
  const fetches: PromiseWithResolvers<IssuedToken>[] = [];
  return {
    fetches,
    fetchToken: () => {
      const fetch = Promise.withResolvers<IssuedToken>();
      fetches.push(fetch);
      return fetch.promise;
    },
  };
}

/** A token endpoint that answers at once with `token-1`, `token-2`, ... living `expiresInMs`. */
function countingEndpoint(expiresInMs = HOUR) {
  const endpoint = {
    calls: 0,
    fetchToken: () => Promise.resolve({ accessToken: `token-${++endpoint.calls}`, expiresInMs }),
  };
  return endpoint;
}

/**
 * Lets the cache take the token `fetch` settles with: the cache awaited it first, so it has its token
 * before the test goes on.
 */
async function land(fetch: PromiseWithResolvers<IssuedToken>, token: IssuedToken): Promise<void> {
  fetch.resolve(token);
  await fetch.promise;
}

Deno.test("TokenCache serves the cached token, and from the refresh window fetches the next behind it", async () => {
  let now = 1_000_000;
  const endpoint = heldEndpoint();
  const cache = new TokenCache(endpoint.fetchToken, { now: () => now, refreshBeforeMs: 5 * MINUTE });

  const first = cache.token();
  await land(endpoint.fetches[0], { accessToken: "token-1", expiresInMs: HOUR });
  assert.equal(await first, "token-1");
  now += HOUR - 5 * MINUTE - 1;
  assert.equal(await cache.token(), "token-1");
  assert.equal(endpoint.fetches.length, 1);

  now += 1;
  assert.equal(await cache.token(), "token-1");
  assert.equal(await cache.token(), "token-1");
  assert.equal(endpoint.fetches.length, 2, "one refresh at a time");
  await land(endpoint.fetches[1], { accessToken: "token-2", expiresInMs: HOUR });
  assert.equal(await cache.token(), "token-2");
  assert.equal(endpoint.fetches.length, 2);
});

Deno.test("TokenCache fetches exactly once however many callers wait", async () => {
  let now = 0;
  const endpoint = heldEndpoint();
  const cache = new TokenCache(endpoint.fetchToken, { now: () => now });

  const first = Array.from({ length: 10 }, () => cache.token());
  assert.equal(endpoint.fetches.length, 1);
  endpoint.fetches[0].resolve({ accessToken: "first", expiresInMs: HOUR });
  assert.deepEqual(await Promise.all(first), Array(10).fill("first"));

  now = HOUR;
  const refreshed = Array.from({ length: 10 }, () => cache.token());
  assert.equal(endpoint.fetches.length, 2);
  endpoint.fetches[1].resolve({ accessToken: "second", expiresInMs: HOUR });
  assert.deepEqual(await Promise.all(refreshed), Array(10).fill("second"));
  assert.equal(endpoint.fetches.length, 2);
});

Deno.test("TokenCache counts a token's life from when it was asked for, not when it arrived", async () => {
  let now = 0;
  const endpoint = heldEndpoint();
  const cache = new TokenCache(endpoint.fetchToken, { now: () => now, refreshBeforeMs: 5 * MINUTE });

  const pending = cache.token();
  now = 10 * MINUTE;
  endpoint.fetches[0].resolve({ accessToken: "slow", expiresInMs: HOUR });
  assert.equal(await pending, "slow");

  now = HOUR - 5 * MINUTE - 1;
  assert.equal(await cache.token(), "slow");
  assert.equal(endpoint.fetches.length, 1);
  now += 1;
  assert.equal(await cache.token(), "slow");
  assert.equal(endpoint.fetches.length, 2);
  now = HOUR - 10_000;
  const expired = cache.token();
  endpoint.fetches[1].resolve({ accessToken: "next", expiresInMs: HOUR });
  assert.equal(await expired, "next");
});

Deno.test("TokenCache refreshes a short-lived token at half its life", async () => {
  let now = 0;
  const endpoint = countingEndpoint(2 * MINUTE);
  const cache = new TokenCache(endpoint.fetchToken, { now: () => now, refreshBeforeMs: 5 * MINUTE });

  assert.equal(await cache.token(), "token-1");
  now = MINUTE - 1;
  assert.equal(await cache.token(), "token-1");
  assert.equal(endpoint.calls, 1);
  now = MINUTE;
  assert.equal(await cache.token(), "token-1");
  assert.equal(endpoint.calls, 2);
});

Deno.test("TokenCache serves a valid token through a failing refresh, says so, and tries again 10 s later", async () => {
  let now = 0;
  const endpoint = heldEndpoint();
  const failed = Promise.withResolvers<unknown>();
  const cache = new TokenCache(endpoint.fetchToken, {
    now: () => now,
    refreshBeforeMs: 5 * MINUTE,
    onRefreshFailed: failed.resolve,
  });
  const first = cache.token();
  endpoint.fetches[0].resolve({ accessToken: "valid", expiresInMs: HOUR });
  assert.equal(await first, "valid");

  now = HOUR - 5 * MINUTE;
  assert.equal(await cache.token(), "valid");
  endpoint.fetches[1].reject(new Error("token endpoint answered 500"));
  assert.ok(await settlesWithin(failed.promise, 5_000), "the failed refresh is told");
  assert.match(String(await failed.promise), /token endpoint answered 500/);
  now += 9_999;
  assert.equal(await cache.token(), "valid");
  assert.equal(endpoint.fetches.length, 2, "no retry before 10 s");
  now += 1;
  assert.equal(await cache.token(), "valid");
  assert.equal(endpoint.fetches.length, 3);
  await land(endpoint.fetches[2], { accessToken: "renewed", expiresInMs: HOUR });
  assert.equal(await cache.token(), "renewed");
});

Deno.test("TokenCache makes callers wait for a refresh, and see its error, only within 10 s of expiry", async () => {
  let now = 0;
  const endpoint = heldEndpoint();
  const told: unknown[] = [];
  const cache = new TokenCache(endpoint.fetchToken, {
    now: () => now,
    refreshBeforeMs: 5 * MINUTE,
    onRefreshFailed: (error) => told.push(error),
  });
  const first = cache.token();
  endpoint.fetches[0].resolve({ accessToken: "old", expiresInMs: HOUR });
  assert.equal(await first, "old");

  now = HOUR - 10_001;
  assert.equal(await cache.token(), "old");
  assert.equal(endpoint.fetches.length, 2);
  now += 1;
  // The refresh under way is the one they wait for, and its error is theirs.
  const waiters = [cache.token(), cache.token()];
  assert.equal(endpoint.fetches.length, 2);
  const failure = new Error("token endpoint answered 500");
  endpoint.fetches[1].reject(failure);
  for (const waiter of waiters) await assert.rejects(waiter, (error) => error === failure);
  assert.deepEqual(told, [], "the refresh's failure was its waiters' error, not one behind requests");

  const retry = cache.token();
  assert.equal(endpoint.fetches.length, 3, "an expired token is fetched again at once");
  endpoint.fetches[2].resolve({ accessToken: "new", expiresInMs: HOUR });
  assert.equal(await retry, "new");
});

Deno.test("TokenCache: a caller whose signal aborts stops waiting; the fetch goes on for the others", async () => {
  const endpoint = heldEndpoint();
  const cache = new TokenCache(endpoint.fetchToken, { now: () => 0 });
  const leaving = new AbortController();
  const gone = cache.token(leaving.signal);
  const staying = cache.token(GOING_ON);
  assert.equal(endpoint.fetches.length, 1);

  const reason = new Error("client left");
  leaving.abort(reason);
  await assert.rejects(gone, (error) => error === reason);
  await assert.rejects(cache.token(leaving.signal), (error) => error === reason);
  assert.equal(endpoint.fetches.length, 1);
  endpoint.fetches[0].resolve({ accessToken: "shared", expiresInMs: HOUR });
  assert.equal(await staying, "shared");
});

Deno.test("TokenCache rejects every waiter of a failed fetch and tries again on the next call", async () => {
  const endpoint = heldEndpoint();
  const cache = new TokenCache(endpoint.fetchToken, { now: () => 0 });

  const waiters = Array.from({ length: 3 }, () => cache.token());
  const failure = new Error("token endpoint refused");
  endpoint.fetches[0].reject(failure);
  for (const waiter of waiters) await assert.rejects(waiter, (error) => error === failure);
  assert.equal(endpoint.fetches.length, 1);

  const retry = cache.token();
  assert.equal(endpoint.fetches.length, 2);
  endpoint.fetches[1].resolve({ accessToken: "recovered", expiresInMs: HOUR });
  assert.equal(await retry, "recovered");
});

Deno.test("TokenCache.invalidate drops the token it handed out, and the next call fetches another", async () => {
  const endpoint = countingEndpoint(HOUR);
  const cache = new TokenCache(endpoint.fetchToken, { now: () => 0 });

  assert.equal(await cache.token(), "token-1");
  cache.invalidate("token-1");
  assert.equal(await cache.token(), "token-2");
  assert.equal(await cache.token(), "token-2");
  assert.equal(endpoint.calls, 2);
});

Deno.test("TokenCache.invalidate of a token already replaced keeps the newer one", async () => {
  const endpoint = countingEndpoint(HOUR);
  const cache = new TokenCache(endpoint.fetchToken, { now: () => 0 });

  assert.equal(await cache.token(), "token-1");
  cache.invalidate("token-1");
  assert.equal(await cache.token(), "token-2");
  // A request refused with token-1 before the refresh reports it only now.
  cache.invalidate("token-1");
  assert.equal(await cache.token(), "token-2");
  assert.equal(endpoint.calls, 2);
});

Deno.test("TokenCache: requests refused together with the same token cause one refresh", async () => {
  const endpoint = heldEndpoint();
  const cache = new TokenCache(endpoint.fetchToken, { now: () => 0 });
  const first = cache.token();
  endpoint.fetches[0].resolve({ accessToken: "revoked", expiresInMs: HOUR });
  assert.equal(await first, "revoked");

  // Each refused request invalidates, then asks again, while the refresh is still in flight.
  const retries = Array.from({ length: 3 }, () => {
    cache.invalidate("revoked");
    return cache.token();
  });
  assert.equal(endpoint.fetches.length, 2);
  endpoint.fetches[1].resolve({ accessToken: "fresh", expiresInMs: HOUR });
  assert.deepEqual(await Promise.all(retries), ["fresh", "fresh", "fresh"]);
  assert.equal(endpoint.fetches.length, 2);
});

/** An upstream that refuses the bearer tokens in `refused` with 401 and records each body it answered. */
function bearerUpstream(refused: (token: string) => boolean) {
  const sent: string[] = [];
  const cancelled: string[] = [];
  const send = (token: string) => {
    sent.push(token);
    const body = new ReadableStream({ cancel: () => void cancelled.push(token) });
    return Promise.resolve(new Response(body, { status: refused(token) ? 401 : 200 }));
  };
  return { sent, cancelled, send };
}

Deno.test("sendWithToken sends once more with a fresh token when the upstream answers 401", async () => {
  const endpoint = countingEndpoint(HOUR);
  const cache = new TokenCache(endpoint.fetchToken, { now: () => 0 });
  const upstream = bearerUpstream((token) => token === "token-1");

  const response = await sendWithToken(cache, "Test auth", { signal: GOING_ON }, upstream.send);
  assert.equal(response.status, 200);
  assert.deepEqual(upstream.sent, ["token-1", "token-2"]);
  assert.deepEqual(upstream.cancelled, ["token-1"]);
  assert.equal(endpoint.calls, 2);

  assert.equal((await sendWithToken(cache, "Test auth", { signal: GOING_ON }, upstream.send)).status, 200);
  assert.deepEqual(upstream.sent, ["token-1", "token-2", "token-2"]);
  assert.equal(endpoint.calls, 2);
  await response.body!.cancel();
});

Deno.test("sendWithToken returns a second 401, with a fresh token, as the answer", async () => {
  const endpoint = countingEndpoint(HOUR);
  const cache = new TokenCache(endpoint.fetchToken, { now: () => 0 });
  const upstream = bearerUpstream(() => true);

  const response = await sendWithToken(cache, "Test auth", { signal: GOING_ON }, upstream.send);
  assert.equal(response.status, 401);
  assert.deepEqual(upstream.sent, ["token-1", "token-2"]);
  assert.deepEqual(upstream.cancelled, ["token-1"]);
  assert.equal(endpoint.calls, 2);
  await response.body!.cancel();
});

Deno.test("sendWithToken tells the request each token before it is sent, so relay can mask it", async () => {
  const endpoint = countingEndpoint(HOUR);
  const cache = new TokenCache(endpoint.fetchToken, { now: () => 0 });
  const told: string[] = [];
  const upstream = bearerUpstream((token) => {
    assert.deepEqual(told.at(-1), token, "told before it went upstream");
    return token === "token-1";
  });

  const request = { signal: GOING_ON, onSecret: (token: string) => void told.push(token) };
  const response = await sendWithToken(cache, "Test auth", request, upstream.send);
  assert.equal(response.status, 200);
  assert.deepEqual(told, ["token-1", "token-2"]);
  await response.body!.cancel();
});

Deno.test("sendWithToken names the credential when no token can be had, and sends nothing", async () => {
  const cache = new TokenCache(() => Promise.reject(new Error("token endpoint refused")));
  const upstream = bearerUpstream(() => false);
  await assert.rejects(sendWithToken(cache, "Test auth", { signal: GOING_ON }, upstream.send), {
    message: "Test auth failed: token endpoint refused",
  });
  assert.deepEqual(upstream.sent, []);
});

Deno.test("sendWithToken stops waiting for a token once the request's signal aborts, with its reason, and says it waited", async () => {
  const endpoint = heldEndpoint();
  const cache = new TokenCache(endpoint.fetchToken, { now: () => 0 });
  const upstream = bearerUpstream(() => false);
  const request = new AbortController();
  const waits: boolean[] = [];

  const sending = sendWithToken(
    cache,
    "Test auth",
    { signal: request.signal, onCredential: (waiting) => waits.push(waiting) },
    upstream.send,
  );
  assert.deepEqual(waits, [true], "waiting for its token");
  const reason = new Error("deadline passed");
  request.abort(reason);
  await assert.rejects(sending, (error) => error === reason);
  assert.deepEqual(waits, [true, false]);
  assert.deepEqual(upstream.sent, []);
  endpoint.fetches[0].resolve({ accessToken: "late", expiresInMs: HOUR });
});

/** A fetch that records what it was asked and answers with `response`. */
function recordingFetch(response: () => Response) {
  const seen: Request[] = [];
  const doFetch: typeof fetch = (input, init) => {
    seen.push(new Request(input, init));
    return Promise.resolve(response());
  };
  return { seen, fetch: doFetch };
}

const FORM = { grant_type: "client_credentials", client_secret: "s3cret-value" };

Deno.test("requestAccessToken posts the form and reads access_token and expires_in", async () => {
  const endpoint = recordingFetch(() => Response.json({ access_token: "at-1", expires_in: 3599 }));
  const token = await requestAccessToken("https://login.example/token", FORM, { fetch: endpoint.fetch });

  assert.deepEqual(token, { accessToken: "at-1", expiresInMs: 3_599_000 });
  const [request] = endpoint.seen;
  assert.equal(request.method, "POST");
  assert.equal(request.url, "https://login.example/token");
  assert.equal(request.headers.get("content-type"), "application/x-www-form-urlencoded");
  assert.equal(await request.text(), "grant_type=client_credentials&client_secret=s3cret-value");
});

Deno.test("requestAccessToken accepts expires_in as a numeric string, as older Entra endpoints send it", async () => {
  const endpoint = recordingFetch(() => Response.json({ access_token: "at-2", expires_in: "3600" }));
  const token = await requestAccessToken("https://login.example/token", FORM, { fetch: endpoint.fetch });
  assert.deepEqual(token, { accessToken: "at-2", expiresInMs: 3_600_000 });
});

Deno.test("requestAccessToken errors name the endpoint and the OAuth error, never the form", async () => {
  const cases: [Response, string][] = [
    [
      Response.json({ error: "invalid_client", error_description: "AADSTS7000215: Invalid client secret" }, {
        status: 401,
      }),
      "token endpoint https://login.example/token answered 401: invalid_client: AADSTS7000215: Invalid client secret",
    ],
    [Response.json({ error: "invalid_grant" }, { status: 400 }), "answered 400: invalid_grant"],
    [
      new Response("<html>\n  Bad   Gateway</html>", { status: 502 }),
      "answered 502: <html> Bad Gateway</html>",
    ],
    [new Response("x".repeat(300), { status: 500 }), `answered 500: ${"x".repeat(200)}...`],
    [new Response("", { status: 503 }), "answered 503: (empty body)"],
    [Response.json({ token_type: "Bearer" }), "answered 200 without access_token and expires_in"],
    [
      Response.json({ access_token: "at", expires_in: 0 }),
      "answered 200 without access_token and expires_in",
    ],
  ];
  for (const [response, expected] of cases) {
    const endpoint = recordingFetch(() => response);
    await assert.rejects(
      requestAccessToken("https://login.example/token", FORM, { fetch: endpoint.fetch }),
      (error: Error) => error.message.includes(expected) && !error.message.includes("s3cret-value"),
      expected,
    );
  }
});

Deno.test("requestAccessToken masks the credential, and anything key-shaped, an endpoint quotes back", async () => {
  const secret = "abc8Q~super-secret-client-value-123";
  const assertion = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJzYUBwLmlhbSJ9.c2lnbmF0dXJlLWJ5dGVz";
  const form = { grant_type: "client_credentials", client_id: "app-id-1", client_secret: secret, assertion };
  const echoed = new URLSearchParams(form).toString();
  const cases: [Response, string][] = [
    [
      new Response(`<html>Bad request: ${echoed}</html>`, { status: 400 }),
      "client_secret=abc...-123&assertion=eyJ...dGVz",
    ],
    [new Response(`${"x".repeat(190)} ${secret}`, { status: 403 }), " abc...-12..."],
    [
      Response.json({ error: "invalid_grant", error_description: `bad assertion ${assertion}` }, {
        status: 400,
      }),
      "invalid_grant: bad assertion eyJ...dGVz",
    ],
    [
      new Response(`upstream said\n key sk-ant-api03-AbCdEfGhIjKl0123x7f2`, { status: 502 }),
      "key sk-ant-...x7f2",
    ],
  ];
  for (const [response, expected] of cases) {
    const endpoint = recordingFetch(() => response);
    const error: Error = await requestAccessToken("https://login.example/token", form, {
      fetch: endpoint.fetch,
    })
      .then(() => assert.fail("resolved"), (error) => error);
    assert.ok(error.message.includes(expected), error.message);
    for (const leak of [encodeURIComponent(secret), secret.slice(0, 9), "super", assertion, "AbCdEfGhIjKl"]) {
      assert.ok(!error.message.includes(leak), error.message);
    }
  }
});

Deno.test("requestAccessToken reports an endpoint it cannot reach", async () => {
  const refused: typeof fetch = () => Promise.reject(new TypeError("connection refused"));
  await assert.rejects(
    requestAccessToken("https://login.example/token", FORM, { fetch: refused }),
    { message: "token endpoint https://login.example/token failed: connection refused" },
  );
});

Deno.test("requestAccessToken gives up on an endpoint that never answers", async () => {
  const silent: typeof fetch = (_input, init) =>
    new Promise((_resolve, reject) =>
      init!.signal!.addEventListener("abort", () => reject(init!.signal!.reason))
    );
  await assert.rejects(
    requestAccessToken("https://login.example/token", FORM, { fetch: silent, timeoutMs: 1 }),
    { message: "token endpoint https://login.example/token failed: no answer within 1 ms" },
  );
});

Deno.test("requestAccessToken refuses a redirect, so the credential never reaches where it points", async () => {
  const elsewhere = startFakeUpstream(() => Response.json({ access_token: "stolen", expires_in: 3600 }));
  const endpoint = startFakeUpstream(() =>
    new Response(null, {
      status: 307,
      headers: { location: `${elsewhere.url}/token?key=sk-ant-api03-AbCdEfGhIjKl0123x7f2` },
    })
  );
  try {
    const error: Error = await requestAccessToken(`${endpoint.url}/token`, FORM)
      .then(() => assert.fail("resolved"), (error) => error);
    assert.ok(
      error.message.startsWith(
        `token endpoint ${endpoint.url}/token redirected (307) to ${elsewhere.url}/token?`,
      ),
      error.message,
    );
    assert.ok(!error.message.includes("AbCdEfGhIjKl"), error.message);
    assert.equal(endpoint.requests.length, 1);
    assert.deepEqual(elsewhere.requests, []);
  } finally {
    await Promise.all([endpoint.close(), elsewhere.close()]);
  }
});

/** What a credential failure says of retrying: `permanent`, `passing`, or `no CredentialError`. */
function verdict(error: unknown): string {
  if (!(error instanceof CredentialError)) return "no CredentialError";
  return error.permanent ? "permanent" : "passing";
}

Deno.test("requestAccessToken throws a refused credential as permanent, the endpoint's own trouble as passing", async () => {
  const refusal = (status: number, error: string) => () =>
    Response.json({ error, error_description: "as the endpoint says" }, { status });
  const cases: [string, () => Response, string][] = [
    ["Google's broken key", refusal(400, "invalid_grant"), "permanent"],
    ["Entra's wrong secret", refusal(401, "invalid_client"), "permanent"],
    ["Entra's app not in the tenant", refusal(400, "unauthorized_client"), "permanent"],
    ["a proxy's refusal", () => new Response("<html>Forbidden</html>", { status: 403 }), "permanent"],
    [
      "a redirect",
      () => new Response(null, { status: 302, headers: { location: "https://x/" } }),
      "permanent",
    ],
    ["an endpoint that asks for a pause", refusal(400, "temporarily_unavailable"), "passing"],
    ["a throttle", refusal(429, "too_many_requests"), "passing"],
    ["a request timeout", () => new Response("", { status: 408 }), "passing"],
    ["an endpoint that fails", () => new Response("oops", { status: 500 }), "passing"],
    ["an endpoint that is down", () => new Response("", { status: 503 }), "passing"],
  ];
  for (const [what, answer, expected] of cases) {
    const endpoint = recordingFetch(answer);
    const error = await requestAccessToken("https://login.example/token", FORM, { fetch: endpoint.fetch })
      .then(() => assert.fail("resolved"), (error) => error);
    assert.equal(verdict(error), expected, what);
  }
  // An endpoint not reached said nothing of the credential: a plain error, which `sendWithToken` makes
  // a passing CredentialError.
  const refused: typeof fetch = () => Promise.reject(new TypeError("connection refused"));
  const unreachable = await requestAccessToken("https://login.example/token", FORM, { fetch: refused })
    .then(() => assert.fail("resolved"), (error) => error);
  assert.equal(verdict(unreachable), "no CredentialError");
  assert.equal(unreachable.message, "token endpoint https://login.example/token failed: connection refused");
});

Deno.test("sendWithToken throws a CredentialError, permanent only when what the token source threw was", async () => {
  const cases: [Error, string][] = [
    [new CredentialError("token endpoint answered 400: invalid_grant", true), "permanent"],
    [new CredentialError("token endpoint answered 503: (empty body)", false), "passing"],
    [new Error("token endpoint failed: connection refused"), "passing"],
  ];
  for (const [thrown, expected] of cases) {
    const cache = new TokenCache(() => Promise.reject(thrown));
    const error = await sendWithToken(cache, "Test auth", { signal: GOING_ON }, () => assert.fail("sent"))
      .then(() => assert.fail("resolved"), (error) => error);
    assert.equal(error.message, `Test auth failed: ${thrown.message}`);
    assert.equal(verdict(error), expected, thrown.message);
  }
});

Deno.test("fetchCredentialEndpoint follows no redirect, and names the endpoint and the wait it gave up after", async () => {
  const seen: RequestInit[] = [];
  const redirect: typeof fetch = (_input, init) => {
    seen.push(init!);
    return Promise.resolve(
      new Response("moved", { status: 302, headers: { location: "https://elsewhere.example/" } }),
    );
  };
  const { response, text } = await fetchCredentialEndpoint("portal", "https://sso.example/x?q=1", {
    method: "GET",
  }, {
    fetch: redirect,
  });
  assert.deepEqual([response.status, text, seen[0].redirect, seen[0].method], [
    302,
    "moved",
    "manual",
    "GET",
  ]);
  assert.ok(seen[0].signal instanceof AbortSignal);

  const timedOut: typeof fetch = () => Promise.reject(new DOMException("signal timed out", "TimeoutError"));
  for (const [timeoutMs, waited] of [[30_000, "30 s"], [1, "1 ms"], [1_500, "1500 ms"]] as const) {
    await assert.rejects(
      fetchCredentialEndpoint("portal", "https://sso.example/x", {}, { fetch: timedOut, timeoutMs }),
      { message: `portal failed: no answer within ${waited}` },
    );
  }
  await assert.rejects(
    fetchCredentialEndpoint("portal", "https://sso.example/x", {}, { fetch: timedOut }),
    { message: "portal failed: no answer within 30 s" },
    "30 s unless told",
  );
});
