import assert from "node:assert/strict";
import { formatTable } from "../../src/util/table.ts";

Deno.test("formatTable aligns columns, figures to the right, and paints cells after padding", () => {
  const rows = [["NAME", "STATE", "IN FLIGHT"], ["anthropic", "on", "3"], ["mock", "off", "12"]];
  assert.equal(
    formatTable(rows, { left: 2 }),
    ["NAME       STATE  IN FLIGHT", "anthropic  on             3", "mock       off           12"].join("\n"),
  );
  const painted = formatTable(rows, {
    left: 2,
    paint: (cell, row, column) => row > 0 && column === 1 ? `<${cell}>` : cell,
  });
  assert.equal(painted.split("\n")[1], "anthropic  <on   >          3");
  assert.equal(formatTable([["a", ""], ["bb", ""]]), "a\nbb", "no trailing blanks");
});
