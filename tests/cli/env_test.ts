import assert from "node:assert/strict";
import { claudeCodeEnv, formatExports, NO_CLIENT_TOKEN } from "../../src/cli/env.ts";
import { shellQuote } from "../../src/util/shell_quote.ts";
import { configSchema } from "../../src/config/schema.ts";
import { FROM_SOURCE, runRelay, sandbox, writeConfig } from "../_helpers/cli.ts";

const TOKEN = "rly_00112233445566778899aabbccddeeff";

function config(
  server: Record<string, unknown>,
  providers: Record<string, unknown>[] = [{ name: "m", type: "mock" }],
) {
  return configSchema.parse({ server, providers });
}

Deno.test("claudeCodeEnv points Claude Code at relay with the first client token", () => {
  assert.deepEqual(claudeCodeEnv(config({ port: 8788, auth: { tokens: [TOKEN, "second-token"] } })), {
    ANTHROPIC_BASE_URL: "http://127.0.0.1:8788",
    ANTHROPIC_AUTH_TOKEN: TOKEN,
  });
  // Without client tokens, a placeholder: Claude Code without a login of its own starts only with one.
  assert.deepEqual(claudeCodeEnv(config({})), {
    ANTHROPIC_BASE_URL: "http://127.0.0.1:8787",
    ANTHROPIC_AUTH_TOKEN: NO_CLIENT_TOKEN,
  });
});

Deno.test("claudeCodeEnv dials a wildcard bind through loopback, and brackets IPv6", () => {
  const tokens = { tokens: [TOKEN] };
  assert.equal(
    claudeCodeEnv(config({ host: "0.0.0.0", auth: tokens })).ANTHROPIC_BASE_URL,
    "http://127.0.0.1:8787",
  );
  assert.equal(claudeCodeEnv(config({ host: "::", auth: tokens })).ANTHROPIC_BASE_URL, "http://[::1]:8787");
  assert.equal(claudeCodeEnv(config({ host: "::1" })).ANTHROPIC_BASE_URL, "http://[::1]:8787");
  assert.equal(claudeCodeEnv(config({ host: "localhost" })).ANTHROPIC_BASE_URL, "http://localhost:8787");
});

Deno.test("claudeCodeEnv sets the model variables from exact names in the models tables, not globs", () => {
  const vars = claudeCodeEnv(config({}, [
    { name: "z", type: "mock", models: { "claude-*": "GLM-4.7" } },
    {
      name: "b",
      type: "mock",
      models: {
        "claude-haiku-4-5": "h",
        "claude-sonnet-4-5": "s",
        "claude-opus-4-1": "o",
        "claude-sonnet-4": "s4",
      },
    },
  ]));
  assert.deepEqual(vars, {
    ANTHROPIC_BASE_URL: "http://127.0.0.1:8787",
    ANTHROPIC_AUTH_TOKEN: NO_CLIENT_TOKEN,
    ANTHROPIC_MODEL: "claude-sonnet-4-5",
    ANTHROPIC_DEFAULT_OPUS_MODEL: "claude-opus-4-1",
    ANTHROPIC_DEFAULT_SONNET_MODEL: "claude-sonnet-4-5",
    ANTHROPIC_DEFAULT_HAIKU_MODEL: "claude-haiku-4-5",
  });
  assert.deepEqual(
    claudeCodeEnv(config({}, [{ name: "o", type: "mock", models: { "qwen3-coder": "qwen3-coder" } }])),
    {
      ANTHROPIC_BASE_URL: "http://127.0.0.1:8787",
      ANTHROPIC_AUTH_TOKEN: NO_CLIENT_TOKEN,
      ANTHROPIC_MODEL: "qwen3-coder",
      // Served exact names only: Claude Code's haiku (side tasks, subagents) would be a 404.
      ANTHROPIC_DEFAULT_OPUS_MODEL: "qwen3-coder",
      ANTHROPIC_DEFAULT_SONNET_MODEL: "qwen3-coder",
      ANTHROPIC_DEFAULT_HAIKU_MODEL: "qwen3-coder",
    },
  );
  assert.deepEqual(
    claudeCodeEnv(config({}, [
      { name: "o", type: "mock", models: { "qwen3-coder": "qwen3-coder", "claude-sonnet-4-5": "s" } },
      { name: "a", type: "mock" },
    ])),
    {
      ANTHROPIC_BASE_URL: "http://127.0.0.1:8787",
      ANTHROPIC_AUTH_TOKEN: NO_CLIENT_TOKEN,
      ANTHROPIC_MODEL: "claude-sonnet-4-5",
      ANTHROPIC_DEFAULT_SONNET_MODEL: "claude-sonnet-4-5",
    },
    "a provider serving any name serves Claude Code's own ids",
  );
  assert.deepEqual(
    claudeCodeEnv(config({}, [
      { name: "a", type: "mock" },
      { name: "o", type: "mock", models: { "claude-haiku-4-5": "mini", "gpt-4o": "big" } },
    ])),
    {
      ANTHROPIC_BASE_URL: "http://127.0.0.1:8787",
      ANTHROPIC_AUTH_TOKEN: NO_CLIENT_TOKEN,
      ANTHROPIC_DEFAULT_HAIKU_MODEL: "claude-haiku-4-5",
    },
    "Claude Code's main model is its own while a provider serves its ids: not the haiku, nor gpt-4o, named",
  );
  assert.deepEqual(
    Object.keys(claudeCodeEnv(config({}, [{ name: "z", type: "mock", models: { "*": "x" } }]))),
    ["ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"],
  );
});

