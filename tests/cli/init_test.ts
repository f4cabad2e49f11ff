import assert from "node:assert/strict";
import { PROVIDER_TYPES } from "../../src/config/schema.ts";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { runRelay, sandbox, spawnRelay, writeConfig } from "../_helpers/cli.ts";
import { firstProvider, readConfigFile, userConfigIn } from "../_helpers/config.ts";

const KEY = "sk-ant-api03-init-test-key-0000000x7f2";
const TOKEN_LINE = /^ {7}export ANTHROPIC_AUTH_TOKEN=(rly_[0-9a-f]{32})$/m;

async function mode(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("relay init without a terminal or flags names what it needs, exits 2 and writes nothing", async () => {
  const home = await sandbox();
  const { code, stdout, stderr } = await runRelay(["init"], { cwd: home });
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /needs --provider, or --yes to take the defaults/);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(home)), []);
});

Deno.test("relay init --yes with ANTHROPIC_API_KEY set: Anthropic by reference, a fresh token, a private file", async () => {
  const home = await sandbox();
  const { code, stdout, stderr } = await runRelay(["init", "--yes"], {
    cwd: home,
    env: { ANTHROPIC_API_KEY: KEY },
  });
  assert.equal(code, 0, stderr);
  const path = userConfigIn(home);
  assert.equal(await mode(path), 0o600);
  assert.equal(await mode(`${home}/.config/relay`), 0o700);
  const text = await Deno.readTextFile(path);
  assert.match(text, /key: "\$\{ANTHROPIC_API_KEY\}"/);
  assert.ok(
    !text.includes(KEY) && !stdout.includes(KEY) && !stderr.includes(KEY),
    "the key stays a reference",
  );
  const config = await readConfigFile(path, { ANTHROPIC_API_KEY: KEY });
  assert.deepEqual(config.providers.map((p) => [p.name, p.type]), [["anthropic", "anthropic"]]);
  assert.equal(config.server.port, 8787);
  const token = TOKEN_LINE.exec(stdout)?.[1];
  assert.ok(token, stdout);
  assert.deepEqual(config.server.auth.tokens, [token]);
  assert.match(stdout, /relay serve\n/);
  assert.match(stdout, /export ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:8787/);
  assert.match(stdout, /relay env --claude-settings/);
});

Deno.test("relay init --yes without ANTHROPIC_API_KEY sets up the mock", async () => {
  const home = await sandbox();
  const { code, stderr } = await runRelay(["init", "--yes"], { cwd: home });
  assert.equal(code, 0, stderr);
  const config = await readConfigFile(userConfigIn(home));
  assert.deepEqual(config.providers.map((p) => p.type), ["mock"]);
});

Deno.test("a file relay init writes is one relay serves, with the token it printed", async () => {
  const home = await sandbox();
  const init = await runRelay(["init", "--yes"], { cwd: home });
  assert.equal(init.code, 0, init.stderr);
  const token = TOKEN_LINE.exec(init.stdout)![1];
  await using relay = await spawnRelay([], { cwd: home });
  const ask = (headers: Record<string, string>) =>
    fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: '{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}',
    });
  const refused = await ask({});
  await refused.body?.cancel();
  assert.equal(refused.status, 401);
  const answered = await ask({ authorization: `Bearer ${token}` });
  await answered.body?.cancel();
  assert.equal(answered.status, 200);
  const env = await runRelay(["env"], { cwd: home });
  assert.match(env.stdout, new RegExp(`^export ANTHROPIC_AUTH_TOKEN=${token}$`, "m"));
});

/** The flags each provider type needs without a terminal, and the environment its file needs to load. */
const EVERY_TYPE: Record<string, { flags: string[]; env?: Record<string, string> }> = {
  anthropic: { flags: [], env: { ANTHROPIC_API_KEY: KEY } },
  "anthropic-compatible": { flags: ["--base-url", "https://gateway.example/api", "--key", "gw-key-000000"] },
  zai: { flags: [], env: { ZAI_API_KEY: "zai-key-0000" } },
  ollama: { flags: [] },
  bedrock: { flags: ["--region", "eu-west-1", "--aws-profile", "work"] },
  vertex: { flags: ["--project", "my-project", "--credentials-file", "/etc/sa.json"] },
  azure: { flags: ["--base-url", "https://r.services.ai.azure.com/anthropic", "--key", "${AZURE_API_KEY}"] },
  openai: { flags: [], env: { OPENAI_API_KEY: "sk-openai-key-0000" } },
  mock: { flags: [] },
};

