import assert from "node:assert/strict";
import type { AdminStatus } from "../../src/server/admin/status.ts";
import { formatStatus } from "../../src/cli/status.ts";
import { runRelay, sandbox, spawnRelay, writeConfig } from "../_helpers/cli.ts";
import { parsePrometheus } from "../_helpers/prometheus.ts";

const ADMIN = "adm_cli_status_0123456789";
const KEY = "sk-test-status-key-00000000x7f2";
const CONFIG = `server:\n  admin:\n    token: ${ADMIN}\nproviders:\n  - name: m\n    type: mock\n` +
  `    keys:\n      - key: ${KEY}\n        name: main\n`;

Deno.test("relay status --json prints the running relay's admin status", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG);
  await using relay = await spawnRelay([], { cwd: folder });
  const { code, stdout, stderr } = await runRelay(["status", "--json", "-c", path, "--url", relay.url]);
  assert.equal(code, 0, stderr);
  const status = JSON.parse(stdout);
  assert.equal(status.config.version, 1);
  assert.equal(status.config.path, path);
  assert.deepEqual(status.providers.map((p: { name: string }) => p.name), ["m"]);
  assert.equal(status.providers[0].keys[0].label, "main (sk-...x7f2)");
  assert.ok(!stdout.includes(KEY), "keys only masked");
});

Deno.test("relay status prints tables, without colour when stdout is no terminal", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG);
  await using relay = await spawnRelay([], { cwd: folder });
  const { code, stdout, stderr } = await runRelay(["status", "-c", path, "--url", relay.url]);
  assert.equal(code, 0, stderr);
  assert.ok(!stdout.includes("\x1b["), "no escape codes");
  assert.match(stdout, /^relay \S+, up \d+s; config version 1 \(.*relay\.yaml\), loaded \d+s ago$/m);
  assert.match(stdout, /^PROVIDER +TYPE +STATE +BREAKER +IN FLIGHT +KEYS$/m);
  assert.match(stdout, /^m +mock +on +closed +0 +1\/1 on$/m);
  assert.match(stdout, /^m +0 main \(sk-\.\.\.x7f2\) +on +closed +0% +- +-$/m);
});

Deno.test("relay status shows no reset for a key with no limits that has served a request: nothing to reset", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG);
  await using relay = await spawnRelay([], { cwd: folder });
  await (await fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: '{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}',
  })).arrayBuffer();
  const { code, stdout, stderr } = await runRelay(["status", "-c", path, "--url", relay.url]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^m +0 main \(sk-\.\.\.x7f2\) +on +closed +0% +- +-$/m);
  // The admin API's JSON still tells when the window it counted in ends.
  const json = await runRelay(["status", "--json", "-c", path, "--url", relay.url]);
  const [key] = JSON.parse(json.stdout).providers[0].keys;
  assert.equal(key.saturation, 0);
  assert.ok(!Number.isNaN(Date.parse(key.resets_at)), key.resets_at);
});

Deno.test("relay status, its JSON and /metrics tell a ledger that cannot be written: since when, what it holds, why", async () => {
  const folder = await sandbox();
  const ledger = `${folder}/ledger.db`;
  const path = await writeConfig(
    folder,
    `${CONFIG}log:\n  level: debug\nledger:\n  path: ${ledger}\n  flush_interval: 10ms\n`,
  );
  await using relay = await spawnRelay([], { cwd: folder });
  const request = async () =>
    await (await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: '{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}',
    })).arrayBuffer();
  await request();
  await relay.waitForLine(/"msg":"ledger batch written"/);
  const healthy = await runRelay(["status", "-c", path, "--url", relay.url]);
  assert.equal(healthy.code, 0, healthy.stderr);
  assert.ok(
    healthy.stdout.includes(`\nledger: ok; 1 record written, 0 pending (${ledger})\n`),
    healthy.stdout,
  );

  // Replaced by a file relay cannot open as a database: every batch fails until it can.
  await Deno.writeTextFile(`${ledger}.tmp`, "notes, not a database\n".repeat(100));
  await Deno.rename(`${ledger}.tmp`, ledger);
  await request();
  await relay.waitForLine(/"msg":"ledger write failed; retrying"/);

  const table = await runRelay(["status", "-c", path, "--url", relay.url]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.split("\n");
  const at = lines.findIndex((line) => line.startsWith("ledger:"));
  assert.match(lines[at], /^ledger: failing for \d+s; 1 record written, 1 pending \(/);
  assert.ok(lines[at].endsWith(`(${ledger}):`), lines[at]);
  assert.equal(lines[at + 1], `  cannot reopen ${ledger}: file is not a database`);
  const json = await runRelay(["status", "--json", "-c", path, "--url", relay.url]);
  assert.equal(json.code, 0, json.stderr);
  const { since, for_ms, ...status } = JSON.parse(json.stdout).ledger;
  assert.deepEqual(status, {
    enabled: true,
    path: ledger,
    state: "failing",
    error: `cannot reopen ${ledger}: file is not a database`,
    pending: 1,
    written_total: 1,
    dropped_total: 0,
  });
  assert.ok(for_ms >= 0 && !Number.isNaN(Date.parse(since)), `${since}, ${for_ms}`);
  const metrics = parsePrometheus(await (await fetch(`${relay.url}/metrics`)).text());
  assert.equal(metrics.value("relay_ledger_state", { state: "failing" }), 1);
  assert.equal(metrics.value("relay_ledger_state", { state: "ok" }), 0);
  assert.equal(metrics.value("relay_ledger_pending_records"), 1);
  assert.equal(metrics.value("relay_ledger_records_written_total"), 1);
  assert.equal(metrics.value("relay_ledger_records_dropped_total"), 0);
});

