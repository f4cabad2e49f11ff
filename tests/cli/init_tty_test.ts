/**
 * The `relay init` wizard as a person meets it: relay from source in a real terminal (tmux), keys
 * pressed, the screen read, and then the file it wrote (or did not write) examined.
 */
import assert from "node:assert/strict";
import { cliEnv, FROM_SOURCE, sandbox, writeConfig } from "../_helpers/cli.ts";
import { readConfigFile, userConfigIn } from "../_helpers/config.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { openTerminal, type Terminal } from "../_helpers/tmux.ts";

const KEY = "sk-ant-api03-tty-test-key-00000000x7f2";

/** relay init in a terminal, HOME and working folder both `home`, as in tests/_helpers/cli.ts. */
function relayInit(home: string, args: string[] = [], env: Record<string, string> = {}) {
  return openTerminal([...FROM_SOURCE, "init", ...args], {
    cwd: home,
    env: cliEnv(home, { LANG: "C.UTF-8", ...env }),
  });
}

/** Every file under `folder`, relative to it. */
async function files(folder: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.name === ".cache") continue;
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) out.push(...(await files(path)).map((name) => `${entry.name}/${name}`));
    else out.push(entry.name);
  }
  return out.sort();
}

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

/** Takes the wizard's answers as offered (Anthropic found, its key by reference) up to the port's question. */
async function toThePort(terminal: Terminal): Promise<void> {
  await terminal.waitFor(/◆ {2}Which providers should relay use\?/);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}anthropic: how should relay get the key\?/);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}Port relay listens on/);
}

Deno.test("relay init at a terminal: Anthropic by reference, a port, the key tried, a private file", async () => {
  const upstream = startFakeUpstream(() => Response.json({ data: [], has_more: false }));
  try {
    const home = await sandbox();
    await using terminal = await relayInit(home, ["--base-url", upstream.url], { ANTHROPIC_API_KEY: KEY });

    const first = await terminal.waitFor(/◆ {2}Which providers should relay use\?/);
    assert.match(first, /ANTHROPIC_API_KEY is set/, "what was found is shown");
    assert.match(first, /◼ Anthropic/, "and preselected");
    await terminal.press("Enter");
    const key = await terminal.waitFor(/◆ {2}anthropic: how should relay get the key\?/);
    assert.match(key, /● \$\{ANTHROPIC_API_KEY\} \(recommended\)/);
    await terminal.press("Enter");
    await terminal.waitFor(/◆ {2}Port relay listens on/);
    await terminal.type("8788");
    await terminal.press("Enter");
    await terminal.waitFor(/◆ {2}Check the anthropic key with one real call/);
    await terminal.press("Enter");
    const done = await terminal.waitFor(/relay is set up\./);
    assert.equal(await terminal.exitCode(), 0);

    assert.match(done, /anthropic: the key works \(HTTP 200\)/);
    const [request] = upstream.requests;
    assert.equal(request.path, "/v1/models?limit=1");
    assert.equal(request.headers.get("x-api-key"), KEY);
    const path = userConfigIn(home);
    assert.equal(await mode(path), 0o600);
    assert.equal(await mode(`${home}/.config/relay`), 0o700);
    assert.deepEqual(await files(home), [".config/relay/relay.yaml"], "no temporary file left");
    const config = await readConfigFile(path, { ANTHROPIC_API_KEY: KEY });
    assert.equal(config.server.port, 8788);
    assert.equal(config.providers[0].keys[0].key, KEY);
    const token = /ANTHROPIC_AUTH_TOKEN=(rly_[0-9a-f]{32})/.exec(done)?.[1];
    assert.ok(token, "the token is printed");
    assert.deepEqual(config.server.auth.tokens, [token]);
    assert.match(done, /ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:8788/);
    assert.match(done, /relay serve/);
  } finally {
    await upstream.close();
  }
});

