import assert from "node:assert/strict";
import { startFakeUpstream } from "../_helpers/fake_upstream.ts";
import { cliEnv, FROM_SOURCE, runRelay, sandbox, spawnRelay, writeConfig } from "../_helpers/cli.ts";

const PROVIDER_KEY = "sk-bench-provider-key-0000x7f2";

/** relay from source with --allow-run, so the bench can start relay and bare as child processes. */
const WITH_RUN = [...FROM_SOURCE.slice(0, -1), "--allow-run", FROM_SOURCE.at(-1)!];

function parsed(stdout: string) {
  try {
    return JSON.parse(stdout);
  } catch {
    assert.fail(`stdout is not one JSON object:\n${stdout}`);
  }
}

/** A port nothing listens on: one the system just gave out, and freed. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

function assertTimes(figures: { p50: number; p99: number }, what: string) {
  assert.equal(typeof figures?.p50, "number", `${what}.p50`);
  assert.equal(typeof figures?.p99, "number", `${what}.p99`);
}

Deno.test("relay bench --quick --json: direct, bare and relay timed, every scenario relayed unchanged", async () => {
  const { code, stdout, stderr } = await runRelay(["bench", "--quick", "--json"]);
  assert.equal(code, 0, stderr);
  const report = parsed(stdout);
  assertTimes(report.direct.ttfb_ms, "direct.ttfb_ms");
  assertTimes(report.relay.ttfb_ms, "relay.ttfb_ms");
  assertTimes(report.overhead_ms, "overhead_ms");
  assertTimes(report.bare.ttfb_ms, "bare.ttfb_ms");
  assert.deepEqual(report.levels.map((level: { concurrency: number }) => level.concurrency), [1, 16]);
  for (const level of report.levels) {
    for (const target of ["direct", "bare", "relay"]) {
      for (const metric of ["ttfb_ms", "ttlb_ms", "gap_ms"]) {
        assertTimes(level[target][metric], `${target}.${metric}`);
      }
      assert.ok(level[target].requests_per_s > 0);
    }
    assert.ok("p50" in level.overhead_ratio && "p50" in level.overhead_vs_bare);
  }
  assert.equal(report.meta.mode, "loopback");
  // The test runs relay with the relay permission set alone, which has no --allow-run.
  assert.equal(report.meta.relay_process, "worker");
  assert.ok(report.notes.some((note: string) => note.includes("--allow-run")));
  assert.equal(report.memory.source, "relay worker");
  assert.ok(report.memory.after_mb > 0);
  assert.equal(report.relay.cpu_ms_per_request, undefined, "a worker's CPU cannot be read");
  assert.equal(report.fidelity.passed, true, JSON.stringify(report.fidelity));
  assert.equal(report.fidelity.checks.length, 9, "each scenario idle and under load, and the timed streams");
  assert.match(stderr, /bench: concurrency 16: \d+\/\d+ requests/, "plain progress lines without a terminal");
});

Deno.test("relay bench: --concurrency repeated adds levels, and warm-up reaches the highest", async () => {
  const { code, stdout, stderr } = await runRelay(
    ["bench", "--quick", "--no-fidelity", "--json", "--concurrency", "1", "--concurrency", "32"],
  );
  assert.equal(code, 0, stderr);
  const report = parsed(stdout);
  assert.deepEqual(report.levels.map((level: { concurrency: number }) => level.concurrency), [1, 32]);
  assert.equal(report.meta.warmup_per_target_per_level, 32, "--quick's 20 would never have 32 streams open");
});

Deno.test("relay bench with --allow-run: relay and bare as child processes, relay's own memory and CPU", async () => {
  const args = ["bench", "--json", "--requests", "50", "--concurrency", "1,16"];
  const { code, stdout, stderr } = await runRelay(args, { command: WITH_RUN });
  assert.equal(code, 0, stderr);
  const report = parsed(stdout);
  assert.equal(report.meta.relay_process, "child");
  assert.equal(report.memory.source, "relay process");
  assert.ok(report.memory.idle_mb > 0 && report.memory.peak_mb >= report.memory.after_mb);
  assert.ok(report.relay.cpu_ms_per_request > 0 && report.bare.cpu_ms_per_request >= 0);
  assert.equal(report.fidelity.passed, true, JSON.stringify(report.fidelity));
  assert.deepEqual(report.notes, []);
});

Deno.test("relay bench prints readable tables", async () => {
  const { code, stdout, stderr } = await runRelay(["bench", "--requests", "20", "--concurrency", "2"]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^relay bench, .*: loopback, relay on a worker thread/);
  assert.match(stdout, /concurrency 2 \(20 requests per target\)\n +p50 +p90 +p99 +max\nttfb +direct +\d/);
  assert.match(stdout, /relay adds -?\d+\.\d{3} ms at p50/);
  assert.match(stdout, /memory \(relay worker, JS heap MiB\): idle/);
  assert.match(stdout, /fidelity: passed/);
});

Deno.test("relay bench --target benches a running relay with client tokens, against --upstream when given", async (t) => {
  const upstream = startFakeUpstream();
  const folder = await sandbox();
  // As relay init writes it: a client token, which the bench sends from $ANTHROPIC_AUTH_TOKEN.
  const token = "rly_bench_target_token_00000001";
  const config = `server:\n  auth:\n    tokens: [${token}]\n` +
    `providers:\n  - name: fake\n    type: anthropic-compatible\n    base_url: "${upstream.url}"\n` +
    `    keys:\n      - key: ${PROVIDER_KEY}\n`;
  const withToken = { env: { ANTHROPIC_AUTH_TOKEN: token } };
  await writeConfig(folder, config);
  await using relay = await spawnRelay([], { cwd: folder });

  await t.step(
    "with --upstream: the upstream timed directly and through bare too, streams compared",
    async () => {
      const args = ["bench", "--quick", "--json", "--target", relay.url, "--upstream", upstream.url];
      const { code, stdout, stderr } = await runRelay(args, withToken);
      assert.equal(code, 0, stderr);
      const report = parsed(stdout);
      assert.equal(report.meta.mode, "target");
      assert.equal(report.meta.relay_process, "external");
      assertTimes(report.overhead_ms, "overhead_ms");
      assertTimes(report.bare.ttfb_ms, "bare.ttfb_ms");
      assert.equal(report.memory, undefined);
      assert.equal(report.fidelity.passed, true, JSON.stringify(report.fidelity));
    },
  );

  await t.step("without: relay's own figures, and a note saying there is nothing to compare", async () => {
    const before = upstream.requests.length;
    const { code, stdout, stderr } = await runRelay([
      "bench",
      "--json",
      "--requests",
      "10",
      "--concurrency",
      "1,8",
      "--target",
      relay.url,
    ], withToken);
    assert.equal(code, 0, stderr);
    const report = parsed(stdout);
    assertTimes(report.relay.ttfb_ms, "relay.ttfb_ms");
    assert.equal(report.direct, undefined);
    assert.equal(report.overhead_ms, undefined);
    assert.equal(report.fidelity.passed, null);
    assert.ok(report.notes.some((note: string) => note.includes("--upstream")));
    // A probe, then warm-up and the measured requests at 1 and 8, all through the relay under test.
    assert.equal(upstream.requests.length - before, 1 + (200 + 10) * 2);
    const planned = Number(/bench: probing: \d+\/(\d+) requests/.exec(stderr)?.[1]);
    assert.equal(planned, upstream.requests.length - before, "the progress counts what is sent, no more");
  });

  await upstream.close();
});

Deno.test("relay bench --provider says what it will spend, and sends exactly that with --yes", async (t) => {
  const upstream = startFakeUpstream();
  const folder = await sandbox();
  const config =
    `providers:\n  - name: other\n    type: mock\n  - name: gateway\n    type: anthropic-compatible\n` +
    `    base_url: "${upstream.url}"\n    keys:\n      - key: ${PROVIDER_KEY}\n`;
  const path = await writeConfig(folder, config);

  await t.step("without a terminal or --yes it spends nothing and exits 2, naming --yes", async () => {
    const { code, stderr } = await runRelay(["bench", "--provider", "gateway", "-c", path]);
    assert.equal(code, 2);
    assert.match(stderr, /12 requests for claude-haiku-4-5 to provider gateway \(anthropic-compatible\)/);
    assert.match(stderr, /up to \d+ tokens/);
    assert.match(stderr, /--yes/);
    const json = await runRelay(["bench", "--provider", "gateway", "-c", path, "--json"]);
    assert.equal(json.code, 2);
    assert.match(parsed(json.stdout).error.message, /no terminal to confirm on: pass --yes/);
    assert.equal(upstream.requests.length, 0);
  });

  await t.step("with --yes: 5 requests and a probe each way, all with the provider's key", async () => {
    const args = ["bench", "--provider", "gateway", "-c", path, "--yes", "--json"];
    const { code, stdout, stderr } = await runRelay(args);
    assert.equal(code, 0, stderr);
    const report = parsed(stdout);
    assert.equal(report.meta.mode, "provider");
    assert.equal(report.meta.relay_process, "worker", "its keys go to the worker in memory, never to a file");
    assert.equal(report.memory.source, "relay worker");
    assert.equal(report.meta.model, "claude-haiku-4-5");
    assert.deepEqual(report.meta.concurrency, [1]);
    assertTimes(report.direct.ttfb_ms, "direct.ttfb_ms");
    assertTimes(report.relay.ttfb_ms, "relay.ttfb_ms");
    assertTimes(report.overhead_ms, "overhead_ms");
    assert.equal(report.bare, undefined);
    assert.equal(report.fidelity.passed, null);
    assert.match(report.fidelity.skipped, /real model/);
    assert.equal(upstream.requests.length, 12);
    for (const request of upstream.requests) {
      assert.equal(request.headers.get("x-api-key"), PROVIDER_KEY);
      assert.equal(request.headers.get("x-relay-mock"), null, "a real provider gets no mock options");
      assert.equal(JSON.parse(new TextDecoder().decode(request.body)).max_tokens, 16);
    }
  });

  await t.step("a mock provider spends nothing, so it runs without a terminal or --yes", async () => {
    const { code, stdout, stderr } = await runRelay(["bench", "--provider", "other", "-c", path, "--json"]);
    assert.equal(code, 0, stderr);
    assert.match(
      stderr,
      /to provider other \(mock\), half directly and half through relay: a mock spends no tokens\./,
    );
    assert.doesNotMatch(stderr, /--yes/);
    assert.equal(parsed(stdout).meta.upstream, "mock");
  });

  await t.step("a provider the config does not have is named, with the ones it has", async () => {
    const { code, stderr } = await runRelay(["bench", "--provider", "nope", "-c", path, "--yes"]);
    assert.equal(code, 1);
    assert.match(stderr, /no provider named nope \(it has: other, gateway\)/);
  });

  await upstream.close();
});

Deno.test("relay bench refuses, with exit 2, flags that do not go together and values it cannot use", async () => {
  const refusals = [
    [["--target", "127.0.0.1:18801"], /--target takes a URL with its scheme, .* not "127\.0\.0\.1:18801"/],
    [
      ["--target", "http://127.0.0.1:1", "--upstream", "localhost:9000"],
      /--upstream takes a URL with its scheme/,
    ],
    [["--provider", "x", "--quick"], /--quick shortens the default run; --provider's is short already/],
    [["--provider", "x", "--events", "3"], /--events sets the built-in mock's answers; --provider asks/],
    [["--provider", "x", "--no-fidelity"], /--no-fidelity goes without --provider/],
    [["--bogus"], /unknown option '--bogus'/],
    [["--upstream", "http://127.0.0.1:1"], /--upstream goes with --target/],
    [["--target", "http://127.0.0.1:1", "--provider", "x"], /cannot be used together/],
    [["-c", "relay.yaml"], /-c\/--config goes with --provider/],
    [["--yes"], /--yes goes with --provider/],
    [["--requests", "5", "--concurrency", "1,16"], /5 requests per level cannot reach concurrency 16/],
    [["--concurrency", "1,0"], /positive integer/],
    [["--concurrency", "0x10"], /positive integer/],
    [["--requests", "1e3"], /positive integer/],
    [["--concurrency", "1001"], /expected at most 1000/],
    [["--concurrency", "1,16,16"], /16 is given twice/],
    [["--concurrency", "1,16", "--concurrency", "16"], /16 is given twice/],
    [
      ["--requests", "5", "--concurrency", "1", "--concurrency", "16"],
      /5 requests per level cannot reach concurrency 16/,
    ],
    [["--events", "100001"], /expected at most 100000/],
  ] as const;
  await Promise.all(refusals.map(async ([args, pattern]) => {
    const { code, stderr } = await runRelay(["bench", ...args]);
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, pattern);
  }));
});

Deno.test("relay bench --json: a failure is one JSON object on stdout too, naming the target", async () => {
  const target = `http://127.0.0.1:${closedPort()}`;
  const unreachable = await runRelay(["bench", "--quick", "--json", "--target", target]);
  assert.equal(unreachable.code, 1);
  const { error } = parsed(unreachable.stdout);
  assert.match(error.message, new RegExp(`^relay \\(${target}\\): the request failed: .*refused`));
  assert.match(unreachable.stderr, /relay bench: relay \(http:\/\/127\.0\.0\.1:\d+\): the request failed/);

  const refused = await runRelay(["bench", "--json", "--yes"]);
  assert.equal(refused.code, 2);
  assert.match(parsed(refused.stdout).error.message, /--yes goes with --provider/);

  // The flag parser stops at the value it refuses, before the --json after it.
  const badValue = await runRelay(["bench", "--concurrency", "0", "--json"]);
  assert.equal(badValue.code, 2);
  assert.match(
    parsed(badValue.stdout).error.message,
    /^option '--concurrency <list>' argument '0' is invalid/,
  );
  assert.match(badValue.stderr, /^error: option '--concurrency <list>' argument '0' is invalid/);
});

Deno.test("relay bench bypasses a proxy for loopback unless NO_PROXY names 127.0.0.1 itself", async () => {
  const env = { HTTP_PROXY: `http://127.0.0.1:${closedPort()}`, NO_PROXY: "127.0.0.10" };
  const args = ["bench", "--quick", "--requests", "20", "--concurrency", "1", "--no-fidelity"];
  const { code, stderr } = await runRelay(args, { env });
  assert.equal(code, 0, stderr);
});

Deno.test("Ctrl-C, SIGTERM or SIGHUP during relay bench exits 128+n, its servers stopped and its temporary folder gone", async (t) => {
  const runs = [
    ["worker", FROM_SOURCE, "SIGINT", 130],
    ["child", WITH_RUN, "SIGINT", 130],
    // Unhandled, either would end the bench at once and leave its children running.
    ["child", WITH_RUN, "SIGTERM", 143],
    ["child", WITH_RUN, "SIGHUP", 129],
  ] as const;
  for (const [placement, command, signal, exitCode] of runs) {
    await t.step(`${signal}, ${placement}`, async () => {
      const home = await sandbox();
      const tmp = `${home}/tmp`;
      await Deno.mkdir(tmp);
      const [program, ...args] = command;
      const bench = new Deno.Command(program, {
        args: [...args, "bench", "--requests", "100000", "--concurrency", "4"],
        cwd: home,
        env: cliEnv(home, { TMPDIR: tmp }),
        clearEnv: true,
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const lines = bench.stderr.pipeThrough(new TextDecoderStream()).values();
      // Interrupted while it times: the servers and their folder exist by then.
      let seen = "";
      while (!/bench: concurrency 4: /.test(seen)) {
        const { value, done } = await lines.next();
        assert.ok(!done, `relay bench ended before it timed anything:\n${seen}`);
        seen += value;
      }
      assert.equal((await Array.fromAsync(Deno.readDir(tmp))).length, 1, "the run's folder, while it runs");
      bench.kill(signal);
      for await (const _ of lines) { /* drain */ }
      const status = await bench.status;
      assert.deepEqual([status.code, status.signal], [exitCode, null], "it exits by itself");
      assert.deepEqual(await Array.fromAsync(Deno.readDir(tmp)), [], "nothing left behind");
    });
  }
});
