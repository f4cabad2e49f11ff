import assert from "node:assert/strict";
import { withoutUnsignedThinking } from "../../src/providers/unsigned_thinking.ts";

const SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds4cPyNFBRc3jgmBMWYWKaMm4GIQHkX+/==";
const SIGNED = `{"type":"thinking","thinking":"27 \\u00d7 453","signature":"${SIGNATURE}"}`;
const REDACTED = '{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix"}';
const TOOL_USE = '{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A body as Claude Code sends it, odd spacing kept, around `messages`. */
function body(messages: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(
    `{"model": "claude-sonnet-4-5" , "max_tokens":1024, "thinking":{"type":"enabled","budget_tokens":512},` +
      `"messages":[${messages}],\n "stream":true}`,
  );
}

const user = (content: string) => `{"role":"user","content":${JSON.stringify(content)}}`;
const assistant = (...blocks: string[]) => `{"role":"assistant","content":[${blocks.join(",")}]}`;

/** What the upstream gets of `bytes`, parsed as relay parses a body to route it (not at all if no JSON). */
function relayed(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch {
    json = undefined;
  }
  return withoutUnsignedThinking(
    bytes,
    json && typeof json === "object" && !Array.isArray(json) ? json as Record<string, unknown> : undefined,
  );
}

/** The messages the upstream would get. */
function messagesOf(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes)).messages;
}

Deno.test("a body without unsigned thinking is the very same bytes: signed, redacted and no thinking alike", () => {
  const bodies = [
    body(`${user("hi")},${assistant(SIGNED, REDACTED, '{"type":"text","text":"Hello."}')},${user("and?")}`),
    body(`${user("hi")},${assistant('{ "type" : "thinking", "thinking":"Hm.", "signature" : "c2ln" }')}`),
    body(user('the block {"type":"thinking","signature":""} as text')),
    body(user("no thinking at all")),
  ];
  for (const given of bodies) assert.equal(relayed(given), given, decoder.decode(given));
});

Deno.test("a thinking block signed empty or not at all is dropped; every other block and member stays", () => {
  const given = body(
    `${user("hi")},${assistant('{"type":"thinking","thinking":"Hm.","signature":""}', TOOL_USE)},` +
      `{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"sunny"}]},` +
      `${assistant(SIGNED, '{"type":"thinking","thinking":"No signature."}', REDACTED)}`,
  );
  const sentBytes = relayed(given);
  const sent = decoder.decode(sentBytes);
  assert.ok(
    sent.startsWith('{"model": "claude-sonnet-4-5" , "max_tokens":1024, "thinking":{"type":"enabled"'),
  );
  assert.ok(sent.endsWith('],\n "stream":true}'), "the members around messages keep their bytes");
  assert.deepEqual(messagesOf(sentBytes), [
    { role: "user", content: "hi" },
    { role: "assistant", content: [JSON.parse(TOOL_USE)] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: "sunny" }] },
    { role: "assistant", content: [JSON.parse(SIGNED), JSON.parse(REDACTED)] },
  ]);
  assert.ok(sent.includes(`"signature":"${SIGNATURE}"`), "the signed block and its signature as they were");
});

Deno.test("an assistant message left with nothing is dropped, so no empty turn goes", () => {
  const given = body(
    `${user("hi")},${assistant('{"type":"thinking","thinking":"Hm.","signature":""}')},${
      user("still there?")
    }`,
  );
  assert.deepEqual(messagesOf(relayed(given)), [
    { role: "user", content: "hi" },
    { role: "user", content: "still there?" },
  ]);
});

Deno.test("a signature null, or a block spelt with escapes, is found too (the body is read parsed); user messages are left as they are", () => {
  const nullSigned = body(
    `${user("hi")},${assistant('{"type":"thinking","thinking":"Hm.","signature":null}')}`,
  );
  assert.deepEqual(messagesOf(relayed(nullSigned)), [{ role: "user", content: "hi" }]);
  const unsignedAfterSigned = body(
    `${user("hi")},${assistant(SIGNED, '{"type":"thinking","thinking":"Hm."}')}`,
  );
  assert.deepEqual(messagesOf(relayed(unsignedAfterSigned)), [
    { role: "user", content: "hi" },
    { role: "assistant", content: [JSON.parse(SIGNED)] },
  ]);
  const escaped = body(
    `${user("hi")},${assistant('{"type":"\\u0074hinking","thinking":"Hm.","sign\\u0061ture":""}', TOOL_USE)}`,
  );
  assert.deepEqual(messagesOf(relayed(escaped)), [
    { role: "user", content: "hi" },
    { role: "assistant", content: [JSON.parse(TOOL_USE)] },
  ]);
  const inUserTurn = body(`{"role":"user","content":[{"type":"thinking","thinking":"Hm.","signature":""}]}`);
  assert.equal(relayed(inUserTurn), inUserTurn);
});

Deno.test("a body that is no JSON object, or has no messages list, goes as it came", () => {
  for (const text of ['{"signature":""', '[{"signature":""}]', '{"signature":"","messages":"none"}']) {
    const given = encoder.encode(text);
    assert.equal(relayed(given), given, text);
  }
});
