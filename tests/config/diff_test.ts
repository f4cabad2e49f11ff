import assert from "node:assert/strict";
import { diffLines, formatDiff } from "../../src/config/diff.ts";

Deno.test("diffLines keeps common lines and lists a changed line as removed, then added", () => {
  assert.deepEqual(diffLines("a\nb\nc\n", "a\nB\nc\n"), [
    { op: " ", text: "a" },
    { op: "-", text: "b" },
    { op: "+", text: "B" },
    { op: " ", text: "c" },
  ]);
});

Deno.test("diffLines finds the shortest edit: an insertion is not a rewrite of what follows", () => {
  const before = "server:\n  port: 8787\nproviders:\n  - name: a\n";
  const after = "server:\n  port: 8787\n  auth:\n    tokens: [x]\nproviders:\n  - name: a\n";
  const ops = diffLines(before, after).map((line) => line.op).join("");
  assert.equal(ops, "  ++  ");
});

Deno.test("diffLines handles empty sides and a missing final newline", () => {
  assert.deepEqual(diffLines("", "a\n"), [{ op: "+", text: "a" }]);
  assert.deepEqual(diffLines("a\n", ""), [{ op: "-", text: "a" }]);
  assert.deepEqual(diffLines("a", "a\n"), [{ op: " ", text: "a" }]);
});

Deno.test("formatDiff is empty when nothing changed", () => {
  assert.equal(formatDiff("a\nb\n", "a\nb\n", { from: "x", to: "y" }), "");
});

Deno.test("formatDiff prints unified hunks with context and GNU line ranges", () => {
  const before = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";
  const after = before.replace("line 2\n", "line two\n").replace("line 11\n", "line 11\nline 11.5\n");
  assert.equal(
    formatDiff(before, after, { from: "relay.yaml", to: "relay.yaml (new)", context: 1 }),
    [
      "--- relay.yaml",
      "+++ relay.yaml (new)",
      "@@ -1,3 +1,3 @@",
      " line 1",
      "-line 2",
      "+line two",
      " line 3",
      "@@ -11,2 +11,3 @@",
      " line 11",
      "+line 11.5",
      " line 12",
    ].join("\n"),
  );
});

Deno.test("formatDiff merges changes whose context overlaps into one hunk", () => {
  const diff = formatDiff("a\nb\nc\nd\ne\n", "A\nb\nc\nd\nE\n", { from: "x", to: "y", context: 2 });
  assert.equal(diff.split("\n").filter((line) => line.startsWith("@@")).length, 1);
  assert.match(diff, /^@@ -1,5 \+1,5 @@$/m);
});

Deno.test("formatDiff names the line before an empty side, as diff -u does", () => {
  assert.match(formatDiff("a\n", "a\nb\n", { from: "x", to: "y" }), /^@@ -1 \+1,2 @@$/m);
  assert.match(formatDiff("", "b\n", { from: "x", to: "y" }), /^@@ -0,0 \+1 @@$/m);
});
