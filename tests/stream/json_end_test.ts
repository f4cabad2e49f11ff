import assert from "node:assert/strict";
import { JsonEnd } from "../../src/stream/json_end.ts";

const encoder = new TextEncoder();

/** A scanner fed `chunks` in turn. */
function fed(...chunks: (string | Uint8Array)[]): JsonEnd {
  const end = new JsonEnd();
  for (const chunk of chunks) end.feed(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
  return end;
}

/** `text` cut at every byte offset into two chunks, and into one chunk per byte. */
function everySplit(text: string): Uint8Array[][] {
  const bytes = encoder.encode(text);
  const splits = [[bytes]];
  for (let at = 1; at < bytes.byteLength; at++) splits.push([bytes.subarray(0, at), bytes.subarray(at)]);
  splits.push([...bytes].map((byte) => Uint8Array.of(byte)));
  return splits;
}

Deno.test("JsonEnd: an object is complete at its own closing brace, not at a nested one ending a chunk", () => {
  const message = '{"content":[{"type":"text","text":"hi"}],"usage":{"output_tokens":3}}';
  const nested = message.indexOf("}") + 1;
  const first = fed(message.slice(0, nested));
  assert.deepEqual([first.complete(), first.whole()], [false, false]);
  first.feed(encoder.encode(message.slice(nested)));
  assert.deepEqual([first.complete(), first.whole()], [true, true]);
});

Deno.test("JsonEnd: braces, brackets and escaped quotes inside strings close nothing, however the chunks split them", () => {
  const message = JSON.stringify({
    type: "message",
    content: [{ type: "text", text: 'a } ] { [ "quoted" \\ " } \\"}' }],
    path: "C:\\",
    usage: { output_tokens: 3 },
  });
  for (const chunks of everySplit(message)) {
    const end = new JsonEnd();
    for (const [index, chunk] of chunks.entries()) {
      end.feed(chunk);
      if (index < chunks.length - 1) {
        assert.equal(end.complete(), false, `complete early, in ${chunks.length}`);
      }
    }
    assert.deepEqual([end.complete(), end.whole()], [true, true], `in ${chunks.length} chunks`);
    assert.equal(end.usageAt(), encoder.encode(message).byteLength - '"usage":{"output_tokens":3}}'.length);
  }
});

Deno.test("JsonEnd: a whole value that is no object is whole, a top-level number or literal only at the body's end", () => {
  for (const body of ["[]", "[1,{}]", '"ok"', '"a \\" }"', " [ ] \n", "\ufeff{}"]) {
    const end = fed(body);
    assert.deepEqual([end.complete(), end.whole()], [true, true], body);
  }
  for (const body of ["null", "42", "-1.5e3", "true", " false \r\n"]) {
    const end = fed(body);
    assert.deepEqual([end.complete(), end.whole()], [false, true], body);
  }
  // Cut, or no JSON value at all.
  for (const body of ["", "  \n", "nul", "4 2", "-", "<html>", "}{}", '"ok', "[1,", "1".repeat(65)]) {
    assert.equal(fed(body).whole(), false, JSON.stringify(body));
  }
});

Deno.test("JsonEnd: whitespace after the value keeps it whole, anything else does not", () => {
  const end = fed('{"a":1}', "\n", "  \r\n\t", "");
  assert.deepEqual([end.complete(), end.whole()], [true, true]);
  end.feed(encoder.encode(" {"));
  assert.deepEqual([end.complete(), end.whole()], [true, false]);
  assert.equal(fed("{}{}").whole(), false);
  assert.equal(fed("42 ", "x").whole(), false);
});

Deno.test("JsonEnd: a body cut anywhere is not whole, however long, after a nested brace too", () => {
  const message = JSON.stringify({
    type: "message",
    content: [{ type: "tool_use", input: { a: { b: "}" } } }, { type: "text", text: "x".repeat(5 << 20) }],
    usage: { output_tokens: 3 },
  });
  const bytes = encoder.encode(message);
  for (const cut of [message.indexOf("}}") + 2, message.indexOf("xxx"), bytes.byteLength - 1]) {
    const end = new JsonEnd();
    for (let at = 0; at < cut; at += 16_384) end.feed(bytes.subarray(at, Math.min(at + 16_384, cut)));
    assert.deepEqual([end.complete(), end.whole()], [false, false], `cut at ${cut}`);
  }
  const whole = new JsonEnd();
  for (let at = 0; at < bytes.byteLength; at += 16_384) whole.feed(bytes.subarray(at, at + 16_384));
  assert.deepEqual([whole.complete(), whole.whole()], [true, true]);
});

Deno.test("JsonEnd.usageAt finds the top-level object's own usage member, never one nested in another or quoted", () => {
  const body = '{"content":[{"type":"tool_use","input":{"usage":{"output_tokens":1}}}],' +
    '"text":"\\"usage\\":{}","usages":1,"us\\u0061ge":2,"x":{"usage":{}}';
  assert.equal(fed(body).usageAt(), undefined);
  const withUsage = `${body}, "usage" : {"output_tokens":3}}`;
  for (const chunks of everySplit(withUsage).slice(-3)) {
    const end = new JsonEnd();
    for (const chunk of chunks) end.feed(chunk);
    assert.equal(end.usageAt(), encoder.encode(withUsage).indexOf(0x22, encoder.encode(body).byteLength));
  }
  // An array's strings name nothing.
  assert.equal(fed('["usage",{"usage":1}]').usageAt(), undefined);
  // Offsets count bytes, not characters.
  assert.equal(fed('{"t":"é","usage":{}}').usageAt(), 10);
});

Deno.test("JsonEnd lets go of a byte order mark only whole and at the body's start, as relay's decoder does", () => {
  for (const chunks of everySplit("\ufeff{}")) {
    const end = new JsonEnd();
    for (const chunk of chunks) end.feed(chunk);
    assert.equal(end.whole(), true, `in ${chunks.length} chunks`);
  }
  const bom = encoder.encode("\ufeff");
  for (
    const [what, body] of [
      ["after whitespace", encoder.encode(" \ufeff{}")],
      ["twice", encoder.encode("\ufeff\ufeff{}")],
      ["one of its bytes alone", Uint8Array.of(0xbb, 0x7b, 0x7d)],
      ["its bytes out of order", Uint8Array.of(bom[1], bom[0], bom[2], 0x7b, 0x7d)],
    ] as const
  ) {
    assert.equal(fed(body).whole(), false, what);
  }
});

Deno.test("JsonEnd.usageEnd is just past the first object or array closed after the last usage name", () => {
  const usage = '"usage":{"output_tokens":3,"x":{"y":"}]"},"z":[1]}';
  const body = `{"usage":{"a":1},"t":"\\"usage\\":{}",${usage},"after":{}}`;
  for (const chunks of everySplit(body)) {
    const end = new JsonEnd();
    for (const chunk of chunks) end.feed(chunk);
    const at = end.usageAt()!;
    assert.equal(new TextDecoder().decode(encoder.encode(body).subarray(at, end.usageEnd())), usage);
  }
  assert.equal(fed('{"usage":{"output_tokens":3').usageEnd(), undefined, "not closed yet");
  assert.equal(
    fed('{"usage":{"a":1},"usage":{"b":').usageEnd(),
    undefined,
    "the last usage is not closed yet",
  );
  // Whatever the value, the first container closed after the name: its text tells a member that is no object.
  assert.equal(fed('{"usage":null,"x":[2]}').usageEnd(), 21);
});