Deno.test("relay init at a terminal asks again after bad input, and never shows a pasted key", async () => {
  const home = await sandbox();
  await using terminal = await relayInit(home, ["--no-validate"]);

  await terminal.waitFor(/◆ {2}Which providers should relay use\?/);
  await terminal.press("Enter");
  await terminal.waitFor(/Please select at least one option/);
  await terminal.press("Space", "Enter");
  const how = await terminal.waitFor(/◆ {2}anthropic: how should relay get the key\?/);
  assert.match(how, /● paste the key/, "with ANTHROPIC_API_KEY unset, pasting is offered first");
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}anthropic key/);
  await terminal.press("Enter");
  await terminal.waitFor(/▲ {2}anthropic key[\s\S]*a key is needed/);
  await terminal.type(KEY);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}Port relay listens on/);
  await terminal.type("abc");
  await terminal.press("Enter");
  await terminal.waitFor(/▲ {2}Port relay listens on[\s\S]*expected a port number from 1 to 65535/);
  await terminal.press("BSpace", "BSpace", "BSpace");
  await terminal.type("8789");
  await terminal.press("Enter");
  const done = await terminal.waitFor(/relay is set up\./);
  assert.equal(await terminal.exitCode(), 0);

  assert.ok(!done.includes(KEY), "the key is masked on screen");
  const path = userConfigIn(home);
  assert.equal(await mode(path), 0o600);
  assert.match(await Deno.readTextFile(path), new RegExp(`key: "${KEY}"`));
  assert.equal((await readConfigFile(path)).server.port, 8789);
});

Deno.test("Ctrl-C in the middle of relay init exits 130 and leaves no file behind", async () => {
  const home = await sandbox();
  await using terminal = await relayInit(home, [], { ANTHROPIC_API_KEY: KEY });
  await toThePort(terminal);
  await terminal.press("C-c");
  assert.equal(await terminal.exitCode(), 130);
  assert.match(await terminal.screen(), /Cancelled: nothing was written\./);
  assert.deepEqual(await files(home), []);
});

const EXISTING = `# relay for the team: keep the port, the gateway team relies on it
server:
  port: 8787 # agreed with the gateway team
  auth:
    tokens: ["team-client-token-0001"]
providers:
  - name: anthropic
    type: anthropic
    keys:
      - key: "\${ANTHROPIC_API_KEY}" # from the team vault
`;

Deno.test("relay init at a terminal edits an existing config: diff shown, comments kept, backup made", async () => {
  const home = await sandbox();
  const path = await writeConfig(home, EXISTING);
  await using terminal = await relayInit(home, ["--no-validate"], { ANTHROPIC_API_KEY: KEY });

  const first = await terminal.waitFor(/◆ {2}Which providers should relay use\?/);
  assert.match(first, /it will be edited, not overwritten \(a backup is kept\)/);
  assert.match(first, /◼ anthropic/);
  // Up from the first option wraps to the last one, the mock.
  await terminal.press("Up", "Space", "Enter");
  const key = await terminal.waitFor(/◆ {2}anthropic: how should relay get the key\?/);
  assert.match(key, /● keep \$\{ANTHROPIC_API_KEY\}/);
  await terminal.press("Enter");
  const strategy = await terminal.waitFor(/◆ {2}How should relay pick among anthropic, mock\?/);
  assert.match(strategy, /● failover/);
  await terminal.press("Down", "Enter");
  await terminal.waitFor(/◆ {2}Port relay listens on/);
  await terminal.type("9001");
  await terminal.press("Enter");
  const token = await terminal.waitFor(/◆ {2}Client token/);
  assert.match(token, /● keep tea\.\.\.0001/, "the token is masked");
  await terminal.press("Enter");
  const diff = await terminal.waitFor(
    /◆ {2}Write these changes to .*relay\.yaml\? The old file is kept as a backup\./,
  );
  assert.match(diff, /- {2}port: 8787 # agreed with the gateway team/);
  assert.match(diff, /\+ {2}port: 9001 # agreed with the gateway team/);
  await terminal.press("Enter");
  const done = await terminal.waitFor(/relay is set up\./);
  assert.equal(await terminal.exitCode(), 0);

  assert.match(diff, /\+ {2}- name: mock/);
  assert.match(diff, /\+ {2}strategy: round_robin/);
  assert.equal(
    await Deno.readTextFile(path),
    EXISTING.replace("port: 8787", "port: 9001") +
      "  - name: mock\n    type: mock\nrouting:\n  strategy: round_robin\n",
  );
  assert.equal(await mode(path), 0o600);
  const [backup] = (await files(home)).filter((name) => name.startsWith("relay.yaml.bak-"));
  assert.ok(backup, await files(home).then(String));
  assert.ok(done.includes(`kept as ${home}/${backup}`));
  assert.equal(await Deno.readTextFile(`${home}/${backup}`), EXISTING);
  assert.equal(await mode(`${home}/${backup}`), 0o600);
  assert.deepEqual(await files(home), [backup, "relay.yaml"].sort());
});

Deno.test("Ctrl-C at the last question before replacing a config leaves it and makes no backup", async () => {
  const home = await sandbox();
  const path = await writeConfig(home, EXISTING);
  await using terminal = await relayInit(home, ["--no-validate", "--port", "9002"], {
    ANTHROPIC_API_KEY: KEY,
  });
  await terminal.waitFor(/◆ {2}Which providers should relay use\?/);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}anthropic: how should relay get the key\?/);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}Client token/);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}Write these changes /);
  await terminal.press("C-c");
  assert.equal(await terminal.exitCode(), 130);
  assert.equal(await Deno.readTextFile(path), EXISTING);
  assert.deepEqual(await files(home), ["relay.yaml"]);
});

