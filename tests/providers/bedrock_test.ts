import assert from "node:assert/strict";
import type { AwsCredentials } from "../../src/providers/aws_credentials.ts";
import { FIRST_PARTY_ONLY_BETAS } from "../../src/providers/anthropic_betas.ts";
import { createBedrockProvider } from "../../src/providers/bedrock.ts";
import { refusesBetas } from "../../src/providers/bedrock_errors.ts";
import { type ProviderRequest, UnservableError } from "../../src/providers/types.ts";
import { BrokenAnswerError, RelayError } from "../../src/server/errors.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";
import { controlledStream } from "../_helpers/fake_upstream.ts";
import {
  bedrockError,
  chunkFrame,
  eventStreamResponse,
  exceptionFrame,
  goldenFrames,
  sigV4Authorization,
} from "../_helpers/fake_bedrock.ts";
import { loadGolden } from "../_helpers/golden.ts";
import { settledYet } from "../_helpers/settled_yet.ts";
import { startTestRelay } from "../_helpers/relay.ts";

const CREDENTIALS: AwsCredentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const NOW = new Date("2025-11-20T10:11:12.345Z");
const AMZ_DATE = "20251120T101112Z";
const MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const ARN = "arn:aws:bedrock:us-east-2:123456789012:application-inference-profile/abc123";
const SIGNATURE =
  "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds4cPyNFBRc3+oQn1OTL3pb/IuZTxD5ja8ZLT6Ljo=";

/** The tail of a client body with odd spacing and a thinking signature, so any re-serialisation shows. */
const BODY_TAIL =
  `\n "thinking":{"type":"enabled","budget_tokens":512},"messages":[{"role":"user","content":"27*453?"},` +
  `{"role":"assistant","content":[{"type":"thinking","thinking":"27 * 453 = 12231","signature":"${SIGNATURE}"}]},` +
  `{"role":"user","content":"caf\\u00e9 again"}]}`;
const CLIENT_BODY = `{"model":"${MODEL}", "max_tokens":1024,"stream":true,${BODY_TAIL}`;

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();

function request(
  overrides: Partial<Omit<ProviderRequest, "body">> & { body?: string } = {},
): ProviderRequest {
  const { body = CLIENT_BODY, ...rest } = overrides;
  return {
    path: "/v1/messages",
    search: "?beta=true",
    method: "POST",
    headers: new Headers({
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "interleaved-thinking-2025-05-14, claude-code-20250219",
      "content-type": "application/json",
      "user-agent": "claude-cli/2.1.0 (external, cli)",
      "x-stainless-os": "Linux",
    }),
    body: _encoder.encode(body),
    model: "claude-sonnet-4-5",
    json: JSON.parse(body),
    upstreamModel: MODEL,
    stream: true,
    signal: new AbortController().signal,
    ...rest,
  };
}

/** A Bedrock provider whose fetch records the request and answers `answer`. */
function provider(
  answer: () => Response = () => eventStreamResponse([chunkFrame('{"type":"message_stop"}')]),
  options: { credentials?: AwsCredentials | "api_key"; baseUrl?: string; region?: string } = {},
) {
  const sent: Request[] = [];
  const bedrock = createBedrockProvider({
    name: "bedrock",
    region: options.region ?? "us-east-1",
    baseUrl: options.baseUrl,
    credentials: options.credentials ?? CREDENTIALS,
    now: () => NOW,
    fetch: (input, init) => {
      sent.push(new Request(input, init));
      return Promise.resolve(answer());
    },
  });
  return { bedrock, sent };
}

/** The Authorization an independent SigV4 gives for what was sent. */
async function expectedAuthorization(sent: Request, credentials = CREDENTIALS, region = "us-east-1") {
  const url = new URL(sent.url);
  const headers = new Headers(sent.headers);
  headers.set("host", url.host);
  const signedHeaders = [
    "accept",
    "host",
    "x-amz-date",
    ...(credentials.sessionToken ? ["x-amz-security-token"] : []),
  ];
  return await sigV4Authorization({
    method: "POST",
    path: url.pathname,
    headers,
    signedHeaders,
    body: new Uint8Array(await sent.clone().arrayBuffer()),
    ...credentials,
    region,
    service: "bedrock",
    amzDate: AMZ_DATE,
  });
}

const json = async (response: Response) => JSON.parse(await response.text());