Deno.test("every file relay init writes loads: one run per provider type", async (t) => {
  for (const type of PROVIDER_TYPES) {
    await t.step(type, async () => {
      const setup = EVERY_TYPE[type];
      assert.ok(setup, `this test lists the flags ${type} needs`);
      const home = await sandbox();
      const env = { AZURE_API_KEY: "azure-key-0000", ...setup.env };
      const { code, stderr } = await runRelay(["init", "--yes", "--provider", type, ...setup.flags], {
        cwd: home,
        env,
      });
      assert.equal(code, 0, stderr);
      const config = await readConfigFile(userConfigIn(home), env);
      assert.deepEqual(config.providers.map((p) => p.type), [type]);
    });
  }
});

Deno.test("relay init gives an OpenAI-compatible API over https a key, and a local server over http none", async () => {
  const home = await sandbox();
  const written = async (...flags: string[]) => {
    const path = `${home}/${crypto.randomUUID()}.yaml`;
    const { code, stderr } = await runRelay(["init", "--yes", "--provider", "openai", "-c", path, ...flags], {
      cwd: home,
      unset: ["OPENAI_API_KEY"],
    });
    assert.equal(code, 0, stderr);
    return await Deno.readTextFile(path);
  };
  // OpenAI's own API, the default, as Anthropic's: a key from the environment, or --key.
  const openai = await runRelay(["init", "--yes", "--provider", "openai"], {
    cwd: home,
    unset: ["OPENAI_API_KEY"],
  });
  assert.equal(openai.code, 2);
  assert.match(openai.stderr, /--yes still needs --key/);
  assert.match(await written("--key", "${OPENAI_API_KEY}"), /keys:\n\s+- key: "\$\{OPENAI_API_KEY\}"/);
  assert.doesNotMatch(await written("--base-url", "http://127.0.0.1:8000/v1"), /keys:/);
  // One the file has without a key, over https (a gateway that takes none), stays so when init runs again.
  const gateway = `${home}/gateway.yaml`;
  await Deno.writeTextFile(
    gateway,
    "providers:\n  - name: gw\n    type: openai\n    base_url: https://llm.internal.example/v1\n",
    { mode: 0o600 },
  );
  const again = await runRelay(["init", "--yes", "--no-validate", "-c", gateway, "-p", "9999"], {
    cwd: home,
    env: { OPENAI_API_KEY: "sk-set-in-this-shell-0000" },
  });
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(await Deno.readTextFile(gateway), /keys:/);
});