Deno.test("relay status says what is wrong: no admin token, relay not running, a token relay does not hold", async () => {
  const folder = await sandbox();
  const noToken = await writeConfig(folder, "providers:\n  - name: m\n    type: mock\n", 0o600, "plain.yaml");
  const off = await runRelay(["status", "-c", noToken]);
  assert.equal(off.code, 1);
  assert.match(off.stderr, /admin API is off: no server\.admin\.token in .*plain\.yaml/);

  const path = await writeConfig(folder, CONFIG);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  const down = await runRelay(["status", "-c", path, "--url", closed]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /relay is not reachable at http:\/\/127\.0\.0\.1:\d+/);
  for (const url of [closed.slice("http://".length), "localhost:8787"]) {
    const schemeless = await runRelay(["status", "-c", path, "--url", url]);
    assert.equal(schemeless.code, 1);
    assert.equal(
      schemeless.stderr.trim(),
      `--url takes relay's address with its scheme, such as http://127.0.0.1:8787, not "${url}"`,
    );
  }
  const moved = await writeConfig(
    folder,
    CONFIG.replace("server:\n", `server:\n  port: ${listener.addr.port}\n`),
    0o600,
    "moved.yaml",
  );
  const elsewhere = await runRelay(["status", "-c", moved]);
  assert.equal(elsewhere.code, 1);
  assert.match(
    elsewhere.stderr,
    /where .*moved\.yaml says it listens; is it running\? server\.host and server\.port take a restart: if the file changed them since relay started, pass --url/,
  );

  await using relay = await spawnRelay([], { cwd: folder });
  const other = await writeConfig(
    folder,
    CONFIG.replace(ADMIN, "adm_another_token_000000"),
    0o600,
    "other.yaml",
  );
  const refused = await runRelay(["status", "-c", other, "--url", relay.url]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /refused: invalid admin token \(the token in .*other\.yaml is not the one relay runs with\)/,
  );
});

