import assert from "node:assert/strict";
import {
  jsonSpellings,
  maskKeyShapedTokens,
  maskKeysIn,
  maskSecret,
  maskSecretsInLine,
} from "../../src/util/mask.ts";

Deno.test("maskSecret keeps a known prefix and the last four characters", () => {
  assert.equal(maskSecret("sk-ant-api03-abcdefghijklmnopqrstuvwx7f2"), "sk-ant-...x7f2");
  assert.equal(maskSecret("sk-proj-0123456789abcdef"), "sk-proj-...cdef");
  assert.equal(maskSecret("AKIAIOSFODNN7EXAMPLE"), "AKIA...MPLE");
  assert.equal(maskSecret("0123456789abcdef"), "012...cdef");
});

Deno.test("maskSecret reveals nothing of short secrets, and only the last two characters below 16", () => {
  assert.equal(maskSecret("hunter2"), "***");
  assert.equal(maskSecret("client-tok9"), "***");
  assert.equal(maskSecret(""), "***");
  assert.equal(maskSecret("Secret-Tok-9"), "...-9");
  assert.equal(maskSecret("sk-ant-0123456"), "...56");
});

Deno.test("maskSecretsInLine masks every long token on a line that sets a secret field", () => {
  for (
    const [line, masked] of [
      ["      - key: sk-ant-api03-OTHERSECRETOTHERSECRET9c1d", "      - key: sk-ant-...9c1d"],
      ["  keys: [ {key: abcdefghijklmnopqrstuvwxyz012345} ]", "  keys: [ {key: abc...2345} ]"],
      ["    tokens: [rly_clienttoken_abcdef123456, x]", "    tokens: [rly...3456, ***]"],
      ['  "private_key": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",', '  "private_key": "MII...AASC",'],
      ["    api_key: some-long-lowercase-secret-value", "    api_key: som...alue"],
    ]
  ) assert.equal(maskSecretsInLine(line).text, masked, line);
});

Deno.test("maskSecretsInLine masks a secret field's value whatever its length", () => {
  for (
    const [line, masked] of [
      ['    tokens: ["Secret-Tok-9", }', '    tokens: ["...-9", }'],
      ["        key: gw-K3y-777x", "        key: ***"],
      ["  - { key: abc12345, name: primary }", "  - { key: ***, name: primary }"],
      ["    tokens: [{ name: alice, token: abcdefghijkl }]", "    tokens: [{ name: alice, token: ...kl }]"],
      ["    secret_access_key: p@ss!w0rd#1", "    secret_access_key: ***"],
      ["      client_secret: abc8Q~super-secret-client-value-123", "      client_secret: abc...-123"],
      ['{"error":"bad","api_key":"short-key-1"}', '{"error":"bad","api_key":"***"}'],
      ["      - key: ${KEY:-sk-fallback}", "      - key: ${K...ack}"],
      ["      - Secret-Tok-9", "      - ...-9"],
      ['    - "tok-short"', '    - "***"'],
    ]
  ) assert.equal(maskSecretsInLine(line).text, masked, line);
  for (
    const line of [
      "      keys: [{key: ${KEY}}]",
      "    - key: ${ANTHROPIC_API_KEY}",
      "    secret_access_key: ${AWS_SECRET_ACCESS_KEY}",
      "    cost_threshold_tokens: 1000",
      "  max_tokens: 4096",
      "prompt is 5000 input tokens: too long",
    ]
  ) assert.equal(maskSecretsInLine(line).text, line);
});

Deno.test("maskSecretsInLine takes a secret with ~ (Entra ID's) as one token", () => {
  assert.equal(
    maskSecretsInLine("invalid client secret abc8Q~Super-secret-value-123").text,
    "invalid client secret abc...-123",
  );
});

Deno.test("maskSecretsInLine masks what looks like a key anywhere, and leaves names and URLs alone", () => {
  assert.equal(maskSecretsInLine("  - sk-proj-0123456789abcdefABCDEF").text, "  - sk-proj-...CDEF");
  assert.equal(maskSecretsInLine("  - Zx9kQ2mL7pR4tV8wY1bN3cD5").text, "  - Zx9...3cD5");
  assert.equal(maskSecretsInLine("  - 0123456789abcdef0123456789abcdef").text, "  - 012...cdef");
  for (
    const line of [
      "    base_url: https://api.anthropic.com/v1/messages",
      "      claude-sonnet-4-5-20250929: glm-4.7",
      "    region: us-east-1",
      "  level: information_overload",
    ]
  ) assert.equal(maskSecretsInLine(line).text, line);
});

Deno.test("maskSecretsInLine moves the column to the same place in the masked line", () => {
  const line = "  - key: sk-ant-api03-SECRETSECRETSECRETx7f2: [";
  const { text, col } = maskSecretsInLine(line, line.indexOf(": [") + 1);
  assert.equal(text, "  - key: sk-ant-...x7f2: [");
  assert.equal(text.slice(col - 1), ": [", "after the token: shifted by what masking removed");
  assert.equal(maskSecretsInLine(line, 5).col, 5, "before it: unchanged");
  assert.equal(maskSecretsInLine(line, 20).col, 10, "inside it: at its start");
});

