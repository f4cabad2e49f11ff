import assert from "node:assert/strict";
import { editTopLevelJson, type JsonEdit, topLevelNames } from "../../src/providers/json_edit.ts";

const edit = (text: string, change: JsonEdit) =>
  new TextDecoder().decode(editTopLevelJson(new TextEncoder().encode(text), change));

Deno.test("editTopLevelJson replaces a value in place and leaves every other byte alone", () => {
  const body =
    '{ "model" : "claude-x" ,\n "messages":[{"role":"user","content":"caf\\u00e9 {\\"model\\":1}"}],' +
    '"thinking_sig":"EqQBCk+/==", "n": 1.50e1 }';
  assert.equal(
    edit(body, { set: { model: "glm-4.7" } }),
    body.replace('"claude-x"', '"glm-4.7"'),
  );
});

Deno.test("editTopLevelJson only touches top-level members, not nested ones of the same name", () => {
  const body = '{"metadata":{"model":"inner","stream":true},"model":"outer","stream":true}';
  assert.equal(
    edit(body, { remove: ["stream"], set: { model: "m2" } }),
    '{"metadata":{"model":"inner","stream":true},"model":"m2"}',
  );
});

Deno.test("editTopLevelJson removes members first, middle and last without leaving stray commas", () => {
  const body = '{"model":"m", "max_tokens":5, "stream":true}';
  assert.equal(edit(body, { remove: ["model"] }), '{"max_tokens":5, "stream":true}');
  assert.equal(edit(body, { remove: ["max_tokens"] }), '{"model":"m", "stream":true}');
  assert.equal(edit(body, { remove: ["stream"] }), '{"model":"m", "max_tokens":5}');
  assert.equal(edit(body, { remove: ["model", "stream"] }), '{"max_tokens":5}');
  assert.equal(edit(body, { remove: ["model", "max_tokens", "stream"] }), "{}");
  assert.equal(edit('{"a":1,\n  "b":2\n}', { remove: ["b"] }), '{"a":1\n}');
});

Deno.test("editTopLevelJson inserts new members first, as Bedrock's body rewrite needs", () => {
  const body = '{"model":"m","stream":true,"messages":[]}';
  const out = edit(body, {
    remove: ["model", "stream"],
    set: { anthropic_version: "bedrock-2023-05-31", anthropic_beta: ["a", "b"] },
  });
  assert.equal(out, '{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["a","b"],"messages":[]}');
  assert.deepEqual(JSON.parse(out), {
    anthropic_version: "bedrock-2023-05-31",
    anthropic_beta: ["a", "b"],
    messages: [],
  });
  assert.equal(edit("{}", { set: { a: 1 } }), '{"a":1}');
  assert.equal(edit('{"model":"m"}', { remove: ["model"], set: { v: 1 } }), '{"v":1}');
});

Deno.test("editTopLevelJson updates a member from its value, in place, first when new, or removes it", () => {
  const seen: unknown[] = [];
  const append = (current: unknown) => {
    seen.push(current);
    return Array.isArray(current) ? [...current, "c"] : ["c"];
  };
  assert.equal(edit('{"b":[ "a" ],"x":1}', { update: { b: append } }), '{"b":["a","c"],"x":1}');
  assert.equal(edit('{"x":1}', { set: { v: 0 }, update: { b: append } }), '{"v":0,"b":["c"],"x":1}');
  assert.deepEqual(seen, [["a"], undefined]);
  assert.equal(edit('{"x":1, "b":["a"]}', { update: { b: () => undefined } }), '{"x":1}');
});

Deno.test("editTopLevelJson keeps arbitrary bodies valid JSON with the same other members", () => {
  const bodies = [
    '{"model":"m","system":[{"type":"text","text":"a]}\\"["}],"stream":false,"tools":[],"x":null,"y":true}',
    ' \n{"stream":true,"model":"m","k":-0.5e-3}\n ',
  ];
  for (const body of bodies) {
    const out = edit(body, { remove: ["stream"], set: { model: "z" } });
    const { stream: _, ...rest } = JSON.parse(body);
    assert.deepEqual(JSON.parse(out), { ...rest, model: "z" });
  }
});

Deno.test("editTopLevelJson takes a body that opens with a byte order mark and sends it without one", () => {
  const body = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"model":"m","stream":true}')]);
  const out = editTopLevelJson(body, { remove: ["stream"], set: { model: "z" } });
  assert.equal(new TextDecoder("utf-8", { ignoreBOM: true }).decode(out), '{"model":"z"}');
});

Deno.test("editTopLevelJson refuses what is not a JSON object", () => {
  assert.throws(() => edit("[1,2]", { remove: ["a"] }), SyntaxError);
  assert.throws(() => edit('{"a":"unterminated', { remove: ["a"] }), SyntaxError);
});

Deno.test("editTopLevelJson lets an update read another member, which is left byte for byte as it was", () => {
  const read: unknown[] = [];
  const change: JsonEdit = {
    update: {
      max_tokens: (given, member) => {
        read.push(member("thinking"), member("missing"));
        return given ?? 7;
      },
    },
  };
  assert.equal(
    edit('{"thinking": { "budget" : 1e3 },"m":[]}', change),
    '{"max_tokens":7,"thinking": { "budget" : 1e3 },"m":[]}',
  );
  assert.deepEqual(read, [{ budget: 1000 }, undefined]);
});

Deno.test("topLevelNames gives each top-level name as a parser reads it, a repeated one each time", () => {
  const names = (text: string) => topLevelNames(new TextEncoder().encode(text));
  assert.deepEqual(
    names(
      '\ufeff{ "model" : "a", "messages":[{"model":"b"}], "x":{"model":1}, "mod\\u0065l":"c", "n":-1.5e3 }',
    ),
    ["model", "messages", "x", "model", "n"],
  );
  assert.deepEqual(names("{}"), []);
});

Deno.test("removeWithin drops members inside an object member, its other bytes kept, and the member once empty", () => {
  const body =
    '{"a":1, "output_config":{ "effort":"high" , "format":{"n":1.0} },"c":{"effort":2},"d":"effort"}';
  assert.equal(
    edit(body, { removeWithin: { output_config: ["effort"], c: ["effort"], d: ["effort"] } }),
    '{"a":1, "output_config":{ "format":{"n":1.0} },"d":"effort"}',
  );
  const untouched = '{"output_config":{"format":{}}}';
  assert.equal(edit(untouched, { removeWithin: { output_config: ["effort"] } }), untouched);
});