Deno.test("relay status reaches relay when its file is broken: the failed reload shown, the previous config serving", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG);
  await using relay = await spawnRelay([], { cwd: folder });
  // Written in place, with the port relay listens on, so status must find it in the broken file.
  const port = new URL(relay.url).port;
  await Deno.writeTextFile(
    path,
    CONFIG.replace("server:\n", `server:\n  port: ${port}\n`).replace("    type: mock", "\ttype: mock"),
  );
  await relay.waitForLine(/"msg":"config reload failed".*Tabs are not allowed/);

  const { code, stdout, stderr } = await runRelay(["status", "-c", path]);
  assert.equal(code, 0, stderr);
  assert.match(
    stderr,
    /^note: .*relay\.yaml does not load, .*\(the admin token, host and port\):\n.*relay\.yaml:\d+:1: Tabs/,
  );
  assert.match(stdout, /^relay \S+, up \d+s; config version 1 \(.*relay\.yaml\)/);
  assert.match(stdout, /^last reload failed \d+s ago \(file changed\); the config above keeps serving:$/m);
  assert.match(stdout, /^ {2}.*relay\.yaml:\d+:1: Tabs are not allowed as indentation/m);
  assert.match(stdout, /^m +mock +on +closed +0 +1\/1 on$/m);

  const json = await runRelay(["status", "--json", "-c", path, "--url", relay.url]);
  assert.equal(json.code, 0, json.stderr);
  const status = JSON.parse(json.stdout);
  assert.equal(status.config.version, 1);
  assert.equal(status.config.last_error.reason, "file changed");
  assert.match(status.config.last_error.error, /Tabs are not allowed/);
  assert.match(json.stderr, /^note: .*\(the admin token\):\n/);
  const served = await fetch(`${relay.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: '{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}',
  });
  await served.arrayBuffer();
  assert.equal(served.status, 200, "the previous config keeps serving");
});

Deno.test("relay status on a broken file it cannot find the admin token in says so, asking relay nothing", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG.replace("    token:", "\ttoken:"));
  const { code, stdout, stderr } = await runRelay(["status", "-c", path, "--url", "http://127.0.0.1:9"]);
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.match(stderr, /relay\.yaml:\d+:\d+: /);
  assert.match(
    stderr,
    /relay was not asked: a server\.admin\.token cannot be read from .*relay\.yaml as it is\n$/,
  );
});

Deno.test("relay status reads nothing from a file relay would refuse to read: not private", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG, 0o644);
  const { code, stderr } = await runRelay(["status", "-c", path, "--url", "http://127.0.0.1:9"]);
  assert.equal(code, 1);
  assert.match(stderr, /chmod 600/);
  assert.doesNotMatch(
    stderr,
    /^note:|not reachable/m,
    "refused before anything was read or sent",
  );
});

const NOW = Date.parse("2026-11-25T12:00:00Z");

const STATUS: AdminStatus = {
  relay_version: "0.1.0",
  started_at: "2026-11-25T10:00:00.000Z",
  uptime_ms: 7_200_000,
  config: {
    version: 3,
    path: "/etc/relay.yaml",
    loaded_at: "2026-11-25T11:55:00.000Z",
    loaded_ago_ms: 300_000,
    reloadable: true,
    last_error: {
      at: "2026-11-25T11:59:30.000Z",
      ago_ms: 30_000,
      reason: "SIGHUP",
      error: "/etc/relay.yaml:4:2: bad\n  line",
    },
    needs_restart: ["server.port"],
    history: [],
  },
  server: { in_flight: 2, queued: 1, exchanges: 2 },
  ledger: {
    enabled: true,
    path: "/var/lib/relay/ledger.db",
    state: "ok",
    error: null,
    pending: 0,
    written_total: 1520,
    dropped_total: 0,
    since: "2026-11-25T10:00:00.000Z",
    for_ms: 7_200_000,
  },
  clients: [],
  providers: [{
    name: "anthropic",
    type: "anthropic",
    enabled: true,
    breaker: "open",
    retry_at: "2026-11-25T12:00:25.000Z",
    in_flight: 2,
    max_in_flight: 32,
    keys: [
      {
        index: 0,
        name: "main",
        label: "main (sk-ant-...aaaa)",
        enabled: true,
        disabled_reason: null,
        breaker: "closed",
        saturation: 0.42,
        cooling_until: null,
        resets_at: "2026-11-25T12:00:40.000Z",
        refused_models: [],
      },
      {
        index: 1,
        name: null,
        label: "sk-ant-...bbbb",
        enabled: false,
        disabled_reason: "401 authentication_error",
        breaker: "half_open",
        saturation: 1,
        cooling_until: "2026-11-25T12:01:05.000Z",
        resets_at: null,
        refused_models: [],
      },
    ],
    refused_models: [],
  }],
};

Deno.test("formatStatus lays out the summary, the last reload error and both tables", () => {
  assert.equal(
    formatStatus(STATUS, NOW),
    [
      "relay 0.1.0, up 2h; config version 3 (/etc/relay.yaml), loaded 5m ago",
      "load: 2 in flight, 1 queued, 2 upstream exchanges",
      "ledger: ok; 1520 records written, 0 pending (/var/lib/relay/ledger.db)",
      "needs a restart to apply: server.port",
      "last reload failed 30s ago (SIGHUP); the config above keeps serving:",
      "  /etc/relay.yaml:4:2: bad",
      "    line",
      "",
      "PROVIDER   TYPE       STATE  BREAKER              IN FLIGHT    KEYS",
      "anthropic  anthropic  on     open (probe in 25s)       2/32  1/2 on",
      "",
      "PROVIDER   KEY                      STATE                          BREAKER    USED  COOLING  RESETS",
      "anthropic  0 main (sk-ant-...aaaa)  on                             closed      42%        -  in 40s",
      "anthropic  1 sk-ant-...bbbb         off: 401 authentication_error  half_open  100%    1m 5s       -",
    ].join("\n"),
  );
});

Deno.test("formatStatus shows a reset only for a key that has spent some of its window", () => {
  const [provider] = STATUS.providers;
  const [key] = provider.keys;
  const status: AdminStatus = {
    ...STATUS,
    providers: [{
      ...provider,
      keys: [
        { ...key, index: 0, saturation: 0 },
        { ...key, index: 1, saturation: 0.004 },
        { ...key, index: 2, saturation: 0, resets_at: null },
      ],
    }],
  };
  const rows = formatStatus(status, NOW).split("\n").filter((line) => line.startsWith("anthropic  "));
  assert.deepEqual(rows.slice(1).map((row) => row.split(/ {2,}/).slice(-3)), [
    ["0%", "-", "-"],
    ["<1%", "-", "in 40s"],
    ["0%", "-", "-"],
  ]);
});

Deno.test("formatStatus lists the models upstreams refused a key or a provider without keys, and when relay asks again", () => {
  const [provider] = STATUS.providers;
  const refusal = (model: string, inMs: number) => ({ model, until: new Date(NOW + inMs).toISOString() });
  const status: AdminStatus = {
    ...STATUS,
    providers: [
      {
        ...provider,
        keys: [
          { ...provider.keys[0], refused_models: [refusal("claude-opus-4-1", 270_000)] },
          provider.keys[1],
        ],
      },
      {
        ...provider,
        name: "bedrock",
        keys: [],
        refused_models: [refusal("us.anthropic.claude-opus\u202e", 60_000)],
      },
    ],
  };
  assert.deepEqual(formatStatus(status, NOW).split("\n").slice(-3), [
    "",
    "anthropic 0 main (sk-ant-...aaaa): refused claude-opus-4-1 by its upstream (403); asked again in 4m 30s",
    "bedrock: refused us.anthropic.claude-opus\\u202e by its upstream (403); asked again in 1m",
  ]);
  assert.ok(!formatStatus(STATUS, NOW).includes("refused"));
});

Deno.test("formatStatus adds the clients' table: limits, how spent, this month's spend and holds, a budget spent or held up coloured", () => {
  const client = { models: null, rpm: null, tpm: null, monthly_budget_usd: null, spent_usd: 0, held_usd: 0 };
  const status: AdminStatus = {
    ...STATUS,
    clients: [
      {
        ...client,
        name: "ci",
        models: ["claude-haiku-*", "claude-sonnet-4-5"],
        rpm: { limit: 60, saturation: 0.25 },
        tpm: { limit: 100_000, saturation: 0.015 },
        monthly_budget_usd: 15,
        spent_usd: 12.345,
        held_usd: 0.004,
      },
      { ...client, name: "dev", tpm: { limit: 100_000, saturation: 0.0032 }, spent_usd: 3.5 },
      { ...client, name: "bot", monthly_budget_usd: 1, spent_usd: 0.9, held_usd: 0.2 },
      { ...client, name: "old", monthly_budget_usd: 1, spent_usd: 1.01 },
    ],
  };
  const table = formatStatus(status, NOW).split("\n\n").at(-1);
  assert.equal(
    table,
    [
      "CLIENT  MODELS                                   RPM             TPM  SPENT THIS MONTH     HELD  BUDGET",
      "ci      claude-haiku-*, claude-sonnet-4-5  25% of 60   2% of 100,000            $12.35  $0.0040  $15.00",
      "dev     any                                        -  <1% of 100,000             $3.50        -       -",
      "bot     any                                        -               -             $0.90    $0.20   $1.00",
      "old     any                                        -               -             $1.01    $0.00   $1.00",
    ].join("\n"),
  );
  const red = (text: string) => `<red>${text}</red>`;
  const yellow = (text: string) => `<yellow>${text}</yellow>`;
  const painted = formatStatus(status, NOW, { green: (text) => text, yellow, red, bold: (text) => text })
    .split("\n").slice(-2);
  assert.match(painted[0], /^bot .*<yellow>\s*\$0\.90<\/yellow>/, "only requests in flight stand in the way");
  assert.match(painted[1], /^old .*<red>\s*\$1\.01<\/red>/, "spent");
  assert.ok(!formatStatus(STATUS, NOW).includes("CLIENT"), "no table without clients");
});

Deno.test("formatStatus tells how long relay has been up, and since its config loaded or its reload failed, as relay measured it", () => {
  // This machine's clock three hours ahead of relay's (--url to another host), or relay's stepped back.
  const lines = formatStatus(STATUS, NOW + 3 * 3_600_000).split("\n");
  assert.equal(lines[0], "relay 0.1.0, up 2h; config version 3 (/etc/relay.yaml), loaded 5m ago");
  assert.equal(lines[4], "last reload failed 30s ago (SIGHUP); the config above keeps serving:");
});

Deno.test("formatStatus reads a relay of an earlier version, which says neither what needs a restart, nor spans, nor its ledger", () => {
  const { needs_restart: _, loaded_ago_ms: _loaded, ...config } = STATUS.config;
  const { ago_ms: _ago, ...lastError } = config.last_error!;
  const { uptime_ms: _uptime, ledger: _ledger, ...rest } = STATUS;
  const earlier = { ...rest, config: { ...config, last_error: lastError } } as unknown as AdminStatus;
  const out = formatStatus(earlier, NOW);
  assert.ok(!out.includes("needs a restart"));
  assert.ok(!out.includes("ledger"));
  assert.match(out, /^relay 0\.1\.0, up 2h; .*, loaded 5m ago$/m, "spans read from its dates");
  assert.match(out, /^last reload failed 30s ago /m);
});

Deno.test("formatStatus sets a ledger that is not ok apart: how long, what it holds, and why", () => {
  const tag = (name: string) => (text: string) => `<${name}>${text}</${name}>`;
  const colours = { green: tag("g"), yellow: tag("y"), red: tag("r"), bold: tag("b") };
  const ledgerOf = (ledger: Partial<AdminStatus["ledger"]>) =>
    formatStatus(
      { ...STATUS, ledger: { ...STATUS.ledger, ...ledger } as AdminStatus["ledger"] },
      NOW,
      colours,
    )
      .split("\n").slice(2, 4);
  assert.deepEqual(
    ledgerOf({
      state: "failing",
      error: "database or disk is full",
      pending: 1234,
      dropped_total: 5,
      for_ms: 185_000,
    }),
    [
      "<r>ledger: failing for 3m 5s; 1520 records written, 1234 pending, 5 dropped (/var/lib/relay/ledger.db):</r>",
      "  database or disk is full",
    ],
  );
  assert.deepEqual(
    ledgerOf({
      state: "locked",
      error: "/var/lib/relay/ledger.db is locked by another writer",
      pending: 40,
      for_ms: 12_000,
    }),
    [
      "<y>ledger: locked for 12s; 1520 records written, 40 pending (/var/lib/relay/ledger.db):</y>",
      "  /var/lib/relay/ledger.db is locked by another writer",
    ],
  );
  assert.deepEqual(ledgerOf({ dropped_total: 2, path: "/tmp/\u202eledger.db" }), [
    "ledger: ok; 1520 records written, 0 pending, 2 dropped (/tmp/\\u202eledger.db)",
    "<y>needs a restart to apply: server.port</y>",
  ]);
  assert.equal(
    formatStatus({ ...STATUS, ledger: { enabled: false, path: null } }, NOW).split("\n")[2],
    "ledger: off (usage is not recorded)",
  );
});

Deno.test("formatStatus colours states and breakers when asked", () => {
  const tag = (name: string) => (text: string) => `<${name}>${text.trimEnd()}</${name}>`;
  const out = formatStatus(STATUS, NOW, { green: tag("g"), yellow: tag("y"), red: tag("r"), bold: tag("b") });
  assert.match(out, /<r>last reload failed/);
  assert.match(out, /<y>needs a restart to apply: server.port<\/y>/);
  assert.match(out, /<g>on<\/g>.*<r>open \(probe in 25s\)<\/r>/);
  assert.match(out, /<r>off: 401 authentication_error<\/r>.*<y>half_open<\/y>/);
  assert.match(out, /^<b>PROVIDER<\/b>/m);
});

Deno.test("formatStatus tells of a breaker's probe out, in yellow, rather than when the next goes", () => {
  const [provider] = STATUS.providers;
  const [key] = provider.keys;
  const probing: AdminStatus = {
    ...STATUS,
    providers: [{ ...provider, probing: true, keys: [{ ...key, breaker: "open", probing: true }] }],
  };
  const tag = (name: string) => (text: string) => `<${name}>${text.trimEnd()}</${name}>`;
  const out = formatStatus(probing, NOW, {
    green: tag("g"),
    yellow: tag("y"),
    red: tag("r"),
    bold: tag("b"),
  });
  assert.match(out, /anthropic +anthropic +<g>on<\/g> +<y>open \(probing\)<\/y> +2\/32/);
  assert.match(out, /0 main \(sk-ant-\.\.\.aaaa\).*<y>open \(probing\)<\/y>/);
  assert.doesNotMatch(out, /probe in/);
});

Deno.test("relay status names what answered when it is not relay: a proxy's error page, another service's JSON", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG);
  for (
    const [answer, shown] of [
      [
        new Response("<h1>502 Bad Gateway</h1>", { status: 502, headers: { "content-type": "text/html" } }),
        /502 Bad Gateway \(text\/html\)/,
      ],
      [Response.json({ name: "another service" }), /200 OK \(application\/json\)/],
    ] as const
  ) {
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => answer.clone(),
    );
    const url = `http://127.0.0.1:${server.addr.port}`;
    for (const json of [[], ["--json"]]) {
      const { code, stdout, stderr } = await runRelay(["status", "-c", path, "--url", url, ...json]);
      assert.equal(code, 1);
      assert.equal(stdout, "");
      assert.match(
        stderr,
        new RegExp(`^${url}/admin/status answered ${shown.source}, not with relay's admin API`),
      );
      assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    }
  }
});

