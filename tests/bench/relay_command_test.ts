import assert from "node:assert/strict";
import { relayCommand } from "../../src/bench/relay_command.ts";

Deno.test("from source, relay runs main.ts under the relay permission set of the deno.json beside it", () => {
  assert.deepEqual(
    relayCommand({
      execPath: "/usr/bin/deno",
      mainModule: "file:///work/my%20relay/main.ts",
      standalone: false,
    }),
    [
      "/usr/bin/deno",
      "run",
      "-q",
      "-P=relay",
      "--no-prompt",
      "--config",
      "/work/my relay/deno.json",
      "/work/my relay/main.ts",
    ],
  );
});

const SHEBANG =
  "#!/usr/bin/env -S deno run --allow-net --allow-sys=uid --unstable-no-legacy-abort --no-prompt";

Deno.test("the bundle runs under the deno running now with its shebang's flags, whatever it is called", () => {
  for (const path of ["/opt/relay/dist/relay", "/opt/relay/relay.js", "/opt/relay/main.ts"]) {
    assert.deepEqual(
      relayCommand({
        execPath: "/opt/deno-2.9.6/deno",
        mainModule: `file://${path}`,
        standalone: false,
        bundled: true,
        shebang: SHEBANG,
      }),
      [
        "/opt/deno-2.9.6/deno",
        "run",
        "--allow-net",
        "--allow-sys=uid",
        "--unstable-no-legacy-abort",
        "--no-prompt",
        path,
      ],
    );
  }
  const bundle = { execPath: "/d", mainModule: "file:///r", standalone: false, bundled: true };
  assert.deepEqual(relayCommand({ ...bundle, shebang: "#!/usr/bin/env -S deno run" }), ["/d", "run", "/r"]);
  for (const shebang of [undefined, "// not a shebang", "#!/bin/sh"]) {
    assert.throws(() => relayCommand({ ...bundle, shebang }), /first line is no deno run shebang/);
  }
});

Deno.test("a compiled binary runs itself, whatever its main module is called", () => {
  assert.deepEqual(
    relayCommand({
      execPath: "/usr/local/bin/relay",
      mainModule: "file:///tmp/deno-compile-relay/main.ts",
      standalone: true,
    }),
    ["/usr/local/bin/relay"],
  );
});

Deno.test("a program that is not a local file cannot be started again", () => {
  assert.throws(
    () =>
      relayCommand({
        execPath: "/usr/bin/deno",
        mainModule: "https://example.com/main.ts",
        standalone: false,
      }),
    /not a local file/,
  );
});

Deno.test("with --allow-run=deno and deno on PATH a link to the binary, the bench starts its servers as children", async () => {
  const folder = await Deno.makeTempDir({ prefix: "relay-deno-link-" });
  try {
    await Deno.symlink(Deno.execPath(), `${folder}/deno`);
    const script = `${folder}/placement.ts`;
    const setups = new URL("../../src/bench/setups.ts", import.meta.url).href;
    await Deno.writeTextFile(script, `import { placement } from "${setups}";\nconsole.log(placement());\n`);
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "--no-prompt",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        "--allow-read",
        "--allow-env",
        "--allow-run=deno",
        script,
      ],
      env: { PATH: `${folder}:${Deno.env.get("PATH") ?? ""}` },
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.equal(new TextDecoder().decode(stdout).trim(), "child");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