Deno.test("relay init takes per-provider flags as provider:value, and several providers at once", async () => {
  const home = await sandbox();
  const { code, stderr } = await runRelay([
    "init",
    "--provider",
    "anthropic,bedrock",
    "--provider",
    "mock",
    "--key",
    `anthropic:${KEY}`,
    "--region",
    "eu-west-1",
    "--model",
    "bedrock:claude-sonnet-4-5=eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "--model",
    "mock:claude-*=mock",
    "--strategy",
    "round_robin",
    "--port",
    "8799",
    "--token",
    "my-own-client-token",
  ], { cwd: home });
  assert.equal(code, 0, stderr);
  const text = await Deno.readTextFile(userConfigIn(home));
  assert.match(text, new RegExp(`key: "${KEY}"`), "a pasted key is written as given");
  const config = await readConfigFile(userConfigIn(home));
  assert.deepEqual(config.providers.map((p) => p.name), ["anthropic", "bedrock", "mock"]);
  assert.equal(config.server.port, 8799);
  assert.deepEqual(config.server.auth.tokens, ["my-own-client-token"]);
  assert.equal(config.routing.strategy, "round_robin");
  const [anthropic, bedrock, mock] = config.providers;
  assert.equal(anthropic.keys[0].key, KEY);
  assert.equal(bedrock.type === "bedrock" && bedrock.region, "eu-west-1");
  assert.deepEqual(bedrock.models, { "claude-sonnet-4-5": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" });
  assert.deepEqual(mock.models, { "claude-*": "mock" });
});

Deno.test("relay init --yes still names flags with no default, and refuses bad values, writing nothing", async () => {
  const home = await sandbox();
  const cases: [string[], RegExp][] = [
    [["--provider", "anthropic-compatible"], /--yes still needs --base-url, --key/],
    [["--provider", "anthropic"], /--yes still needs --key/],
    [["--provider", "vertex"], /--yes still needs --credentials-file, --project/],
    [["--provider", "nope"], /--provider: unknown provider nope: expected anthropic, anthropic-compatible/],
    [["--provider", "mock", "--port", "abc"], /--port: expected a port number from 1 to 65535/],
    [["--provider", "anthropic,zai", "--key", KEY], /--key: several providers take it \(anthropic, zai\)/],
    [
      ["--provider", "mock", "--region", "us-east-1"],
      /--region: none of the chosen providers \(mock\) takes it/,
    ],
    [["--provider", "mock", "--region", "mock:us-east-1"], /--region: mock \(mock\) does not take it/],
    [["--provider", "mock", "--model", "no-equals"], /--model: "no-equals" is not name=id/],
    [
      ["--provider", "mock,ollama", "--strategy", "fastest"],
      /--strategy: unknown strategy fastest: expected failover,/,
    ],
    [
      ["--provider", "anthropic-compatible", "--base-url", "ftp://x", "--key", "k"],
      /--base-url: must be an http/,
    ],
    [
      ["--provider", "anthropic-compatible", "--base-url", "http://127.0.0.1:6000", "--key", "k"],
      /--base-url: port 6000 is blocked by fetch \(one of the Fetch standard's "bad ports"\), so no request could reach it: use another port/,
    ],
  ];
  for (const [flags, message] of cases) {
    const { code, stderr } = await runRelay(["init", "--yes", ...flags], { cwd: home });
    assert.equal(code, 2, flags.join(" "));
    assert.match(stderr, message);
    assert.ok(!stderr.includes(KEY), "a key given as a flag is never echoed");
  }
  assert.deepEqual(await Array.fromAsync(Deno.readDir(home)), []);
});

Deno.test("relay init --validate tries the key against the provider and reports what it found", async (t) => {
  const upstream = startFakeUpstream((request) =>
    request.headers.get("x-api-key") === KEY ? Response.json({ data: [] }) : Response.json({
      type: "error",
      error: { type: "authentication_error", message: "invalid x-api-key" },
    }, {
      status: 401,
    })
  );
  const run = async (key: string, baseUrl = upstream.url) => {
    const home = await sandbox();
    const result = await runRelay(
      ["init", "--yes", "--provider", "anthropic", "--key", key, "--base-url", baseUrl, "--validate"],
      { cwd: home },
    );
    return { ...result, written: await exists(userConfigIn(home)) };
  };
  try {
    await t.step("works", async () => {
      const { code, stdout, written } = await run(KEY);
      assert.equal(code, 0);
      assert.match(stdout, /anthropic: the key works \(HTTP 200\)/);
      assert.ok(written);
      assert.equal(upstream.requests.at(-1)!.path, "/v1/models?limit=1");
    });
    await t.step("rejected: nothing is written", async () => {
      const { code, stderr, written } = await run("sk-ant-wrong-key-000000");
      assert.equal(code, 1);
      assert.match(stderr, /anthropic: the key was rejected \(HTTP 401 \(invalid x-api-key\)\)/);
      assert.match(stderr, /Nothing was written/);
      assert.ok(!written);
    });
    await t.step("unreachable: saved anyway", async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      listener.close();
      const { code, stderr, written } = await run(KEY, `http://127.0.0.1:${listener.addr.port}`);
      assert.equal(code, 0);
      assert.match(stderr, /unreachable, so the key is unchecked; the config is saved anyway/);
      assert.ok(written);
    });
  } finally {
    await upstream.close();
  }
});

const EXISTING = `# my own notes about this relay
server:
  port: 8787 # the usual port
  auth:
    tokens: ["existing-client-token"]
providers:
  - name: mock # for trying things
    type: mock
`;

Deno.test("relay init on an existing config needs --yes without a terminal, and leaves it alone", async () => {
  const home = await sandbox();
  const path = await writeConfig(home, EXISTING);
  const { code, stderr } = await runRelay(["init", "--port", "9000"], { cwd: home });
  assert.equal(code, 2);
  assert.match(stderr, /needs --yes/);
  assert.match(stderr, new RegExp(`${path} exists and would be replaced; a backup is kept`));
  assert.equal(await Deno.readTextFile(path), EXISTING);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(home))).map((e) => e.name), ["relay.yaml"]);
});