Deno.test("formatExports writes posix or fish lines, quoting only what needs it", () => {
  const vars = { A: "http://127.0.0.1:8787", B: "it's a $value" };
  assert.equal(formatExports(vars, "posix"), "export A=http://127.0.0.1:8787\nexport B='it'\\''s a $value'");
  assert.equal(formatExports(vars, "fish"), "set -gx A http://127.0.0.1:8787\nset -gx B 'it\\'s a $value'");
});

Deno.test("shellQuote round-trips through a real shell", async () => {
  for (const value of ["plain", "two words", "it's", '$HOME `x` \\ "q"', ""]) {
    const { stdout } = await new Deno.Command("sh", { args: ["-c", `printf %s ${shellQuote(value)}`] })
      .output();
    assert.equal(new TextDecoder().decode(stdout), value);
  }
});

/** Runs `relay env` on a config file of `yaml`, with the client token set in RELAY_CLIENT_TOKEN. */
async function envWithClientToken(yaml: string) {
  const path = await writeConfig(await sandbox(), yaml);
  return { path, ...await runRelay(["env", "-c", path], { env: { RELAY_CLIENT_TOKEN: TOKEN } }) };
}

/** What `relay env` prints for relay on `port` with TOKEN, its one provider serving claude-sonnet-4-5. */
function sonnetOnlyExports(port: number): string {
  return [
    `export ANTHROPIC_BASE_URL=http://127.0.0.1:${port}`,
    `export ANTHROPIC_AUTH_TOKEN=${TOKEN}`,
    "export ANTHROPIC_MODEL=claude-sonnet-4-5",
    // The one provider serves that name only: Claude Code's opus and haiku go to it too.
    "export ANTHROPIC_DEFAULT_OPUS_MODEL=claude-sonnet-4-5",
    "export ANTHROPIC_DEFAULT_SONNET_MODEL=claude-sonnet-4-5",
    "export ANTHROPIC_DEFAULT_HAIKU_MODEL=claude-sonnet-4-5",
    "",
  ].join("\n");
}

