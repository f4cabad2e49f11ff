import assert from "node:assert/strict";
import { runRelay, sandbox, writeConfig } from "../_helpers/cli.ts";

const KEY = "sk-ant-api03-checktestkey-000000000000000x7f2";

Deno.test("relay check prints a summary with keys masked and exits 0", async () => {
  const folder = await sandbox();
  const path = await writeConfig(
    folder,
    "providers:\n  - name: anthropic\n    type: anthropic\n    keys:\n      - key: ${ANTHROPIC_API_KEY}\n",
  );
  const { code, stdout, stderr } = await runRelay(["check", "--config", path], {
    env: { ANTHROPIC_API_KEY: KEY },
  });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /anthropic/);
  assert.match(stdout, /sk-ant-\.\.\.x7f2/);
  assert.ok(!stdout.includes(KEY) && !stderr.includes(KEY), "the key never appears in full");
  assert.match(stdout, /is valid/);
});

Deno.test("relay check with no config shows the defaults it would use, with ANTHROPIC_API_KEY masked", async () => {
  const { code, stdout } = await runRelay(["check"], { env: { ANTHROPIC_API_KEY: KEY } });
  assert.equal(code, 0);
  assert.match(stdout, /No config file found/);
  assert.match(stdout, /Relaying to Anthropic/);
  assert.ok(!stdout.includes(KEY));
});

Deno.test("relay check exits 1 with file:line:column and the offending line for broken YAML", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, "server:\n  port: 8787\n\thost: x\nproviders: []\n");
  const { code, stderr } = await runRelay(["check", "-c", path]);
  assert.equal(code, 1);
  assert.equal(stderr, `${path}:3:1: Tabs are not allowed as indentation\n  \thost: x\n  ^\n`);
});

Deno.test("relay check names an unset variable and where it is used", async () => {
  const folder = await sandbox();
  const path = await writeConfig(
    folder,
    "providers:\n  - name: a\n    type: anthropic\n    keys:\n      - key: ${RELAY_TEST_UNSET_KEY}\n",
  );
  const { code, stderr } = await runRelay(["check", "-c", path]);
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`${path}:5:\\d+: providers\\[0\\]\\.keys\\[0\\]\\.key`));
  assert.match(stderr, /RELAY_TEST_UNSET_KEY is not set/);
});

Deno.test("relay check names a provider whose credentials cannot be read, at its entry's line", async () => {
  const folder = await sandbox();
  const path = await writeConfig(
    folder,
    "providers:\n  - name: m\n    type: mock\n  - name: vx\n    type: vertex\n    project: p\n" +
      `    region: global\n    credentials_file: ${folder}/missing.json\n`,
  );
  const { code, stderr } = await runRelay(["check", "-c", path]);
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`^${path}:4:5: providers\\[1\\]: vx: cannot read service-account file `));
});

Deno.test("relay check suggests the near miss for an unknown key", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, "server:\n  prot: 8787\nproviders:\n  - name: m\n    type: mock\n");
  const { code, stderr } = await runRelay(["check", "-c", path]);
  assert.equal(code, 1);
  assert.match(stderr, /prot/);
  assert.match(stderr, /did you mean `port`/);
});

Deno.test("relay check exits 1 with one line naming a config path it cannot read and why", async () => {
  const folder = await sandbox();
  const file = await writeConfig(folder, "providers:\n  - name: m\n    type: mock\n");
  await Deno.symlink("loop.yaml", `${folder}/loop.yaml`);
  const cases: [string, string][] = [
    [`${file}/relay.yaml`, "part of its path is not a directory"],
    [`${folder}/loop.yaml`, "its path runs into a symlink loop"],
  ];
  for (const [path, reason] of cases) {
    const { code, stderr } = await runRelay(["check", "-c", path], { cwd: folder });
    assert.equal(code, 1);
    assert.equal(stderr, `cannot read ${path}: ${reason}\n`);
  }
});

Deno.test("relay check refuses invalid UTF-8 where it is, never showing the key around it", async () => {
  const folder = await sandbox();
  const path = `${folder}/relay.yaml`;
  const text = (s: string) => new TextEncoder().encode(s);
  await Deno.writeFile(
    path,
    new Uint8Array([
      ...text('providers:\n  - name: a\n    type: anthropic\n    keys:\n      - key: "sk-ant-'),
      0xff,
      0xfe,
      ...text('abcSECRETx7f2"\n'),
    ]),
    { mode: 0o600 },
  );
  const { code, stderr } = await runRelay(["check", "-c", path], { cwd: folder });
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`^${path}:5:22: not valid UTF-8 .*\\n$`));
  assert.ok(!stderr.includes("SECRET"), stderr);
});

Deno.test("relay check refuses a key an HTTP header cannot carry, at its place, never showing it", async () => {
  const folder = await sandbox();
  const path = await writeConfig(
    folder,
    'providers:\n  - name: a\n    type: anthropic\n    keys:\n      - key: "sk-ant-SECRET\\u00e9x7f2"\n',
  );
  const { code, stderr } = await runRelay(["check", "-c", path], { cwd: folder });
  assert.equal(code, 1);
  assert.equal(
    stderr,
    `${path}:5:14: providers[0].keys[0].key: character 14 is not ASCII: it travels in an HTTP header, ` +
      "which takes printable ASCII only\n",
  );
});

Deno.test("relay check with no config refuses a bad $ANTHROPIC_API_KEY in one line, never showing it", async () => {
  const { code, stdout, stderr } = await runRelay(["check"], {
    env: { ANTHROPIC_API_KEY: "sk-ant-SECRET\nsk-ant-SECRET" },
  });
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.equal(
    stderr,
    "$ANTHROPIC_API_KEY (used as no config file was found): character 14 is a line break: it travels in " +
      "an HTTP header, which takes printable ASCII only\n",
  );
});
