import assert from "node:assert/strict";
import {
  claudeSettingsPath,
  mergeClaudeSettings,
  readClaudeSettings,
} from "../../src/config/claude_settings.ts";
import { ConfigError } from "../../src/config/errors.ts";

const VARS = { ANTHROPIC_BASE_URL: "http://127.0.0.1:8787", ANTHROPIC_AUTH_TOKEN: "rly_token" };

Deno.test("claudeSettingsPath is ~/.claude/settings.json unless CLAUDE_CONFIG_DIR moves it", () => {
  assert.equal(claudeSettingsPath(() => undefined, "/home/me"), "/home/me/.claude/settings.json");
  assert.equal(
    claudeSettingsPath((name) => (name === "CLAUDE_CONFIG_DIR" ? "/etc/claude" : undefined), "/home/me"),
    "/etc/claude/settings.json",
  );
});

Deno.test("mergeClaudeSettings starts a settings file when there is none", () => {
  for (const existing of [undefined, "", "  \n"]) {
    const { text, changes } = mergeClaudeSettings(existing, VARS, "settings.json");
    assert.deepEqual(JSON.parse(text), { env: VARS });
    assert.ok(text.endsWith("}\n"));
    assert.deepEqual(changes, [
      { name: "ANTHROPIC_BASE_URL", after: VARS.ANTHROPIC_BASE_URL },
      { name: "ANTHROPIC_AUTH_TOKEN", after: VARS.ANTHROPIC_AUTH_TOKEN },
    ]);
  }
});

Deno.test("mergeClaudeSettings keeps every other key and variable, in their order", () => {
  const existing = JSON.stringify({
    theme: "dark",
    env: { DISABLE_TELEMETRY: "1", ANTHROPIC_BASE_URL: "http://old:1" },
    permissions: { allow: ["Bash(ls)"] },
  });
  const { text, changes } = mergeClaudeSettings(existing, VARS, "settings.json");
  const merged = JSON.parse(text);
  assert.deepEqual(Object.keys(merged), ["theme", "env", "permissions"]);
  assert.deepEqual(merged.env, {
    DISABLE_TELEMETRY: "1",
    ANTHROPIC_BASE_URL: VARS.ANTHROPIC_BASE_URL,
    ANTHROPIC_AUTH_TOKEN: VARS.ANTHROPIC_AUTH_TOKEN,
  });
  assert.deepEqual(merged.permissions, { allow: ["Bash(ls)"] });
  assert.deepEqual(changes, [
    { name: "ANTHROPIC_BASE_URL", before: "http://old:1", after: VARS.ANTHROPIC_BASE_URL },
    { name: "ANTHROPIC_AUTH_TOKEN", after: VARS.ANTHROPIC_AUTH_TOKEN },
  ]);
});

Deno.test("mergeClaudeSettings lists nothing when the variables are already right", () => {
  const { changes } = mergeClaudeSettings(JSON.stringify({ env: VARS }), VARS, "settings.json");
  assert.deepEqual(changes, []);
});

Deno.test("mergeClaudeSettings refuses a file it cannot read as settings, naming it", () => {
  for (
    const [text, why] of [["{ not json", /not valid JSON/], ["[1, 2]", /does not hold a JSON object/], [
      '{"env": "x"}',
      /"env" is not an object/,
    ]] as const
  ) {
    assert.throws(
      () => mergeClaudeSettings(text, VARS, "/home/me/.claude/settings.json"),
      (error) =>
        error instanceof ConfigError && why.test(error.message) && error.message.includes("/home/me/.claude"),
    );
  }
});

Deno.test("readClaudeSettings gives the file's text and mode, or undefined when there is none", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/settings.json`;
    assert.equal(await readClaudeSettings(path), undefined);
    await Deno.writeTextFile(path, '{"theme":"dark"}\n');
    await Deno.chmod(path, 0o640);
    assert.deepEqual(await readClaudeSettings(path), { text: '{"theme":"dark"}\n', mode: 0o640 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readClaudeSettings refuses a file it cannot read, or that is not UTF-8, naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/settings.json`, new Uint8Array([0x7b, 0xff, 0x7d]));
    await Deno.symlink("loop.json", `${dir}/loop.json`);
    const cases: [string, string][] = [
      [
        `${dir}/settings.json/x.json`,
        `cannot read ${dir}/settings.json/x.json: part of its path is not a directory`,
      ],
      [`${dir}/loop.json`, `cannot read ${dir}/loop.json: its path runs into a symlink loop`],
      [dir, `cannot read ${dir}: it is a directory`],
      [`${dir}/settings.json`, `${dir}/settings.json is not valid UTF-8, so relay leaves it alone`],
    ];
    for (const [path, message] of cases) {
      await assert.rejects(() => readClaudeSettings(path), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.message, message);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mergeClaudeSettings tells of model variables the file sets and the new ones do not, keeping them", () => {
  const existing = JSON.stringify({
    env: { ANTHROPIC_MODEL: "sonnet-x", ANTHROPIC_DEFAULT_HAIKU_MODEL: "haiku-x", OTHER_MODEL: "mine" },
  });
  const merged = mergeClaudeSettings(
    existing,
    { ...VARS, ANTHROPIC_DEFAULT_HAIKU_MODEL: "haiku-y" },
    "s.json",
  );
  assert.deepEqual(merged.otherModels, [{ name: "ANTHROPIC_MODEL", value: "sonnet-x" }]);
  assert.equal(JSON.parse(merged.text).env.ANTHROPIC_MODEL, "sonnet-x", "kept: it may be the user's own");
  assert.deepEqual(mergeClaudeSettings(undefined, VARS, "s.json").otherModels, []);
});
