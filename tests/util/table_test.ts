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

Deno.test("cutToWidth leaves out the middle, keeping the start and the end, never inside a character as shown", () => {
  assert.equal(cutToWidth("claude-sonnet-4-5", 17), "claude-sonnet-4-5", "fits");
  assert.equal(cutToWidth("claude-sonnet-4-5", 10), "clau…t-4-5");
  assert.equal(cutToWidth("模型名字", 6), "模…字");
  assert.equal(cutToWidth("模型名字", 7), "模…名字", "the end takes the column a wide character left");
  assert.equal(cutToWidth("mo\u0310del-combining", 6), "mo\u0310…ing", "the mark stays with its letter");
  assert.equal(cutToWidth("abc", 1), "…");
});

Deno.test("cutToWidth keeps what tells long names apart: a key's id, an ARN's model", () => {
  const label = "anthropic-production-platform-team-primary (sk-ant-…abcd)";
  assert.deepEqual(
    [cutToWidth(`${label} k1a2b3c4d5e6`, 48), cutToWidth(`${label} k9f8e7d6c5b4`, 48)],
    ["anthropic-production-pl…-ant-…abcd) k1a2b3c4d5e6", "anthropic-production-pl…-ant-…abcd) k9f8e7d6c5b4"],
  );
  const arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-";
  assert.deepEqual(
    [cutToWidth(`${arn}sonnet-4-5`, 48), cutToWidth(`${arn}opus-4-1`, 48)],
    [
      "arn:aws:bedrock:us-east…hropic.claude-sonnet-4-5",
      "arn:aws:bedrock:us-east…nthropic.claude-opus-4-1",
    ],
  );
});