Deno.test("relay env prints eval-able exports, the token expanded from the environment", async () => {
  const { code, stdout, stderr } = await envWithClientToken(
    'server:\n  port: 8790\n  auth:\n    tokens: ["${RELAY_CLIENT_TOKEN}"]\nproviders:\n  - name: m\n    type: mock\n' +
      "    models:\n      claude-sonnet-4-5: x\n",
  );
  assert.equal(code, 0, stderr);
  assert.equal(stdout, sonnetOnlyExports(8790));
  const evaluated = await new Deno.Command("sh", {
    args: ["-c", `${stdout}\nprintf '%s %s' "$ANTHROPIC_BASE_URL" "$ANTHROPIC_AUTH_TOKEN"`],
  }).output();
  assert.equal(new TextDecoder().decode(evaluated.stdout), `http://127.0.0.1:8790 ${TOKEN}`);
});

Deno.test("relay env reads its fields despite a provider key's variable this shell does not set", async () => {
  const { path, code, stdout, stderr } = await envWithClientToken(
    'server:\n  port: 8791\n  auth:\n    tokens: ["${RELAY_CLIENT_TOKEN}"]\nproviders:\n  - name: a\n' +
      "    type: anthropic\n    keys:\n      - key: ${ANTHROPIC_API_KEY}\n    models:\n      claude-sonnet-4-5: x\n",
  );
  assert.equal(code, 0, stderr);
  assert.equal(stdout, sonnetOnlyExports(8791));
  assert.match(stderr, /^note: .*relay\.yaml does not load, so relay env read only .*\n.*ANTHROPIC_API_KEY/);

  // The client token is relay env's business: unset, it is the file's error, and nothing is exported.
  const unset = await runRelay(["env", "-c", path]);
  assert.equal(unset.code, 1);
  assert.equal(unset.stdout, "");
  assert.match(unset.stderr, /server\.auth\.tokens\[0\]: environment variable RELAY_CLIENT_TOKEN is not set/);
  assert.doesNotMatch(unset.stderr, /note:/);
});

Deno.test("relay env --json and --shell fish", async () => {
  const folder = await sandbox();
  const path = await writeConfig(
    folder,
    `server:\n  auth:\n    tokens: ["${TOKEN}"]\nproviders:\n  - { name: m, type: mock }\n`,
  );
  const json = await runRelay(["env", "-c", path, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), {
    ANTHROPIC_BASE_URL: "http://127.0.0.1:8787",
    ANTHROPIC_AUTH_TOKEN: TOKEN,
  });
  const fish = await runRelay(["env", "-c", path, "--shell", "fish"]);
  assert.equal(
    fish.stdout,
    `set -gx ANTHROPIC_BASE_URL http://127.0.0.1:8787\nset -gx ANTHROPIC_AUTH_TOKEN ${TOKEN}\n`,
  );
});

Deno.test("relay env --json escapes what a terminal would act on, as every --json of relay's does", async () => {
  const folder = await sandbox();
  const path = await writeConfig(
    folder,
    'providers:\n  - name: m\n    type: mock\n    models:\n      "claude-sonnet-\\u202e": x\n',
  );
  const { code, stdout, stderr } = await runRelay(["env", "-c", path, "--json"]);
  assert.equal(code, 0, stderr);
  assert.ok(!stdout.includes("\u202e"), stdout);
  assert.equal(JSON.parse(stdout).ANTHROPIC_MODEL, "claude-sonnet-\u202e");
});

Deno.test("relay env with no config keeps stdout eval-able: the banner goes to stderr", async () => {
  const { code, stdout, stderr } = await runRelay(["env"]);
  assert.equal(code, 0);
  assert.equal(
    stdout,
    "export ANTHROPIC_BASE_URL=http://127.0.0.1:8787\nexport ANTHROPIC_AUTH_TOKEN=relay-takes-any-token\n", // as the README shows it
  );
  assert.match(stderr, /No config file found/);
  assert.match(stderr, /relay takes any client credential/);
});

