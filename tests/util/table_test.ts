import assert from "node:assert/strict";
import { cutToWidth, formatTable } from "../../src/util/table.ts";

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

Deno.test("formatTable measures cells in terminal columns: a wide character takes two, a combining mark none", () => {
  const rows = [["NAME", "N"], ["模型", "1"], ["mo\u0310del", "2"], ["plain", "3"]];
  assert.equal(
    formatTable(rows, { left: 1 }),
    ["NAME   N", "模型   1", "mo\u0310del  2", "plain  3"].join("\n"),
  );
});

Deno.test("formatTable draws a rule as wide as the table above the row asked", () => {
  assert.equal(
    formatTable([["NAME", "N"], ["total", "1"], ["total", "2"]], { left: 1, ruleAbove: 2 }),
    ["NAME   N", "total  1", "--------", "total  2"].join("\n"),
  );
});

Deno.test("cutToWidth cuts past the width with an ellipsis, never inside a character as shown", () => {
  assert.equal(cutToWidth("claude-sonnet-4-5", 17), "claude-sonnet-4-5", "fits");
  assert.equal(cutToWidth("claude-sonnet-4-5", 10), "claude-so…");
  assert.equal(cutToWidth("模型名字", 6), "模型…");
  assert.equal(cutToWidth("模型名字", 7), "模型名…");
  assert.equal(cutToWidth("mo\u0310del-combining", 4), "mo\u0310d…", "the mark stays with its letter");
});
