import assert from "node:assert/strict";
import { formatByteSize, formatDuration } from "../../src/config/format_units.ts";

Deno.test("formatDuration uses the largest unit that is exact", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(250), "250ms");
  assert.equal(formatDuration(1_500), "1.5s");
  assert.equal(formatDuration(30_000), "30s");
  assert.equal(formatDuration(90_000), "90s");
  assert.equal(formatDuration(300_000), "5m");
  assert.equal(formatDuration(7_200_000), "2h");
});

Deno.test("formatByteSize uses binary units when exact, bytes otherwise", () => {
  assert.equal(formatByteSize(33_554_432), "32MiB");
  assert.equal(formatByteSize(512 * 1024), "512KiB");
  assert.equal(formatByteSize(1_000), "1000 bytes");
  assert.equal(formatByteSize(0), "0 bytes");
});
