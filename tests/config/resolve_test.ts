import assert from "node:assert/strict";
import { resolveConfig } from "../../src/config/resolve.ts";
import { configErrorWith } from "../_helpers/config.ts";

async function inTempDirs(run: (cwd: string, home: string) => Promise<void>) {
  const cwd = await Deno.makeTempDir();
  const home = await Deno.makeTempDir();
  try {
    await run(cwd, home);
  } finally {
    await Deno.remove(cwd, { recursive: true });
    await Deno.remove(home, { recursive: true });
  }
}

const noEnv = () => undefined;

Deno.test("resolveConfig loads ./relay.yaml and reports no banner", async () => {
  await inTempDirs(async (cwd, home) => {
    await Deno.writeTextFile(`${cwd}/relay.yaml`, "providers:\n  - name: local\n    type: mock\n", {
      mode: 0o600,
    });
    const resolved = await resolveConfig({ env: noEnv, cwd, home });
    assert.equal(resolved.path, `${cwd}/relay.yaml`);
    assert.equal(resolved.banner, undefined);
    assert.equal(resolved.config.providers[0].name, "local");
  });
});

Deno.test("resolveConfig falls back to the built-in defaults with a banner when no file exists", async () => {
  await inTempDirs(async (cwd, home) => {
    const resolved = await resolveConfig({ env: noEnv, cwd, home });
    assert.equal(resolved.path, undefined);
    assert.deepEqual(resolved.config.providers.map((p) => p.type), ["mock"]);
    assert.match(resolved.banner ?? "", /^No config file found/);
  });
});

Deno.test("resolveConfig refuses a missing --config file instead of using defaults", async () => {
  await inTempDirs(async (cwd, home) => {
    await assert.rejects(
      () => resolveConfig({ flag: `${cwd}/missing.yaml`, env: noEnv, cwd, home }),
      configErrorWith(`config file not found: ${cwd}/missing.yaml (from --config)`),
    );
    await assert.rejects(
      () =>
        resolveConfig({
          env: (name) => (name === "RELAY_CONFIG" ? `${cwd}/gone.yaml` : undefined),
          cwd,
          home,
        }),
      configErrorWith(`config file not found: ${cwd}/gone.yaml (from $RELAY_CONFIG)`),
    );
  });
});

Deno.test("resolveConfig on the defaults refuses a bad $ANTHROPIC_API_KEY unless the command uses no provider", async () => {
  await inTempDirs(async (cwd, home) => {
    const env = (name: string) => (name === "ANTHROPIC_API_KEY" ? "sk-ant-a\nsk-ant-b" : undefined);
    await assert.rejects(
      () => resolveConfig({ env, cwd, home }),
      configErrorWith(/^\$ANTHROPIC_API_KEY \(used as no config file was found\): /),
    );
    const resolved = await resolveConfig({ env, cwd, home, usesProviders: false });
    assert.deepEqual(resolved.config.providers.map((p) => p.type), ["mock"]);
    assert.match(resolved.banner ?? "", /\$ANTHROPIC_API_KEY cannot be used/);
  });
});
