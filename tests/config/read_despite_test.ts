import assert from "node:assert/strict";
import { z } from "zod";
import { ConfigError } from "../../src/config/errors.ts";
import { readFieldsDespite } from "../../src/config/read_despite.ts";
import { writeConfig } from "../_helpers/cli.ts";
import { billionLaughs } from "../_helpers/billion_laughs.ts";

const TOKENS = z.array(z.string());
const MODELS = z.array(z.object({ models: z.record(z.string(), z.string()).optional() }));

Deno.test("readFieldsDespite refuses a field that holds an unset variable however deep, not its neighbours", async () => {
  const folder = await Deno.makeTempDir();
  const file = await writeConfig(
    folder,
    'server:\n  port: 9000\n  auth:\n    tokens: ["${RELAY_TEST_UNSET_TOKEN}"]\nproviders:\n' +
      "  - name: a\n    keys:\n      - key: ${RELAY_TEST_UNSET_KEY}\n    models:\n      claude-x: y\n",
  );
  const read = await readFieldsDespite(new ConfigError(file, []));
  assert.deepEqual(read(["server", "port"], z.number()), { value: 9000 });
  assert.equal(read(["server", "auth", "tokens"], TOKENS), undefined, "a list with an unset item");
  assert.equal(read(["server", "auth", "tokens", 0], z.string()), undefined, "the item itself");
  assert.equal(read(["providers", 0, "keys"], z.array(z.object({ key: z.string() }))), undefined);
  assert.deepEqual(read(["providers"], MODELS), { value: [{ models: { "claude-x": "y" } }] });
});

Deno.test("readFieldsDespite reads the fields beside a billion laughs, and not the one that holds it", async () => {
  const folder = await Deno.makeTempDir();
  const file = await writeConfig(folder, `server:\n  port: 9000\nbomb:\n${billionLaughs("  ")}`);
  const read = await readFieldsDespite(new ConfigError(file, []));
  assert.deepEqual(read(["server", "port"], z.number()), { value: 9000 });
  assert.equal(read(["bomb"], z.unknown()), undefined);
});

Deno.test("readFieldsDespite reads the fields beside an alias with no anchor, and not that one", async () => {
  const folder = await Deno.makeTempDir();
  const file = await writeConfig(folder, "server:\n  port: 9000\nbroken: *nowhere\n");
  const read = await readFieldsDespite(new ConfigError(file, []));
  assert.deepEqual(read(["server", "port"], z.number()), { value: 9000 });
  assert.equal(read(["broken"], z.unknown()), undefined);
});