Deno.test("formatStatus escapes what a config or an upstream chose, and lines up wide names", () => {
  const [provider] = STATUS.providers;
  const status: AdminStatus = {
    ...STATUS,
    config: {
      ...STATUS.config,
      path: "/etc/\u202erelay.yaml",
      last_error: { ...STATUS.config.last_error!, error: "bad \u009b2J\u2028line" },
    },
    providers: [{
      ...provider,
      keys: [
        { ...provider.keys[0], label: "主键 (sk-ant-...aaaa)" },
        { ...provider.keys[1], disabled_reason: "401 \u202eauthentication_error" },
      ],
    }],
  };
  const lines = formatStatus(status, NOW).split("\n");
  assert.equal(lines[0], "relay 0.1.0, up 2h; config version 3 (/etc/\\u202erelay.yaml), loaded 5m ago");
  assert.equal(lines[5], "  bad \\x9b2J\\u2028line");
  assert.deepEqual(lines.slice(-3), [
    "PROVIDER   KEY                      STATE                                BREAKER    USED  COOLING  RESETS",
    "anthropic  0 主键 (sk-ant-...aaaa)  on                                   closed      42%        -  in 40s",
    "anthropic  1 sk-ant-...bbbb         off: 401 \\u202eauthentication_error  half_open  100%    1m 5s       -",
  ]);
});

Deno.test("relay status prints a key's name escaped, as a table or as JSON", async () => {
  const folder = await sandbox();
  const path = await writeConfig(folder, CONFIG.replace("name: main", 'name: "\\u009b2J\\u202emain"'));
  await using relay = await spawnRelay([], { cwd: folder });
  const table = await runRelay(["status", "-c", path, "--url", relay.url]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^m +0 \\x9b2J\\u202emain \(sk-\.\.\.x7f2\) +on /m);
  const json = await runRelay(["status", "--json", "-c", path, "--url", relay.url]);
  assert.equal(json.code, 0, json.stderr);
  assert.ok(!/[\p{Cc}\p{Cf}]/u.test(json.stdout.replaceAll("\n", "")), json.stdout);
  assert.ok(json.stdout.includes('"name": "\\u009b2J\\u202emain"'), json.stdout);
  assert.equal(JSON.parse(json.stdout).providers[0].keys[0].name, "\u009b2J\u202emain");
});
