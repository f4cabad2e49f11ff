import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config/default.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { configSchema } from "../../src/config/schema.ts";

const KEY = "sk-ant-api03-secret-secret-secret-x7f2";

/** An environment where `$ANTHROPIC_API_KEY` is `value` and nothing else is set. */
const keyIs = (value: string | undefined) => (name: string) =>
  name === "ANTHROPIC_API_KEY" ? value : undefined;

Deno.test("defaultConfig relays to Anthropic with $ANTHROPIC_API_KEY when it is set", () => {
  const { config } = defaultConfig(keyIs(KEY));
  assert.deepEqual(config.providers, [{
    name: "anthropic",
    type: "anthropic",
    base_url: "https://api.anthropic.com",
    auth_header: "x-api-key",
    keys: [{ key: KEY, name: "ANTHROPIC_API_KEY" }],
    timeouts: {},
  }]);
  assert.deepEqual(config.server, configSchema.parse({ providers: config.providers }).server);
});

Deno.test("defaultConfig's banner says no config was found and shows the key masked only", () => {
  const { banner } = defaultConfig(keyIs(KEY), { userConfig: "/home/me/.config/relay/relay.yaml" });
  assert.equal(
    banner,
    [
      "No config file found (--config, $RELAY_CONFIG, ./relay.yaml, /home/me/.config/relay/relay.yaml).",
      "Relaying to Anthropic (https://api.anthropic.com) with $ANTHROPIC_API_KEY (sk-ant-...x7f2).",
      "To configure relay, run `relay init` (or write relay.yaml: see relay.example.yaml).",
    ].join("\n"),
  );
  assert.ok(!banner.includes(KEY));
});

Deno.test("defaultConfig serves the mock when $ANTHROPIC_API_KEY is unset or blank", () => {
  for (const value of [undefined, "", "  "]) {
    const { config, banner } = defaultConfig(keyIs(value));
    assert.deepEqual(config.providers.map((p) => [p.name, p.type, p.keys.length]), [["mock", "mock", 0]]);
    assert.equal(
      banner.split("\n")[1],
      "$ANTHROPIC_API_KEY is not set, so relay serves the built-in mock provider: canned answers, no upstream.",
    );
  }
});

Deno.test("defaultConfig's banner points a first run at the wizard", () => {
  const { banner } = defaultConfig(() => undefined);
  assert.match(
    banner,
    /run `relay init`/,
    "as this program is run: the test's own main module is no main.ts",
  );
});

Deno.test("defaultConfig refuses a $ANTHROPIC_API_KEY a header cannot carry, as a file's key, never showing it", () => {
  for (
    const [value, why] of [
      ["sk-ant-SECRET\nsk-ant-SECRET", "character 14 is a line break"],
      ["sk-ant-SECRET\u00e9", "character 14 is not ASCII"],
      // Not trimmed: `key: ${ANTHROPIC_API_KEY}` in a file refuses these too.
      ["sk-ant-SECRET\r", "character 14 is a line break"],
      ["sk-ant-SECRET ", "starts or ends with a space"],
    ]
  ) {
    assert.throws(
      () => defaultConfig(keyIs(value)),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /^\$ANTHROPIC_API_KEY \(used as no config file was found\): /);
        assert.ok(error.message.includes(why), error.message);
        assert.ok(!error.message.includes("SECRET"), error.message);
        return true;
      },
    );
  }
});

Deno.test("defaultConfig for a command that uses no provider puts the mock in place of a bad key, saying why", () => {
  const { config, banner } = defaultConfig(keyIs("sk-ant-SECRET\u00e9"), { usesProviders: false });
  assert.deepEqual(config.providers.map((p) => p.type), ["mock"]);
  assert.equal(
    banner.split("\n")[1],
    "$ANTHROPIC_API_KEY cannot be used, so relay serve would refuse to start: character 14 is not ASCII: " +
      "it travels in an HTTP header, which takes printable ASCII only.",
  );
  assert.ok(!banner.includes("SECRET"));
});