Deno.test("the independent SigV4 in these tests matches AWS's published get-vanilla vector", async () => {
  const authorization = await sigV4Authorization({
    method: "GET",
    path: "/",
    headers: new Headers({ host: "example.amazonaws.com", "x-amz-date": "20150830T123600Z" }),
    signedHeaders: ["host", "x-amz-date"],
    body: new Uint8Array(),
    ...CREDENTIALS,
    region: "us-east-1",
    service: "service",
    amzDate: "20150830T123600Z",
  });
  assert.equal(
    authorization,
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " +
      "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  );
});

Deno.test("a streamed request becomes a signed InvokeModelWithResponseStream with the body rewritten", async () => {
  const { bedrock, sent } = provider();
  await bedrock.send(request(), undefined);
  assert.equal(sent.length, 1);
  const [upstream] = sent;
  assert.equal(upstream.method, "POST");
  assert.equal(
    upstream.url,
    `https://bedrock-runtime.us-east-1.amazonaws.com/model/${MODEL}/invoke-with-response-stream`,
  );
  assert.deepEqual(Object.fromEntries(upstream.headers), {
    accept: "application/json",
    authorization: await expectedAuthorization(upstream),
    "content-type": "application/json",
    "x-amz-date": AMZ_DATE,
  });
  assert.match(
    upstream.headers.get("authorization")!,
    /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20251120\/us-east-1\/bedrock\/aws4_request, SignedHeaders=accept;host;x-amz-date, Signature=[0-9a-f]{64}$/,
  );
  assert.equal(
    await upstream.clone().text(),
    '{"anthropic_version":"bedrock-2023-05-31",' +
      `"anthropic_beta":["interleaved-thinking-2025-05-14","claude-code-20250219"],"max_tokens":1024,${BODY_TAIL}`,
  );
});

Deno.test("an unstreamed request goes to InvokeModel with the same body rules", async () => {
  const { bedrock, sent } = provider(() => Response.json({}));
  const body = `{"model":"x","max_tokens":5,"messages":[]}`;
  await bedrock.send(request({ stream: false, body, headers: new Headers() }), undefined);
  assert.equal(sent[0].url, `https://bedrock-runtime.us-east-1.amazonaws.com/model/${MODEL}/invoke`);
  assert.equal(
    await sent[0].clone().text(),
    '{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[]}',
  );
  assert.equal(sent[0].headers.get("authorization"), await expectedAuthorization(sent[0]));
});

Deno.test("an unsigned thinking block does not go to Bedrock, which checks signatures; the signed one does", async () => {
  const { bedrock, sent } = provider(() => Response.json({}));
  const unsigned = '{"type":"thinking","thinking":"Hm.","signature":""}';
  const body = CLIENT_BODY.replace('{"type":"thinking"', `${unsigned},{"type":"thinking"`);
  await bedrock.send(request({ stream: false, body }), undefined);
  const upstream = await sent[0].clone().text();
  assert.ok(!upstream.includes(unsigned) && upstream.includes(`"signature":"${SIGNATURE}"`), upstream);
  assert.ok(upstream.startsWith('{"anthropic_version":"bedrock-2023-05-31",'));
  assert.equal(sent[0].headers.get("authorization"), await expectedAuthorization(sent[0]));
});

Deno.test("an ARN keeps its colons and sends its slash as %2F, which the signature encodes again", async () => {
  const { bedrock, sent } = provider(() => Response.json({}), { region: "us-east-2" });
  await bedrock.send(request({ stream: false, upstreamModel: ARN }), undefined);
  const url = "https://bedrock-runtime.us-east-2.amazonaws.com/model/" +
    "arn:aws:bedrock:us-east-2:123456789012:application-inference-profile%2Fabc123/invoke";
  assert.equal(sent[0].url, url);
  assert.equal(
    sent[0].headers.get("authorization"),
    await expectedAuthorization(sent[0], CREDENTIALS, "us-east-2"),
  );
});

Deno.test("the signature changes when the canonical path is encoded only once, so the test can fail", async () => {
  const { bedrock, sent } = provider(() => Response.json({}));
  await bedrock.send(request({ stream: false, upstreamModel: ARN }), undefined);
  const url = new URL(sent[0].url);
  const once = await sigV4Authorization({
    method: "POST",
    path: decodeURIComponent(url.pathname),
    headers: new Headers([...sent[0].headers, ["host", url.host]]),
    signedHeaders: ["accept", "host", "x-amz-date"],
    body: new Uint8Array(await sent[0].clone().arrayBuffer()),
    ...CREDENTIALS,
    region: "us-east-1",
    service: "bedrock",
    amzDate: AMZ_DATE,
  });
  assert.notEqual(sent[0].headers.get("authorization"), once);
  assert.equal(sent[0].headers.get("authorization"), await expectedAuthorization(sent[0]));
});

Deno.test("temporary credentials send and sign x-amz-security-token", async () => {
  const credentials = { ...CREDENTIALS, sessionToken: "FwoGZXIvYXdzEJr//////////token" };
  const { bedrock, sent } = provider(undefined, { credentials });
  await bedrock.send(request(), undefined);
  assert.equal(sent[0].headers.get("x-amz-security-token"), credentials.sessionToken);
  assert.match(
    sent[0].headers.get("authorization")!,
    /SignedHeaders=accept;host;x-amz-date;x-amz-security-token,/,
  );
  assert.equal(sent[0].headers.get("authorization"), await expectedAuthorization(sent[0], credentials));
});

Deno.test("api_key mode sends the provider key as a bearer token and does not sign", async () => {
  const { bedrock, sent } = provider(undefined, { credentials: "api_key", baseUrl: "https://vpce.example/" });
  await bedrock.send(request(), { secret: "ABSKQmVkcm9ja0FQSUtleS1example", label: "ABSK...mple" });
  assert.equal(sent[0].url, `https://vpce.example/model/${MODEL}/invoke-with-response-stream`);
  assert.deepEqual(Object.fromEntries(sent[0].headers), {
    accept: "application/json",
    authorization: "Bearer ABSKQmVkcm9ja0FQSUtleS1example",
    "content-type": "application/json",
  });
  await assert.rejects(bedrock.send(request(), undefined), /uses api_key credentials but has no key/);
});

Deno.test("betas Bedrock rejects are dropped; without betas left there is no anthropic_beta", async () => {
  assert.ok(FIRST_PARTY_ONLY_BETAS.has("oauth-2025-04-20"));
  assert.ok(!FIRST_PARTY_ONLY_BETAS.has("claude-code-20250219"));
  const cases: [string | undefined, string][] = [
    [
      "claude-code-20250219, oauth-2025-04-20,interleaved-thinking-2025-05-14 ,files-api-2025-04-14,",
      '{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["claude-code-20250219",' +
      '"interleaved-thinking-2025-05-14"],"max_tokens":5}',
    ],
    ["oauth-2025-04-20, mcp-client-2025-11-20", '{"anthropic_version":"bedrock-2023-05-31","max_tokens":5}'],
    [undefined, '{"anthropic_version":"bedrock-2023-05-31","max_tokens":5}'],
  ];
  for (const [beta, expected] of cases) {
    const { bedrock, sent } = provider(() => Response.json({}));
    const headers = new Headers(beta === undefined ? {} : { "anthropic-beta": beta });
    await bedrock.send(request({ headers, stream: false, body: '{"model":"m","max_tokens":5}' }), undefined);
    assert.equal(await sent[0].clone().text(), expected, beta);
  }
});

Deno.test("the body's own anthropic_beta is kept with the header's betas, each once, filtered alike", async () => {
  const cases: [string, string][] = [
    [
      '{"anthropic_beta":["context-1m-2025-08-07","oauth-2025-04-20","claude-code-20250219"],"max_tokens":5}',
      '{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["context-1m-2025-08-07",' +
      '"claude-code-20250219","interleaved-thinking-2025-05-14"],"max_tokens":5}',
    ],
    [
      '{"max_tokens":5,"anthropic_beta":["oauth-2025-04-20"]}',
      '{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,' +
      '"anthropic_beta":["claude-code-20250219","interleaved-thinking-2025-05-14"]}',
    ],
  ];
  for (const [body, expected] of cases) {
    const { bedrock, sent } = provider(() => Response.json({}));
    const headers = new Headers({ "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14" });
    await bedrock.send(request({ headers, stream: false, body }), undefined);
    assert.equal(await sent[0].clone().text(), expected, body);
  }
  const { bedrock, sent } = provider(() => Response.json({}));
  const body = '{"anthropic_beta":["oauth-2025-04-20"],"max_tokens":5}';
  await bedrock.send(request({ headers: new Headers(), stream: false, body }), undefined);
  assert.equal(await sent[0].clone().text(), '{"anthropic_version":"bedrock-2023-05-31","max_tokens":5}');
});

Deno.test("count_tokens wraps the InvokeModel body in CountTokens and answers input_tokens", async () => {
  const { bedrock, sent } = provider(() =>
    Response.json({ inputTokens: 1234 }, { headers: { "x-amzn-requestid": "req-count" } })
  );
  const body = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`;
  const response = await bedrock.send(
    request({ path: "/v1/messages/count_tokens", stream: false, body, headers: new Headers() }),
    undefined,
  );
  assert.equal(sent[0].url, `https://bedrock-runtime.us-east-1.amazonaws.com/model/${MODEL}/count-tokens`);
  const inner =
    '{"anthropic_version":"bedrock-2023-05-31","max_tokens":1024,"messages":[{"role":"user","content":"hi"}]}';
  assert.equal(
    await sent[0].clone().text(),
    `{"input":{"invokeModel":{"body":"${_encoder.encode(inner).toBase64()}"}}}`,
  );
  assert.equal(sent[0].headers.get("authorization"), await expectedAuthorization(sent[0]));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(response.headers.get("request-id"), "req-count");
  assert.equal(await response.text(), '{"input_tokens":1234}');
});

Deno.test("count_tokens keeps the client's max_tokens, and gives more than a thinking budget when it has none", async () => {
  const thinking = (budget: number) => `"thinking":{"type":"enabled","budget_tokens":${budget}}`;
  const cases: [string, string][] = [
    [
      `{"model":"m","max_tokens": 7 ,"messages":[]}`,
      `{"anthropic_version":"bedrock-2023-05-31","max_tokens": 7 ,"messages":[]}`,
    ],
    [
      `{"model":"m",${thinking(2048)},"messages":[]}`,
      `{"anthropic_version":"bedrock-2023-05-31","max_tokens":2049,${thinking(2048)},"messages":[]}`,
    ],
    [
      `{"model":"m",${thinking(1024)},"messages":[]}`,
      `{"anthropic_version":"bedrock-2023-05-31","max_tokens":1025,${thinking(1024)},"messages":[]}`,
    ],
    [
      `{"model":"m","thinking":{"type":"adaptive"},"messages":[]}`,
      `{"anthropic_version":"bedrock-2023-05-31","max_tokens":1024,"thinking":{"type":"adaptive"},"messages":[]}`,
    ],
  ];
  for (const [body, inner] of cases) {
    const { bedrock, sent } = provider(() => Response.json({ inputTokens: 3 }));
    await bedrock.send(
      request({ path: "/v1/messages/count_tokens", stream: false, body, headers: new Headers() }),
      undefined,
    );
    const wrapper = JSON.parse(await sent[0].clone().text());
    assert.equal(_decoder.decode(Uint8Array.fromBase64(wrapper.input.invokeModel.body)), inner, body);
  }
  const { bedrock, sent } = provider(() => Response.json({}));
  await bedrock.send(request({ stream: false, body: '{"model":"m","messages":[]}' }), undefined);
  assert.equal(
    await sent[0].clone().text(),
    '{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":' +
      '["interleaved-thinking-2025-05-14","claude-code-20250219"],"messages":[]}',
    "an invocation gets none",
  );
});

Deno.test("a model Bedrock cannot count tokens for is unservable, a 404 for the next provider, and not asked again", async () => {
  const tooLong = "prompt is too long: 250000 tokens > 200000 maximum";
  const refusal = "The provided model doesn't support counting tokens.";
  const answers = [
    bedrockError(400, "ValidationException", tooLong, { "x-amzn-requestid": "req-400" }),
    bedrockError(400, "ValidationException", refusal),
  ];
  const { bedrock, sent } = provider(() =>
    answers.shift() ?? bedrockError(400, "ValidationException", refusal)
  );
  const count = (upstreamModel = MODEL) =>
    request({ path: "/v1/messages/count_tokens", stream: false, headers: new Headers(), upstreamModel });

  // Any other 400 is Bedrock's error in Anthropic's envelope, as ever, and says nothing of the model.
  const response = await bedrock.send(count(), undefined);
  assert.equal(response.status, 400);
  assert.equal(response.headers.get("request-id"), "req-400");
  assert.deepEqual(await json(response), {
    type: "error",
    error: { type: "invalid_request_error", message: tooLong },
    request_id: "req-400",
  });

  for (let i = 0; i < 2; i++) {
    await assert.rejects(
      bedrock.send(count(), undefined),
      (error: unknown) =>
        error instanceof UnservableError && error.status === 404 &&
        error.message === `Bedrock provider bedrock cannot count tokens for model "${MODEL}": ${refusal}`,
    );
  }
  assert.equal(sent.length, 2, "the refusal is remembered: the next count is not sent");
  await assert.rejects(bedrock.send(count(ARN), undefined), UnservableError);
  assert.equal(sent.length, 3, "another model is asked");
  await (await bedrock.send(request(), undefined)).body?.cancel();
  assert.equal(sent.length, 4, "the model is still invoked");
});

/**
 * What a 200 relay cannot read fails with: relay's own 502 `api_error`, thrown as a broken connection
 * is, not an answer relay would log as Bedrock's 502.
 */
function unreadable(message: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof RelayError, String(error));
    assert.deepEqual([error.status, error.type], [502, "api_error"]);
    assert.match(error.message, message);
    return true;
  };
}

