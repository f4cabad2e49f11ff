import assert from "node:assert/strict";
import { maskedHeaders, SecretMask } from "../../src/stream/secret_mask.ts";
import { concatBytes } from "../../src/util/bytes.ts";
import { maskSecret } from "../../src/util/mask.ts";
import { splitAwkwardly } from "../_helpers/golden.ts";

const KEY = "sk-ant-api03-AAAAbbbbCCCCdddd1111x7f2";
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** What the client gets of `chunks` through one mask: each chunk's output, then the held tail. */
function masked(chunks: Uint8Array[], ...secrets: string[]): string {
  const mask = SecretMask.for(...(secrets.length > 0 ? secrets : [KEY]))!;
  const out = chunks.map((chunk) => mask.apply(chunk));
  const held = mask.flush();
  return decode(concatBytes(held ? [...out, held] : out));
}

Deno.test("a key an answer quotes is masked, however the answer is cut into chunks", () => {
  const text = `data: {"type":"error","error":{"message":"bad key ${KEY}, not ${KEY}"}}\n\n`;
  const expected = text.replaceAll(KEY, maskSecret(KEY));
  for (const chunks of splitAwkwardly(encode(text))) assert.equal(masked(chunks), expected);
});

Deno.test("text that only begins like the key passes whole, the tail it held going out with the next chunk", () => {
  const mask = SecretMask.for(KEY)!;
  assert.equal(decode(mask.apply(encode("the key is sk-ant-"))), "the key is ");
  assert.equal(decode(mask.apply(encode("api04 and so"))), "sk-ant-api04 and so");
  assert.equal(mask.flush(), undefined);
  assert.equal(masked([encode("ends with sk-ant-api03")]), "ends with sk-ant-api03", "flushed at the end");
});

Deno.test("a chunk without the key is handed on as it is, no copy made", () => {
  const mask = SecretMask.for(KEY)!;
  const chunk = encode('event: content_block_delta\ndata: {"text":"sssk sk-"}\n\n');
  assert.equal(mask.apply(chunk), chunk);
});

Deno.test("a key too short to tell from words, as local servers' placeholders are, or none, has no mask", () => {
  for (const placeholder of ["x", "ollama", "lm-studio", "fifteen-chars-x"]) {
    assert.equal(SecretMask.for(placeholder), undefined, placeholder);
  }
  assert.equal(SecretMask.for(undefined), undefined);
  assert.equal(
    masked([encode("sixteen-chars-xy here")], "sixteen-chars-xy"),
    `${maskSecret("sixteen-chars-xy")} here`,
  );
});

Deno.test("a header value quoting the key is masked; the others, and short keys, are left alone", () => {
  const encodedKey = "sk-ant-api03-ab+cd/ef=ghijklmnopqrstuvwx7f2";
  const response = new Response(null, {
    headers: {
      "www-authenticate": `Bearer error="invalid_token", token="${KEY}"`,
      "x-other": "plain",
      "x-echo": `https://h/?key=${encodeURIComponent(encodedKey)}`,
    },
  });
  maskedHeaders(response, KEY);
  assert.equal(
    maskedHeaders(response, encodedKey).headers.get("x-echo"),
    `https://h/?key=${maskSecret(encodedKey)}`,
  );
  assert.equal(
    response.headers.get("www-authenticate"),
    `Bearer error="invalid_token", token="${maskSecret(KEY)}"`,
  );
  assert.equal(response.headers.get("x-other"), "plain");
  const local = new Response(null, { headers: { "x-note": "use ollama" } });
  assert.equal(maskedHeaders(local, "ollama").headers.get("x-note"), "use ollama");
});

/** A base64 key, as Bedrock API keys are, with `/` and `+` a JSON encoder may escape. */
const BASE64_KEY = "ABSKQmVkcm9ja0FQSUtleS1h+bc/def0123456789ABCDEFGHIJ=";