Deno.test("relay init --yes edits an existing config: diff shown, comments kept, 0600 backup", async () => {
  const home = await sandbox();
  const path = await writeConfig(home, EXISTING, 0o644);
  const { code, stdout, stderr } = await runRelay(["init", "--yes", "--port", "9000"], { cwd: home });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^ {2}- {2}port: 8787 # the usual port$/m);
  assert.match(stdout, /^ {2}\+ {2}port: 9000 # the usual port$/m);
  assert.equal(await Deno.readTextFile(path), EXISTING.replace("port: 8787", "port: 9000"));
  assert.equal(await mode(path), 0o600);
  const backups = (await Array.fromAsync(Deno.readDir(home))).map((e) => e.name).filter((n) =>
    n.includes(".bak-")
  );
  assert.equal(backups.length, 1);
  assert.match(backups[0], /^relay\.yaml\.bak-\d{8}T\d{6}Z$/);
  assert.equal(await Deno.readTextFile(`${home}/${backups[0]}`), EXISTING);
  assert.equal(await mode(`${home}/${backups[0]}`), 0o600);
  assert.match(stdout, new RegExp(`kept as ${home}/${backups[0]}`));
  assert.match(stdout, /ANTHROPIC_AUTH_TOKEN=existing-client-token/, "the file's token is kept");
});

Deno.test("relay init names a mistake already in the file at its own line, before editing anything", async () => {
  const home = await sandbox();
  // Without client tokens: init adds three lines for one under `server:`, above the mistake.
  const text =
    "# my config\nserver:\n  port: 9000\nfoo: bar # unknown\nproviders:\n  - name: x\n    type: mock\n";
  const path = await writeConfig(home, text);
  const { code, stderr } = await runRelay(["init", "--yes"], { cwd: home });
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`^${path}:4:1: unknown key \`foo\``));
  assert.equal(await Deno.readTextFile(path), text, "left alone");
});

Deno.test("relay init --yes keeps a file's BOM, CRLF line breaks and flow style: only the value changes", async () => {
  const home = await sandbox();
  const text = [
    "\uFEFF# my notes",
    "server:",
    "  port: 8787",
    '  auth: { tokens: ["existing-client-token"] }',
    "providers:",
    "  - { name: m, type: mock } # flow",
    "",
  ].join("\r\n");
  const path = await writeConfig(home, text);
  const { code, stdout, stderr } = await runRelay(["init", "--yes", "--port", "9000"], { cwd: home });
  assert.equal(code, 0, stderr);
  const written = await Deno.readFile(path);
  assert.deepEqual(written, new TextEncoder().encode(text.replace("port: 8787", "port: 9000")));
  const diff = stdout.slice(0, stdout.indexOf("Wrote "));
  assert.deepEqual(diff.match(/^ {2}[-+](?![-+]{2} ).*$/gm), ["  -  port: 8787", "  +  port: 9000"]);
});

Deno.test("relay init --yes with nothing to change writes nothing and keeps no backup", async () => {
  const home = await sandbox();
  const path = await writeConfig(home, EXISTING);
  const { code, stdout } = await runRelay(["init", "--yes"], { cwd: home });
  assert.equal(code, 0);
  assert.match(stdout, /already holds these answers: nothing to change/);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(home))).map((e) => e.name), ["relay.yaml"]);
  assert.equal(await Deno.readTextFile(path), EXISTING);
});

/** Providers not named after their types, two of one type, with settings that are not asked for. */
const NAMED_PROVIDERS = [
  "server:",
  "  port: 8787",
  '  auth: { tokens: ["existing-client-token"] }',
  "providers:",
  "  - name: work",
  "    type: anthropic",
  '    keys: [{ key: "${ANTHROPIC_API_KEY}" }]',
  "    models: { claude-sonnet-4-5: claude-sonnet-4-5-20250929 }",
  "    timeouts: { idle: 10m }",
  "    max_in_flight: 8",
  '  - { name: personal, type: anthropic, keys: [{ key: "${ANTHROPIC_API_KEY}" }], max_in_flight: 3 }',
  "  - name: m",
  "    type: mock",
  "",
].join("\n");