Deno.test("relay env refuses a config on port 0, at its line and column: there is no URL to give", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, "server:\n  port: 0\nproviders:\n  - { name: m, type: mock }\n");
  const { code, stdout, stderr } = await runRelay(["env", "-c", path]);
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.equal(
    stderr.trim(),
    `${path}:2:9: server.port: is 0 (any free port), so there is no fixed URL to give Claude Code: set a port`,
  );
});

Deno.test("relay env --claude-settings writes ~/.claude/settings.json privately when there is none", async () => {
  const home = await sandbox();
  const path = await writeConfig(
    home,
    `server:\n  auth:\n    tokens: ["${TOKEN}"]\nproviders:\n  - { name: m, type: mock }\n`,
  );
  const { code, stdout, stderr } = await runRelay(["env", "-c", path, "--claude-settings"], { cwd: home });
  assert.equal(code, 0, stderr);
  const settings = `${home}/.claude/settings.json`;
  assert.deepEqual(JSON.parse(await Deno.readTextFile(settings)), {
    env: { ANTHROPIC_BASE_URL: "http://127.0.0.1:8787", ANTHROPIC_AUTH_TOKEN: TOKEN },
  });
  assert.equal((await Deno.stat(settings)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(`${home}/.claude`)).mode! & 0o777, 0o700);
  assert.match(stdout, /ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:8787 \(added\)/);
  assert.ok(!stdout.includes(TOKEN), "the token is shown masked");
});

Deno.test("relay env --claude-settings tells of an earlier config's model names it no longer sets", async () => {
  const home = await sandbox();
  const path = await writeConfig(home, "providers:\n  - { name: m, type: mock }\n");
  const settings = `${home}/claude.json`;
  await Deno.writeTextFile(settings, JSON.stringify({ env: { ANTHROPIC_MODEL: "sonnet-x" } }));
  const { code, stderr } = await runRelay(["env", "-c", path, "--claude-settings", settings, "--yes"]);
  assert.equal(code, 0, stderr);
  assert.match(
    stderr,
    /^note: .*claude\.json also sets ANTHROPIC_MODEL=sonnet-x, which relay env does not set for this config: remove them if an earlier relay env put them there$/m,
  );
  assert.equal(JSON.parse(await Deno.readTextFile(settings)).env.ANTHROPIC_MODEL, "sonnet-x");
});

Deno.test("relay env --claude-settings PATH merges, keeps other keys, and asks before replacing", async () => {
  const home = await sandbox();
  const path = await writeConfig(
    home,
    `server:\n  auth:\n    tokens: ["${TOKEN}"]\nproviders:\n  - { name: m, type: mock }\n`,
  );
  const settings = `${home}/claude.json`;
  const original = JSON.stringify({
    model: "opus",
    env: { DISABLE_TELEMETRY: "1", ANTHROPIC_AUTH_TOKEN: "rly_old_token_0000" },
  });
  await Deno.writeTextFile(settings, original, { mode: 0o644 });

  const refused = await runRelay(["env", "-c", path, "--claude-settings", settings]);
  assert.equal(refused.code, 2);
  assert.match(
    refused.stderr,
    /already sets what relay would change:\n {2}ANTHROPIC_AUTH_TOKEN=rly\.\.\.eeff \(was rly\.\.\.0000\)/,
  );
  assert.match(refused.stderr, /--yes/);
  assert.equal(await Deno.readTextFile(settings), original, "untouched without --yes");

  const { code, stdout, stderr } = await runRelay([
    "env",
    "-c",
    path,
    "--claude-settings",
    settings,
    "--yes",
  ]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(settings)), {
    model: "opus",
    env: { DISABLE_TELEMETRY: "1", ANTHROPIC_AUTH_TOKEN: TOKEN, ANTHROPIC_BASE_URL: "http://127.0.0.1:8787" },
  });
  assert.equal((await Deno.stat(settings)).mode! & 0o777, 0o600, "the token is private");
  assert.equal(stderr, `${settings} was mode 0644; made 0600 as it holds relay's client token\n`);
  assert.match(stdout, /ANTHROPIC_AUTH_TOKEN=rly\.\.\.eeff \(was rly\.\.\.0000\)/);
  assert.match(stdout, /ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:8787 \(added\)/);

  const again = await runRelay(["env", "-c", path, "--claude-settings", settings]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /nothing to change/);

  // As an earlier relay left it: the token in, readable by others. Nothing to change but the mode.
  await Deno.chmod(settings, 0o644);
  const tightened = await runRelay(["env", "-c", path, "--claude-settings", settings]);
  assert.equal(tightened.code, 0);
  assert.match(tightened.stdout, /nothing to change/);
  assert.equal(tightened.stderr, `${settings} was mode 0644; made 0600 as it holds relay's client token\n`);
  assert.equal((await Deno.stat(settings)).mode! & 0o777, 0o600);
});

