import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { permissionFlags } from "../../scripts/bundle.ts";
import { VERSION } from "../../src/version.ts";
import { runRelay, sandbox, spawnRelay } from "../_helpers/cli.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function buildBundle(): Promise<string> {
  const out = `${await sandbox()}/relay`;
  const { code, stderr } = await new Deno.Command("deno", {
    args: ["run", "--allow-read", "--allow-write", "--allow-run=deno", `${ROOT}scripts/bundle.ts`, out],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return out;
}

Deno.test("permissionFlags renders a permission set as scoped --allow flags", () => {
  assert.deepEqual(
    permissionFlags({ net: true, read: ["/etc"], sys: ["uid", "hostname"], write: false, run: [] }),
    [
      "--allow-net",
      "--allow-read=/etc",
      "--allow-sys=uid,hostname",
    ],
  );
});

Deno.test("the bundle is one executable file that runs with the project's permission set", async (t) => {
  const bundle = await buildBundle();
  const shebang = (await Deno.readTextFile(bundle)).split("\n", 1)[0];
  assert.equal(
    shebang,
    `#!/usr/bin/env -S deno run ${permissionFlags(denoJson.permissions.relay).join(" ")} ` +
      "--unstable-no-legacy-abort --no-prompt --no-config",
  );
  assert.equal((await Deno.stat(bundle)).mode! & 0o111, 0o111, "executable");

  await t.step("--version", async () => {
    const { code, stdout } = await runRelay(["--version"], { command: [bundle] });
    assert.equal(code, 0);
    assert.equal(stdout.trim(), VERSION);
  });

  await t.step("a short serve answers a stream and stops on SIGTERM", async () => {
    await using relay = await spawnRelay([], { command: [bundle] });
    const response = await fetch(`${relay.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"model":"m","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}',
    });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /event: message_stop\ndata: \{"type":"message_stop"\}\n\n$/);
    relay.process.kill("SIGTERM");
    assert.equal((await relay.process.status).code, 0);
  });

  await t.step("relay bench runs relay and bare on worker threads of the bundle itself", async () => {
    const args = ["bench", "--json", "--requests", "20", "--concurrency", "2", "--no-fidelity"];
    const { code, stdout, stderr } = await runRelay(args, { command: [bundle] });
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout);
    assert.equal(report.meta.relay_process, "worker");
    assert.equal(report.memory.source, "relay worker");
    // Not the ratio itself: over 20 requests bare may add nothing measurable, and the ratio is null then.
    const [level] = report.levels;
    assert.equal(typeof level.bare.ttfb_ms.p50, "number", "bare ran too");
    const { p50 } = level.overhead_vs_bare;
    assert.ok(p50 === null || typeof p50 === "number", `the ratio, or null: ${p50}`);
  });

  await t.step(
    "with --allow-run, its children run under the same deno, none on PATH, no executable bit",
    async () => {
      const copy = `${await sandbox()}/relay.js`;
      await Deno.copyFile(bundle, copy);
      await Deno.chmod(copy, 0o644);
      const flags = shebang.replace(/^.* deno run /, "").split(" ");
      const args = ["bench", "--json", "--requests", "20", "--concurrency", "2", "--no-fidelity"];
      const { code, stdout, stderr } = await runRelay(args, {
        command: [Deno.execPath(), "run", ...flags, "--allow-run", copy],
        env: { PATH: "/nonexistent" },
      });
      assert.equal(code, 0, stderr);
      assert.equal(JSON.parse(stdout).meta.relay_process, "child");
    },
  );
});
