import assert from "node:assert/strict";
import { BOM_BYTES, BOM_TEXT, concatBytes, startsWithBom } from "../../src/util/bytes.ts";

Deno.test("concatBytes joins chunks in order", () => {
  assert.deepEqual(
    concatBytes([new Uint8Array([1]), new Uint8Array(), new Uint8Array([2, 3])]),
    new Uint8Array([1, 2, 3]),
  );
});

Deno.test("BOM_BYTES are U+FEFF in UTF-8, which BOM_TEXT is, and which TextDecoder lets go of", () => {
  assert.deepEqual([...new TextEncoder().encode(BOM_TEXT)], BOM_BYTES);
  assert.equal(new TextDecoder().decode(new Uint8Array([...BOM_BYTES, 0x7b])), "{");
});

Deno.test("startsWithBom tells a whole mark at the start only", () => {
  assert.equal(startsWithBom(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b])), true);
  assert.equal(startsWithBom(new Uint8Array([0xef, 0xbb, 0xbf])), true);
  assert.equal(startsWithBom(new Uint8Array([0xef, 0xbb])), false, "cut short");
  assert.equal(startsWithBom(new Uint8Array([0x20, 0xef, 0xbb, 0xbf])), false, "not at the start");
  assert.equal(startsWithBom(new Uint8Array()), false);
});