Deno.test("relay env --claude-settings says a file was made 0600 only once it was", async () => {
  const home = await sandbox();
  const path = await writeConfig(
    home,
    `server:\n  auth:\n    tokens: ["${TOKEN}"]\nproviders:\n  - { name: m, type: mock }\n`,
  );
  await Deno.mkdir(`${home}/locked`);
  const settings = `${home}/locked/settings.json`;
  // Neither chmod nor a new file can be made in the folder, even by root.
  const locked = FROM_SOURCE.flatMap((part) =>
    part === "-P=relay" ? [part, `--deny-write=${home}/locked`] : [part]
  );
  const run = () => runRelay(["env", "-c", path, "--claude-settings", settings], { command: locked });

  await Deno.writeTextFile(settings, JSON.stringify({ model: "opus" }), { mode: 0o644 });
  const write = await run();
  assert.equal(write.code, 1);
  assert.match(write.stderr, /^cannot write .*\/settings\.json: Requires write access to /);
  assert.doesNotMatch(write.stderr, /made 0600/);

  // Nothing to change but the mode.
  assert.equal((await runRelay(["env", "-c", path, "--claude-settings", settings])).code, 0);
  await Deno.chmod(settings, 0o644);
  const chmod = await run();
  assert.equal(chmod.code, 1);
  assert.equal(
    chmod.stderr,
    `cannot make ${settings} private: Requires write access to "${settings}", run again with the --allow-write flag\n`,
    'no "made 0600", and the reason without its class name',
  );
  assert.equal((await Deno.stat(settings)).mode! & 0o777, 0o644);
});

Deno.test("relay env --claude-settings keeps the file's mode when only the placeholder token goes in", async () => {
  const home = await sandbox();
  const path = await writeConfig(home, "providers:\n  - { name: m, type: mock }\n");
  const settings = `${home}/claude.json`;
  await Deno.writeTextFile(settings, JSON.stringify({ model: "opus" }));
  await Deno.chmod(settings, 0o644);

  const { code, stderr } = await runRelay(["env", "-c", path, "--claude-settings", settings]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(settings)), {
    model: "opus",
    env: { ANTHROPIC_BASE_URL: "http://127.0.0.1:8787", ANTHROPIC_AUTH_TOKEN: NO_CLIENT_TOKEN },
  });
  assert.equal((await Deno.stat(settings)).mode! & 0o777, 0o644);
  assert.doesNotMatch(stderr, /made 0600/);
});

Deno.test("relay env --claude-settings leaves a settings file it cannot parse alone", async () => {
  const home = await sandbox();
  const settings = `${home}/settings.json`;
  await Deno.writeTextFile(settings, "{ broken");
  const { code, stderr } = await runRelay(["env", "--claude-settings", settings, "--yes"]);
  assert.equal(code, 1);
  assert.match(stderr, /not valid JSON/);
  assert.equal(await Deno.readTextFile(settings), "{ broken");
});

/**
 * Runs `relay env --claude-settings` and `relay init` in `folder`, each on a file under its `parent`:
 * each must exit 1 with `stderr` as `expected` says, and no stack trace.
 */