Deno.test("maskKeyShapedTokens masks keys in a body's text, and leaves its paths, ids and words", () => {
  const body =
    '{"max_tokens":1024,"messages":[{"role":"user","content":"my key is sk-ant-api03-SECRETSECRETx7f2, ' +
    'see /work/main/src/server/relay.ts"}]}';
  assert.equal(
    maskKeyShapedTokens(body),
    '{"max_tokens":1024,"messages":[{"role":"user","content":"my key is sk-ant-...x7f2, ' +
      'see /work/main/src/server/relay.ts"}]}',
  );
  // After a JSON escape, as a key on its own line or after a tab is written in a body.
  assert.equal(
    maskKeyShapedTokens(
      '"a\\nrly_4f9c2a7e1b3d5f60718293a4b5c6d7e8\\tsk-ant-api03-abcdefghijklmnopqrstuvwxyz0123 ' +
        'https:\\/\\/x\\/sk-proj-abcdefghijklmnopqrstuvwxyz0123"',
    ),
    '"a\\nrly...d7e8\\tsk-ant-...0123 https:\\/\\/x\\/sk-proj-...0123"',
  );
});

Deno.test("maskKeysIn masks a key however it looks, as written or percent-encoded, and leaves words alone", () => {
  const key = "base64/key+with=signs0123";
  const text = `bad key ${key}, see https://x.example/?k=${encodeURIComponent(key)}`;
  assert.equal(
    maskKeysIn(text, [{ secret: key }]),
    `bad key ${maskSecret(key)}, see https://x.example/?k=${maskSecret(key)}`,
  );
  assert.equal(maskKeysIn(text, [{ secret: key, label: "main (ba...0123)" }]).includes(key), false);
  // A key's name is the config's to choose: `$&` in its label must not put the key back.
  assert.equal(maskKeysIn(`bad key ${key}`, [{ secret: key, label: "$& ($`)" }]), "bad key $& ($`)");
  assert.equal(maskKeysIn("install ollama", [{ secret: "ollama" }], { minLength: 16 }), "install ollama");
  assert.equal(maskKeysIn("x marks", [{ secret: "x" }]), "x marks", "a one-letter key is a word");
  assert.equal(maskKeysIn("nothing", []), "nothing");
});

Deno.test("maskKeysIn masks a key a JSON encoder escaped: `/` as `\\/`, `+` as `\\u002B` or `\\u002b`", () => {
  const key = "ABSKQmVkcm9ja0FQSUtleS1h+bc/def0123456789=";
  const php = key.replace("/", "\\/");
  const dotnet = key.replace("+", "\\u002B");
  const both = key.replace("/", "\\/").replace("+", "\\u002b");
  const text = `{"message":"bad key ${php}"} {"detail":"${dotnet}"} ${both}`;
  assert.equal(
    maskKeysIn(text, [{ secret: key, label: "bedrock (ABS...89=)" }]),
    '{"message":"bad key bedrock (ABS...89=)"} {"detail":"bedrock (ABS...89=)"} bedrock (ABS...89=)',
  );
});

Deno.test("jsonSpellings gives a key as written first, then each escape an encoder may use", () => {
  assert.deepEqual(jsonSpellings("sk-ant-api03-plain"), ["sk-ant-api03-plain"]);
  assert.deepEqual(jsonSpellings("a/b+c/d"), [
    "a/b+c/d",
    "a/b\\u002Bc/d",
    "a/b\\u002bc/d",
    "a\\/b+c\\/d",
    "a\\/b\\u002Bc\\/d",
    "a\\/b\\u002bc\\/d",
  ]);
});

Deno.test("maskKeysIn masks the longest key first, so one that begins another leaves none of it in the clear", () => {
  const short = "abcdefghijklmnop";
  const long = "abcdefghijklmnopQRSTUVWXYZ";
  for (
    const keys of [[{ secret: short }, { secret: long, label: "long" }], [{ secret: long, label: "long" }, {
      secret: short,
    }]]
  ) {
    assert.equal(maskKeysIn(`${long} / ${short}`, keys), `long / ${maskSecret(short)}`);
  }
});

/** `run`'s result and the milliseconds it took. */
function timed<T>(run: () => T): [T, number] {
  const started = performance.now();
  const result = run();
  return [result, performance.now() - started];
}

Deno.test("maskSecretsInLine takes time in proportion to the line, however an upstream shapes it", () => {
  // What it masks includes an upstream's error messages, on relay's one thread: before, 64 KiB of `${`
  // (each read on to the line's end for its `}`) took 2 to 3 s, and 256 KiB of short values and tokens
  // (each token looked for in every value) 4 s, holding every stream relay carried.
  const [braces, bracesMs] = timed(() => maskSecretsInLine("key: " + "${".repeat(32 * 1024)).text);
  assert.equal(braces, "key: " + "***{".repeat(32 * 1024), "each `$` a scalar, each `${` unclosed");
  assert.ok(bracesMs < 1000, `64 KiB of \`\${\`: ${bracesMs} ms`);
  const tokens = Math.floor(128 * 1024 / 18);
  const [values, valuesMs] = timed(() =>
    maskSecretsInLine("key: " + "a ".repeat(64 * 1024) + "Abcdefghijklmnop1 ".repeat(tokens)).text
  );
  assert.equal(values, "key: " + "*** ".repeat(64 * 1024) + "Abc...nop1 ".repeat(tokens));
  assert.ok(valuesMs < 1000, `256 KiB of values and tokens: ${valuesMs} ms`);
});

Deno.test("maskSecretsInLine reads a `${` as a variable up to its `}`, and as plain text when a space or the end comes first", () => {
  for (
    const [line, masked] of [
      ["  key: ${${A:-sk-fallback-value}", "  key: ${$...lue}"],
      ["  key: ${A ${B:-secret-value-9}", "  key: ***{*** ${B...e-9}"],
      ["  key: ${A:-secret ${B:-sk-other-secret-9}", "  key: ***{*** ${B...t-9}"],
      ["  key: ${${${", "  key: ***{***{***{"],
      ["  token: ${A}${B:-abc}${C", "  token: ${A}******{***"],
    ]
  ) assert.equal(maskSecretsInLine(line).text, masked, line);
});