Deno.test("a key an upstream quotes JSON-escaped is masked in each escape, however the answer is cut", () => {
  const escaped = (slash: string, plus: string) => BASE64_KEY.replace("/", slash).replace("+", plus);
  const quotes = [
    BASE64_KEY,
    escaped("\\/", "+"),
    escaped("/", "\\u002B"),
    escaped("\\/", "\\u002b"),
  ];
  const text = quotes.map((quote) => `data: {"error":{"message":"bad key ${quote}"}}\n\n`).join("");
  const expected = quotes.reduce((out, quote) => out.replace(quote, maskSecret(BASE64_KEY)), text);
  assert.equal(expected.includes("QmVkcm9ja0"), false, "every quote is replaced");
  for (const chunks of splitAwkwardly(encode(text))) assert.equal(masked(chunks, BASE64_KEY), expected);
});

Deno.test("several secrets are masked, whatever bytes they begin with, however the answer is cut", () => {
  const token = "ya29.a0AfB_byC1234567890abcdef";
  // Escaped, the key begins with `\`, the token with `y`: three first bytes to look for.
  const slashFirst = "/xyz+abcdefghijklmnop0123";
  const text = `event: error\ndata: {"message":"${KEY} or ${token}, ` +
    `${slashFirst.replace("/", "\\/")} and ${KEY}"}\n\n`;
  const expected = text
    .replaceAll(KEY, maskSecret(KEY))
    .replace(token, maskSecret(token))
    .replace(slashFirst.replace("/", "\\/"), maskSecret(slashFirst));
  for (const chunks of splitAwkwardly(encode(text))) {
    assert.equal(masked(chunks, KEY, token, slashFirst), expected);
  }
  assert.equal(SecretMask.for(undefined, "short"), undefined, "none long enough: no mask");
});

Deno.test("an answer that ends in the beginning of one secret still has a whole other masked", () => {
  const token = "tok-0123456789abcdefgh";
  const key = `sk-${token}-and-the-rest-x7f2`;
  const text = `quoted: sk-${token}-and-the`;
  assert.equal(masked([encode(text)], key, token), `quoted: sk-${maskSecret(token)}-and-the`);
});

Deno.test("header values quoting any of several secrets, JSON-escaped too, are masked", () => {
  const token = "ya29.a0AfB_byC1234567890abcdef";
  const response = new Response(null, {
    headers: {
      "www-authenticate": `Bearer error="invalid_token", token="${token}"`,
      "x-echo": `{"key":"${BASE64_KEY.replace("/", "\\/").replace("+", "\\u002B")}"}`,
    },
  });
  maskedHeaders(response, undefined, BASE64_KEY, token);
  assert.equal(
    response.headers.get("www-authenticate"),
    `Bearer error="invalid_token", token="${maskSecret(token)}"`,
  );
  assert.equal(response.headers.get("x-echo"), `{"key":"${maskSecret(BASE64_KEY)}"}`);
});

Deno.test("a secret that begins a longer one masks neither half of the longer: the longer is found first, chunk splits or not", () => {
  const short = "abcdefghijklmnop";
  const long = "abcdefghijklmnopQRSTUVWXYZ";
  for (const secrets of [[short, long], [long, short]]) {
    const text = `quoted ${long} and ${short}, end ${short}`;
    const expected = `quoted ${maskSecret(long)} and ${maskSecret(short)}, end ${maskSecret(short)}`;
    for (const chunks of splitAwkwardly(encode(text))) assert.equal(masked(chunks, ...secrets), expected);
  }
});

Deno.test("maskedHeaders masks a key in one set-cookie and keeps each cookie apart", () => {
  const key = "sk-ant-api03-abcdefghijklmnopx7f2";
  const headers = new Headers();
  headers.append("set-cookie", "a=1");
  headers.append("set-cookie", `b=${key}`);
  const masked = maskedHeaders(new Response(null, { headers }), key);
  assert.deepEqual(masked.headers.getSetCookie(), ["a=1", `b=${maskSecret(key)}`]);
});

Deno.test("SecretMask.text masks a whole answer's text as apply and flush together do", () => {
  const secret = "sk-ant-api03-abcdefghijklmnopx7f2";
  const mask = SecretMask.for(secret, "another-secret-0000000000")!;
  assert.equal(
    mask.text(`bad key ${secret} and another-secret-0000000000, ending in sk-ant-api03`),
    "bad key sk-ant-...x7f2 and ano...0000, ending in sk-ant-api03",
  );
});