async function failsUnder(folder: string, parent: string, expected: RegExp): Promise<void> {
  for (
    const args of [
      ["env", "--claude-settings", `${folder}/${parent}/settings.json`],
      ["init", "-c", `${folder}/${parent}/relay.yaml`, "--yes", "--provider", "mock"],
    ]
  ) {
    const { code, stderr } = await runRelay(args, { cwd: folder });
    assert.equal(code, 1, args.join(" "));
    assert.match(stderr, expected);
    assert.doesNotMatch(stderr, /Uncaught| {4}at /);
  }
}

Deno.test("relay env --claude-settings and relay init name a path they cannot read, with no stack trace", async () => {
  const folder = await sandbox();
  await Deno.writeTextFile(`${folder}/file`, "");
  await failsUnder(
    folder,
    "file",
    /cannot read .*\/file\/(settings\.json|relay\.yaml): part of its path is not a directory/,
  );
});

Deno.test("relay env, usage and status with no config are not stopped by a $ANTHROPIC_API_KEY relay cannot send", async () => {
  const { code, stdout, stderr } = await runRelay(["env"], {
    env: { ANTHROPIC_API_KEY: "sk-ant-SECRET\u00e9" },
  });
  assert.equal(code, 0, stderr);
  assert.equal(
    stdout,
    `export ANTHROPIC_BASE_URL=http://127.0.0.1:8787\nexport ANTHROPIC_AUTH_TOKEN=${NO_CLIENT_TOKEN}\n`,
  );
  assert.match(
    stderr,
    /\$ANTHROPIC_API_KEY cannot be used, so relay serve would refuse to start: character 14/,
  );
  assert.ok(!stderr.includes("SECRET"), stderr);
  // Nor are relay usage and relay status, which read the ledger's place and the admin API's.
  const usage = await runRelay(["usage"], { env: { ANTHROPIC_API_KEY: "sk-ant-SECRET\u00e9" } });
  assert.match(usage.stderr, /^no ledger at .* yet: relay serve creates it when it starts\n$/);
  const status = await runRelay(["status"], { env: { ANTHROPIC_API_KEY: "sk-ant-SECRET\u00e9" } });
  assert.match(status.stderr, /^relay's admin API is off: no server.admin.token in the built-in defaults/);
});

Deno.test("relay env --claude-settings and relay init name a path they cannot write and why, with no stack trace", async () => {
  const folder = await sandbox();
  // A folder that cannot be made, even by root: its name is taken by a link to nowhere.
  await Deno.symlink(`${folder}/nowhere/at-all`, `${folder}/link`);
  await failsUnder(
    folder,
    "link",
    /^cannot write .*\/link\/(settings\.json|relay\.yaml): File exists \(os error 17\): mkdir '.*\/link'$/m,
  );
});

Deno.test("relay env --claude-settings writes through a symlinked settings file, keeping the link", async () => {
  const home = await sandbox();
  await Deno.mkdir(`${home}/dotfiles`);
  await Deno.writeTextFile(`${home}/dotfiles/settings.json`, '{"model":"x"}', { mode: 0o600 });
  await Deno.mkdir(`${home}/.claude`);
  await Deno.symlink("../dotfiles/settings.json", `${home}/.claude/settings.json`);
  const { code, stderr } = await runRelay(["env", "--claude-settings"], { cwd: home });
  assert.equal(code, 0, stderr);
  assert.ok((await Deno.lstat(`${home}/.claude/settings.json`)).isSymlink);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(`${home}/dotfiles/settings.json`)), {
    model: "x",
    env: { ANTHROPIC_BASE_URL: "http://127.0.0.1:8787", ANTHROPIC_AUTH_TOKEN: NO_CLIENT_TOKEN },
  });
  assert.deepEqual((await Array.fromAsync(Deno.readDir(`${home}/.claude`))).map((e) => e.name), [
    "settings.json",
  ]);
});