Deno.test("relay init --provider TYPE keeps the file's providers of that type as they are", async () => {
  const home = await sandbox();
  const path = await writeConfig(home, NAMED_PROVIDERS);
  const { code, stderr } = await runRelay(
    ["init", "--yes", "--provider", "anthropic,mock", "--port", "9000"],
    { cwd: home, env: { ANTHROPIC_API_KEY: KEY } },
  );
  assert.equal(code, 0, stderr);
  assert.equal(await Deno.readTextFile(path), NAMED_PROVIDERS.replace("port: 8787", "port: 9000"));
});

Deno.test("relay init --provider takes the file's provider names, and a type it has none of as a new one", async () => {
  const home = await sandbox();
  const env = { ANTHROPIC_API_KEY: KEY };
  const chosen = async (providers: string) => {
    const path = await writeConfig(home, NAMED_PROVIDERS);
    const { code, stderr } = await runRelay(["init", "--yes", "--provider", providers], { cwd: home, env });
    assert.equal(code, 0, stderr);
    const config = await readConfigFile(path, env);
    return config.providers.map((p) => `${p.name}: ${p.type}, ${p.max_in_flight ?? "unlimited"}`);
  };
  assert.deepEqual(await chosen("anthropic"), ["work: anthropic, 8", "personal: anthropic, 3"]);
  assert.deepEqual(await chosen("personal,mock"), ["personal: anthropic, 3", "m: mock, unlimited"]);
  assert.deepEqual(await chosen("m,ollama"), ["m: mock, unlimited", "ollama: ollama, unlimited"]);
});

Deno.test("relay init masks literal secrets in the diff it prints", async () => {
  const home = await sandbox();
  await writeConfig(home, EXISTING);
  const { code, stdout, stderr } = await runRelay(
    ["init", "--yes", "--provider", "mock,anthropic", "--key", KEY, "--new-token"],
    { cwd: home },
  );
  assert.equal(code, 0, stderr);
  const diff = stdout.slice(0, stdout.indexOf("Wrote "));
  assert.match(diff, /^ {2}\+ {6}- key: "sk-ant-\.\.\.x7f2"$/m);
  assert.match(diff, /^ {2}- {4}tokens: \["exi\.\.\.oken"\]$/m);
  assert.ok(!diff.includes(KEY) && !diff.includes("existing-client-token"));
});

Deno.test("relay init --new-token gives the first client a new token and keeps every named client", async () => {
  const home = await sandbox();
  const text = [
    "server:",
    "  port: 8787",
    "  auth:",
    "    tokens:",
    "      - name: cc # Claude Code",
    "        token: tok-cc-0123456789",
    "        tpm: 10000",
    "        monthly_budget_usd: 50",
    "      - name: ci",
    "        token: tok-ci-0123456789",
    "providers:",
    "  - name: m",
    "    type: mock",
    "",
  ].join("\n");
  const path = await writeConfig(home, text);
  const { code, stdout, stderr } = await runRelay(["init", "--yes", "--new-token"], { cwd: home });
  assert.equal(code, 0, stderr);
  const token = TOKEN_LINE.exec(stdout)?.[1];
  assert.ok(token, stdout);
  assert.equal(await Deno.readTextFile(path), text.replace("tok-cc-0123456789", `"${token}"`));
});

Deno.test("relay init --config writes there and says to pass it to relay serve and relay env", async () => {
  const home = await sandbox();
  const path = `${home}/elsewhere/my relay.yaml`;
  const { code, stdout, stderr } = await runRelay(["init", "--yes", "--config", path], { cwd: home });
  assert.equal(code, 0, stderr);
  assert.equal(await mode(path), 0o600);
  // From source, as this test runs it, the commands are the project's task: `relay` is the installed name.
  assert.match(
    stdout,
    /Start relay: {2}deno task --config \S+\/deno\.json relay serve --config '.*\/elsewhere\/my relay\.yaml'/,
  );
  assert.match(
    stdout,
    /eval "\$\(deno task --config \S+\/deno\.json relay env --config '.*my relay\.yaml'\)"/,
  );
  assert.ok(!await exists(userConfigIn(home)));
});

Deno.test("relay init refuses to edit a file that is not YAML, writing nothing", async () => {
  const home = await sandbox();
  const path = await writeConfig(home, "server: [\n");
  const { code, stderr } = await runRelay(["init", "--yes"], { cwd: home });
  assert.equal(code, 1);
  assert.ok(stderr.includes(`${path}:`), stderr);
  assert.equal(await Deno.readTextFile(path), "server: [\n");
});