Deno.test("Ctrl-C while a key is being tried (SIGINT, the terminal not raw) exits 130, nothing written", async () => {
  const upstream = startFakeUpstream((request) =>
    new Promise<Response>((resolve) =>
      request.signal.addEventListener("abort", () => resolve(new Response(null, { status: 499 })))
    )
  );
  try {
    const home = await sandbox();
    await using terminal = await relayInit(
      home,
      ["--base-url", upstream.url, "--validate", "--port", "8788"],
      {
        ANTHROPIC_API_KEY: KEY,
      },
    );
    await terminal.waitFor(/◆ {2}Which providers should relay use\?/);
    await terminal.press("Enter");
    await terminal.waitFor(/◆ {2}anthropic: how should relay get the key\?/);
    await terminal.press("Enter");
    await terminal.waitFor(/anthropic: trying the key at/);
    await upstream.nextRequest();
    await terminal.press("C-c");
    assert.equal(await terminal.exitCode(), 130);
    assert.match(await terminal.screen(), /Cancelled: nothing was written\./);
    assert.deepEqual(await files(home), []);
  } finally {
    await upstream.close();
  }
});

/** Answers the wizard up to its key check, asks for it, and waits for the key's rejection. */
async function toTheRejection(terminal: Awaited<ReturnType<typeof relayInit>>): Promise<void> {
  await toThePort(terminal);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}Check the anthropic key with one real call/);
  await terminal.press("Enter");
  await terminal.waitFor(/◆ {2}Enter another anthropic key\?/);
}

Deno.test("relay init at a terminal writes nothing when a rejected key is not replaced", async () => {
  const upstream = startFakeUpstream(() =>
    Response.json({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } }, {
      status: 401,
    })
  );
  try {
    const home = await sandbox();
    await using terminal = await relayInit(home, ["--base-url", upstream.url], {
      ANTHROPIC_API_KEY: "sk-ant-api03-tty-test-revoked-0000x000",
    });
    await toTheRejection(terminal);
    await terminal.press("Right");
    await terminal.press("Enter");
    const refused = await terminal.waitFor(/Nothing was written: anthropic's key was rejected\./);
    assert.equal(await terminal.exitCode(), 1);
    assert.doesNotMatch(refused, /relay is set up/);
    assert.deepEqual(await files(home), []);
  } finally {
    await upstream.close();
  }
});

Deno.test("relay init at a terminal asks for another key once the first is rejected, not the same one again", async () => {
  const upstream = startFakeUpstream((request) =>
    request.headers.get("x-api-key") === KEY ? Response.json({ data: [], has_more: false }) : Response.json(
      { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } },
      { status: 401 },
    )
  );
  try {
    const home = await sandbox();
    const rejected = "sk-ant-api03-tty-test-revoked-0000x000";
    await using terminal = await relayInit(home, ["--base-url", upstream.url], {
      ANTHROPIC_API_KEY: rejected,
    });
    await toTheRejection(terminal);
    await terminal.press("Enter");
    const again = await terminal.waitFor(/◆ {2}anthropic: how should relay get the key\?[\s\S]*└/);
    assert.match(again, /● paste the key/, "another key is wanted: pasting it comes first");
    assert.doesNotMatch(again, /keep/, "the rejected key is not offered to keep");
    await terminal.press("Enter");
    await terminal.waitFor(/◆ {2}anthropic key/);
    await terminal.type(KEY);
    await terminal.press("Enter");
    const done = await terminal.waitFor(/relay is set up\./);
    assert.equal(await terminal.exitCode(), 0);
    assert.match(done, /anthropic: the key works \(HTTP 200\)/);
    assert.equal((await readConfigFile(userConfigIn(home))).providers[0].keys[0].key, KEY);
  } finally {
    await upstream.close();
  }
});
