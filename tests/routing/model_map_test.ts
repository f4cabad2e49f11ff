import assert from "node:assert/strict";
import {
  CONTEXT_1M_BETA,
  contextBeta,
  globMatches,
  globsMeet,
  ModelMap,
  modelMapProblems,
  withoutContextMark,
} from "../../src/routing/model_map.ts";

Deno.test("a provider without models: serves every model under its own name", () => {
  const map = new ModelMap(undefined);
  assert.equal(map.servesAll, true);
  assert.equal(map.resolve("claude-sonnet-4-5"), "claude-sonnet-4-5");
  assert.deepEqual(map.names, []);
});

Deno.test("exact names win over globs, and the most specific glob wins over a catch-all", () => {
  const map = new ModelMap({
    "*": "GLM-4.7",
    "claude-haiku-*": "anthropic.claude-haiku-*-v1:0",
    "claude-sonnet-4-5": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-*": "anthropic.claude-default",
  });
  assert.equal(map.resolve("claude-sonnet-4-5"), "anthropic.claude-sonnet-4-5-20250929-v1:0");
  assert.equal(map.resolve("claude-haiku-4-5"), "anthropic.claude-haiku-4-5-v1:0");
  assert.equal(map.resolve("claude-opus-4-1"), "anthropic.claude-default");
  assert.equal(map.resolve("gpt-4o"), "GLM-4.7");
  assert.deepEqual(map.names, ["claude-sonnet-4-5"]);
  assert.deepEqual(map.patterns, ["claude-sonnet-4-5", "claude-haiku-*", "claude-*", "*"]);
});

Deno.test("a mapped provider does not serve models outside its table", () => {
  const map = new ModelMap({ "GLM-4.7": "glm-4.7", "claude-sonnet-4-5": "glm-4.7" });
  assert.equal(map.resolve("claude-opus-4-1"), undefined);
  assert.equal(map.resolve("glm-4.7"), undefined, "names are matched exactly, case included");
});

Deno.test("glob characters other than * are literal", () => {
  const map = new ModelMap({ "claude-3.5-*": "x-*" });
  assert.equal(map.resolve("claude-3.5-sonnet"), "x-sonnet");
  assert.equal(map.resolve("claude-3x5-sonnet"), undefined);
});

Deno.test("what the * matched is copied as it is, $ patterns included", () => {
  const map = new ModelMap({ "claude-*": "up-*" });
  assert.equal(map.resolve("claude-A$&B$`C$'D$$E"), "up-A$&B$`C$'D$$E");
});

Deno.test("a glob of many stars answers a long name at once, and as its regex did, capture included", () => {
  // A regex of several `(.*)` backtracks through every way to share the name among them: `claude-*-*-*-*-4`
  // against a client's 256 dashes held the event loop a second. No such regex may run at all.
  const exec = RegExp.prototype.exec;
  RegExp.prototype.exec = function (this: RegExp, text: string) {
    if (this.source.includes(".*")) throw new Error(`a backtracking regex /${this.source}/ ran`);
    return exec.call(this, text);
  };
  try {
    const dashes = "-".repeat(256);
    assert.equal(globMatches("claude-*-*-*-*-4", dashes), false);
    assert.equal(globMatches("claude-*-*-*-*-*-4", `claude-${dashes}4`), true);
    assert.equal(globMatches("claude-*-*-*-*-*-4", `claude-${dashes}4x`), false);
    assert.equal(new ModelMap({ "claude-*-*-*-*-4": "x" }).resolve(dashes), undefined);
    // The first `*` takes as much as the rest leaves, as a greedy `(.*)` did.
    assert.equal(new ModelMap({ "a*-*": "up-*" }).resolve("a1-2-3"), "up-1-2");
    assert.equal(new ModelMap({ "*": "up-*" }).resolve(""), "up-");
    assert.equal(new ModelMap({ "a**b": "up-*" }).resolve("axyb"), "up-xy");
    // Every other character is itself, a `*` in the name too; case counts.
    assert.equal(globMatches("claude-haiku-*", "claude-*"), false);
    assert.equal(globMatches("claude-*", "claude-*"), true);
    assert.equal(globMatches("Claude-*", "claude-x"), false);
    // A `*` takes no line break, as a regex's `.` took none; one the glob spells stands for itself.
    assert.equal(globMatches("claude-*", "claude-a\nb"), false);
    assert.equal(new ModelMap({ "a*\n*b": "x-*" }).resolve("a1\n2b"), "x-1");
    assert.equal(globMatches("a*\n*b", "a1\r2b"), false);
  } finally {
    RegExp.prototype.exec = exec;
  }
});