Deno.test("relay init --yes leaves the default strategy unwritten: no routing section for nothing", async () => {
  const home = await sandbox();
  const { code, stderr } = await runRelay(["init", "--yes", "--provider", "mock,ollama"], { cwd: home });
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(await Deno.readTextFile(userConfigIn(home)), /routing/);
});

Deno.test("relay init edits relay.example.yaml itself: one line changes, its comments are untouched", async () => {
  const home = await sandbox();
  const example = await Deno.readTextFile(new URL("../../relay.example.yaml", import.meta.url));
  const path = await writeConfig(home, example);
  const env = {
    ANTHROPIC_API_KEY: KEY,
    RELAY_CLIENT_TOKEN: "client-token-0001",
    RELAY_ADMIN_TOKEN: "admin-token-0123456789",
  };
  const { code, stdout, stderr } = await runRelay(["init", "--yes", "--port", "9000"], { cwd: home, env });
  assert.equal(code, 0, stderr);
  assert.equal(await Deno.readTextFile(path), example.replace("port: ${RELAY_PORT:-8787}", "port: 9000"));
  assert.doesNotMatch(
    stdout + stderr,
    /GATEWAY_API_KEY|ZAI_API_KEY/,
    "references in comments are not asked for",
  );
  assert.match(stdout, /export ANTHROPIC_AUTH_TOKEN=client-token-0001/);
});

Deno.test("relay init names the variables the new file reads that this shell lacks", async () => {
  const home = await sandbox();
  const { code, stdout, stderr } = await runRelay(
    ["init", "--yes", "--provider", "anthropic", "--key", "${MY_UNSET_KEY}"],
    { cwd: home },
  );
  assert.equal(code, 0, stderr);
  assert.match(stdout, /export MY_UNSET_KEY first: the config reads it/);
  const config = await readConfigFile(userConfigIn(home), { MY_UNSET_KEY: "set-later-0000" });
  assert.equal(config.providers[0].keys[0].key, "set-later-0000");
  assert.equal(
    TOKEN_LINE.exec(stdout)?.[1],
    config.server.auth.tokens[0],
    "the new token is still shown once",
  );
  assert.equal(stdout.match(/rly_/g)?.length, 1);
  assert.match(stdout, /export ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:8787/);
});

Deno.test("relay init prints no export worked out from a variable this shell lacks", async () => {
  const home = await sandbox();
  const { code, stdout, stderr } = await runRelay(
    ["init", "--yes", "--provider", "mock", "--token", "${MY_UNSET_TOKEN}"],
    { cwd: home },
  );
  assert.equal(code, 0, stderr);
  assert.match(stdout, /export MY_UNSET_TOKEN first: the config reads it/);
  assert.match(stdout, /^ {7}export ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:8787$/m);
  assert.doesNotMatch(stdout, /ANTHROPIC_AUTH_TOKEN|unset\.invalid|the token is shown/);
});

Deno.test("relay init says when relay serve could not start with what it wrote: Bedrock without AWS credentials", async () => {
  const flags = ["init", "--yes", "--provider", "bedrock", "--region", "eu-west-1"];
  const without = await runRelay(flags, { cwd: await sandbox() });
  assert.equal(without.code, 0, without.stderr);
  assert.match(
    without.stderr,
    /relay serve cannot start with this file yet: .*providers\[0\]: bedrock: no AWS credentials found/,
  );
  assert.match(without.stdout, /relay is set up once it has what the warning above names\./);
  const credentials = {
    AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG",
  };
  const withCredentials = await runRelay(flags, { cwd: await sandbox(), env: credentials });
  assert.equal(withCredentials.code, 0, withCredentials.stderr);
  assert.doesNotMatch(withCredentials.stderr, /cannot start/);
  assert.match(withCredentials.stdout, /relay is set up\.$/m);
});

Deno.test("relay init offers Bedrock the inference profiles of its region's geography", async () => {
  const home = await sandbox();
  const flags = ["--provider", "bedrock", "--region", "eu-west-1", "--aws-profile", "work"];
  const { code, stderr } = await runRelay(["init", "--yes", ...flags], { cwd: home });
  assert.equal(code, 0, stderr);
  const bedrock = await firstProvider(userConfigIn(home), "bedrock");
  assert.deepEqual(bedrock.models, {
    "claude-sonnet-4-5": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-haiku-4-5": "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
  });
});