Deno.test("count_tokens without inputTokens in Bedrock's 200 is relay's 502", async () => {
  const { bedrock } = provider(() => Response.json({ tokens: 3 }));
  await assert.rejects(
    bedrock.send(request({ path: "/v1/messages/count_tokens", stream: false }), undefined),
    unreadable(/^upstream bedrock answered 200, but Bedrock's CountTokens answer has no inputTokens$/),
  );
});

Deno.test("model listing and unknown paths cannot be served: a 404 for the next provider, nothing sent", async () => {
  for (const [method, path] of [["GET", "/v1/models"], ["GET", "/v1/models/claude"], ["POST", "/v1/other"]]) {
    const { bedrock, sent } = provider();
    await assert.rejects(
      bedrock.send(request({ method, path, body: "{}" }), undefined),
      (error: unknown) => error instanceof UnservableError && error.status === 404,
    );
    assert.equal(sent.length, 0);
  }
});

Deno.test("a model id that URL parsing would resolve away is refused before anything is sent", async () => {
  for (const upstreamModel of ["..", ".", undefined]) {
    const { bedrock, sent } = provider();
    const response = await bedrock.send(request({ upstreamModel }), undefined);
    assert.equal(response.status, 400, String(upstreamModel));
    assert.equal((await json(response)).error.type, "invalid_request_error");
    assert.equal(sent.length, 0);
  }
});

Deno.test("an unstreamed 200 passes Bedrock's JSON bytes through with request-id", async () => {
  const message =
    '{"id":"msg_bdrk_01","type":"message","content":[{"type":"tool_use","id":"toolu_01A"}],"n":1.0}';
  const { bedrock } = provider(() =>
    new Response(message, {
      headers: {
        "content-type": "application/json",
        "x-amzn-requestid": "6e3f0b52-aaaa",
        "x-amzn-bedrock-input-token-count": "12",
      },
    })
  );
  const response = await bedrock.send(request({ stream: false }), undefined);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(response.headers.get("request-id"), "6e3f0b52-aaaa");
  assert.equal(response.headers.get("x-amzn-bedrock-input-token-count"), "12");
  assert.equal(await response.text(), message);
});

Deno.test("a streamed 200 becomes Anthropic SSE, byte for byte", async () => {
  const frames = await goldenFrames("thinking");
  const { bedrock } = provider(() => eventStreamResponse(frames, { "x-amzn-requestid": "req-stream" }));
  const response = await bedrock.send(request(), undefined);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  assert.equal(response.headers.get("cache-control"), "no-cache");
  assert.equal(response.headers.get("request-id"), "req-stream");
  assert.equal(response.headers.get("x-amzn-bedrock-content-type"), null);
  assert.equal(await response.text(), _decoder.decode(await loadGolden("thinking")));
});

const HTTP_ERRORS = [
  ["ValidationException", 400, "Input is too long for requested model.", 400, "invalid_request_error"],
  ["AccessDeniedException", 403, "You don't have access to the model.", 403, "permission_error"],
  ["ResourceNotFoundException", 404, "Model not found.", 404, "not_found_error"],
  [
    "ThrottlingException",
    429,
    "Too many requests, please wait before trying again.",
    429,
    "rate_limit_error",
  ],
  ["ServiceQuotaExceededException", 400, "Quota exceeded.", 429, "rate_limit_error"],
  ["ModelNotReadyException", 429, "Model is not ready.", 429, "rate_limit_error"],
  ["ModelTimeoutException", 408, "Model has timed out.", 408, "api_error"],
  ["InternalServerException", 500, "Internal error.", 500, "api_error"],
  ["ModelErrorException", 424, "The model errored.", 500, "api_error"],
  ["ServiceUnavailableException", 503, "Bedrock is unable to process your request.", 529, "overloaded_error"],
  [
    "InvalidSignatureException",
    403,
    "The request signature we calculated does not match",
    401,
    "authentication_error",
  ],
] as const;

Deno.test("Bedrock's HTTP errors become Anthropic error envelopes with the mapped status", async () => {
  for (const [errorType, bedrockStatus, message, status, type] of HTTP_ERRORS) {
    const { bedrock } = provider(() =>
      bedrockError(bedrockStatus, errorType, message, { "x-amzn-requestid": "req-err", "retry-after": "7" })
    );
    const response = await bedrock.send(request(), undefined);
    const expected = errorType === "ValidationException" ? `prompt is too long: ${message}` : message;
    assert.equal(response.status, status, errorType);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(response.headers.get("request-id"), "req-err");
    assert.equal(response.headers.get("retry-after"), "7");
    assert.equal(response.headers.get("x-amzn-errortype"), null);
    assert.deepEqual(await json(response), {
      type: "error",
      error: { type, message: expected },
      request_id: "req-err",
    }, errorType);
  }
});

Deno.test("an error without Bedrock's JSON keeps the body text", async () => {
  const { bedrock } = provider(() => new Response("<html>Bad Gateway</html>", { status: 502 }));
  const response = await bedrock.send(request(), undefined);
  assert.equal(response.status, 502);
  assert.deepEqual((await json(response)).error, { type: "api_error", message: "<html>Bad Gateway</html>" });
});

Deno.test("an error answer is returned at once, its body read only as the answer is read, a live chunk at a time", async (t) => {
  /** The answer `send` gives for a Bedrock error whose body the test feeds. */
  const answered = async (errorType: string, status: number) => {
    const upstream = controlledStream();
    const { bedrock } = provider(() =>
      upstream.response({
        status,
        headers: {
          "content-type": "application/json",
          "x-amzn-errortype": errorType,
          "x-amzn-requestid": "req-late",
        },
      })
    );
    // Read inside `send`, the body would fall under relay's wait for an answer (timeouts.first_byte). A
    // 400 to a request with betas it could go without is looked into for a refusal of one; this has none.
    const sent = bedrock.send(request({ headers: new Headers() }), undefined);
    const first = await Promise.race([
      sent.then(() => "answered"),
      upstream.whenRead().then(() => "body read"),
    ]);
    assert.equal(first, "answered");
    const response = await sent;
    return { upstream, response, reader: response.body!.getReader() };
  };

  await t.step(
    "the status comes from x-amzn-ErrorType; the message once the body ends",
    async () => {
      const { upstream, response, reader } = await answered("ServiceQuotaExceededException", 400);
      assert.equal(response.status, 429);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.equal(response.headers.get("request-id"), "req-late");
      upstream.push('{"message":"Too many tokens');
      assert.deepEqual(await reader.read(), { done: false, value: new Uint8Array() });
      upstream.push(' per day."}');
      upstream.end();
      const chunks: Uint8Array[] = [];
      for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
      assert.deepEqual(JSON.parse(_decoder.decode(concatBytes(chunks))), {
        type: "error",
        error: { type: "rate_limit_error", message: "Too many tokens per day." },
        request_id: "req-late",
      });
    },
  );
  await t.step("a body that fails fails the answer, which keeps its status", async () => {
    const { upstream, response, reader } = await answered("ValidationException", 400);
    assert.equal(response.status, 400);
    upstream.push('{"message":"bad');
    assert.deepEqual(await reader.read(), { done: false, value: new Uint8Array() });
    upstream.fail(new Error("connection reset"));
    await assert.rejects(reader.read(), /connection reset/);
  });
  await t.step("cancelling the answer cancels Bedrock's body", async () => {
    const { upstream, reader } = await answered("ThrottlingException", 429);
    await reader.cancel("retrying elsewhere");
    assert.equal(await upstream.cancelled, "retrying elsewhere");
  });
});

Deno.test("a redirect is handed back as Bedrock gave it, for relay to refuse", async () => {
  const redirect = new Response(null, { status: 307, headers: { location: "https://elsewhere.example/x" } });
  const { bedrock } = provider(() => redirect);
  assert.equal(await bedrock.send(request(), undefined), redirect);
});

Deno.test("a stream says when Bedrock's headers came, before its first frame resolves the answer", async () => {
  const frames = new TransformStream<Uint8Array, Uint8Array>();
  const headersIn = Promise.withResolvers<void>();
  const { bedrock } = provider(() =>
    new Response(frames.readable, { headers: { "content-type": "application/vnd.amazon.eventstream" } })
  );
  const answer = bedrock.send(request({ onHeaders: headersIn.resolve }), undefined);
  await headersIn.promise;
  const writer = frames.writable.getWriter();
  await writer.write(chunkFrame('{"type":"message_stop"}'));
  await writer.close();
  assert.equal(await (await answer).text(), 'event: message_stop\ndata: {"type":"message_stop"}\n\n');
});

Deno.test("a stream that opens with an exception becomes an HTTP error with the mapped status", async () => {
  const cases = [
    ["throttlingException", "Too many requests", 429, "rate_limit_error"],
    ["serviceUnavailableException", "Bedrock is unable to process your request.", 529, "overloaded_error"],
    ["validationException", "Input is too long for requested model.", 400, "invalid_request_error"],
    ["internalServerException", "Internal error", 500, "api_error"],
  ] as const;
  for (const [name, message, status, type] of cases) {
    const { bedrock } = provider(() =>
      eventStreamResponse([exceptionFrame(name, message)], {
        "x-amzn-requestid": "req-x",
        "retry-after": "3",
      })
    );
    const response = await bedrock.send(request(), undefined);
    assert.equal(response.status, status, name);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(response.headers.get("retry-after"), "3");
    const expected = name === "validationException" ? `prompt is too long: ${message}` : message;
    assert.deepEqual(await json(response), {
      type: "error",
      error: { type, message: expected },
      request_id: "req-x",
    });
  }
});

Deno.test("a stream that ends before any event is relay's 502, not an empty 200", async () => {
  const { bedrock } = provider(() => eventStreamResponse([]));
  await assert.rejects(
    bedrock.send(request(), undefined),
    unreadable(/^upstream bedrock answered 200, but Bedrock ended the stream before any event$/),
  );
});

Deno.test("a 200 to a stream that is not an event stream (a whole Message) is relay's 502, not passed on raw", async () => {
  const { bedrock } = provider(() => Response.json({ type: "message", content: [] }));
  await assert.rejects(
    bedrock.send(request(), undefined),
    unreadable(
      /^upstream bedrock answered 200, but its answer to a stream is not an event stream \(content-type application\/json\)$/,
    ),
  );
});

Deno.test("a stream whose first frame is corrupt is relay's 502, not Bedrock's error; later, an error event", async () => {
  const frame = chunkFrame('{"type":"message_stop"}');
  const badCrc = frame.slice();
  badCrc[9] ^= 0x01; // the prelude's CRC
  const garbage = _encoder.encode("<html>502 Bad Gateway</html>");
  for (const first of [badCrc, garbage]) {
    const { bedrock } = provider(() => eventStreamResponse([first]));
    await assert.rejects(
      bedrock.send(request(), undefined),
      unreadable(/^upstream bedrock answered 200, but Bedrock's event stream is broken: /),
    );
  }
  const { bedrock } = provider(() => eventStreamResponse([chunkFrame('{"type":"ping"}'), badCrc]));
  const response = await bedrock.send(request(), undefined);
  assert.equal(response.status, 200);
  assert.match(await response.text(), /event: error\ndata: .*"api_error".*event stream is broken/);
});

Deno.test("an exception after the first event stays in the stream as event: error", async () => {
  const { bedrock } = provider(() =>
    eventStreamResponse([chunkFrame('{"type":"ping"}'), exceptionFrame("throttlingException", "Slow down")])
  );
  const response = await bedrock.send(request(), undefined);
  assert.equal(response.status, 200);
  assert.equal(
    await response.text(),
    'event: ping\ndata: {"type":"ping"}\n\n' +
      'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}\n\n',
  );
});

Deno.test("an exception named like an object's own property is no known exception: its HTTP status stands", async () => {
  const { mapBedrockError } = await import("../../src/providers/bedrock_errors.ts");
  for (const name of ["constructor", "toString", "__proto__"]) {
    assert.deepEqual(mapBedrockError(name, "odd", 500), { status: 500, type: "api_error", message: "odd" });
  }
});

Deno.test("count_tokens reads a thinking budget without rewriting the client's thinking", async () => {
  const { bedrock, sent } = provider(() => Response.json({ inputTokens: 3 }));
  const thinking = `"thinking": { "type" : "enabled", "budget_tokens": 2048 }`;
  await bedrock.send(
    request({
      path: "/v1/messages/count_tokens",
      stream: false,
      body: `{"model":"m",${thinking},"messages":[]}`,
      headers: new Headers(),
    }),
    undefined,
  );
  const wrapper = JSON.parse(await sent[0].clone().text());
  assert.equal(
    _decoder.decode(Uint8Array.fromBase64(wrapper.input.invokeModel.body)),
    `{"anthropic_version":"bedrock-2023-05-31","max_tokens":2049,${thinking},"messages":[]}`,
  );
});

Deno.test("past 256 models Bedrock cannot count tokens for, the oldest is forgotten for the newest", async () => {
  const refusal = "The provided model doesn't support counting tokens.";
  const { bedrock, sent } = provider(() => bedrockError(400, "ValidationException", refusal));
  const count = (upstreamModel: string) =>
    bedrock.send(
      request({ path: "/v1/messages/count_tokens", stream: false, headers: new Headers(), upstreamModel }),
      undefined,
    );
  for (let model = 0; model <= 256; model++) await assert.rejects(count(`model-${model}`), UnservableError);
  assert.equal(sent.length, 257);
  await assert.rejects(count("model-256"), UnservableError);
  assert.equal(sent.length, 257, "the newest is remembered");
  await assert.rejects(count("model-1"), UnservableError);
  assert.equal(sent.length, 257, "and the others but the oldest");
  await assert.rejects(count("model-0"), UnservableError);
  assert.equal(sent.length, 258, "the oldest was forgotten, and is asked again");
});

Deno.test("a count's 400 that is no request error is answered at once, its body read as any error's", async () => {
  let pulled = false;
  const { bedrock } = provider(() =>
    new Response(
      new ReadableStream({
        pull(controller) {
          pulled = true;
          controller.enqueue(_encoder.encode('{"message":"Rate exceeded"}'));
          controller.close();
        },
      }, { highWaterMark: 0 }),
      { status: 400, headers: { "x-amzn-errortype": "ThrottlingException" } },
    )
  );
  const response = await bedrock.send(
    request({ path: "/v1/messages/count_tokens", stream: false, headers: new Headers() }),
    undefined,
  );
  assert.equal(
    pulled,
    false,
    "nothing of the body read in send, where only a refusal of counting is looked for",
  );
  assert.equal(response.status, 429);
  assert.deepEqual(await json(response), {
    type: "error",
    error: { type: "rate_limit_error", message: "Rate exceeded" },
  });
});

/** A Bedrock provider whose fetch answers in turn, recording each request and the signal it went with. */
function answering(
  answer: (sent: Request) => Response | Promise<Response>,
  onBetasRefused?: (model: string, betas: string[]) => void,
  timers?: FakeClock,
) {
  const sent: Request[] = [];
  const signals: (AbortSignal | null | undefined)[] = [];
  const bedrock = createBedrockProvider({
    name: "bedrock",
    region: "us-east-1",
    credentials: CREDENTIALS,
    now: () => NOW,
    fetch: (input, init) => {
      const request = new Request(input, init);
      sent.push(request);
      signals.push(init?.signal);
      return Promise.resolve(answer(request));
    },
    onBetasRefused,
    timers,
  });
  return { bedrock, sent, signals };
}

const INVALID_BETA = () => bedrockError(400, "ValidationException", "invalid beta flag");
const CLAUDE_CODE_BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14,redact-thinking-2026-02-12," +
  "oauth-2025-04-20,context-1m-2025-08-07";
const BETA_BODY = '{"model":"m", "max_tokens":5,"anthropic_beta":["token-efficient-tools-2026-03-28"],' +
  '"messages":[{"role":"user","content":"hi"}]}';
/** An unstreamed request with Claude Code's betas and one in its body. */
const ask = (init: Partial<Omit<ProviderRequest, "body">> = {}) =>
  request({
    headers: new Headers({ "anthropic-beta": CLAUDE_CODE_BETAS }),
    stream: false,
    body: BETA_BODY,
    ...init,
  });

Deno.test("a 400 refusing a beta flag is sent once more with only the context and interleaved-thinking betas, and the model goes so from then on", async () => {
  const refusals: [string, string[]][] = [];
  const answers = [INVALID_BETA(), Response.json({ id: "m1" })];
  const { bedrock, sent, signals } = answering(
    () => answers.shift() ?? Response.json({ id: "later" }),
    (model, betas) => void refusals.push([model, betas]),
  );
  let headersIn = 0;
  const first = ask({ onHeaders: () => headersIn++ });
  const response = await bedrock.send(first, undefined);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { id: "m1" });
  assert.equal(sent.length, 2);
  assert.equal(headersIn, 1, "told once, when the second round trip has answered");
  assert.equal(signals[1], first.signal, "under the request's own signal");
  assert.equal(
    await sent[1].clone().text(),
    '{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,' +
      '"anthropic_beta":["interleaved-thinking-2025-05-14","context-1m-2025-08-07"],' +
      '"messages":[{"role":"user","content":"hi"}]}',
    "the client's bytes, with no beta but the context window's and interleaved thinking",
  );
  assert.equal(sent[1].headers.get("authorization"), await expectedAuthorization(sent[1]), "signed anew");
  const dropped = ["token-efficient-tools-2026-03-28", "claude-code-20250219", "redact-thinking-2026-02-12"];
  assert.deepEqual(refusals, [[MODEL, dropped]]);

  const kept = ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"];
  assert.equal((await bedrock.send(ask(), undefined)).status, 200);
  assert.equal(sent.length, 3, "a model known to refuse betas costs no second round trip");
  assert.deepEqual(JSON.parse(await sent[2].clone().text()).anthropic_beta, kept);
  // The fake's answer counts nothing: only what was sent matters here.
  await bedrock.send(ask({ path: "/v1/messages/count_tokens" }), undefined).catch(() => {});
  assert.equal(sent.length, 4);
  const counted = JSON.parse(await sent[3].clone().text()).input.invokeModel.body;
  assert.deepEqual(JSON.parse(_decoder.decode(Uint8Array.fromBase64(counted))).anthropic_beta, kept);
  assert.equal(refusals.length, 1, "told once");

  await bedrock.send(ask({ upstreamModel: ARN }), undefined);
  assert.deepEqual(
    JSON.parse(await sent[4].clone().text()).anthropic_beta,
    [
      "token-efficient-tools-2026-03-28",
      "claude-code-20250219",
      "interleaved-thinking-2025-05-14",
      "redact-thinking-2026-02-12",
      "context-1m-2025-08-07",
    ],
    "another model's are sent",
  );
});

Deno.test("a model that refuses interleaved thinking too goes with the context beta alone, and is remembered so", async () => {
  const refusals: string[][] = [];
  const { bedrock, sent } = answering(
    async (sent) =>
      (JSON.parse(await sent.clone().text()).anthropic_beta ?? []).some((beta: string) =>
          beta !== "context-1m-2025-08-07"
        )
        ? INVALID_BETA()
        : Response.json({ id: "m" }),
    (_, betas) => void refusals.push(betas),
  );
  const betasOf = async (index: number) => JSON.parse(await sent[index].clone().text()).anthropic_beta;

  assert.equal((await bedrock.send(ask(), undefined)).status, 200);
  assert.equal(sent.length, 3);
  assert.deepEqual(await betasOf(1), ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"]);
  assert.deepEqual(await betasOf(2), ["context-1m-2025-08-07"]);
  assert.deepEqual(refusals, [[
    "token-efficient-tools-2026-03-28",
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
    "redact-thinking-2026-02-12",
  ]]);

  assert.equal((await bedrock.send(ask(), undefined)).status, 200);
  assert.equal(sent.length, 4, "remembered: one round trip");
  assert.deepEqual(await betasOf(3), ["context-1m-2025-08-07"]);
  assert.equal(refusals.length, 1);
});

Deno.test("a [1m] model keeps the context beta relay added when resent, and a second refusal reaches the client", async () => {
  const refusals: string[][] = [];
  const { bedrock, sent } = answering(INVALID_BETA, (_, betas) => void refusals.push(betas));
  const ask = () =>
    request({
      headers: new Headers({ "anthropic-beta": "claude-code-20250219,context-1m-2025-08-07" }),
      model: "claude-sonnet-4-5[1m]",
      stream: false,
      body: '{"model":"m","max_tokens":5}',
    });
  for (let i = 1; i <= 2; i++) {
    const response = await bedrock.send(ask(), undefined);
    assert.equal(response.status, 400);
    assert.deepEqual((await json(response)).error, {
      type: "invalid_request_error",
      message: "invalid beta flag",
    });
    assert.equal(sent.length, 2 * i, "once more each time, as nothing was learnt");
  }
  assert.deepEqual(JSON.parse(await sent[1].clone().text()).anthropic_beta, ["context-1m-2025-08-07"]);
  assert.deepEqual(refusals, []);

  const answers = [INVALID_BETA(), Response.json({ id: "m1" })];
  const learnt: string[][] = [];
  const learning = answering(
    () => answers.shift() ?? Response.json({}),
    (_, betas) => void learnt.push(betas),
  );
  assert.equal((await learning.bedrock.send(ask(), undefined)).status, 200);
  assert.deepEqual(learnt, [["claude-code-20250219"]]);
  await learning.bedrock.send(ask(), undefined);
  assert.equal(learning.sent.length, 3);
  assert.deepEqual(JSON.parse(await learning.sent[2].clone().text()).anthropic_beta, [
    "context-1m-2025-08-07",
  ]);
});

Deno.test("only a 400 refusing a beta flag, to a request with a beta to drop, is sent again", async () => {
  const refusals: string[][] = [];
  const cases: [string, string | undefined, number][] = [
    // With interleaved thinking, then with the context beta alone.
    ["invalid beta flag", CLAUDE_CODE_BETAS, 3],
    ["invalid beta flag", "claude-code-20250219,context-1m-2025-08-07", 2],
    ["context_management: Extra inputs are not permitted", CLAUDE_CODE_BETAS, 1],
    ["anthropic_beta: Input should be a valid list", CLAUDE_CODE_BETAS, 1],
    ["The provided model identifier is invalid: us.anthropic.claude-beta-test", CLAUDE_CODE_BETAS, 1],
    ["anthropic_beta.0: invalid type, expected string", CLAUDE_CODE_BETAS, 1],
    ["tools.0: Tool 'get_beta_release' input_schema is invalid", CLAUDE_CODE_BETAS, 1],
    ["invalid beta flag", "oauth-2025-04-20", 1],
    ["invalid beta flag", undefined, 1],
  ];
  for (const [message, betas, sends] of cases) {
    const { bedrock, sent } = answering(
      () => bedrockError(400, "ValidationException", message),
      (_, dropped) => void refusals.push(dropped),
    );
    const headers = new Headers(betas === undefined ? {} : { "anthropic-beta": betas });
    const response = await bedrock.send(request({ headers, stream: false }), undefined);
    assert.equal(response.status, 400, message);
    assert.equal((await json(response)).error.message, message);
    assert.equal(sent.length, sends, `${message} with ${betas}`);
  }
  const { bedrock, sent } = answering(() => bedrockError(429, "ThrottlingException", "invalid beta flag"));
  await (await bedrock.send(request({ stream: false }), undefined)).body?.cancel();
  assert.equal(sent.length, 1, "only a request's error is looked into");
  assert.deepEqual(refusals, []);
});

Deno.test("CountTokens' 'model identifier is invalid' is a refusal to count; InvokeModel's stays a 400", async () => {
  const invalid = "The provided model identifier is invalid.";
  const { bedrock, sent } = answering(() => bedrockError(400, "ValidationException", invalid));
  const count = () =>
    request({
      path: "/v1/messages/count_tokens",
      stream: false,
      headers: new Headers(),
      upstreamModel: MODEL,
    });
  for (let i = 0; i < 2; i++) {
    await assert.rejects(
      bedrock.send(count(), undefined),
      (error: unknown) =>
        error instanceof UnservableError && error.status === 404 &&
        error.message === `Bedrock provider bedrock cannot count tokens for model "${MODEL}": ${invalid}`,
    );
  }
  assert.equal(sent.length, 1, "remembered");
  const response = await bedrock.send(request({ stream: false }), undefined);
  assert.equal(response.status, 400);
  assert.deepEqual((await json(response)).error, { type: "invalid_request_error", message: invalid });
});

Deno.test("refusesBetas takes Bedrock's refusal of a beta flag, not any message with 'beta' and 'invalid' in it", () => {
  for (
    const refusal of [
      "invalid beta flag",
      "ValidationException: Invalid beta flag",
      "invalid beta flags",
      "beta flag interleaved-thinking-2025-05-14 is not supported for this model",
      "beta flag fine-grained-tool-streaming-2025-05-14 is not supported for this model",
      "Unsupported beta flag: x",
      "The beta header is invalid",
      "beta headers unsupported",
    ]
  ) assert.equal(refusesBetas(refusal), true, refusal);
  for (
    const other of [
      "The provided model identifier is invalid: us.anthropic.claude-beta-test",
      "anthropic_beta.0: invalid type, expected string",
      "tools.0: Tool 'get_beta_release' input_schema is invalid",
      "<html><body><h1>403</h1>Request flagged by proxy; see beta.example.com/help</body></html>",
      "context_management: Extra inputs are not permitted",
      "beta flag list received. The request body is invalid",
    ]
  ) assert.equal(refusesBetas(other), false, other);
});

Deno.test("a resend is a second connection: the headers are told only once its answer is in", async () => {
  const resent = Promise.withResolvers<Response>();
  const resending = Promise.withResolvers<void>();
  const answers = [() => INVALID_BETA(), () => (resending.resolve(), resent.promise)];
  const { bedrock, sent } = answering(() => answers.shift()!());
  let headersIn = 0;
  const sending = bedrock.send(
    request({ headers: new Headers({ "anthropic-beta": CLAUDE_CODE_BETAS }), onHeaders: () => headersIn++ }),
    undefined,
  );
  await resending.promise;
  assert.equal(sent.length, 2);
  assert.equal(await settledYet(sending), false, "send waits for the resend's answer");
  assert.equal(headersIn, 0, "a resend that does not answer is held to connect, not first_byte");
  resent.resolve(eventStreamResponse([chunkFrame('{"type":"message_stop"}')]));
  assert.equal(await settledYet(sending), true, "its answer in, send resolves with it");
  const response = await sending;
  assert.equal(response.status, 200);
  assert.equal(headersIn, 1);
  await response.body?.cancel();
});

Deno.test("only a resend that succeeds proves the betas refused: a 429, a 5xx or a 403 is not remembered", async () => {
  const refusals: string[][] = [];
  const failures = [
    () => bedrockError(429, "ThrottlingException", "Too many requests"),
    () => bedrockError(500, "InternalServerException", "Internal error"),
    () => bedrockError(503, "ServiceUnavailableException", "Service unavailable"),
    () => bedrockError(403, "AccessDeniedException", "You don't have access to the model"),
  ];
  for (const failure of failures) {
    const answers = [INVALID_BETA(), failure()];
    const { bedrock, sent } = answering(
      () => answers.shift() ?? Response.json({ id: "later" }),
      (_, betas) => void refusals.push(betas),
    );
    const failed = await bedrock.send(ask(), undefined);
    await failed.body?.cancel();
    assert.equal(sent.length, 2, `resent once (${failed.status})`);
    assert.equal((await bedrock.send(ask(), undefined)).status, 200);
    assert.equal(sent.length, 3);
    assert.deepEqual(
      JSON.parse(await sent[2].clone().text()).anthropic_beta,
      JSON.parse(await sent[0].clone().text()).anthropic_beta,
      `the next request goes with its betas after a ${failed.status}`,
    );
  }
  assert.deepEqual(refusals, []);
});

/** A Bedrock whose 400 ValidationException body comes only as the test pushes it, on a FakeClock. */
function answeringStalled400() {
  const clock = new FakeClock();
  const body = controlledStream();
  const { bedrock, sent } = answering(
    () =>
      new Response(body.body, {
        status: 400,
        headers: {
          "x-amzn-errortype": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        },
      }),
    undefined,
    clock,
  );
  return { clock, body, bedrock, sent };
}

/** Sends `asked`, pushes `first` of the 400's body, and lets `idleMs` (30 s) pass: the answer it gives then. */
async function answerAfterIdlePeek(
  { clock, body, bedrock }: ReturnType<typeof answeringStalled400>,
  asked: ProviderRequest,
  first: string,
): Promise<Response> {
  const sending = bedrock.send(asked, undefined);
  body.push(first);
  await body.whenRead();
  assert.deepEqual(clock.armed, [30_000], "the peek is bounded by idle");
  clock.advance(30_000);
  return await sending;
}

Deno.test("the look into a 400 waits no longer than the request's idle, then passes the answer on", async () => {
  const stalled = answeringStalled400();
  const { clock, body, sent } = stalled;
  const response = await answerAfterIdlePeek(
    stalled,
    request({ headers: new Headers({ "anthropic-beta": CLAUDE_CODE_BETAS }), stream: false, idleMs: 30_000 }),
    '{"message":"messages.0: ',
  );
  assert.equal(response.status, 400);
  assert.equal(sent.length, 1, "not sent again on a message not yet read");
  body.push('field required"}');
  body.end();
  assert.deepEqual((await json(response)).error, {
    type: "invalid_request_error",
    message: "messages.0: field required",
  });
  assert.deepEqual(clock.armed, []);
});

Deno.test("a model is remembered with the set of betas it refused: another set is tried once with its betas", async () => {
  const refusals: string[][] = [];
  const { bedrock, sent } = answering(
    async (sent) =>
      (JSON.parse(await sent.clone().text()).anthropic_beta ?? []).includes("redact-thinking-2026-02-12")
        ? INVALID_BETA()
        : Response.json({ id: "m" }),
    (_, betas) => void refusals.push(betas),
  );
  const ask = (betas: string) =>
    request({
      headers: new Headers({ "anthropic-beta": betas }),
      stream: false,
      body: '{"model":"m","max_tokens":5}',
    });
  const betasOf = async (index: number) => JSON.parse(await sent[index].clone().text()).anthropic_beta;

  assert.equal((await bedrock.send(ask(CLAUDE_CODE_BETAS), undefined)).status, 200);
  assert.equal(sent.length, 2);
  assert.deepEqual(refusals, [["claude-code-20250219", "redact-thinking-2026-02-12"]]);

  const older = "interleaved-thinking-2025-05-14,claude-code-20250219,context-1m-2025-08-07";
  assert.equal((await bedrock.send(ask(older), undefined)).status, 200);
  assert.equal(sent.length, 3, "another set goes once, with its betas");
  assert.deepEqual(await betasOf(2), [
    "interleaved-thinking-2025-05-14",
    "claude-code-20250219",
    "context-1m-2025-08-07",
  ]);

  const reordered =
    "redact-thinking-2026-02-12,context-1m-2025-08-07,interleaved-thinking-2025-05-14,claude-code-20250219";
  assert.equal((await bedrock.send(ask(reordered), undefined)).status, 200);
  assert.equal(sent.length, 4, "the set refused, in any order, goes without them at once");
  assert.deepEqual(await betasOf(3), ["context-1m-2025-08-07", "interleaved-thinking-2025-05-14"]);
  assert.equal(refusals.length, 1, "told once");
});

Deno.test("the look into a count's 400 waits no longer than the request's idle, then passes the answer on", async () => {
  const stalled = answeringStalled400();
  const { clock, body, sent } = stalled;
  const response = await answerAfterIdlePeek(
    stalled,
    request({ path: "/v1/messages/count_tokens", stream: false, headers: new Headers(), idleMs: 30_000 }),
    '{"message":"The provided model ',
  );
  assert.equal(response.status, 400, "a message not yet read refuses no counting");
  body.push("doesn't support counting tokens.\"}");
  body.end();
  assert.deepEqual((await json(response)).error, {
    type: "invalid_request_error",
    message: "The provided model doesn't support counting tokens.",
  });
  assert.deepEqual(clock.armed, []);
  assert.equal(sent.length, 1);
});

Deno.test("a count's 400 to a request with betas to drop is read once, under one idle deadline", async () => {
  const { clock, body, bedrock, sent } = answeringStalled400();
  const sending = bedrock.send(
    request({
      path: "/v1/messages/count_tokens",
      stream: false,
      headers: new Headers({ "anthropic-beta": CLAUDE_CODE_BETAS }),
      idleMs: 30_000,
    }),
    undefined,
  );
  body.push('{"message":"The provided model ');
  await body.whenRead();
  assert.deepEqual(clock.armed, [30_000], "the peek is bounded by idle");
  clock.advance(30_000);
  assert.equal(await settledYet(sending), true, "answered when that idle is out, with no second look");
  assert.deepEqual(clock.armed, []);
  const response = await sending;
  assert.equal(response.status, 400, "a message not yet read refuses neither betas nor counting");
  body.push("doesn't support counting tokens.\"}");
  body.end();
  assert.deepEqual((await json(response)).error, {
    type: "invalid_request_error",
    message: "The provided model doesn't support counting tokens.",
  });
  assert.equal(sent.length, 1);
});

/** Claude Code's betas with those of its body's fields, and one Bedrock has not taken up. */
const FIELD_BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27," +
  "redact-thinking-2026-02-12,effort-2025-11-24,context-1m-2025-08-07";
/** A body with both beta fields; `output_config` holds a `format` too, oddly spaced, so re-serialising shows. */
const FIELDS_BODY = `{"model":"m","max_tokens":5,` +
  `"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},` +
  `"output_config":{ "effort":"medium" , "format":{"type":"json_schema","schema":{"maximum":1.0}} },` +
  `"messages":[{"role":"user","content":"hi"}]}`;

/**
 * A Bedrock that takes `accepted` betas alone ("invalid beta flag" for any other) and refuses a beta field
 * whose beta did not come by name, as Bedrock does (sub2api#2726); `refusesContextManagement`: that field
 * even with its beta.
 */
function fieldsBedrock(accepted: readonly string[], refusesContextManagement = false) {
  const refusals: string[][] = [];
  const answer = async (sent: Request) => {
    const body = JSON.parse(await sent.clone().text());
    const betas: string[] = body.anthropic_beta ?? [];
    if (betas.some((beta) => !accepted.includes(beta))) return INVALID_BETA();
    const refused = (field: string) =>
      bedrockError(400, "ValidationException", `${field}: Extra inputs are not permitted`);
    if (
      "context_management" in body &&
      (refusesContextManagement || !betas.includes("context-management-2025-06-27"))
    ) return refused("context_management");
    if (body.output_config?.effort && !betas.includes("effort-2025-11-24")) {
      return refused("output_config.effort");
    }
    return Response.json({ id: "m" });
  };
  return { refusals, ...answering(answer, (_, betas) => void refusals.push(betas)) };
}

const askFields = () =>
  request({ headers: new Headers({ "anthropic-beta": FIELD_BETAS }), stream: false, body: FIELDS_BODY });

/** What `sent` carried but its `anthropic_beta`, to hold the client's other bytes equal across sends. */
const withoutBetas = async (sent: Request) =>
  (await sent.clone().text()).replace(/"anthropic_beta":\[[^\]]*\],?/, "");

Deno.test("a resend after a refused beta flag keeps the betas its body's fields need, and is remembered", async () => {
  const accepted = [
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
    "effort-2025-11-24",
    "context-1m-2025-08-07",
  ];
  const { bedrock, sent, refusals } = fieldsBedrock(accepted);
  const response = await bedrock.send(askFields(), undefined);
  assert.equal(response.status, 200);
  assert.equal(sent.length, 2, "one resend, which succeeds");
  const kept = [
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
    "effort-2025-11-24",
    "context-1m-2025-08-07",
  ];
  assert.deepEqual(JSON.parse(await sent[1].clone().text()).anthropic_beta, kept);
  assert.equal(await withoutBetas(sent[1]), await withoutBetas(sent[0]), "the fields kept, byte for byte");
  assert.deepEqual(refusals, [["claude-code-20250219", "redact-thinking-2026-02-12"]], "only what went");

  assert.equal((await bedrock.send(askFields(), undefined)).status, 200);
  assert.equal(sent.length, 3, "remembered: one round trip");
  assert.deepEqual(JSON.parse(await sent[2].clone().text()).anthropic_beta, kept);
  assert.equal(refusals.length, 1);
});

Deno.test("a resend still refused for a beta goes once more without the beta fields and their betas, and is remembered", async () => {
  const bare = `{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["context-1m-2025-08-07"],` +
    `"max_tokens":5,"output_config":{ "format":{"type":"json_schema","schema":{"maximum":1.0}} },` +
    `"messages":[{"role":"user","content":"hi"}]}`;
  const cases: [string, ReturnType<typeof fieldsBedrock>][] = [
    ["a beta flag", fieldsBedrock(["context-1m-2025-08-07"])],
    [
      "a field by name",
      fieldsBedrock([
        "interleaved-thinking-2025-05-14",
        "context-management-2025-06-27",
        "effort-2025-11-24",
        "context-1m-2025-08-07",
      ], true),
    ],
  ];
  for (const [refused, { bedrock, sent, refusals }] of cases) {
    const response = await bedrock.send(askFields(), undefined);
    assert.equal(response.status, 200, refused);
    assert.equal(sent.length, 3, `at most one more round trip (${refused})`);
    assert.deepEqual(
      JSON.parse(await sent[1].clone().text()).anthropic_beta,
      [
        "interleaved-thinking-2025-05-14",
        "context-management-2025-06-27",
        "effort-2025-11-24",
        "context-1m-2025-08-07",
      ],
    );
    assert.equal(await sent[2].clone().text(), bare, "effort alone taken out of output_config");
    assert.deepEqual(refusals, [[
      "claude-code-20250219",
      "interleaved-thinking-2025-05-14",
      "context-management-2025-06-27",
      "redact-thinking-2026-02-12",
      "effort-2025-11-24",
    ]]);

    assert.equal((await bedrock.send(askFields(), undefined)).status, 200);
    assert.equal(sent.length, 4, `remembered: one round trip (${refused})`);
    assert.equal(await sent[3].clone().text(), bare);
    assert.equal(refusals.length, 1);
  }
});

Deno.test("a count whose answer is cut is relay's 502 naming the cut, with the answer's headers", async () => {
  const cut = () => {
    const body = controlledStream();
    body.push('{"inputTo');
    body.fail(new Error("connection reset by peer"));
    return new Response(body.body, { headers: { "x-amzn-requestid": "req-cut" } });
  };
  const { bedrock } = provider(cut);
  await assert.rejects(
    bedrock.send(request({ path: "/v1/messages/count_tokens", stream: false }), undefined),
    (error: unknown) => {
      assert.ok(error instanceof BrokenAnswerError, String(error));
      assert.equal(error.message, "connection reset by peer");
      assert.equal(error.upstreamHeaders.get("request-id"), "req-cut");
      return true;
    },
  );

  await using relay = startTestRelay({
    provider: provider(cut).bedrock,
    models: { "claude-sonnet-4-5": MODEL },
  });
  const response = await fetch(`${relay.url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(response.status, 502);
  assert.deepEqual((await response.json()).error, {
    type: "api_error",
    message: "upstream bedrock failed: connection reset by peer",
  });
});