Deno.test("modelMapProblems refuses a * in the upstream id that has nothing to copy", () => {
  assert.deepEqual(modelMapProblems({ "claude-*": "a.*", "x": "y" }), []);
  assert.equal(modelMapProblems({ "claude-sonnet": "a.*" }).length, 1);
  assert.equal(modelMapProblems({ "*-*": "a.*" }).length, 1);
  assert.match(modelMapProblems({ "c-*": "a*b*" })[0], /exactly one \*|one \* at most/);
});

Deno.test("globsMeet tells whether some model name matches both globs", () => {
  const meets: [string, string][] = [
    ["claude-*-4-5", "claude-sonnet-*"],
    ["claude-*", "claude-haiku-*"],
    ["*", "gpt-4o"],
    ["*-mini", "gpt-*"],
    ["a*b*c", "*b*"],
    ["gpt-4o", "gpt-4o"],
  ];
  const apart: [string, string][] = [
    ["claude-haiku-*", "gpt-*"],
    ["claude-*-4-5", "claude-*-4-1"],
    ["gpt-4o", "gpt-4o-mini"],
    ["a*", "b*"],
    ["*x", "*y"],
  ];
  for (const [a, b] of meets) {
    assert.equal(globsMeet(a, b), true, `${a} and ${b}`);
    assert.equal(globsMeet(b, a), true, `${b} and ${a}`);
  }
  for (const [a, b] of apart) {
    assert.equal(globsMeet(a, b), false, `${a} and ${b}`);
    assert.equal(globsMeet(b, a), false, `${b} and ${a}`);
  }
});

Deno.test("a name with the 1M-context mark is served as the name without it, unless the table names it", () => {
  const map = new ModelMap({
    "claude-sonnet-4-5": "anthropic.claude-sonnet-4-5-v1:0",
    "anth-*": "claude-*",
    "claude-opus-4-1[1m]": "opus-long",
  });
  assert.deepEqual(
    [
      map.resolve("claude-sonnet-4-5[1m]"),
      map.resolve("claude-sonnet-4-5[1M]"),
      map.resolve("anth-opus-4-8[1m]"),
      map.resolve("claude-opus-4-1[1m]"),
      map.resolve("claude-haiku-4-5[1m]"),
      map.resolve("claude-sonnet-4-5[2m]"),
    ],
    [
      "anthropic.claude-sonnet-4-5-v1:0",
      "anthropic.claude-sonnet-4-5-v1:0",
      "claude-opus-4-8",
      "opus-long",
      undefined,
      undefined,
    ],
  );
  const any = new ModelMap(undefined);
  assert.deepEqual([any.resolve("claude-opus-4-8[1m]"), any.resolve("[1m]")], ["claude-opus-4-8", "[1m]"]);
});

Deno.test("contextBeta asks for the 1M context where the mark was taken off the model", () => {
  assert.equal(withoutContextMark("claude-sonnet-4-5[1m]"), "claude-sonnet-4-5");
  assert.equal(withoutContextMark("claude-sonnet-4-5"), "claude-sonnet-4-5");
  assert.deepEqual(
    [
      contextBeta("claude-sonnet-4-5[1m]", "anthropic.claude-sonnet-4-5-v1:0"),
      contextBeta("claude-sonnet-4-5[1m]", "claude-sonnet-4-5[1m]"),
      contextBeta("claude-sonnet-4-5", "claude-sonnet-4-5"),
      contextBeta(undefined, undefined),
      contextBeta("claude-sonnet-4-5[1m]", undefined),
    ],
    [CONTEXT_1M_BETA, undefined, undefined, undefined, undefined],
  );
  assert.equal(CONTEXT_1M_BETA, "context-1m-2025-08-07");
});
